/**
 * Names that make reruns idempotent: a training job's name is a function of the pipeline execution, so a rerun
 * finds the job its first run started instead of starting another.
 */
import { createHash } from "crypto";
import { composeTrainingJobName, trainingJobNameProblem } from "../../contracts/training-job";
import { UsageError } from "./errors";

/**
 * `<prefix>-<16 hex of sha256(executionId)>` (contracts/training-job.ts). The prefix (e.g. `mlops-platform-churn`) is
 * what IAM scopes the CodeBuild role's training-job permissions to; the hash keeps any execution id (a UUID, a
 * local run id) short and in SageMaker's charset. UsageError when either cannot name a job.
 */
export function trainingJobName(prefix: string, executionId: string): string {
    const problem = trainingJobNameProblem(prefix, executionId);
    if (problem !== undefined) throw new UsageError(problem);
    return composeTrainingJobName(prefix, executionId);
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
