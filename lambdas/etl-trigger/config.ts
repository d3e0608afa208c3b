/**
 * The function's environment, validated once at cold start. An invalid environment does not crash the module:
 * the handler still reports a ConfigurationError to CodePipeline, so the pipeline fails at once instead of
 * hanging until the action times out.
 */
import { z } from "zod";
import { ConfigError, loadEnvironment, parseEnvironment } from "../shared/environment";
import type { EtlTriggerEnvironment, SameKeys } from "../../contracts/lambda-environment";

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "expected an S3 bucket name" });
const seconds = z.coerce.number().int().min(0).max(86_400);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: "expected a SHA-256 in lowercase hex (64 characters)" });
const settingsSchema = z.strictObject({ maxQuarantineShare: z.number().min(0).max(1), minRows: z.number().int().min(0), trainShards: z.number().int().min(1) });

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
    /** Reuse inputs (./reuse.ts), set by the stack: SHA-256 of the deployed ETL script and package. Unset: no reuse. */
    ETL_CODE_SHA256: sha256.optional(),
    /** SHA-256 of the job's default dataset schema. */
    ETL_SCHEMA_SHA256: sha256.optional(),
    /** The job's output-changing settings as JSON: {"maxQuarantineShare": 0.05, "minRows": 100, "trainShards": 1}. */
    ETL_SETTINGS: z.string().optional().transform((text, ctx) => {
        if (text === undefined) return undefined;
        try {
            const parsed = settingsSchema.safeParse(JSON.parse(text));
            if (parsed.success) return parsed.data;
        } catch {
            // reported below
        }
        ctx.addIssue({ code: "custom", message: "expected JSON {\"maxQuarantineShare\": <0..1>, \"minRows\": <whole number>}" });
        return z.NEVER;
    }),
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
    /** What the ETL reuse key needs besides the input's version; undefined: reuse unavailable (older stack). */
    readonly reuse?: {
        readonly etlCodeSha256: string;
        readonly schemaSha256: string;
        readonly settings: { readonly maxQuarantineShare: number; readonly minRows: number; readonly trainShards: number };
    };
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
        ...(e.ETL_CODE_SHA256 && e.ETL_SCHEMA_SHA256 && e.ETL_SETTINGS
            ? { reuse: { etlCodeSha256: e.ETL_CODE_SHA256, schemaSha256: e.ETL_SCHEMA_SHA256, settings: e.ETL_SETTINGS } }
            : {}),
    };
}

/** The config, or the error that explains why there is none. */
export function loadConfig(env: Record<string, string | undefined> = process.env): TriggerConfig | ConfigError {
    return loadEnvironment(parseConfig, env);
}

// The variable names are the contract's (contracts/lambda-environment.ts), which infra sets: a compile error here means
// the schema and the contract drifted apart.
const _sameVariables: SameKeys<EtlTriggerEnvironment, z.input<typeof envSchema>> = true;
void _sameVariables;
