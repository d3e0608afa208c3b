/**
 * The environments of the pipeline's Lambdas: infra sets them (infra/components/{etl-job,drift-monitor}.ts) and each
 * function validates them at cold start (lambdas/<name>/config.ts). The variable names are defined here, once; the
 * compiler holds both sides to them (an object literal `satisfies` the contract on the infra side, a key check
 * against the zod schema on the Lambda side), so a name changed on one side fails `npm run typecheck`.
 * Values are strings, as Lambda passes them; each function parses and validates its own.
 */

/** The ETL trigger (lambdas/etl-trigger/config.ts). */
export interface EtlTriggerEnvironment {
    /** The Glue job it starts and watches. */
    readonly GLUE_JOB_NAME: string;
    /** The bucket the pipeline's input must come from. */
    readonly RAW_BUCKET: string;
    /** Runs are written to `s3://CURATED_BUCKET/CURATED_PREFIX/<runId>/`. */
    readonly CURATED_BUCKET: string;
    readonly CURATED_PREFIX: string;
    readonly GLUE_MAX_RETRIES?: string;
    readonly THROTTLE_BUDGET_SECONDS?: string;
    readonly CONCURRENCY_BUDGET_SECONDS?: string;
    readonly RETRY_GRACE_SECONDS?: string;
    /** Reuse key inputs (contracts/reuse-key.ts). */
    readonly ETL_CODE_SHA256?: string;
    readonly ETL_SCHEMA_SHA256?: string;
    readonly ETL_SETTINGS?: string;
}

/** The retrain trigger (lambdas/retrain-trigger/config.ts). */
export interface RetrainTriggerEnvironment {
    /** The pipeline it starts (name, not ARN). */
    readonly PIPELINE_NAME: string;
    readonly RETRAIN_COOLDOWN_HOURS: string;
    /** Static pipeline variables passed on every start, as JSON. */
    readonly PIPELINE_VARIABLES?: string;
    /** The pipeline variable that receives why the run started. */
    readonly TRIGGER_VARIABLE?: string;
}

/** Whether two types have exactly the same keys: `true` or a compile error where a check assigns it. */
export type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
