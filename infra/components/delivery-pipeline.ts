import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EXECUTION_SUMMARY_PREFIX } from "./delivery-metrics";
import * as YAML from "yaml";
import { arnOf, StackContext } from "../lib/context";
import { policyDocument, PolicyStatement, serviceTrustPolicy } from "../lib/policy";
import { attachStackDeployPolicies } from "../lib/stack-deploy-policy";
import { createDeadLetterAlarm as createSharedDeadLetterAlarm } from "./pipeline-function";
import { buildBaseStatements, createBuildLogGroup } from "../lib/codebuild";
import { IMAGE_BUILD_VARIABLES } from "./image-build";
import {
    ACTIONS, DEFAULT_TRIGGER_VALUE, ETL_OUTPUT_VARIABLES, EtlTriggerParameters, PIPELINE_VARIABLES, SOURCE_ARTIFACTS, STAGES,
    TRAIN_BUILD_VARIABLES,
} from "../../contracts/delivery";

/** A resource another component owns, by name and ARN. */
export interface ResourceRef {
    readonly name: pulumi.Input<string>;
    readonly arn: pulumi.Input<string>;
}

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

/**
 * The delivery pipeline: data landing in S3 or a push to GitHub starts it; it prepares the data (Glue, through the
 * ETL trigger Lambda) while it builds the model image (skipped when the image exists), trains and registers a
 * version with that image, deploys it to dev, evaluates it there and, only when the evaluation approves it,
 * deploys the prod stack. Host stack only.
 */
export interface DeliveryPipelineArgs {
    readonly context: StackContext;
    /** Encrypts artifacts, logs, the token secret and the dead-letter queue. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** Receives pipeline failures, undelivered trigger events and (when enabled) manual approval requests. */
    readonly alertsTopicArn: pulumi.Input<string>;
    /** The pipeline's physical name, fixed by the program before the pipeline exists (`shared.pipelineName`). */
    readonly pipelineName: pulumi.Input<string>;
    /** Artifact store; also holds the code bundle when there is no Git source. */
    readonly artifactsBucket: ResourceRef;
    /** Where datasets land; its EventBridge notifications are switched on here. */
    readonly rawBucket: ResourceRef;
    /** The object the S3 source watches; uploading a new version of it starts the pipeline. */
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
    /** The registry group deployments resolve versions from (the deploy roles read it). */
    readonly modelPackageGroupArn: pulumi.Input<string>;
    /**
     * Stack names the deploy projects update (`steps/deploy --stack <name>`).
     * @default { dev: "dev", prod: "prod" }
     */
    readonly stacks?: { readonly dev: string; readonly prod: string };
    /**
     * Pulumi organization owning the stacks, given to the deploy step as `PULUMI_ORGANIZATION`.
     * @default undefined — the access token's default organization
     */
    readonly pulumiOrganization?: string;
    /**
     * CodeBuild compute of the deploy projects. `pulumi up` runs the Node program and two provider plugins (aws,
     * pulumiservice) at once; BUILD_GENERAL1_SMALL gives 4 GiB, BUILD_GENERAL1_MEDIUM 8 GiB and 4 vCPUs
     * (CodeBuild API reference, ProjectEnvironment.computeType). Not measured here (no Pulumi CLI on the build
     * machine): lower it only after watching a deploy's memory.
     * @default "BUILD_GENERAL1_MEDIUM"
     */
    readonly deployComputeType?: string;
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
    /**
     * Build timeouts of the deploy projects, in minutes. Prod's covers a blue/green canary with its waits.
     * @default { dev: 60, prod: 180 }
     */
    readonly deployTimeoutMinutes?: { readonly dev: number; readonly prod: number };
    /**
     * CodeBuild managed image of the deploy projects (Node 20 runtime).
     * @default "aws/codebuild/standard:7.0"
     */
    readonly buildImage?: string;
}

/** Paths whose changes can change the trained model or its data (a push elsewhere does not retrain). */
export const MODEL_TRIGGER_PATHS: readonly string[] = [
    // monitor/drift_checker is part of the model image (infra/lib/image-context.ts), so it goes through the pipeline.
    "model-container/**", "monitor/drift_checker/**", "etl/**", "steps/**", "data/*.schema.json",
];

/** The deploy project's buildspec: install the locked dependencies and the matching Pulumi CLI, run steps/deploy. */
export function deployBuildspec(): string {
    return YAML.stringify({
        version: 0.2,
        env: { shell: "bash" },
        phases: {
            install: {
                "runtime-versions": { nodejs: 20 },
                commands: [
                    "npm ci --no-audit --no-fund --loglevel=error",
                    // The CLI the Automation API drives is pinned to the SDK version in package-lock.json.
                    "PULUMI_VERSION=\"$(node -p \"require('@pulumi/pulumi/package.json').version\")\" && " +
                    "curl -fsSL https://get.pulumi.com | sh -s -- --version \"$PULUMI_VERSION\"",
                ],
            },
            build: {
                commands: [
                    "if [ -z \"$MODEL_PACKAGE_ARN\" ] || [[ \"$MODEL_PACKAGE_ARN\" == *'#{'* ]]; then " +
                    "echo \"MODEL_PACKAGE_ARN is empty or unresolved ('$MODEL_PACKAGE_ARN'): the Train action must export it\" >&2; exit 1; fi",
                    "export PATH=\"$HOME/.pulumi/bin:$PATH\" && npx ts-node --transpile-only steps/deploy/main.ts " +
                    "--stack \"$TARGET_STACK\" --model-package-arn \"$MODEL_PACKAGE_ARN\"",
                ],
            },
        },
    });
}

type DeployTargetKey = "dev" | "prod";

interface DeployTarget {
    readonly key: DeployTargetKey;
    readonly stack: string;
    readonly timeoutMinutes: number;
}

interface DeployProject {
    readonly project: aws.codebuild.Project;
    readonly role: aws.iam.Role;
}

export class DeliveryPipeline extends pulumi.ComponentResource {
    readonly pipeline: aws.codepipeline.Pipeline;
    readonly pipelineArn: pulumi.Output<string>;
    readonly pipelineName: pulumi.Output<string>;
    /** Holds the Pulumi access token the deploy projects use; its value is set out of band (docs/delivery.md). */
    readonly accessTokenSecret: aws.secretsmanager.Secret;
    readonly deployProjectNames: Readonly<Record<DeployTargetKey, pulumi.Output<string>>>;
    readonly deployRoleArns: Readonly<Record<DeployTargetKey, pulumi.Output<string>>>;
    /** The deploy projects' roles and log groups: the prod deploy records lead time (./delivery-metrics.ts). */
    readonly deployRoleNames: Readonly<Record<DeployTargetKey, pulumi.Output<string>>>;
    readonly deployLogGroupNames: Readonly<Record<DeployTargetKey, pulumi.Output<string>>>;
    /** Trigger and notification events EventBridge could not deliver. */
    readonly deadLetterQueue: aws.sqs.Queue;

    constructor(name: string, args: DeliveryPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:DeliveryPipeline", name, args, opts);
        const parent = this;
        const { context } = args;
        const namer = context.namer;

        const codeBundleKey = args.codeBundleKey ?? "source/code.zip";
        const executionMode = args.executionMode ?? "SUPERSEDED";
        const stacks = args.stacks ?? { dev: "dev", prod: "prod" };
        const timeouts = args.deployTimeoutMinutes ?? { dev: 60, prod: 180 };
        const triggerPaths = args.triggerPaths ?? MODEL_TRIGGER_PATHS;
        validate();

        const targets: DeployTarget[] = [
            { key: "dev", stack: stacks.dev, timeoutMinutes: timeouts.dev },
            { key: "prod", stack: stacks.prod, timeoutMinutes: timeouts.prod },
        ];
        const pipelineArn = arnOf(context, "codepipeline", args.pipelineName);

        this.accessTokenSecret = createAccessTokenSecret();
        const deployProjects = Object.fromEntries(targets.map((t) => [t.key, createDeployProject(t)])) as Record<DeployTargetKey, DeployProject>;
        this.deployProjectNames = { dev: deployProjects.dev.project.name, prod: deployProjects.prod.project.name };
        this.deployRoleArns = { dev: deployProjects.dev.role.arn, prod: deployProjects.prod.role.arn };
        this.deployRoleNames = { dev: deployProjects.dev.role.name, prod: deployProjects.prod.role.name };
        this.deployLogGroupNames = { dev: pulumi.interpolate`/aws/codebuild/${deployProjects.dev.project.name}`, prod: pulumi.interpolate`/aws/codebuild/${deployProjects.prod.project.name}` };
        const pipelineRole = createPipelineRole();
        this.pipeline = createPipeline();
        this.pipelineArn = this.pipeline.arn;
        this.pipelineName = this.pipeline.name;
        this.deadLetterQueue = createDeadLetterQueue();
        const rawNotifications = enableRawBucketEvents();
        const dataRule = createDataLandedTrigger();
        const failureRule = createFailureNotification();
        createDeadLetterQueuePolicy([dataRule, failureRule]);
        createDeadLetterAlarm();

        this.registerOutputs({
            pipelineArn: this.pipelineArn,
            pipelineName: this.pipelineName,
            pipelineRoleArn: pipelineRole.arn,
            accessTokenSecretArn: this.accessTokenSecret.arn,
            deployProjectNames: this.deployProjectNames,
            deployRoleArns: this.deployRoleArns,
            deadLetterQueueArn: this.deadLetterQueue.arn,
            rawBucketNotification: rawNotifications.id,
        });

        function validate() {
            const fail = (message: string) => { throw new pulumi.ResourceError(`DeliveryPipeline ${name}: ${message}`, parent); };
            const key = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
            if (!key.test(args.dataObjectKey)) {
                fail(`dataObjectKey ${JSON.stringify(args.dataObjectKey)} is invalid; expected an object key of letters, digits, '.', '_', '-' and '/' separators, without leading or trailing '/', e.g. incoming/churn.csv`);
            }
            if (!key.test(codeBundleKey) || !codeBundleKey.endsWith(".zip")) {
                fail(`codeBundleKey ${JSON.stringify(codeBundleKey)} is invalid; expected an object key ending in .zip, e.g. source/code.zip`);
            }
            if (!["SUPERSEDED", "QUEUED"].includes(executionMode)) {
                fail(`executionMode ${JSON.stringify(executionMode)} is not supported; allowed: SUPERSEDED, QUEUED`);
            }
            for (const [target, minutes] of Object.entries(timeouts)) {
                if (!Number.isInteger(minutes) || minutes < 5 || minutes > 2160) {
                    fail(`deployTimeoutMinutes.${target} ${minutes} is out of range; CodeBuild allows whole minutes from 5 to 2160`);
                }
            }
            if (stacks.dev === stacks.prod) {
                fail(`stacks.dev and stacks.prod are both ${JSON.stringify(stacks.dev)}; the gate must separate two stacks`);
            }
            if (args.gitSource && triggerPaths.length === 0) {
                fail("triggerPaths is empty; give at least one path pattern, e.g. model-container/**");
            }
        }

        function createAccessTokenSecret() {
            return new aws.secretsmanager.Secret(`${name}-pulumi-token`, {
                name: namer.name("secret", "pulumi-access-token"),
                description: "Pulumi Cloud access token the deploy projects run `pulumi up` with. Set out of band: " +
                    "aws secretsmanager put-secret-value --secret-id <this secret> --secret-string <token>",
                kmsKeyId: args.kmsKeyArn,
                recoveryWindowInDays: context.protectData ? 30 : 7,
            }, { parent });
        }

        function createDeployProject(target: DeployTarget): DeployProject {
            // The pipeline lives in the host stack: the target that is this stack deploys the host's resources too.
            const isHost = target.stack === pulumi.getStack();
            const projectName = namer.name("codebuild", "deploy", target.key);
            const logGroup = createBuildLogGroup(`${name}-deploy-${target.key}-logs`, projectName, context, args.kmsKeyArn, { parent });
            const role = new aws.iam.Role(`${name}-deploy-${target.key}-role`, {
                name: namer.name("iamRole", "deploy", target.key),
                description: `Runs steps/deploy for the ${target.stack} stack from the ${namer.project}-${context.environment} pipeline`,
                assumeRolePolicy: serviceTrustPolicy("codebuild.amazonaws.com", context.accountId),
            }, { parent });
            new aws.iam.RolePolicy(`${name}-deploy-${target.key}-build-policy`, {
                role: role.id,
                policy: policyDocument(deployBuildStatements(logGroup.arn)),
            }, { parent });
            attachStackDeployPolicies(`${name}-deploy-${target.key}-stack`, {
                context,
                role,
                policyNamePrefix: namer.name("iamPolicy", "deploy", target.key),
                scope: {
                    environment: target.key,
                    isHost,
                    modelPackageGroupArn: args.modelPackageGroupArn,
                    connectionArn: isHost ? args.gitSource?.connectionArn : undefined,
                },
            }, { parent });
            const environmentVariables: aws.types.input.codebuild.ProjectEnvironmentEnvironmentVariable[] = [
                { name: "TARGET_STACK", value: target.stack, type: "PLAINTEXT" },
                { name: "PULUMI_ACCESS_TOKEN", value: parent.accessTokenSecret.arn, type: "SECRETS_MANAGER" },
                { name: "PULUMI_SKIP_UPDATE_CHECK", value: "true", type: "PLAINTEXT" },
                // `npm test` type-checks in CI; the deploy need not do it again.
                { name: "PULUMI_NODEJS_TRANSPILE_ONLY", value: "true", type: "PLAINTEXT" },
                ...(args.pulumiOrganization ? [{ name: "PULUMI_ORGANIZATION", value: args.pulumiOrganization, type: "PLAINTEXT" }] : []),
                // The prod deploy records each execution's lead time once prod serves (steps/lib/lead-time.ts).
                ...(target.key === "prod" ? [
                    { name: "PIPELINE_NAME", value: args.pipelineName, type: "PLAINTEXT" },
                    { name: "EXECUTION_SUMMARY_PREFIX", value: pulumi.interpolate`s3://${args.artifactsBucket.name}/${EXECUTION_SUMMARY_PREFIX}`, type: "PLAINTEXT" },
                ] : []),
            ];
            const project = new aws.codebuild.Project(`${name}-deploy-${target.key}`, {
                name: projectName,
                description: `steps/deploy --stack ${target.stack}: pulumi up with the model version the pipeline promotes`,
                serviceRole: role.arn,
                encryptionKey: args.kmsKeyArn,
                buildTimeout: target.timeoutMinutes,
                queuedTimeout: 60,
                // Two updates of one stack would only fight over its lock.
                concurrentBuildLimit: 1,
                source: { type: "CODEPIPELINE", buildspec: deployBuildspec() },
                artifacts: { type: "CODEPIPELINE" },
                environment: {
                    type: "LINUX_CONTAINER",
                    computeType: args.deployComputeType ?? "BUILD_GENERAL1_MEDIUM",
                    image: args.buildImage ?? "aws/codebuild/standard:7.0",
                    imagePullCredentialsType: "CODEBUILD",
                    privilegedMode: false,
                    environmentVariables,
                },
                logsConfig: {
                    cloudwatchLogs: { status: "ENABLED", groupName: logGroup.name },
                    s3Logs: { status: "DISABLED" },
                },
            }, { parent });
            return { project, role };

            function deployBuildStatements(logGroupArn: pulumi.Output<string>): PolicyStatement[] {
                return [
                    ...buildBaseStatements(logGroupArn, args.artifactsBucket.arn),
                    {
                        Sid: "ReadPulumiAccessToken",
                        Effect: "Allow",
                        Action: "secretsmanager:GetSecretValue",
                        Resource: parent.accessTokenSecret.arn,
                    },
                    {
                        Sid: "DecryptArtifactsAndToken",
                        Effect: "Allow",
                        Action: ["kms:Decrypt", "kms:DescribeKey"],
                        Resource: args.kmsKeyArn,
                    },
                ];
            }
        }

        function createPipelineRole() {
            const role = new aws.iam.Role(`${name}-role`, {
                name: namer.name("iamRole", "pipeline"),
                description: "CodePipeline service role of the delivery pipeline",
                assumeRolePolicy: serviceTrustPolicy("codepipeline.amazonaws.com", context.accountId),
            }, { parent });
            new aws.iam.RolePolicy(`${name}-role-policy`, {
                role: role.id,
                policy: policyDocument(pipelineRoleStatements()),
            }, { parent });
            return role;
        }

        function pipelineRoleStatements(): PolicyStatement[] {
            const builds = [args.imageProject.arn, args.trainProject.arn, args.evaluateProject.arn, deployProjects.dev.project.arn, deployProjects.prod.project.arn];
            const statements: PolicyStatement[] = [
                {
                    Sid: "ReadWriteArtifactStore",
                    Effect: "Allow",
                    Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning", "s3:GetBucketLocation"],
                    Resource: [args.artifactsBucket.arn, pulumi.interpolate`${args.artifactsBucket.arn}/*`],
                },
                {
                    Sid: "ReadDataSource",
                    Effect: "Allow",
                    Action: ["s3:GetObject", "s3:GetObjectVersion"],
                    Resource: pulumi.interpolate`${args.rawBucket.arn}/${args.dataObjectKey}`,
                },
                {
                    Sid: "ReadDataSourceVersioning",
                    Effect: "Allow",
                    Action: ["s3:GetBucketVersioning", "s3:GetBucketLocation"],
                    Resource: args.rawBucket.arn,
                },
                {
                    Sid: "UseStackKey",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    Resource: args.kmsKeyArn,
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
                    Resource: args.etlFunction.arn,
                },
            ];
            if (args.gitSource) {
                statements.push({
                    Sid: "UseSourceConnection",
                    Effect: "Allow",
                    Action: ["codestar-connections:UseConnection", "codeconnections:UseConnection"],
                    Resource: args.gitSource.connectionArn,
                });
            }
            if (args.requireManualApproval) {
                statements.push({
                    Sid: "RequestManualApproval",
                    Effect: "Allow",
                    Action: "sns:Publish",
                    Resource: args.alertsTopicArn,
                });
            }
            return statements;
        }

        function createPipeline() {
            return new aws.codepipeline.Pipeline(`${name}-pipeline`, {
                name: args.pipelineName,
                pipelineType: "V2",
                executionMode,
                roleArn: pipelineRole.arn,
                artifactStores: [{
                    type: "S3",
                    location: args.artifactsBucket.name,
                    encryptionKey: { id: args.kmsKeyArn, type: "KMS" },
                }],
                variables: [
                    {
                        name: PIPELINE_VARIABLES.inputUri,
                        defaultValue: pulumi.interpolate`s3://${args.rawBucket.name}/${args.dataObjectKey}`,
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
                stages: [sourceStage(), prepareStage(), trainStage(), devStage(), prodStage()],
                triggers: args.gitSource ? [{
                    providerType: "CodeStarSourceConnection",
                    gitConfiguration: {
                        sourceActionName: ACTIONS.code,
                        pushes: [{
                            branches: { includes: [args.gitSource.branch] },
                            filePaths: { includes: [...triggerPaths] },
                        }],
                    },
                }] : undefined,
            }, { parent });
        }

        function sourceStage(): aws.types.input.codepipeline.PipelineStage {
            const data: aws.types.input.codepipeline.PipelineStageAction = {
                name: ACTIONS.data,
                category: "Source",
                owner: "AWS",
                provider: "S3",
                version: "1",
                namespace: ACTIONS.data,
                outputArtifacts: [SOURCE_ARTIFACTS.data],
                configuration: {
                    S3Bucket: args.rawBucket.name,
                    S3ObjectKey: args.dataObjectKey,
                    // The EventBridge rule below starts the pipeline; polling would start it a second time.
                    PollForSourceChanges: "false",
                },
            };
            const code: aws.types.input.codepipeline.PipelineStageAction = args.gitSource
                ? {
                    name: ACTIONS.code,
                    category: "Source",
                    owner: "AWS",
                    provider: "CodeStarSourceConnection",
                    version: "1",
                    namespace: ACTIONS.code,
                    outputArtifacts: [SOURCE_ARTIFACTS.code],
                    configuration: {
                        ConnectionArn: args.gitSource.connectionArn,
                        FullRepositoryId: args.gitSource.repository,
                        BranchName: args.gitSource.branch,
                        OutputArtifactFormat: "CODE_ZIP",
                    },
                }
                : {
                    name: ACTIONS.code,
                    category: "Source",
                    owner: "AWS",
                    provider: "S3",
                    version: "1",
                    namespace: ACTIONS.code,
                    outputArtifacts: [SOURCE_ARTIFACTS.code],
                    configuration: {
                        S3Bucket: args.artifactsBucket.name,
                        S3ObjectKey: codeBundleKey,
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
        function prepareStage(): aws.types.input.codepipeline.PipelineStage {
            return {
                name: STAGES.prepare,
                onFailure: { result: "FAIL" },
                actions: [{
                    name: ACTIONS.etl,
                    category: "Invoke",
                    owner: "AWS",
                    provider: "Lambda",
                    version: "1",
                    namespace: STAGES.prepare,
                    inputArtifacts: [SOURCE_ARTIFACTS.data],
                    configuration: {
                        FunctionName: args.etlFunction.name,
                        // The execution id names the ETL run, so a retried stage adopts the Glue run it started.
                        UserParameters: JSON.stringify({
                            inputUri: `#{variables.${PIPELINE_VARIABLES.inputUri}}`,
                            runId: "#{codepipeline.PipelineExecutionId}",
                            reuse: `#{variables.${PIPELINE_VARIABLES.reuse}}`,
                        } satisfies EtlTriggerParameters),
                    },
                }, {
                    ...buildAction(ACTIONS.image, "Build", args.imageProject.name, provenance(), ACTIONS.image),
                    runOrder: 1,
                }],
            };
        }

        function trainStage(): aws.types.input.codepipeline.PipelineStage {
            return {
                name: STAGES.train,
                onFailure: { result: "FAIL" },
                actions: [buildAction(ACTIONS.train, "Build", args.trainProject.name, {
                    ...provenance(),
                    // The image this execution built (or found): training and the registered version use it.
                    IMAGE_URI: `#{${ACTIONS.image}.${IMAGE_BUILD_VARIABLES.imageUri}}`,
                    ETL_RUN_ID: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.runId}}`,
                    CURATED_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.curatedPrefix}}`,
                    TRAIN_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.trainPrefix}}`,
                    VALIDATION_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.validationPrefix}}`,
                    TEST_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.testPrefix}}`,
                    MANIFEST_URI: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.manifestUri}}`,
                    PIPELINE_TRIGGER: `#{variables.${PIPELINE_VARIABLES.trigger}}`,
                    REUSE: `#{variables.${PIPELINE_VARIABLES.reuse}}`,
                }, ACTIONS.train)],
            };
        }

        /**
         * Deploy and evaluate share one stage: a stage holds one execution at a time, so no other execution can
         * redeploy the dev endpoint while this one's evaluation is measuring it.
         */
        function devStage(): aws.types.input.codepipeline.PipelineStage {
            return {
                name: STAGES.dev,
                onFailure: { result: "FAIL" },
                actions: [
                    { ...buildAction(ACTIONS.deployDev, "Build", deployProjects.dev.project.name, deployVariables()), runOrder: 1 },
                    {
                        ...buildAction(ACTIONS.evaluate, "Test", args.evaluateProject.name, {
                            ...provenance(),
                            [TRAIN_BUILD_VARIABLES.modelPackageArn]: modelPackageArn(),
                            ETL_RUN_ID: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.runId}}`,
                            TEST_PREFIX: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.testPrefix}}`,
                            MANIFEST_URI: `#{${STAGES.prepare}.${ETL_OUTPUT_VARIABLES.manifestUri}}`,
                            TARGET_STACK: stacks.dev,
                        }, ACTIONS.evaluate),
                        runOrder: 2,
                    },
                ],
            };
        }

        function prodStage(): aws.types.input.codepipeline.PipelineStage {
            const approve: aws.types.input.codepipeline.PipelineStageAction = {
                name: ACTIONS.approve,
                category: "Approval",
                owner: "AWS",
                provider: "Manual",
                version: "1",
                runOrder: 1,
                configuration: {
                    NotificationArn: args.alertsTopicArn,
                    CustomData: `Evaluation approved ${modelPackageArn()} (execution #{codepipeline.PipelineExecutionId}). ` +
                        `Approve to deploy it to the ${stacks.prod} stack.`,
                },
            };
            const deploy = buildAction(ACTIONS.deployProd, "Build", deployProjects.prod.project.name, deployVariables());
            return {
                name: STAGES.prod,
                onFailure: { result: "FAIL" },
                actions: args.requireManualApproval ? [approve, { ...deploy, runOrder: 2 }] : [{ ...deploy, runOrder: 1 }],
            };
        }

        function modelPackageArn(): string {
            return `#{${ACTIONS.train}.${TRAIN_BUILD_VARIABLES.modelPackageArn}}`;
        }

        function deployVariables(): Record<string, string> {
            return { ...provenance(), [TRAIN_BUILD_VARIABLES.modelPackageArn]: modelPackageArn() };
        }

        function provenance(): Record<string, string> {
            return {
                PIPELINE_EXECUTION_ID: "#{codepipeline.PipelineExecutionId}",
                GIT_COMMIT: args.gitSource ? `#{${ACTIONS.code}.CommitId}` : `s3-version:#{${ACTIONS.code}.VersionId}`,
            };
        }

        function buildAction(
            actionName: string,
            category: "Build" | "Test",
            projectName: pulumi.Input<string>,
            variables: Record<string, string>,
            namespace?: string,
        ): aws.types.input.codepipeline.PipelineStageAction {
            return {
                name: actionName,
                category,
                owner: "AWS",
                provider: "CodeBuild",
                version: "1",
                namespace,
                inputArtifacts: [SOURCE_ARTIFACTS.code],
                configuration: {
                    ProjectName: projectName,
                    EnvironmentVariables: JSON.stringify(
                        Object.entries(variables).map(([n, value]) => ({ name: n, value, type: "PLAINTEXT" }))),
                },
            };
        }

        function createDeadLetterQueue() {
            return new aws.sqs.Queue(`${name}-events-dlq`, {
                name: namer.name("sqsQueue", "delivery-events-dlq"),
                kmsMasterKeyId: args.kmsKeyArn,
                kmsDataKeyReusePeriodSeconds: 300,
                messageRetentionSeconds: 14 * 24 * 3600,
            }, { parent });
        }

        /**
         * S3 delivers the raw bucket's events to EventBridge only with this switched on. A bucket has a single
         * notification configuration: this is the only place in the program that sets the raw bucket's.
         */
        function enableRawBucketEvents() {
            return new aws.s3.BucketNotification(`${name}-raw-events`, {
                bucket: args.rawBucket.name,
                eventbridge: true,
            }, { parent });
        }

        function createDataLandedTrigger() {
            const role = new aws.iam.Role(`${name}-start-role`, {
                name: namer.name("iamRole", "pipeline-start"),
                description: "Lets EventBridge start the delivery pipeline when a dataset lands",
                assumeRolePolicy: serviceTrustPolicy("events.amazonaws.com", context.accountId),
            }, { parent });
            new aws.iam.RolePolicy(`${name}-start-role-policy`, {
                role: role.id,
                policy: policyDocument([{
                    Sid: "StartThisPipelineOnly",
                    Effect: "Allow",
                    Action: "codepipeline:StartPipelineExecution",
                    Resource: pipelineArn,
                }]),
            }, { parent });
            const rule = new aws.cloudwatch.EventRule(`${name}-data-landed`, {
                name: namer.name("eventRule", "data-landed"),
                description: `Starts the delivery pipeline when s3://<raw>/${args.dataObjectKey} gets a new version`,
                eventPattern: pulumi.jsonStringify({
                    source: ["aws.s3"],
                    "detail-type": ["Object Created"],
                    detail: { bucket: { name: [args.rawBucket.name] }, object: { key: [args.dataObjectKey] } },
                }),
            }, { parent, dependsOn: [rawNotifications] });
            new aws.cloudwatch.EventTarget(`${name}-data-landed-target`, {
                rule: rule.name,
                arn: parent.pipeline.arn,
                roleArn: role.arn,
                retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 },
                deadLetterConfig: { arn: parent.deadLetterQueue.arn },
            }, { parent });
            return rule;
        }

        function createFailureNotification() {
            const rule = new aws.cloudwatch.EventRule(`${name}-failed`, {
                name: namer.name("eventRule", "pipeline-failed"),
                description: "Alerts when a delivery pipeline execution fails (a rejected candidate fails the Dev stage too)",
                eventPattern: pulumi.jsonStringify({
                    source: ["aws.codepipeline"],
                    "detail-type": ["CodePipeline Pipeline Execution State Change"],
                    detail: { pipeline: [args.pipelineName], state: ["FAILED"] },
                }),
            }, { parent });
            new aws.cloudwatch.EventTarget(`${name}-failed-alert`, {
                rule: rule.name,
                arn: args.alertsTopicArn,
                inputTransformer: {
                    inputPaths: { pipeline: "$.detail.pipeline", execution: "$.detail.execution-id" },
                    inputTemplate: "\"Delivery pipeline <pipeline> execution <execution> FAILED. A rejected candidate " +
                        "fails the Dev stage by design; open the execution to see which action failed and why.\"",
                },
                retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 },
                deadLetterConfig: { arn: parent.deadLetterQueue.arn },
            }, { parent });
            return rule;
        }

        function createDeadLetterQueuePolicy(rules: aws.cloudwatch.EventRule[]) {
            return new aws.sqs.QueuePolicy(`${name}-events-dlq-policy`, {
                queueUrl: parent.deadLetterQueue.id,
                policy: policyDocument([{
                    Sid: "AllowOurRulesToDeadLetter",
                    Effect: "Allow",
                    Principal: { Service: "events.amazonaws.com" },
                    Action: "sqs:SendMessage",
                    Resource: parent.deadLetterQueue.arn,
                    Condition: { ArnEquals: { "aws:SourceArn": rules.map((r) => r.arn) } },
                }]),
            }, { parent });
        }

        function createDeadLetterAlarm() {
            return createSharedDeadLetterAlarm(`${name}-events-dlq-messages`, {
                alarmName: namer.name("alarm", "delivery-events-undelivered"),
                description: "EventBridge could not start the pipeline or deliver a failure alert: see the dead-letter queue",
                queueName: parent.deadLetterQueue.name,
                alertsTopicArn: args.alertsTopicArn,
            }, { parent });
        }
    }
}
