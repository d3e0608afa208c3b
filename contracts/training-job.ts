/**
 * Training job names. infra scopes the train build's IAM permissions to `training-job/<prefix>-*` and passes the
 * prefix to the train step, which names each job `<prefix>-<hash of the execution id>`: both sides derive the
 * prefix and its length limit from here, so the policy always matches the jobs the step starts.
 */
import { createHash } from "crypto";

/**
 * SageMaker `TrainingJobName`: 1-63 characters matching this pattern (botocore's SageMaker model 2017-07-24,
 * shape `TrainingJobName`: `max: 63`, `pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`).
 */
export const TRAINING_JOB_NAME_MAX = 63;
export const TRAINING_JOB_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** Hex characters of sha256(execution id) at the end of every job name. */
export const JOB_NAME_HASH_CHARS = 16;
/** Longest prefix that leaves room for `-` and the hash. */
export const MAX_JOB_PREFIX = TRAINING_JOB_NAME_MAX - JOB_NAME_HASH_CHARS - 1;
/** What a prefix may look like: letters, digits and single hyphens, no hyphen at either end. */
const PREFIX = /^[a-zA-Z0-9](-?[a-zA-Z0-9])*$/;

/** The prefix for jobs of a resource name (e.g. the stack's `<project>-<environment>-<model>`): cut to fit. */
export function trainingJobPrefix(name: string): string {
    return name.slice(0, MAX_JOB_PREFIX).replace(/-+$/, "");
}

/** Why `prefix` / `executionId` cannot name a job, or undefined when they can. */
export function trainingJobNameProblem(prefix: string, executionId: string): string | undefined {
    if (!PREFIX.test(prefix) || prefix.length > MAX_JOB_PREFIX) {
        return `training job prefix ${JSON.stringify(prefix)} is invalid; expected 1-${MAX_JOB_PREFIX} letters, digits ` +
            "or single hyphens, starting and ending with a letter or digit";
    }
    if (executionId.trim() === "") return "pipeline execution id is empty; pass --execution-id or set PIPELINE_EXECUTION_ID";
    return undefined;
}

/** `<prefix>-<16 hex of sha256(executionId)>`; the caller has checked {@link trainingJobNameProblem}. */
export function composeTrainingJobName(prefix: string, executionId: string): string {
    return `${prefix}-${createHash("sha256").update(executionId).digest("hex").slice(0, JOB_NAME_HASH_CHARS)}`;
}
