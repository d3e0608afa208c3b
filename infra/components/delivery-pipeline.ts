import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "../lib/context";
import { policyDocument, PolicyStatement, serviceTrustPolicy } from "../lib/policy";
import { ResourceRef } from "../lib/refs";
import { plaintextVariables } from "../lib/codebuild";
import { IMAGE_BUILD_VARIABLES } from "./image-build";
import {
    ACTIONS, DEFAULT_TRIGGER_VALUE, ETL_OUTPUT_VARIABLES, EtlTriggerParameters, PIPELINE_VARIABLES, SOURCE_ARTIFACTS, STAGES,
    TRAIN_BUILD_VARIABLES,
} from "../../contracts/delivery";
import { DeployTargetKey, DeployTargetRef } from "./deploy-projects";
import { objectKeyProblem } from "./delivery-triggers";
import { DEPLOY_ENV, PROVENANCE_ENV, TRAIN_ENV } from "../../contracts/step-environment";

/** Where the pipeline gets its code from when a push should start it. */
export interface GitSource {
    /** GitHub `owner/name`. */
    readonly repository: string;
    readonly branch: string;
    /** A CodeStar (CodeConnections) connection to GitHub, authorised once in the console. */
    readonly connectionArn: string;
}

/** How the pipeline's executions share its stages (CodePipeline V2). */
export type ExecutionMode = "SUPERSEDED" | "QUEUED";

/** The component's type token; the deploy projects and triggers give their former URN under it as an alias. */
export const DELIVERY_PIPELINE_TYPE = "mlops:delivery:DeliveryPipeline";

/**
 * The delivery pipeline and its service role: data landing in S3 (through ./delivery-triggers.ts) or a push to
 * GitHub starts it; it prepares the data (Glue, through the ETL trigger Lambda) while it builds the model image
 * (skipped when the image exists), trains and registers a version with that image, deploys it to dev, evaluates it
 * there and, only when the evaluation approves it, deploys the prod stack (./deploy-projects.ts). Host stack only.
 */
export interface DeliveryPipelineArgs {
    readonly context: StackContext;
    /** Encrypts the artifact store. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** Receives manual approval requests (when enabled). */
    readonly alertsTopicArn: pulumi.Input<string>;
    /** The pipeline's physical name, fixed by the program before the pipeline exists (`shared.pipelineName`). */
    readonly pipelineName: pulumi.Input<string>;
    /** Artifact store; also holds the code bundle when there is no Git source. */
    readonly artifactsBucket: ResourceRef;
    /** Where datasets land (the S3 data source). */
    readonly rawBucket: ResourceRef;
    /** The object the S3 source reads; a new version of it starts the pipeline (./delivery-triggers.ts). */
    readonly dataObjectKey: string;
    /**
     * A GitHub source through a CodeStar connection; a push on `branch` touching {@link triggerPaths} starts the
     * pipeline.
     * @default undefined — code comes from {@link codeBundleKey} in the artifacts bucket, and only data starts runs
     */
    readonly gitSource?: GitSource;
    /**
     * Key of the zipped repository in the artifacts bucket, used when there is no Git source.
     * @default "source/code.zip"
     */
    readonly codeBundleKey?: string;
    /**
     * Repository paths whose changes can change the model; only pushes touching them start the pipeline.
     * @default {@link MODEL_TRIGGER_PATHS}
     */
    readonly triggerPaths?: readonly string[];
    /** The ETL trigger Lambda (a CodePipeline invoke action that runs the Glue job). */
    readonly etlFunction: ResourceRef;
    /**
     * CodeBuild project running scripts/build-image.sh (image-build.ts); it exports `IMAGE_URI`, the image by
     * digest, which the train action receives.
     */
    readonly imageProject: ResourceRef;
    /**
     * CodeBuild project running `steps/train` (training-steps.ts); it exports the registered version's ARN as
     * {@link TRAIN_BUILD_VARIABLES}`.modelPackageArn`, which the deploy and evaluate actions receive.
     */
    readonly trainProject: ResourceRef;
    /** CodeBuild project running `steps/evaluate` against the dev endpoint; it fails when the gate rejects. */
    readonly evaluateProject: ResourceRef;
    /** The deploy projects and the stacks they update (./deploy-projects.ts `targets`). */
    readonly deployTargets: Readonly<Record<DeployTargetKey, DeployTargetRef>>;
    /**
     * Wait for a person to approve before the prod deployment. The evaluation gate is always there; this adds a
     * human on top of it (the request goes to the alerts topic).
     * @default false
     */
    readonly requireManualApproval?: boolean;
    /**
     * SUPERSEDED lets the newest waiting execution replace older waiting ones; QUEUED runs every execution in turn.
     * @default "SUPERSEDED" (see docs/delivery.md)
     */
    readonly executionMode?: ExecutionMode;
}

/** Paths whose changes can change the trained model or its data (a push elsewhere does not retrain). */
export const MODEL_TRIGGER_PATHS: readonly string[] = [
    // monitor/drift_checker is part of the model image (infra/lib/image-context.ts), so it goes through the pipeline.
    "model-container/**", "monitor/drift_checker/**", "etl/**", "steps/**", "data/*.schema.json",
];

/** The args with every default applied. */
interface PipelineSettings extends DeliveryPipelineArgs {
    readonly codeBundleKey: string;
    readonly executionMode: ExecutionMode;
    readonly triggerPaths: readonly string[];
}

type Stage = aws.types.input.codepipeline.PipelineStage;
type Action = aws.types.input.codepipeline.PipelineStageAction;

export class DeliveryPipeline extends pulumi.ComponentResource {
    readonly pipeline: aws.codepipeline.Pipeline;
    readonly pipelineArn: pulumi.Output<string>;
    readonly pipelineName: pulumi.Output<string>;
    readonly role: aws.iam.Role;

    constructor(name: string, args: DeliveryPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super(DELIVERY_PIPELINE_TYPE, name, args, opts);
        const parent = this;
        const settings: PipelineSettings = {
            ...args,
            codeBundleKey: args.codeBundleKey ?? "source/code.zip",
            executionMode: args.executionMode ?? "SUPERSEDED",
            triggerPaths: args.triggerPaths ?? MODEL_TRIGGER_PATHS,
        };
        const problem = settingsProblem(settings);
        if (problem) throw new pulumi.ResourceError(`DeliveryPipeline ${name}: ${problem}`, parent);

        this.role = createPipelineRole(name, settings, { parent });
        this.pipeline = new aws.codepipeline.Pipeline(`${name}-pipeline`, pipelineDefinition(settings, this.role.arn), { parent });
        this.pipelineArn = this.pipeline.arn;
        this.pipelineName = this.pipeline.name;

        this.registerOutputs({ pipelineArn: this.pipelineArn, pipelineName: this.pipelineName, pipelineRoleArn: this.role.arn });
    }
}

/** What is wrong with the settings, or undefined. */
function settingsProblem(settings: PipelineSettings): string | undefined {
    const dataKey = objectKeyProblem(settings.dataObjectKey);
    if (dataKey) return `dataObjectKey ${dataKey}`;
    if (objectKeyProblem(settings.codeBundleKey) || !settings.codeBundleKey.endsWith(".zip")) {
        return `codeBundleKey ${JSON.stringify(settings.codeBundleKey)} is invalid; expected an object key ending in .zip, e.g. source/code.zip`;
    }
    if (!["SUPERSEDED", "QUEUED"].includes(settings.executionMode)) {
        return `executionMode ${JSON.stringify(settings.executionMode)} is not supported; allowed: SUPERSEDED, QUEUED`;
    }
    if (settings.deployTargets.dev.stack === settings.deployTargets.prod.stack) {
        return `deployTargets dev and prod both update the stack ${JSON.stringify(settings.deployTargets.dev.stack)}; the gate must separate two stacks`;
    }
    if (settings.gitSource && settings.triggerPaths.length === 0) {
        return "triggerPaths is empty; give at least one path pattern, e.g. model-container/**";
    }
    return undefined;
}

function createPipelineRole(name: string, settings: PipelineSettings, opts: pulumi.CustomResourceOptions): aws.iam.Role {
    const { context } = settings;
    const role = new aws.iam.Role(`${name}-role`, {
        name: context.namer.name("iamRole", "pipeline"),
        description: "CodePipeline service role of the delivery pipeline",
        assumeRolePolicy: serviceTrustPolicy("codepipeline.amazonaws.com", context.accountId),
    }, opts);
    new aws.iam.RolePolicy(`${name}-role-policy`, { role: role.id, policy: policyDocument(pipelineRoleStatements(settings)) }, opts);
    return role;
}

function pipelineRoleStatements(settings: PipelineSettings): PolicyStatement[] {
    const builds = [settings.imageProject.arn, settings.trainProject.arn, settings.evaluateProject.arn,
        settings.deployTargets.dev.arn, settings.deployTargets.prod.arn];
    const statements: PolicyStatement[] = [
        {
            Sid: "ReadWriteArtifactStore",
            Effect: "Allow",
            Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning", "s3:GetBucketLocation"],
            Resource: [settings.artifactsBucket.arn, pulumi.interpolate`${settings.artifactsBucket.arn}/*`],
        },
        {
            Sid: "ReadDataSource",
            Effect: "Allow",
            Action: ["s3:GetObject", "s3:GetObjectVersion"],
            Resource: pulumi.interpolate`${settings.rawBucket.arn}/${settings.dataObjectKey}`,
        },
        {
            Sid: "ReadDataSourceVersioning",
            Effect: "Allow",
            Action: ["s3:GetBucketVersioning", "s3:GetBucketLocation"],
            Resource: settings.rawBucket.arn,
        },
        {
            Sid: "UseStackKey",
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            Resource: settings.kmsKeyArn,
        },
        {
            Sid: "RunBuildActions",
            Effect: "Allow",
            Action: ["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"],
            Resource: builds,
        },
        {
            Sid: "InvokeEtlTrigger",
            Effect: "Allow",
            Action: "lambda:InvokeFunction",
            Resource: settings.etlFunction.arn,
        },
    ];
    if (settings.gitSource) {
        statements.push({
            Sid: "UseSourceConnection",
            Effect: "Allow",
            Action: ["codestar-connections:UseConnection", "codeconnections:UseConnection"],
            Resource: settings.gitSource.connectionArn,
        });
    }
    if (settings.requireManualApproval) {
        statements.push({
            Sid: "RequestManualApproval",
            Effect: "Allow",
            Action: "sns:Publish",
            Resource: settings.alertsTopicArn,
        });
    }
    return statements;
}

function pipelineDefinition(settings: PipelineSettings, roleArn: pulumi.Input<string>): aws.codepipeline.PipelineArgs {
    return {
        name: settings.pipelineName,
        pipelineType: "V2",
        executionMode: settings.executionMode,
        roleArn,
        artifactStores: [{
            type: "S3",
            location: settings.artifactsBucket.name,
            encryptionKey: { id: settings.kmsKeyArn, type: "KMS" },
        }],
        variables: [
            {
                name: PIPELINE_VARIABLES.inputUri,
                defaultValue: pulumi.interpolate`s3://${settings.rawBucket.name}/${settings.dataObjectKey}`,
                description: "Dataset the ETL reads; a manual start may point it at another object in the raw bucket",
            },
            {
                name: PIPELINE_VARIABLES.trigger,
                defaultValue: DEFAULT_TRIGGER_VALUE,
                description: "Why this execution started (the retrain trigger records the drift alarm here)",
            },
            {
                name: PIPELINE_VARIABLES.reuse,
                defaultValue: "true",
                description: "true: reuse the ETL run and model version of unchanged inputs; false: recompute every stage (audit)",
            },
        ],
        stages: [sourceStage(settings), prepareStage(settings), trainStage(settings), devStage(settings), prodStage(settings)],
        triggers: settings.gitSource ? [{
            providerType: "CodeStarSourceConnection",
            gitConfiguration: {
                sourceActionName: ACTIONS.code,
                pushes: [{
                    branches: { includes: [settings.gitSource.branch] },
                    filePaths: { includes: [...settings.triggerPaths] },
                }],
            },
        }] : undefined,
    };
}

function sourceStage(settings: PipelineSettings): Stage {
    const data: Action = {
        ...awsAction(ACTIONS.data, { category: "Source", provider: "S3" }),
        namespace: ACTIONS.data,
        outputArtifacts: [SOURCE_ARTIFACTS.data],
        configuration: {
            S3Bucket: settings.rawBucket.name,
            S3ObjectKey: settings.dataObjectKey,
            // The data-landed rule (./delivery-triggers.ts) starts the pipeline; polling would start it a second time.
            PollForSourceChanges: "false",
        },
    };
    const code: Action = settings.gitSource
        ? {
            ...awsAction(ACTIONS.code, { category: "Source", provider: "CodeStarSourceConnection" }),
            namespace: ACTIONS.code,
            outputArtifacts: [SOURCE_ARTIFACTS.code],
            configuration: {
                ConnectionArn: settings.gitSource.connectionArn,
                FullRepositoryId: settings.gitSource.repository,
                BranchName: settings.gitSource.branch,
                OutputArtifactFormat: "CODE_ZIP",
            },
        }
        : {
            ...awsAction(ACTIONS.code, { category: "Source", provider: "S3" }),
            namespace: ACTIONS.code,
            outputArtifacts: [SOURCE_ARTIFACTS.code],
            configuration: {
                S3Bucket: settings.artifactsBucket.name,
                S3ObjectKey: settings.codeBundleKey,
                // Without a Git source only data starts runs; a new bundle is picked up by the next one.
                PollForSourceChanges: "false",
            },
        };
    return { name: STAGES.source, actions: [code, data] };
}

/**
 * The data and the image are prepared side by side: CodePipeline runs stages one after another, and the
 * actions of one stage with the same run order in parallel, so the image build is an action of this stage
 * (run order 1, like the ETL), in its own variable namespace `Image`.
 */
function prepareStage(settings: PipelineSettings): Stage {
    return {
        name: STAGES.prepare,
        onFailure: { result: "FAIL" },
        actions: [{
            ...awsAction(ACTIONS.etl, { category: "Invoke", provider: "Lambda" }),
            namespace: STAGES.prepare,
            inputArtifacts: [SOURCE_ARTIFACTS.data],
            configuration: {
                FunctionName: settings.etlFunction.name,
                // The execution id names the ETL run, so a retried stage adopts the Glue run it started.
                UserParameters: JSON.stringify({
                    inputUri: `#{variables.${PIPELINE_VARIABLES.inputUri}}`,
                    runId: "#{codepipeline.PipelineExecutionId}",
                    reuse: `#{variables.${PIPELINE_VARIABLES.reuse}}`,
                } satisfies EtlTriggerParameters),
            },
        }, {
            ...buildAction(ACTIONS.image, "Build", settings.imageProject.name, provenance(settings), ACTIONS.image),
            runOrder: 1,
        }],
    };
}

function trainStage(settings: PipelineSettings): Stage {
    return {
        name: STAGES.train,
        onFailure: { result: "FAIL" },
        actions: [buildAction(ACTIONS.train, "Build", settings.trainProject.name, {
            ...provenance(settings),
            // The image this execution built (or found): training and the registered version use it.
            [TRAIN_ENV.imageUri]: `#{${ACTIONS.image}.${IMAGE_BUILD_VARIABLES.imageUri}}`,
            ETL_RUN_ID: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.runId}}`,
            CURATED_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.curatedPrefix}}`,
            TRAIN_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.trainPrefix}}`,
            VALIDATION_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.validationPrefix}}`,
            TEST_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.testPrefix}}`,
            MANIFEST_URI: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.manifestUri}}`,
            PIPELINE_TRIGGER: `#{variables.${PIPELINE_VARIABLES.trigger}}`,
            [TRAIN_ENV.reuse]: `#{variables.${PIPELINE_VARIABLES.reuse}}`,
        }, ACTIONS.train)],
    };
}

/**
 * Deploy and evaluate share one stage: a stage holds one execution at a time, so no other execution can
 * redeploy the dev endpoint while this one's evaluation is measuring it.
 */
function devStage(settings: PipelineSettings): Stage {
    return {
        name: STAGES.dev,
        onFailure: { result: "FAIL" },
        actions: [
            { ...buildAction(ACTIONS.deployDev, "Build", settings.deployTargets.dev.name, deployVariables(settings)), runOrder: 1 },
            {
                ...buildAction(ACTIONS.evaluate, "Test", settings.evaluateProject.name, {
                    ...provenance(settings),
                    [TRAIN_BUILD_VARIABLES.modelPackageArn]: modelPackageArn(),
                    ETL_RUN_ID: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.runId}}`,
                    TEST_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.testPrefix}}`,
                    MANIFEST_URI: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.manifestUri}}`,
                    [DEPLOY_ENV.targetStack]: settings.deployTargets.dev.stack,
                }, ACTIONS.evaluate),
                runOrder: 2,
            },
        ],
    };
}

function prodStage(settings: PipelineSettings): Stage {
    const approve: Action = {
        ...awsAction(ACTIONS.approve, { category: "Approval", provider: "Manual" }),
        runOrder: 1,
        configuration: {
            NotificationArn: settings.alertsTopicArn,
            CustomData: `Evaluation approved ${modelPackageArn()} (execution #{codepipeline.PipelineExecutionId}). ` +
                `Approve to deploy it to the ${settings.deployTargets.prod.stack} stack.`,
        },
    };
    const deploy = buildAction(ACTIONS.deployProd, "Build", settings.deployTargets.prod.name, deployVariables(settings));
    return {
        name: STAGES.prod,
        onFailure: { result: "FAIL" },
        actions: settings.requireManualApproval ? [approve, { ...deploy, runOrder: 2 }] : [{ ...deploy, runOrder: 1 }],
    };
}

/** The version the train action registered, by the name its buildspec exports it under. */
function modelPackageArn(): string {
    return `#{${ACTIONS.train}.${TRAIN_BUILD_VARIABLES.modelPackageArn}}`;
}

function deployVariables(settings: PipelineSettings): Record<string, string> {
    return { ...provenance(settings), [TRAIN_BUILD_VARIABLES.modelPackageArn]: modelPackageArn() };
}

/** Which execution and which code revision a build runs for. */
function provenance(settings: PipelineSettings): Record<string, string> {
    return {
        [PROVENANCE_ENV.executionId]: "#{codepipeline.PipelineExecutionId}",
        [PROVENANCE_ENV.gitCommit]: settings.gitSource ? `#{${ACTIONS.code}.CommitId}` : `s3-version:#{${ACTIONS.code}.VersionId}`,
    };
}

/** The fields every action of this pipeline shares: an AWS-owned provider at version 1. */
function awsAction(name: string, kind: { category: Action["category"]; provider: string }): Action {
    return { name, ...kind, owner: "AWS", version: "1" };
}

/** A CodeBuild action on the code artifact; its variables are resolved by CodePipeline when the action starts. */
function buildAction(actionName: string, category: "Build" | "Test", projectName: pulumi.Input<string>,
    variables: Record<string, string>, namespace?: string): Action {
    return {
        ...awsAction(actionName, { category, provider: "CodeBuild" }),
        namespace,
        inputArtifacts: [SOURCE_ARTIFACTS.code],
        configuration: {
            ProjectName: projectName,
            EnvironmentVariables: JSON.stringify(plaintextVariables(variables)),
        },
    };
}
