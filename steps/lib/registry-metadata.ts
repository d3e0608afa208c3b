/**
 * The keys a model version carries in the registry's free-form properties (SageMaker
 * CustomerMetadataProperties; the local registry stores the same): docs/contracts.md §7. The train step writes
 * them; evaluate, deploy, the stacks (infra/model-version.ts) and the drift monitor read them.
 */
export const REGISTRY_METADATA = {
    /** The ETL run's manifest.json. */
    manifestUri: "ManifestUri",
    /** The ETL run prefix `<curated>/<runId>/` the model was trained on. */
    dataPrefix: "DataPrefix",
    /** Model Monitor data-quality baseline of the training split. */
    baselineStatisticsUri: "BaselineStatisticsUri",
    baselineConstraintsUri: "BaselineConstraintsUri",
    trainingJobName: "TrainingJobName",
    pipelineExecutionId: "PipelineExecutionId",
    gitCommit: "GitCommit",
    /** The train reuse key (steps/lib/reuse-key.ts): a later run with the same inputs reuses this version. */
    reuseKey: "ReuseKey",
} as const;

/** Training metrics are recorded as `train.<name>`, the evaluation's as `eval.<name>`. */
export const TRAIN_METRIC_PREFIX = "train.";
export const EVAL_METRIC_PREFIX = "eval.";
