/**
 * Names that make reruns idempotent: a training job's name is a function of the pipeline execution, so a rerun
 * finds the job its first run started instead of starting another.
 */
import { createHash } from "crypto";
import { UsageError } from "./errors";

/** SageMaker training job names: ≤ 63 characters, alphanumerics and hyphens, no leading or trailing hyphen. */
export const TRAINING_JOB_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const HASH_CHARS = 16;
/** Longest prefix that leaves room for `-` and the hash. */
export const MAX_JOB_PREFIX = 63 - HASH_CHARS - 1;

/**
 * `<prefix>-<16 hex of sha256(executionId)>`. The prefix (e.g. `mlops-dev-churn`) is what IAM scopes the
 * CodeBuild role's training-job permissions to; the hash keeps any execution id (a UUID, a local run id) short
 * and in SageMaker's charset.
 */
export function trainingJobName(prefix: string, executionId: string): string {
    if (!/^[a-zA-Z0-9](-?[a-zA-Z0-9])*$/.test(prefix) || prefix.length > MAX_JOB_PREFIX) {
        throw new UsageError(
            `training job prefix ${JSON.stringify(prefix)} is invalid; expected 1-${MAX_JOB_PREFIX} letters, digits ` +
            "or single hyphens, starting and ending with a letter or digit");
    }
    if (executionId.trim() === "") {
        throw new UsageError("pipeline execution id is empty; pass --execution-id or set PIPELINE_EXECUTION_ID");
    }
    const hash = createHash("sha256").update(executionId).digest("hex").slice(0, HASH_CHARS);
    return `${prefix}-${hash}`;
}

/**
 * `CreateModelPackage.ClientToken` allows 1-36 characters matching `[a-zA-Z0-9-]+` (botocore's SageMaker model,
 * `CreateModelPackageInput.ClientToken`; API reference "CreateModelPackage"), while a training job name may have
 * 63. The token is derived from the idempotency seed (the training job's name) so a rerun of the same job sends the
 * same token: `mp-` and 32 hex characters of sha256(seed), 35 characters.
 */
export const CLIENT_TOKEN = /^[a-zA-Z0-9-]{1,36}$/;
export function modelPackageClientToken(seed: string): string {
    if (seed.length === 0) throw new UsageError("the model package idempotency seed is empty; pass the training job name");
    return `mp-${createHash("sha256").update(seed).digest("hex").slice(0, 32)}`;
}
