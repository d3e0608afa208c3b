/**
 * The environment variables the pipeline's CodeBuild steps read: infra sets them (a project's environment, or the
 * pipeline action's variables, infra/components/{training-steps,delivery-pipeline,deploy-projects}.ts) and the steps
 * read them (steps/{train,evaluate,deploy}/main.ts, `optionOrEnv`). Each name is spelled once, here.
 */

/** Which execution and which code revision a build runs for: set on every build action of the pipeline. */
export const PROVENANCE_ENV = { executionId: "PIPELINE_EXECUTION_ID", gitCommit: "GIT_COMMIT" } as const;

/** What steps/train reads (the train project's environment and the Train action's variables). */
export const TRAIN_ENV = {
    modelName: "MODEL_NAME",
    modelPackageGroup: "MODEL_PACKAGE_GROUP",
    jobPrefix: "TRAINING_JOB_PREFIX",
    outputPrefix: "MODEL_OUTPUT_PREFIX",
    roleArn: "TRAINING_ROLE_ARN",
    config: "TRAINING_CONFIG",
    imageUri: "IMAGE_URI",
    dataPrefix: "DATA_PREFIX",
    reuse: "REUSE",
} as const;

/** What steps/evaluate reads (the evaluate project's environment and the Evaluate action's variables). */
export const EVALUATE_ENV = {
    modelPackageGroup: TRAIN_ENV.modelPackageGroup,
    endpointName: "ENDPOINT_NAME",
    endpointKind: "ENDPOINT_KIND",
    config: "EVALUATION_CONFIG",
    reportPrefix: "REPORT_PREFIX",
    reportDir: "REPORT_DIR",
    dataPrefix: TRAIN_ENV.dataPrefix,
} as const;

/** What a deploy project's build reads: the stack it deploys, and (prod) where the lead-time recorder writes. */
export const DEPLOY_ENV = {
    targetStack: "TARGET_STACK",
    pipelineName: "PIPELINE_NAME",
    executionSummaryPrefix: "EXECUTION_SUMMARY_PREFIX",
} as const;
