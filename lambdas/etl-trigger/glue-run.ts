/** How this function reads a Glue job run's state. */
import type { JobRun } from "@aws-sdk/client-glue";

export type RunStatus = "in-progress" | "succeeded" | "failed";

const IN_PROGRESS = new Set(["STARTING", "RUNNING", "STOPPING", "WAITING"]);
const FAILED = new Set(["FAILED", "TIMEOUT", "ERROR", "STOPPED", "EXPIRED"]);
/**
 * States after which Glue starts another attempt when the job has MaxRetries left. A TIMEOUT or a STOPPED run is
 * not retried by Glue.
 */
const RETRIED_BY_GLUE = new Set(["FAILED", "ERROR"]);

/**
 * Unknown states count as failed: reporting success or waiting on a state this code does not understand could
 * publish an unfinished dataset or hang the pipeline; a failure names the state so the code can be taught it.
 */
export function runStatus(state: string | undefined): RunStatus {
    if (state !== undefined && IN_PROGRESS.has(state)) return "in-progress";
    if (state === "SUCCEEDED") return "succeeded";
    return "failed";
}

export function isKnownFailure(state: string | undefined): boolean {
    return state !== undefined && FAILED.has(state);
}

/** True when Glue will start another attempt of this run on its own (MaxRetries not used up). */
export function retriedByGlue(run: JobRun, maxRetries: number): boolean {
    return run.JobRunState !== undefined && RETRIED_BY_GLUE.has(run.JobRunState) && (run.Attempt ?? 0) < maxRetries;
}

/** The failure message for a run that ended badly: job, run id, state and Glue's own error message. */
export function failureMessage(jobName: string, run: JobRun): string {
    const state = run.JobRunState ?? "no state";
    const detail = run.ErrorMessage?.trim()
        || (isKnownFailure(run.JobRunState) ? "Glue gave no error message" : `unknown job run state ${JSON.stringify(state)}`);
    const attempt = run.Attempt ? ` (attempt ${run.Attempt + 1})` : "";
    return `Glue job ${jobName} run ${run.Id ?? "?"}${attempt} ended ${state}: ${detail}`;
}
