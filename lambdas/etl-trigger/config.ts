/**
 * The function's environment, validated once at cold start. An invalid environment does not crash the module:
 * the handler still reports a ConfigurationError to CodePipeline, so the pipeline fails at once instead of
 * hanging until the action times out.
 */
import { z } from "zod";
import { ConfigError, loadEnvironment, parseEnvironment } from "../shared/environment";

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "expected an S3 bucket name" });
const seconds = z.coerce.number().int().min(0).max(86_400);

const envSchema = z.object({
    /** The Glue job this function starts and watches. */
    GLUE_JOB_NAME: z.string().min(1).max(255),
    /** Bucket the pipeline's input (and an optional per-run schema) must come from; the Glue role reads only this. */
    RAW_BUCKET: bucketName,
    /** The job writes each run to `s3://CURATED_BUCKET/CURATED_PREFIX/<runId>/` (its `--output` argument). */
    CURATED_BUCKET: bucketName,
    CURATED_PREFIX: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, {
        message: "expected a key prefix without leading or trailing '/', e.g. datasets",
    }),
    /** The job's MaxRetries: a FAILED/ERROR attempt below it is followed to Glue's own retry. */
    GLUE_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(0),
    /** How long throttled Glue/S3 calls are retried (via continuation) before the action fails. */
    THROTTLE_BUDGET_SECONDS: seconds.default(900),
    /** How long a start blocked by ConcurrentRunsExceededException is retried; 0 fails at once. */
    CONCURRENCY_BUDGET_SECONDS: seconds.default(3600),
    /** How long after a failed attempt Glue gets to show its retry run before the failure is reported. */
    RETRY_GRACE_SECONDS: seconds.default(300),
});

export interface TriggerConfig {
    readonly glueJobName: string;
    readonly rawBucket: string;
    readonly curatedBucket: string;
    readonly curatedPrefix: string;
    readonly glueMaxRetries: number;
    readonly throttleBudgetMs: number;
    readonly concurrencyBudgetMs: number;
    readonly retryGraceMs: number;
}

export { ConfigError };

/** Parses the environment; throws {@link ConfigError} naming every bad variable and what is allowed. */
export function parseConfig(env: Record<string, string | undefined>): TriggerConfig {
    const e = parseEnvironment(envSchema, env);
    return {
        glueJobName: e.GLUE_JOB_NAME,
        rawBucket: e.RAW_BUCKET,
        curatedBucket: e.CURATED_BUCKET,
        curatedPrefix: e.CURATED_PREFIX,
        glueMaxRetries: e.GLUE_MAX_RETRIES,
        throttleBudgetMs: e.THROTTLE_BUDGET_SECONDS * 1000,
        concurrencyBudgetMs: e.CONCURRENCY_BUDGET_SECONDS * 1000,
        retryGraceMs: e.RETRY_GRACE_SECONDS * 1000,
    };
}

/** The config, or the error that explains why there is none. */
export function loadConfig(env: Record<string, string | undefined> = process.env): TriggerConfig | ConfigError {
    return loadEnvironment(parseConfig, env);
}
