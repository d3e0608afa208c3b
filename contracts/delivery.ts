/**
 * The delivery pipeline's names (CodePipeline V2): what infra/components/delivery-pipeline.ts builds, what the
 * ETL trigger Lambda and the CodeBuild steps export into it, and what the prod deploy's lead-time recorder
 * (steps/lib/lead-time.ts) reads back from CodePipeline and writes to CloudWatch.
 *
 * Output variables are referenced as `#{<namespace>.<name>}` and pipeline variables as `#{variables.<name>}`
 * (CodePipeline user guide, "Variables reference").
 */

/** Stage names. `Prepare` is also the ETL action's variable namespace (`#{Prepare.trainPrefix}`). */
export const STAGES = {
    source: "Source",
    prepare: "Prepare",
    train: "Train",
    dev: "Dev",
    prod: "Prod",
} as const;

/** Action names; the image and train builds use their action name as variable namespace. */
export const ACTIONS = {
    code: "Code",
    data: "Data",
    etl: "ETL",
    image: "Image",
    train: "Train",
    deployDev: "DeployDev",
    evaluate: "Evaluate",
    approve: "Approve",
    deployProd: "DeployProd",
} as const;

/**
 * The source actions' output artifacts. Their names are also the `artifactRevisions[].name` the lead-time
 * recorder reads, and the trigger kinds of a code push and a data upload.
 */
export const SOURCE_ARTIFACTS = { code: "code", data: "data" } as const;

/** Pipeline-level variables; the retrain trigger and manual starts may set them. */
export const PIPELINE_VARIABLES = {
    /** The dataset the ETL reads (UserParameters.inputUri of the ETL trigger). */
    inputUri: "inputUri",
    /** Why the execution started: the retrain trigger writes the alarm here. */
    trigger: "trigger",
    /** "true" (default): unchanged ETL and training are reused (contracts/reuse-key.ts); "false" recomputes, for audits. */
    reuse: "reuse",
} as const;
/** The `trigger` variable's default: not started by the retrain trigger. */
export const DEFAULT_TRIGGER_VALUE = "source-change";

/**
 * Output variable every action that can reuse an earlier result sets (`"true"` / `"false"`): the ETL trigger and
 * the train build. The lead-time summary lists the stages whose action reported `"true"`.
 */
export const REUSED_VARIABLE = "reused";

/**
 * The ETL trigger action's UserParameters (a JSON object; lambdas/etl-trigger/parameters.ts documents and checks
 * each field): the delivery pipeline writes it, the Lambda parses it with a schema the compiler holds to this type.
 */
export interface EtlTriggerParameters {
    /** The CSV object or prefix in the raw bucket, typically `#{variables.inputUri}`. */
    readonly inputUri: string;
    /** Names the run; typically `#{codepipeline.PipelineExecutionId}`. */
    readonly runId?: string;
    /** A dataset schema object in the raw bucket instead of the job's default. */
    readonly schemaUri?: string;
    /** `"true"` (default) or `"false"`; typically `#{variables.reuse}`. */
    readonly reuse?: string;
}

/**
 * The ETL trigger Lambda's output variables (namespace {@link STAGES}.prepare; docs/contracts.md §4b):
 * lambdas/etl-trigger sets them, the train and evaluate actions receive them.
 */
export const ETL_OUTPUT_VARIABLES = {
    runId: "runId",
    glueJobRunId: "glueJobRunId",
    curatedPrefix: "curatedPrefix",
    trainPrefix: "trainPrefix",
    validationPrefix: "validationPrefix",
    testPrefix: "testPrefix",
    manifestUri: "manifestUri",
    rowsIn: "rowsIn",
    rowsOut: "rowsOut",
    rowsQuarantined: "rowsQuarantined",
    reused: REUSED_VARIABLE,
    /** Only when the input has an ETL reuse key. */
    reuseKey: "reuseKey",
} as const;

/**
 * The variables the train build exports (namespace {@link ACTIONS}.train). The pipeline passes the version's ARN
 * on to the deploy and evaluate builds as an environment variable of the same name, which steps/deploy and
 * steps/evaluate read.
 */
export const TRAIN_BUILD_VARIABLES = { modelPackageArn: "MODEL_PACKAGE_ARN", reused: REUSED_VARIABLE } as const;

/** The lead-time metrics' namespace; the deploy role may put metrics into this namespace only (cloudwatch:namespace). */
export const DELIVERY_METRICS_NAMESPACE = "MLOps/Delivery";
/** Printed with every lead-time recording error; the stack's log metric filter counts it and alarms. */
export const METRICS_FAILURE_MARKER = "DELIVERY_METRICS_FAILED";
/** What started an execution: a push, a data upload, or the retrain trigger (drift). The metrics' `Trigger` dimension. */
export const TRIGGER_KIND = { code: SOURCE_ARTIFACTS.code, data: SOURCE_ARTIFACTS.data, drift: "drift" } as const;
export const TRIGGERS = [TRIGGER_KIND.code, TRIGGER_KIND.data, TRIGGER_KIND.drift] as const;
export type TriggerKind = (typeof TRIGGERS)[number];
