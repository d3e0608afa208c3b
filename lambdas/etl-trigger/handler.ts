/**
 * CodePipeline "Invoke Lambda" job worker that runs the ETL Glue job for one pipeline execution.
 *
 * First invocation: StartJobRun with `--input` and `--run-id` from UserParameters (see parameters.ts), then
 * PutJobSuccessResult with a continuation token, so CodePipeline invokes again later. Each later invocation reads
 * the run (GetJobRun) and answers:
 *   STARTING / RUNNING / STOPPING / WAITING  → success with a continuation token (keep waiting);
 *   SUCCEEDED                                → reads `<curated>/<runId>/manifest.json`, success with output
 *                                              variables (curatedPrefix, trainPrefix, …, rowsIn, rowsOut, …);
 *   FAILED / ERROR with Glue retries left    → follows Glue's retry run (found by PreviousRunId);
 *   FAILED / TIMEOUT / STOPPED / ERROR / …   → PutJobFailureResult with Glue's error message.
 *
 * Errors: throttling and ConcurrentRunsExceededException are retried through continuation tokens until their
 * budget (THROTTLE_BUDGET_SECONDS, CONCURRENCY_BUDGET_SECONDS) runs out, then fail; a missing job is a
 * ConfigurationError; any other error, expected or not, is a failure result. A failure result is sent on every
 * path that has a job id. If a result cannot be delivered (PutJob*Result fails, even after a success report was
 * turned into a failure report), the invocation throws: Lambda retries it, and because a retried invocation adopts
 * the Glue run already started for the same run id (GetJobRuns, `--run-id`), no second run is started. An event
 * without a job id cannot be answered at all: it is logged (never the event itself) and the invocation throws.
 *
 * Reuse (./reuse.ts): on the first invocation, unless UserParameters say `"reuse": "false"`, the function computes
 * the ETL reuse key of the input's version, the ETL code, the schema and the settings; a run recorded under that key
 * is reported at once (output variable `reused` = "true", no Glue run). Otherwise the key travels in the continuation
 * token and the finished run is recorded under it. Reuse never fails the action: a lookup or record error is logged.
 *
 * The event carries temporary artifact credentials: only a summary of identifiers is ever logged.
 */
import { CodePipelineClient } from "@aws-sdk/client-codepipeline";
import { GetJobRunCommand, GetJobRunsCommand, GlueClient, JobRun, StartJobRunCommand } from "@aws-sdk/client-glue";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ETL_OUTPUT_VARIABLES } from "../../contracts/delivery";
import { classifyAwsError, describeError, errorName } from "../shared/aws-errors";
import {
    CodePipelineJob,
    JobFailureType,
    JobReporter,
    jobSummary,
    readCodePipelineJob,
    successProblem,
} from "../shared/codepipeline-job";
import { createLogger, Logger } from "../shared/log";
import { ConfigError, loadConfig, TriggerConfig } from "./config";
import { failureMessage, retriedByGlue, runStatus } from "./glue-run";
import { ManifestError, manifestKey, outputVariables, runPrefix } from "./manifest";
import { ParameterError, parseUserParameters, UserParameters } from "./parameters";
import { findRecordedRun, planReuse, recordRun, ReusePlan } from "./reuse";
import { ContinuationToken, decodeToken, encodeToken, RunningToken, StartingToken, TokenError } from "./token";

/** GetJobRuns pages (up to 200 runs each, newest first) searched for a run of the same run id or a retry. */
export const RUN_SEARCH_PAGES = 3;

export interface HandlerDeps {
    readonly glue: GlueClient;
    readonly s3: S3Client;
    readonly codepipeline: CodePipelineClient;
    /** The validated environment, or why it is invalid (reported as a ConfigurationError). */
    readonly config: TriggerConfig | ConfigError;
    /** @default the system clock */
    readonly now?: () => Date;
    /** @default JSON lines on the console */
    readonly log?: Logger;
}

interface FailDecision {
    readonly kind: "fail";
    readonly type: JobFailureType;
    readonly message: string;
    readonly externalExecutionId?: string;
}
type Decision =
    | { readonly kind: "continue"; readonly token: string; readonly summary: string; readonly externalExecutionId?: string }
    | { readonly kind: "succeed"; readonly outputVariables: Record<string, string>; readonly summary: string; readonly externalExecutionId: string }
    | FailDecision;

const fail = (type: JobFailureType, message: string, externalExecutionId?: string): FailDecision =>
    ({ kind: "fail", type, message, externalExecutionId });

/** Top-level keys of an event, the only thing logged about an event that is not a CodePipeline job. */
function eventShape(event: unknown): string[] {
    return typeof event === "object" && event !== null ? Object.keys(event).slice(0, 20) : [typeof event];
}

export function createHandler(deps: HandlerDeps): (event: unknown) => Promise<void> {
    const now = deps.now ?? (() => new Date());
    const log = deps.log ?? createLogger({ function: "etl-trigger" });

    return async function handler(event: unknown): Promise<void> {
        let job: CodePipelineJob;
        try {
            job = readCodePipelineJob(event);
        } catch (e) {
            log.error("malformed event: no CodePipeline job id, so no result can be reported", {
                error: describeError(e),
                eventKeys: eventShape(event),
            });
            throw e;
        }
        log.info("invoked", jobSummary(job));

        let decision: Decision;
        try {
            decision = await decide(job);
        } catch (e) {
            log.error("unexpected error", { jobId: job.id, error: describeError(e) });
            decision = fail("JobFailed", `ETL trigger failed unexpectedly: ${describeError(e)}`);
        }
        await deliver(new JobReporter(deps.codepipeline, job.id, log), job, decision);
    };

    async function deliver(reporter: JobReporter, job: CodePipelineJob, decided: Decision): Promise<void> {
        let failure: FailDecision;
        if (decided.kind === "fail") {
            failure = decided;
        } else {
            const result = decided.kind === "continue"
                ? { continuationToken: decided.token, summary: decided.summary, externalExecutionId: decided.externalExecutionId }
                : { outputVariables: decided.outputVariables, summary: decided.summary, externalExecutionId: decided.externalExecutionId };
            const problem = successProblem(result);
            if (problem === undefined) {
                try {
                    await reporter.succeed(result);
                    return;
                } catch (e) {
                    log.error("could not report success; reporting failure instead", { jobId: job.id, error: describeError(e) });
                    failure = fail("JobFailed", `ETL trigger could not report its result (${decided.summary}): ${describeError(e)}`, decided.externalExecutionId);
                }
            } else {
                failure = fail("JobFailed", `ETL trigger built an invalid result: ${problem}`, decided.externalExecutionId);
            }
        }
        try {
            await reporter.fail(failure);
        } catch (e) {
            log.error("could not report failure; the invocation fails so Lambda retries it", { jobId: job.id, error: describeError(e) });
            throw e;
        }
    }

    async function decide(job: CodePipelineJob): Promise<Decision> {
        const config = deps.config;
        if (config instanceof ConfigError) {
            return fail("ConfigurationError", `ETL trigger is misconfigured: ${config.message}`);
        }
        let params: UserParameters;
        try {
            params = parseUserParameters(job.userParameters, { rawBucket: config.rawBucket, defaultRunId: job.id });
        } catch (e) {
            if (e instanceof ParameterError) return fail("ConfigurationError", e.message);
            throw e;
        }
        if (job.continuationToken === undefined) return start(config, params, undefined);

        let token: ContinuationToken;
        try {
            token = decodeToken(job.continuationToken);
        } catch (e) {
            if (e instanceof TokenError) return fail("JobFailed", e.message);
            throw e;
        }
        if (token.runId !== params.runId) {
            return fail("ConfigurationError", `continuation token is for run ${token.runId} but UserParameters now give run ${params.runId}: the run id must not change within one action execution`);
        }
        return token.phase === "starting" ? start(config, params, token) : poll(config, params, token);
    }

    function continueWith(token: ContinuationToken, summary: string, externalExecutionId?: string): Decision {
        return { kind: "continue", token: encodeToken(token), summary, externalExecutionId };
    }

    function elapsedMs(sinceIso: string): number {
        return now().getTime() - new Date(sinceIso).getTime();
    }

    /** First invocation: the reuse key, and the recorded run when there is one. Never throws. */
    async function lookForReuse(config: TriggerConfig, params: UserParameters): Promise<{ plan?: ReusePlan; reused?: Decision }> {
        try {
            const plan = await planReuse(deps.s3, config, params);
            if ("reason" in plan) {
                log.info("no reuse for this input", { runId: params.runId, reason: plan.reason });
                return {};
            }
            if (!params.reuse) {
                log.info("reuse off for this execution (reuse=false): running the ETL; the run is still recorded", { runId: params.runId, key: plan.key });
                return { plan };
            }
            const hit = await findRecordedRun(deps.s3, config, plan.key, log);
            if (!hit) {
                log.info("reuse miss: running the ETL", { runId: params.runId, key: plan.key });
                return { plan };
            }
            const { record, manifest } = hit;
            const prefix = runPrefix(config.curatedBucket, config.curatedPrefix, record.runId);
            const glueJobRunId = record.glueJobRunId ?? record.runId;
            let variables: Record<string, string>;
            try {
                variables = outputVariables(manifest, record.runId, prefix, glueJobRunId);
            } catch (e) {
                log.warn("recorded run has no usable manifest; running the ETL", { key: plan.key, runId: record.runId, error: describeError(e) });
                return { plan };
            }
            log.info("reuse hit: reporting the recorded run", { runId: params.runId, key: plan.key, reusedRunId: record.runId });
            return {
                plan,
                reused: {
                    kind: "succeed",
                    outputVariables: { ...variables, [ETL_OUTPUT_VARIABLES.reused]: "true", [ETL_OUTPUT_VARIABLES.reuseKey]: plan.key },
                    summary: `Reused ETL run ${record.runId} (same dataset version, ETL code, schema and settings; key ${plan.key.slice(0, 20)}…): ${variables[ETL_OUTPUT_VARIABLES.rowsOut]} rows out, at ${prefix}`,
                    externalExecutionId: glueJobRunId,
                },
            };
        } catch (e) {
            log.warn("reuse lookup failed; running the ETL", { runId: params.runId, error: describeError(e) });
            return {};
        }
    }

    async function start(config: TriggerConfig, params: UserParameters, waiting: StartingToken | undefined): Promise<Decision> {
        const job = config.glueJobName;
        let plan: ReusePlan | undefined = waiting?.reuse;
        if (waiting === undefined) {
            const found = await lookForReuse(config, params);
            if (found.reused) return found.reused;
            plan = found.plan;
        }
        try {
            const existing = await findRun(config, (r) => r.Arguments?.["--run-id"] === params.runId);
            if (existing !== undefined && existing.Id !== undefined && runStatus(existing.JobRunState) !== "failed") {
                log.info("adopting the Glue run already started for this run id", { runId: params.runId, jobRunId: existing.Id, state: existing.JobRunState });
                const startedAt = (existing.StartedOn ?? now()).toISOString();
                return evaluate(config, params, { v: 1, phase: "running", runId: params.runId, jobRunId: existing.Id, startedAt, reuse: plan }, existing);
            }
            const args: Record<string, string> = { "--input": params.inputUri, "--run-id": params.runId };
            if (params.schemaUri !== undefined) args["--schema"] = params.schemaUri;
            const started = await deps.glue.send(new StartJobRunCommand({ JobName: job, Arguments: args }));
            if (!started.JobRunId) return fail("JobFailed", `Glue StartJobRun for job ${job} returned no JobRunId`);
            log.info("started Glue run", { runId: params.runId, jobRunId: started.JobRunId, input: params.inputUri });
            return continueWith(
                { v: 1, phase: "running", runId: params.runId, jobRunId: started.JobRunId, startedAt: now().toISOString(), reuse: plan },
                `Started Glue job ${job} run ${started.JobRunId} for run ${params.runId}`,
                started.JobRunId,
            );
        } catch (e) {
            const kind = classifyAwsError(e);
            if (kind === "throttled" || kind === "concurrent-runs") return waitToStart(config, params.runId, waiting, kind, e, plan);
            if (kind === "not-found") return fail("ConfigurationError", `Glue job ${job} does not exist (GLUE_JOB_NAME): ${describeError(e)}`);
            if (kind === "access-denied") return fail("PermissionError", `not allowed to start Glue job ${job}: ${describeError(e)}`);
            return fail("JobFailed", `could not start Glue job ${job}: ${describeError(e)}`);
        }
    }

    function waitToStart(config: TriggerConfig, runId: string, waiting: StartingToken | undefined, reason: StartingToken["reason"], error: unknown,
        plan: ReusePlan | undefined): Decision {
        const job = config.glueJobName;
        const waitingSince = waiting?.waitingSince ?? now().toISOString();
        const elapsed = elapsedMs(waitingSince);
        const budget = reason === "throttled" ? config.throttleBudgetMs : config.concurrencyBudgetMs;
        if (elapsed >= budget) {
            return reason === "throttled"
                ? fail("SystemUnavailable", `Glue kept throttling the start of job ${job} for ${Math.round(elapsed / 1000)} s (budget ${budget / 1000} s): ${describeError(error)}`)
                : fail("JobFailed", `Glue job ${job} is still at its concurrent-run limit after ${Math.round(elapsed / 1000)} s (budget ${budget / 1000} s): ${describeError(error)}`);
        }
        log.warn("start deferred", { runId, reason, error: describeError(error) });
        return continueWith(
            { v: 1, phase: "starting", runId, waitingSince, reason, reuse: plan },
            `Waiting to start Glue job ${job} (${reason === "throttled" ? "throttled" : "other runs still running"})`,
        );
    }

    async function poll(config: TriggerConfig, params: UserParameters, token: RunningToken): Promise<Decision> {
        let run: JobRun | undefined;
        try {
            run = (await deps.glue.send(new GetJobRunCommand({ JobName: config.glueJobName, RunId: token.jobRunId, PredecessorsIncluded: false }))).JobRun;
        } catch (e) {
            return readFailed(config, token, e, `read the state of Glue job ${config.glueJobName} run ${token.jobRunId}`);
        }
        if (run === undefined) return fail("JobFailed", `Glue returned no job run for job ${config.glueJobName} run ${token.jobRunId}`, token.jobRunId);
        return evaluate(config, params, { ...token, throttledSince: undefined }, run);
    }

    /** A read (GetJobRun, GetJobRuns, GetObject) failed while a run is being watched. */
    function readFailed(config: TriggerConfig, token: RunningToken, error: unknown, what: string): Decision {
        const kind = classifyAwsError(error);
        if (kind === "throttled") {
            const throttledSince = token.throttledSince ?? now().toISOString();
            const elapsed = elapsedMs(throttledSince);
            if (elapsed >= config.throttleBudgetMs) {
                return fail("SystemUnavailable", `could not ${what}: throttled for ${Math.round(elapsed / 1000)} s (budget ${config.throttleBudgetMs / 1000} s): ${describeError(error)}`, token.jobRunId);
            }
            log.warn("read throttled; will retry", { runId: token.runId, jobRunId: token.jobRunId, error: describeError(error) });
            return continueWith({ ...token, throttledSince }, `Throttled while watching Glue run ${token.jobRunId}; retrying`, token.jobRunId);
        }
        if (kind === "not-found") return fail("ConfigurationError", `could not ${what}: ${describeError(error)}`, token.jobRunId);
        if (kind === "access-denied") return fail("PermissionError", `could not ${what}: ${describeError(error)}`, token.jobRunId);
        return fail("JobFailed", `could not ${what}: ${describeError(error)}`, token.jobRunId);
    }

    async function evaluate(config: TriggerConfig, params: UserParameters, token: RunningToken, run: JobRun): Promise<Decision> {
        const jobRunId = run.Id ?? token.jobRunId;
        const current: RunningToken = { ...token, jobRunId };
        const status = runStatus(run.JobRunState);
        log.info("Glue run state", { runId: token.runId, jobRunId, state: run.JobRunState, attempt: run.Attempt ?? 0 });
        if (status === "in-progress") {
            return continueWith(current, `Glue job ${config.glueJobName} run ${jobRunId} is ${run.JobRunState}`, jobRunId);
        }
        if (status === "succeeded") return publish(config, params, current);
        if (retriedByGlue(run, config.glueMaxRetries)) return followRetry(config, params, current, run);
        return fail("JobFailed", failureMessage(config.glueJobName, run), jobRunId);
    }

    async function followRetry(config: TriggerConfig, params: UserParameters, token: RunningToken, failed: JobRun): Promise<Decision> {
        let retry: JobRun | undefined;
        try {
            retry = await findRun(config, (r) => r.PreviousRunId === failed.Id);
        } catch (e) {
            return readFailed(config, token, e, `look for Glue's retry of job ${config.glueJobName} run ${failed.Id}`);
        }
        if (retry?.Id !== undefined) {
            log.info("following Glue's retry", { runId: token.runId, failedRunId: failed.Id, retryRunId: retry.Id });
            return evaluate(config, params, token, retry);
        }
        const endedAt = failed.CompletedOn ?? failed.LastModifiedOn ?? now();
        if (now().getTime() - endedAt.getTime() < config.retryGraceMs) {
            return continueWith(token, `Glue job ${config.glueJobName} run ${token.jobRunId} ended ${failed.JobRunState}; waiting for Glue's retry`, token.jobRunId);
        }
        return fail("JobFailed", `${failureMessage(config.glueJobName, failed)} (Glue started no retry within ${config.retryGraceMs / 1000} s)`, token.jobRunId);
    }

    async function publish(config: TriggerConfig, params: UserParameters, token: RunningToken): Promise<Decision> {
        const prefix = runPrefix(config.curatedBucket, config.curatedPrefix, token.runId);
        let text: string;
        try {
            const object = await deps.s3.send(new GetObjectCommand({ Bucket: config.curatedBucket, Key: manifestKey(config.curatedPrefix, token.runId) }));
            if (object.Body === undefined) return fail("JobFailed", `manifest ${prefix}manifest.json has no body`, token.jobRunId);
            text = await object.Body.transformToString("utf-8");
        } catch (e) {
            if (errorName(e) === "NoSuchKey") {
                return fail("JobFailed", `Glue job ${config.glueJobName} run ${token.jobRunId} SUCCEEDED but wrote no manifest at ${prefix}manifest.json: the dataset is incomplete and is not published`, token.jobRunId);
            }
            return readFailed(config, token, e, `read ${prefix}manifest.json`);
        }
        let variables: Record<string, string>;
        try {
            variables = outputVariables(text, token.runId, prefix, token.jobRunId);
        } catch (e) {
            if (e instanceof ManifestError) return fail("JobFailed", e.message, token.jobRunId);
            throw e;
        }
        variables[ETL_OUTPUT_VARIABLES.reused] = "false";
        if (token.reuse !== undefined) {
            variables[ETL_OUTPUT_VARIABLES.reuseKey] = token.reuse.key;
            await recordRun(deps.s3, config, params, token.reuse, { runId: token.runId, runPrefix: prefix, glueJobRunId: token.jobRunId }, now(), log);
        }
        return {
            kind: "succeed",
            outputVariables: variables,
            summary: `Glue job ${config.glueJobName} run ${token.jobRunId} SUCCEEDED: ${variables[ETL_OUTPUT_VARIABLES.rowsOut]} rows out, ${variables[ETL_OUTPUT_VARIABLES.rowsQuarantined]} quarantined, at ${prefix}`,
            externalExecutionId: token.jobRunId,
        };
    }

    /** The newest run of the job matching `predicate`, searching at most {@link RUN_SEARCH_PAGES} pages. */
    async function findRun(config: TriggerConfig, predicate: (run: JobRun) => boolean): Promise<JobRun | undefined> {
        let nextToken: string | undefined;
        for (let page = 0; page < RUN_SEARCH_PAGES; page++) {
            const out = await deps.glue.send(new GetJobRunsCommand({ JobName: config.glueJobName, MaxResults: 200, NextToken: nextToken }));
            const found = (out.JobRuns ?? []).find(predicate);
            if (found !== undefined) return found;
            nextToken = out.NextToken;
            if (!nextToken) return undefined;
        }
        return undefined;
    }
}

const config = loadConfig(process.env);
if (config instanceof ConfigError) {
    // Logged once per cold start; every invocation also reports it to CodePipeline.
    createLogger({ function: "etl-trigger" }).error("invalid environment", { error: config.message });
}

/** The Lambda entry point (`index.handler` in the bundle). */
export const handler = createHandler({
    glue: new GlueClient({}),
    s3: new S3Client({}),
    codepipeline: new CodePipelineClient({}),
    config,
});
