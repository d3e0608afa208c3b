import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { EvaluationConfig, TrainingConfig } from "../config";
import { arnOf, StackContext } from "../lib/context";
import { ecrLoginStatement, listModelPackagesStatement, policyDocument, PolicyStatement, sagemakerJobLogsStatement, serviceTrustPolicy } from "../lib/policy";
import { buildBaseStatements, createBuildLogGroup, createBuildProject, createBuildRole, plaintextVariables } from "../lib/codebuild";
import { ResourceRef } from "../lib/refs";
import { SAGEMAKER_TRAINING_LOG_GROUP } from "../lib/stack-deploy-policy";
import { TRAIN_BUILD_VARIABLES } from "../../contracts/delivery";
import { trainingJobPrefix } from "../../contracts/training-job";
import { EVALUATE_ENV, TRAIN_ENV } from "../../contracts/step-environment";

/**
 * The pipeline's train and evaluate steps (steps/train, steps/evaluate) as CodeBuild projects, the SageMaker
 * execution role training jobs run as, and the report group the evaluation's gate results land in. Host only.
 */
export interface TrainingStepsArgs {
    readonly context: StackContext;
    /** Config `modelName`: part of every name, and of the training jobs' name prefix IAM is scoped to. */
    readonly modelName: string;
    readonly training: TrainingConfig;
    readonly evaluation: EvaluationConfig;
    /** The stack key: projects, logs, reports, training volumes and outputs. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** curated: ETL output (read); models: training output (write); artifacts: pipeline artifacts (read), reports (write). */
    readonly buckets: { readonly curated: ResourceRef; readonly models: ResourceRef; readonly artifacts: ResourceRef };
    /**
     * The model image's ECR repository (training pulls from it). The image itself is the pipeline's: the train
     * action passes the image build's `IMAGE_URI` (by digest) to each build.
     */
    readonly imageRepositoryArn: pulumi.Input<string>;
    readonly modelPackageGroupName: pulumi.Input<string>;
    readonly modelPackageGroupArn: pulumi.Input<string>;
    /** The endpoint `evaluate` scores the test split against (the dev endpoint). */
    readonly endpointName: pulumi.Input<string>;
    /**
     * What serves that endpoint (config `endpoint.kind`): the evaluate step sizes its scoring requests by its
     * payload limit (serverless 4 MB, instances 6 MiB).
     * @default "serverless"
     */
    readonly endpointKind?: "serverless" | "instances";
    /**
     * Key prefix under the models bucket where training jobs write.
     * @default "training"
     */
    readonly modelsPrefix?: string;
    /**
     * Key prefix under the artifacts bucket where evaluation reports go.
     * @default "evaluations"
     */
    readonly reportsPrefix?: string;
    /**
     * CodeBuild image (a managed image).
     * @default "aws/codebuild/standard:7.0" (`DEFAULT_BUILD_IMAGE` of infra/lib/codebuild.ts)
     */
    readonly buildImage?: string;
    /**
     * Create `/aws/sagemaker/TrainingJobs` with our key and retention. SageMaker writes every training job's logs
     * there; the name is fixed and account-wide, and SageMaker creates the group on the account's first training
     * job, so creating it fails in any account where a job has run and `pulumi destroy` would delete the account's
     * training logs. Off by default: the account setup step (docs/delivery.md) sets its retention and key; turn it
     * on (config `accountResources.trainingJobsLogGroup`) only in the one stack that owns it, importing it first.
     * @default false
     */
    readonly createTrainingLogGroup?: boolean;
}

/** SageMaker's fixed log group for training jobs. */
export const TRAINING_LOG_GROUP = SAGEMAKER_TRAINING_LOG_GROUP;
/** Where the evaluate build leaves junit.xml, evaluation.json and report.html. */
export const REPORT_DIR = "reports";
const MAX_BUILD_TIMEOUT_MINUTES = 2160;

export class TrainingSteps extends pulumi.ComponentResource {
    readonly trainingRole: aws.iam.Role;
    readonly trainingRoleArn: pulumi.Output<string>;
    readonly trainProject: aws.codebuild.Project;
    readonly evaluateProject: aws.codebuild.Project;
    readonly reportGroup: aws.codebuild.ReportGroup;
    /** Training job names start with this (`<prefix>-<hash of the pipeline execution>`). */
    readonly trainingJobPrefix: string;

    constructor(name: string, args: TrainingStepsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:steps:TrainingSteps", name, args, opts);
        const parent = this;
        const { context } = args;
        const namer = context.namer;
        const modelsPrefix = args.modelsPrefix ?? "training";
        const reportsPrefix = args.reportsPrefix ?? "evaluations";
        validate();

        this.trainingJobPrefix = trainingJobPrefix(namer.name("sagemaker", args.modelName));
        const jobPrefix = this.trainingJobPrefix;
        const trainingJobArns = arnOf(context, "sagemaker", `training-job/${jobPrefix}-*`);
        const versionArns = pulumi.interpolate`${arnOf(context, "sagemaker", pulumi.interpolate`model-package/${args.modelPackageGroupName}`)}/*`;
        const modelsOutput = pulumi.interpolate`s3://${args.buckets.models.name}/${modelsPrefix}`;

        if (args.createTrainingLogGroup ?? false) createTrainingLogGroup();
        this.trainingRole = createTrainingRole();
        this.trainingRoleArn = this.trainingRole.arn;
        this.reportGroup = createReportGroup();
        this.trainProject = createTrainProject();
        this.evaluateProject = createEvaluateProject();

        this.registerOutputs({
            trainingRoleArn: this.trainingRoleArn,
            trainProjectName: this.trainProject.name,
            evaluateProjectName: this.evaluateProject.name,
            reportGroupArn: this.reportGroup.arn,
        });

        function validate() {
            for (const [what, prefix] of [["modelsPrefix", modelsPrefix], ["reportsPrefix", reportsPrefix]] as const) {
                if (!/^[a-z0-9][a-z0-9-]*$/.test(prefix)) {
                    throw new pulumi.ResourceError(`TrainingSteps ${name}: ${what} ${JSON.stringify(prefix)} is invalid; expected lowercase letters, digits or '-' (no slashes)`, parent);
                }
            }
        }

        function createTrainingLogGroup() {
            return new aws.cloudwatch.LogGroup(`${name}-training-job-logs`, {
                name: TRAINING_LOG_GROUP,
                retentionInDays: context.logRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            }, { parent });
        }

        function createTrainingRole() {
            const role = new aws.iam.Role(`${name}-training-role`, {
                name: namer.name("iamRole", args.modelName, "training"),
                description: `SageMaker training jobs of ${args.modelName}: read curated data, write models, pull the image`,
                assumeRolePolicy: serviceTrustPolicy("sagemaker.amazonaws.com", context.accountId),
            }, { parent });
            new aws.iam.RolePolicy(`${name}-training-policy`, { role: role.id, policy: policyDocument(trainingStatements()) }, { parent });
            return role;
        }

        function trainingStatements(): PolicyStatement[] {
            return [
                ...readCuratedDataStatements(),
                {
                    Sid: "WriteModelsAndCheckpoints",
                    Effect: "Allow",
                    // GetObject: a spot job resumed after interruption reads its checkpoints back.
                    Action: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    Resource: pulumi.interpolate`${args.buckets.models.arn}/${modelsPrefix}/*`,
                },
                {
                    Sid: "ListCheckpoints",
                    Effect: "Allow",
                    Action: "s3:ListBucket",
                    Resource: args.buckets.models.arn,
                    Condition: { StringLike: { "s3:prefix": `${modelsPrefix}/*` } },
                },
                {
                    // kms:Encrypt: the CreateTrainingJob API reference (OutputDataConfig.KmsKeyId) requires it of the
                    // execution role when the key is given by id or alias; granted so either form works.
                    Sid: "UseStackKey",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    Resource: args.kmsKeyArn,
                },
                {
                    Sid: "EncryptTrainingVolumes",
                    Effect: "Allow",
                    Action: "kms:CreateGrant",
                    Resource: args.kmsKeyArn,
                    Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
                },
                {
                    Sid: "PullModelImage",
                    Effect: "Allow",
                    Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    Resource: args.imageRepositoryArn,
                },
                ecrLoginStatement(),
                sagemakerJobLogsStatement("WriteTrainingLogs", arnOf(context, "logs", `log-group:${TRAINING_LOG_GROUP}`)),
                {
                    Sid: "PublishTrainingMetrics",
                    Effect: "Allow",
                    Action: "cloudwatch:PutMetricData",
                    // PutMetricData has no resource-level permissions ("*" only); the namespace condition confines it.
                    Resource: "*",
                    Condition: { StringEquals: { "cloudwatch:namespace": "/aws/sagemaker/TrainingJobs" } },
                },
            ];
        }

        function createReportGroup() {
            return new aws.codebuild.ReportGroup(`${name}-evaluation-reports`, {
                name: namer.name("codebuild", args.modelName, "evaluation"),
                type: "TEST",
                deleteReports: !context.protectData,
                exportConfig: {
                    type: "S3",
                    s3Destination: {
                        bucket: args.buckets.artifacts.name,
                        // CodeBuild exports with the project's service role (CodeBuild user guide, "Create a report
                        // group (CLI)"): the path must lie under the prefix the evaluate role may write.
                        path: `${reportsPrefix}/codebuild-reports`,
                        packaging: "NONE",
                        encryptionKey: args.kmsKeyArn,
                    },
                },
            }, { parent });
        }

        function buildTimeoutMinutes(): number {
            const t = args.training;
            // With managed spot, MaxWaitTimeInSeconds bounds the whole job (waiting for capacity included).
            const jobSeconds = t.spot.enabled ? Math.max(t.spot.maxWaitSeconds, t.maxRuntimeSeconds) : t.maxRuntimeSeconds;
            // Room for npm ci, registration and SageMaker's own start-up and upload.
            return Math.min(MAX_BUILD_TIMEOUT_MINUTES, Math.ceil(jobSeconds / 60) + 30);
        }

        function createLogGroup(step: string, projectName: string) {
            return createBuildLogGroup(`${name}-${step}-logs`, projectName, context, args.kmsKeyArn, { parent });
        }

        /** What the training role and both builds read: the ETL's output. */
        function readCuratedDataStatements(): PolicyStatement[] {
            return [
                {
                    Sid: "ReadCuratedData",
                    Effect: "Allow",
                    Action: "s3:GetObject",
                    Resource: pulumi.interpolate`${args.buckets.curated.arn}/*`,
                },
                {
                    Sid: "ListCuratedData",
                    Effect: "Allow",
                    Action: "s3:ListBucket",
                    Resource: args.buckets.curated.arn,
                },
            ];
        }

        function buildRole(step: "train" | "evaluate", description: string, statements: PolicyStatement[]) {
            return createBuildRole(context, {
                resourceNames: { role: `${name}-${step}-role`, policy: `${name}-${step}-policy` },
                roleName: namer.name("iamRole", args.modelName, step),
                description,
                statements,
            }, { parent });
        }

        /** What both builds need: their logs, the pipeline's source artifact, curated data, the key. */
        function commonBuildStatements(logGroupArn: pulumi.Output<string>): PolicyStatement[] {
            return [
                ...buildBaseStatements(logGroupArn, args.buckets.artifacts.arn),
                ...readCuratedDataStatements(),
                {
                    Sid: "UseStackKey",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    Resource: args.kmsKeyArn,
                },
            ];
        }

        function trainBuildStatements(logGroupArn: pulumi.Output<string>): PolicyStatement[] {
            return [
                ...commonBuildStatements(logGroupArn),
                {
                    Sid: "WriteTrainingMetrics",
                    Effect: "Allow",
                    Action: "s3:PutObject",
                    Resource: pulumi.interpolate`${args.buckets.models.arn}/${modelsPrefix}/*`,
                },
                {
                    Sid: "RunTrainingJobs",
                    Effect: "Allow",
                    // AddTags: CreateTrainingJob with Tags is authorised as sagemaker:AddTags too.
                    Action: ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"],
                    Resource: trainingJobArns,
                },
                {
                    Sid: "RegisterModelVersions",
                    Effect: "Allow",
                    Action: ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                    Resource: [args.modelPackageGroupArn, versionArns],
                },
                listModelPackagesStatement(),
                {
                    Sid: "PassTrainingRoleToSageMakerOnly",
                    Effect: "Allow",
                    Action: "iam:PassRole",
                    Resource: parent.trainingRole.arn,
                    Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
                },
            ];
        }

        function evaluateBuildStatements(logGroupArn: pulumi.Output<string>): PolicyStatement[] {
            return [
                ...commonBuildStatements(logGroupArn),
                {
                    Sid: "WriteEvaluationReports",
                    Effect: "Allow",
                    Action: "s3:PutObject",
                    Resource: pulumi.interpolate`${args.buckets.artifacts.arn}/${reportsPrefix}/*`,
                },
                {
                    Sid: "ScoreTheDevEndpoint",
                    Effect: "Allow",
                    Action: "sagemaker:InvokeEndpoint",
                    Resource: arnOf(context, "sagemaker", pulumi.interpolate`endpoint/${args.endpointName}`),
                },
                {
                    Sid: "RecordTheDecision",
                    Effect: "Allow",
                    Action: ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                    Resource: versionArns,
                },
                listModelPackagesStatement(),
                {
                    Sid: "UploadGateResults",
                    Effect: "Allow",
                    Action: ["codebuild:CreateReport", "codebuild:UpdateReport", "codebuild:BatchPutTestCases"],
                    Resource: parent.reportGroup.arn,
                },
            ];
        }

        function createProject(step: "train" | "evaluate", projectName: string, logGroup: aws.cloudwatch.LogGroup,
            { role, policy }: { role: aws.iam.Role; policy: aws.iam.RolePolicy },
            buildspec: pulumi.Input<string>, variables: Record<string, pulumi.Input<string>>, description: string, timeoutMinutes: number) {
            return createBuildProject(`${name}-${step}`, {
                projectName,
                description,
                serviceRoleArn: role.arn,
                kmsKeyArn: args.kmsKeyArn,
                timeoutMinutes,
                buildspec,
                image: args.buildImage,
                environmentVariables: plaintextVariables({ STEP_BACKEND: "aws", KMS_KEY_ID: args.kmsKeyArn, ...variables }),
                logGroupName: logGroup.name,
            // CodeBuild checks the role's permissions when the project is created: its policy must exist first.
            }, { parent, dependsOn: [role, policy] });
        }

        function createTrainProject() {
            const projectName = namer.name("codebuild", args.modelName, "train");
            const logGroup = createLogGroup("train", projectName);
            const role = buildRole("train", `Runs steps/train for ${args.modelName}: starts SageMaker training, registers versions`,
                trainBuildStatements(logGroup.arn));
            return createProject("train", projectName, logGroup, role, trainBuildspec(), {
                [TRAIN_ENV.modelName]: args.modelName,
                [TRAIN_ENV.modelPackageGroup]: args.modelPackageGroupName,
                [TRAIN_ENV.jobPrefix]: jobPrefix,
                [TRAIN_ENV.outputPrefix]: modelsOutput,
                [TRAIN_ENV.roleArn]: parent.trainingRole.arn,
                [TRAIN_ENV.config]: JSON.stringify(args.training),
            }, `steps/train: trains ${args.modelName} on SageMaker and registers a PendingManualApproval version`, buildTimeoutMinutes());
        }

        function createEvaluateProject() {
            const projectName = namer.name("codebuild", args.modelName, "evaluate");
            const logGroup = createLogGroup("evaluate", projectName);
            const role = buildRole("evaluate", `Runs steps/evaluate for ${args.modelName}: scores the dev endpoint, approves or rejects`,
                evaluateBuildStatements(logGroup.arn));
            return createProject("evaluate", projectName, logGroup, role, evaluateBuildspec(parent.reportGroup.arn), {
                [EVALUATE_ENV.modelPackageGroup]: args.modelPackageGroupName,
                [EVALUATE_ENV.endpointName]: args.endpointName,
                [EVALUATE_ENV.endpointKind]: args.endpointKind ?? "serverless",
                [EVALUATE_ENV.config]: JSON.stringify(args.evaluation),
                [EVALUATE_ENV.reportPrefix]: pulumi.interpolate`s3://${args.buckets.artifacts.name}/${reportsPrefix}`,
                [EVALUATE_ENV.reportDir]: REPORT_DIR,
            }, `steps/evaluate: scores ${args.modelName} on the dev endpoint and approves or rejects the version`, 60);
        }
    }
}

/** Commands both builds start with: the locked dependencies, and the ETL run prefix from the pipeline's manifest URI. */
const INSTALL = { "runtime-versions": { nodejs: 20 }, commands: ["npm ci --no-audit --no-fund"] };
const DATA_PREFIX = "export DATA_PREFIX=\"${DATA_PREFIX:-${MANIFEST_URI%manifest.json}}\"";


/**
 * The train build: runs the step, then exports the registered version's ARN for later pipeline actions and
 * `reused` ("true" when the version was reused by its reuse key), which the execution summary reads from the
 * action's output variables as it does the ETL action's.
 */
export function trainBuildspec(): string {
    return YAML.stringify({
        version: 0.2,
        env: { shell: "bash", "exported-variables": [TRAIN_BUILD_VARIABLES.modelPackageArn, TRAIN_BUILD_VARIABLES.reused] },
        phases: {
            install: INSTALL,
            build: {
                commands: [
                    DATA_PREFIX,
                    `npx ts-node --transpile-only steps/train/main.ts --output-file ${REPORT_DIR}/train.json`,
                    `export ${TRAIN_BUILD_VARIABLES.modelPackageArn}="$(node -p "require('./${REPORT_DIR}/train.json').modelPackageArn")"`,
                    `export ${TRAIN_BUILD_VARIABLES.reused}="$(node -p "String(require('./${REPORT_DIR}/train.json').reused === true)")"`,
                ],
            },
        },
    });
}

/** The evaluate build: runs the step; its JUnit file goes to the report group whether the gate passed or not. */
export function evaluateBuildspec(reportGroupArn: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.output(reportGroupArn).apply((arn) => YAML.stringify({
        version: 0.2,
        env: { shell: "bash" },
        phases: {
            install: INSTALL,
            build: {
                commands: [
                    DATA_PREFIX,
                    `npx ts-node --transpile-only steps/evaluate/main.ts --report-dir ${REPORT_DIR}`,
                ],
            },
        },
        reports: { [arn]: { files: ["junit.xml"], "base-directory": REPORT_DIR, "file-format": "JUNITXML" } },
        artifacts: { files: [`${REPORT_DIR}/**/*`], name: "evaluation" },
    }));
}
