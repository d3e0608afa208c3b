import { createHash } from "crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MonitoringConfig } from "../config";
import { arnOf, StackContext } from "../lib/context";
import { policyDocument, PolicyStatement, sagemakerJobLogsStatement, serviceTrustPolicy } from "../lib/policy";
import { createDeadLetterQueue, LambdaEnvironment, PipelineFunction } from "./pipeline-function";
import { PIPELINE_VARIABLES } from "../../contracts/delivery";
import { SAGEMAKER_PROCESSING_LOG_GROUP } from "../lib/stack-deploy-policy";
import { RetrainTriggerEnvironment } from "../../contracts/lambda-environment";

/**
 * Where Model Monitor publishes data-quality metrics of real-time endpoints (dimensions Endpoint, MonitoringSchedule).
 * Our container writes its metrics as files that the platform publishes, exactly as the prebuilt analyzer does
 * (AWS developer guide, "CloudWatch Metrics for Bring Your Own Containers"); that page spells the namespace
 * "/aws/sagemaker/Endpoint/data-metrics" and "CloudWatch Metrics" (prebuilt container) "/aws/sagemaker/Endpoints/
 * data-metric". The value below is the one this stack has always read; confirm it on the first deployment
 * (`aws cloudwatch list-metrics --metric-name drift_window_requests`): the silent alarm fires if it is wrong.
 */
export const DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics";
/** … and model-quality metrics. */
export const MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics";
/** SageMaker's prebuilt Model Monitor image (model quality only: data quality runs our own container). */
export const ANALYZER_REPOSITORY = "sagemaker-model-monitor-analyzer";
/**
 * The data-quality job runs the serving model's image with this entrypoint: `bin/monitor` (model-container/bin),
 * which runs monitor/drift_checker/processing_job.py. The image keeps its programs in /opt/program/bin
 * (model-container/Dockerfile); an explicit path does not depend on the processing job's PATH.
 */
export const MONITOR_ENTRYPOINT = ["/opt/program/bin/monitor"];
/**
 * Metric names our monitoring container emits (monitor/drift_checker/processing_job.py; a test keeps the two in
 * step). `drift_detected` is 1 or 0 for a window the drift rule judged, and absent for `insufficient data`.
 */
export const DRIFT_METRICS = {
    detected: "drift_detected",
    insufficientData: "drift_insufficient_data",
    windowRequests: "drift_window_requests",
    featureDistancePrefix: "feature_baseline_drift_",
} as const;
/** Processing jobs (every monitoring execution is one) log here; SageMaker names the group itself. */
export const PROCESSING_LOG_GROUP = SAGEMAKER_PROCESSING_LOG_GROUP;
/** Container paths of the monitoring job's input and output. */
const ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint";
const OUTPUT_PATH = "/opt/ml/processing/output";
const HOUR_SECONDS = 3600;

/** A feature as Model Monitor names it (`_c<i>` for headerless CSV), as people know it, and its type. */
export interface DriftFeature {
    readonly name: string;
    readonly column: string;
    /** The drift rule tests numeric features with Kolmogorov-Smirnov, categorical ones with chi-square. */
    readonly type: "numeric" | "categorical";
}

/**
 * Model Monitor on one endpoint and the retraining loop it drives: a data-quality job definition running our drift
 * checker (the serving model's image, entrypoint {@link MONITOR_ENTRYPOINT}) against the serving version's baseline,
 * an hourly schedule on the endpoint's captured traffic, an alarm on the drift verdict and one on a silent monitor, an EventBridge rule that sends drift alarms to the alerts topic and to a retrain-trigger
 * Lambda, and (optionally) model-quality monitoring against ground-truth labels with an AUC alarm.
 */
export interface DriftMonitorArgs {
    readonly context: StackContext;
    /** Config `monitoring`: schedule, instance type, runtime, drift rule (alpha, minimum window), cooldown, model quality. */
    readonly monitoring: MonitoringConfig;
    /** The monitored endpoint's name. */
    readonly endpointName: pulumi.Input<string>;
    /** `s3://<bucket>/<prefix>/`: where the endpoint's data capture writes (read by the jobs). */
    readonly captureS3Uri: pulumi.Input<string>;
    /** The serving version's baseline (`.../baseline/statistics.json` and `constraints.json`). */
    readonly baselineStatisticsUri: pulumi.Input<string>;
    readonly baselineConstraintsUri: pulumi.Input<string>;
    /**
     * Key the baseline objects are encrypted with (in prod: the host stack's key).
     * @default kmsKeyArn
     */
    readonly baselineKmsKeyArn?: pulumi.Input<string>;
    /** The stack's key: job outputs, job volumes, the dead-letter queues and the Lambda. */
    readonly kmsKeyArn: pulumi.Input<string>;
    readonly alertsTopicArn: pulumi.Input<string>;
    /** Bucket the monitoring reports go to, under `monitoring/<endpoint>/`. */
    readonly reportsBucket: { readonly name: pulumi.Input<string>; readonly arn: pulumi.Input<string> };
    /**
     * The serving version's features and types, when known (e.g. from its ETL manifest's `baselineColumns`): they
     * fix which columns the drift rule treats as categorical and name the features in the alarm. Without them the
     * container reads both from the serving version's own baseline (docs/contracts.md §2: categorical codes are
     * `Integral`, numeric features `Fractional`), never from another dataset's schema.
     * @default undefined
     */
    readonly features?: readonly DriftFeature[];
    /** The serving version's model image: it carries the drift checker the data-quality job runs. */
    readonly imageUri: pulumi.Input<string>;
    /** Its ECR repository, which the monitoring role pulls the image from. */
    readonly imageRepositoryArn: pulumi.Input<string>;
    /** The retraining pipeline (in the host stack). */
    readonly pipelineName: pulumi.Input<string>;
    readonly pipelineArn: pulumi.Input<string>;
    /**
     * `s3://…/` prefix the ground-truth labels arrive under; required when `monitoring.modelQuality.enabled`.
     * @default undefined
     */
    readonly groundTruthS3Uri?: pulumi.Input<string>;
    /**
     * Probability at or above which a prediction counts as positive (model quality).
     * @default 0.5
     */
    readonly decisionThreshold?: number;
    /**
     * Where the probability sits in the captured response (model quality); JMESPath for JSON responses.
     * @default "predictions[0]"
     */
    readonly probabilityAttribute?: string;
    /**
     * Storage of each monitoring job instance.
     * @default 20
     */
    readonly volumeSizeGb?: number;
    /**
     * Create SageMaker's account-wide `/aws/sagemaker/ProcessingJobs` log group with the stack's key and retention.
     * Off by default: SageMaker creates the group on an account's first processing job, so creating it fails where
     * one has run, and `pulumi destroy` would delete every processing job's logs. The account setup step
     * (docs/delivery.md) sets its retention and key instead; turn this on (config
     * `accountResources.processingJobsLogGroup`) only in the one stack that should own it, importing it first.
     * @default false
     */
    readonly createProcessingLogGroup?: boolean;
    /**
     * Hours a drift-metric result may be missing before the monitor counts as silent (failing or no traffic).
     * @default 3
     */
    readonly silentAfterHours?: number;
}

export class DriftMonitor extends pulumi.ComponentResource {
    readonly role: aws.iam.Role;
    /**
     * The data-quality job definition and its schedule, as a CloudFormation stack: @pulumi/aws's
     * DataQualityJobDefinition has no ContainerEntrypoint, which our container needs
     * (AWS::SageMaker::DataQualityJobDefinition has it). One stack, so a replaced job definition is switched on
     * the schedule before the old one is deleted.
     */
    readonly dataQuality: aws.cloudformation.Stack;
    readonly scheduleName: pulumi.Output<string>;
    /** Alarms whose ALARM state starts a retrain: the drift alarm (and the AUC alarm with model quality). */
    readonly retrainAlarmNames: readonly string[];
    readonly driftAlarm: aws.cloudwatch.MetricAlarm;
    readonly silentAlarm: aws.cloudwatch.MetricAlarm;
    readonly retrainRule: aws.cloudwatch.EventRule;
    readonly retrainTrigger: PipelineFunction;
    /** The model-quality job definition and schedule (a CloudFormation stack: @pulumi/aws has no such resource). */
    readonly modelQuality?: aws.cloudformation.Stack;
    readonly aucAlarm?: aws.cloudwatch.MetricAlarm;

    constructor(name: string, args: DriftMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:monitoring:DriftMonitor", name, args, opts);
        const parent = this;
        const { context, monitoring } = args;
        const namer = context.namer;
        const volumeSizeGb = args.volumeSizeGb ?? 20;
        const silentAfterHours = args.silentAfterHours ?? 3;
        const decisionThreshold = args.decisionThreshold ?? 0.5;
        const baselineKmsKeyArn = args.baselineKmsKeyArn ?? args.kmsKeyArn;
        validate();

        const capture = pulumi.output(args.captureS3Uri).apply((uri) => s3Location(uri, "captureS3Uri", parent));
        const groundTruth = args.groundTruthS3Uri === undefined
            ? undefined
            : pulumi.output(args.groundTruthS3Uri).apply((uri) => s3Location(uri, "groundTruthS3Uri", parent));
        const reportsS3Uri = pulumi.interpolate`s3://${args.reportsBucket.name}/monitoring/${args.endpointName}`;
        const dataQualityScheduleName = namer.name("sagemaker", "data-quality");
        // Only model quality runs the prebuilt analyzer. AWS documents it as
        // `<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-model-monitor-analyzer`, untagged, i.e. `latest`
        // ("Amazon SageMaker Model Monitor prebuilt container"); without a tag the provider would ask for `:1`.
        const image = monitoring.modelQuality.enabled
            ? aws.sagemaker.getPrebuiltEcrImageOutput({ repositoryName: ANALYZER_REPOSITORY, imageTag: "latest" }, { parent })
            : undefined;

        const logGroup = args.createProcessingLogGroup ? createLogGroup() : undefined;
        const logGroupDependency = logGroup ? [logGroup] : [];
        this.role = createRole();
        const rolePolicy = createRolePolicy();
        this.dataQuality = createDataQuality();
        // The name is fixed; taking it through the stack's id makes readers wait until the schedule exists.
        this.scheduleName = this.dataQuality.id.apply(() => dataQualityScheduleName);
        this.driftAlarm = createDriftAlarm();
        this.silentAlarm = createSilentAlarm();
        if (monitoring.modelQuality.enabled) {
            this.modelQuality = createModelQuality();
            this.aucAlarm = createAucAlarm(this.modelQuality);
        }
        this.retrainAlarmNames = [
            namer.name("alarm", "feature-drift"),
            ...(this.aucAlarm ? [namer.name("alarm", "model-quality-auc")] : []),
        ];
        this.retrainRule = createRetrainRule();
        this.retrainTrigger = createRetrainTrigger();
        createRetrainTargets();
        createFailureRule();

        this.registerOutputs({
            roleArn: this.role.arn,
            dataQualityStackName: this.dataQuality.name,
            scheduleName: this.scheduleName,
            retrainAlarmNames: this.retrainAlarmNames,
            silentAlarmName: this.silentAlarm.name,
            retrainRuleName: this.retrainRule.name,
            retrainFunctionName: this.retrainTrigger.functionName,
            modelQualityStackName: this.modelQuality?.name,
        });

        function invalid(problem: string): never {
            throw new pulumi.ResourceError(`DriftMonitor ${name}: ${problem}`, parent);
        }

        function validate() {
            if (args.features?.length === 0) invalid("features is empty; leave it out to take the features from the serving version's baseline");
            const seen = new Set<string>();
            for (const f of args.features ?? []) {
                if (!/^_c\d+$/.test(f.column)) invalid(`feature ${f.name} has column ${JSON.stringify(f.column)}; expected Model Monitor's headerless name _c<index>`);
                if (seen.has(f.column)) invalid(`column ${f.column} is listed twice`);
                if (f.type !== "numeric" && f.type !== "categorical") invalid(`feature ${f.name} has type ${JSON.stringify(f.type)}; expected numeric or categorical`);
                seen.add(f.column);
            }
            if (monitoring.modelQuality.enabled && args.groundTruthS3Uri === undefined) {
                invalid("monitoring.modelQuality.enabled is true but groundTruthS3Uri is not set; pass the labels' S3 prefix");
            }
            if (!Number.isInteger(volumeSizeGb) || volumeSizeGb < 1 || volumeSizeGb > 16384) invalid(`volumeSizeGb is ${volumeSizeGb}; expected an integer from 1 to 16384`);
            if (!Number.isInteger(silentAfterHours) || silentAfterHours < 2 || silentAfterHours > 24) {
                invalid(`silentAfterHours is ${silentAfterHours}; expected an integer from 2 to 24 (one missed hourly run is not yet silence)`);
            }
            if (!(decisionThreshold > 0 && decisionThreshold < 1)) invalid(`decisionThreshold is ${decisionThreshold}; expected a probability strictly between 0 and 1`);
        }

        function createLogGroup() {
            return new aws.cloudwatch.LogGroup(`${name}-processing-logs`, {
                name: PROCESSING_LOG_GROUP,
                retentionInDays: context.logRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            }, { parent });
        }

        function createRole() {
            return new aws.iam.Role(`${name}-role`, {
                name: namer.name("iamRole", "model-monitor"),
                description: "Runs the Model Monitor jobs: reads captured traffic, the baseline and labels, writes reports and metrics",
                assumeRolePolicy: serviceTrustPolicy("sagemaker.amazonaws.com", context.accountId),
            }, { parent });
        }

        function createRolePolicy() {
            const statements: PolicyStatement[] = [
                {
                    Sid: "ReadCapturedTraffic",
                    Effect: "Allow",
                    Action: "s3:GetObject",
                    Resource: pulumi.interpolate`arn:${context.partition}:s3:::${capture.bucket}/${capture.key}*`,
                },
                {
                    Sid: "ListCapturedTraffic",
                    Effect: "Allow",
                    Action: "s3:ListBucket",
                    Resource: pulumi.interpolate`arn:${context.partition}:s3:::${capture.bucket}`,
                    Condition: { StringLike: { "s3:prefix": pulumi.interpolate`${capture.key}*` } },
                },
                {
                    Sid: "ReadBaseline",
                    Effect: "Allow",
                    Action: "s3:GetObject",
                    Resource: [objectArn(args.baselineStatisticsUri, "baselineStatisticsUri"), objectArn(args.baselineConstraintsUri, "baselineConstraintsUri")],
                },
                {
                    Sid: "WriteReports",
                    Effect: "Allow",
                    Action: "s3:PutObject",
                    Resource: pulumi.interpolate`${args.reportsBucket.arn}/monitoring/${args.endpointName}/*`,
                },
                {
                    Sid: "UseStackKey",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    Resource: args.kmsKeyArn,
                },
                {
                    Sid: "EncryptJobVolumes",
                    Effect: "Allow",
                    Action: "kms:CreateGrant",
                    Resource: args.kmsKeyArn,
                    Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
                },
                {
                    Sid: "DecryptBaseline",
                    Effect: "Allow",
                    Action: "kms:Decrypt",
                    Resource: baselineKmsKeyArn,
                },
                {
                    Sid: "PublishMonitoringMetrics",
                    Effect: "Allow",
                    Action: "cloudwatch:PutMetricData",
                    // PutMetricData supports no resource-level permissions; the namespace condition is the scope.
                    Resource: "*",
                    Condition: { StringEquals: { "cloudwatch:namespace": [DATA_METRICS_NAMESPACE, MODEL_METRICS_NAMESPACE] } },
                },
                sagemakerJobLogsStatement("WriteJobLogs", arnOf(context, "logs", `log-group:${PROCESSING_LOG_GROUP}`)),
                {
                    Sid: "PullModelImage",
                    Effect: "Allow",
                    Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    Resource: args.imageRepositoryArn,
                },
                {
                    Sid: "AuthenticateToEcr",
                    Effect: "Allow",
                    Action: "ecr:GetAuthorizationToken",
                    // GetAuthorizationToken is account-wide and supports no resource-level permissions.
                    Resource: "*",
                },
            ];
            if (image) {
                statements.push({
                    Sid: "PullAnalyzerImage",
                    Effect: "Allow",
                    Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    Resource: pulumi.interpolate`arn:${context.partition}:ecr:${context.region}:${image.registryId}:repository/${ANALYZER_REPOSITORY}`,
                });
            }
            if (groundTruth) {
                statements.push(
                    {
                        Sid: "ReadGroundTruth",
                        Effect: "Allow",
                        Action: "s3:GetObject",
                        Resource: pulumi.interpolate`arn:${context.partition}:s3:::${groundTruth.bucket}/${groundTruth.key}*`,
                    },
                    {
                        Sid: "ListGroundTruth",
                        Effect: "Allow",
                        Action: "s3:ListBucket",
                        Resource: pulumi.interpolate`arn:${context.partition}:s3:::${groundTruth.bucket}`,
                        Condition: { StringLike: { "s3:prefix": pulumi.interpolate`${groundTruth.key}*` } },
                    },
                );
            }
            return new aws.iam.RolePolicy(`${name}-role-policy`, { role: parent.role.id, policy: policyDocument(statements) }, { parent });
        }

        function objectArn(uri: pulumi.Input<string>, what: string) {
            const location = pulumi.output(uri).apply((u) => s3Location(u, what, parent));
            return pulumi.interpolate`arn:${context.partition}:s3:::${location.bucket}/${location.key}`;
        }

        /** The data-quality job's container environment: the drift rule's settings and the categorical columns. */
        function monitorEnvironment(): Record<string, string> {
            return {
                drift_alpha: String(monitoring.driftAlpha),
                drift_min_window: String(monitoring.driftMinWindow),
                ...(args.features
                    ? { drift_categorical_columns: args.features.filter((f) => f.type === "categorical").map((f) => f.column).join(",") }
                    : {}),
            };
        }

        function createDataQuality() {
            const jobProperties = pulumi.output({
                DataQualityAppSpecification: {
                    ImageUri: args.imageUri,
                    ContainerEntrypoint: MONITOR_ENTRYPOINT,
                    Environment: monitorEnvironment(),
                },
                DataQualityBaselineConfig: {
                    ConstraintsResource: { S3Uri: args.baselineConstraintsUri },
                    StatisticsResource: { S3Uri: args.baselineStatisticsUri },
                },
                DataQualityJobInput: {
                    EndpointInput: {
                        EndpointName: args.endpointName,
                        LocalPath: ENDPOINT_INPUT_PATH,
                        S3InputMode: "File",
                        S3DataDistributionType: "FullyReplicated",
                    },
                },
                DataQualityJobOutputConfig: {
                    KmsKeyId: args.kmsKeyArn,
                    MonitoringOutputs: [{ S3Output: { S3Uri: pulumi.interpolate`${reportsS3Uri}/data-quality`, LocalPath: OUTPUT_PATH, S3UploadMode: "EndOfJob" } }],
                },
                JobResources: { ClusterConfig: { InstanceCount: 1, InstanceType: monitoring.instanceType, VolumeSizeInGB: volumeSizeGb, VolumeKmsKeyId: args.kmsKeyArn } },
                NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true },
                RoleArn: parent.role.arn,
                StoppingCondition: { MaxRuntimeInSeconds: monitoring.maxRuntimeSeconds },
            });
            return createMonitoringStack("data-quality", {
                description: `Data-quality (drift) monitoring of ${namer.project}-${context.environment} (managed by Pulumi)`,
                jobDefinitionType: "AWS::SageMaker::DataQualityJobDefinition",
                monitoringType: "DataQuality",
                scheduleName: dataQualityScheduleName,
                jobDefinition: jobProperties,
            });
        }

        /** `<project>-<env>-<what>-<8 hex of the content's hash>`: within SageMaker's 63 characters. */
        function contentName(what: string, content: unknown): pulumi.Output<string> {
            return pulumi.jsonStringify(pulumi.output(content)).apply((json) =>
                namer.name("sagemaker", what, createHash("sha256").update(json).digest("hex").slice(0, 8)));
        }

        /**
         * A monitoring job definition and its schedule as one CloudFormation stack (@pulumi/aws can set no container
         * entrypoint on a data-quality definition and has no model-quality one). Every property of a definition forces
         * replacement, so its name follows its content (prefix + hash): a changed job gets a new name, CloudFormation
         * creates it, moves the schedule and deletes the old one, and the name keeps the prefix the deploy role's
         * permissions are scoped to. The stack itself is named with that prefix too and is updated in place.
         */
        function createMonitoringStack(kind: "data-quality" | "model-quality", spec: {
            readonly description: string;
            readonly jobDefinitionType: string;
            readonly monitoringType: string;
            readonly scheduleName: string;
            readonly jobDefinition: pulumi.Input<Record<string, unknown>>;
        }): aws.cloudformation.Stack {
            const properties = pulumi.all([contentName(kind, spec.jobDefinition), pulumi.output(spec.jobDefinition)])
                .apply(([jobDefinitionName, definition]) => ({ JobDefinitionName: jobDefinitionName, ...definition }));
            const template = pulumi.jsonStringify(pulumi.output({
                AWSTemplateFormatVersion: "2010-09-09",
                Description: spec.description,
                Resources: {
                    JobDefinition: { Type: spec.jobDefinitionType, Properties: properties },
                    Schedule: {
                        Type: "AWS::SageMaker::MonitoringSchedule",
                        Properties: {
                            MonitoringScheduleName: spec.scheduleName,
                            EndpointName: args.endpointName,
                            MonitoringScheduleConfig: {
                                MonitoringJobDefinitionName: { "Fn::GetAtt": ["JobDefinition", "JobDefinitionName"] },
                                MonitoringType: spec.monitoringType,
                                ScheduleConfig: { ScheduleExpression: monitoring.scheduleExpression },
                            },
                        },
                    },
                },
                Outputs: { ScheduleName: { Value: { Ref: "Schedule" } } },
            }));
            return new aws.cloudformation.Stack(`${name}-${kind}`, {
                name: namer.name("sagemaker", `${kind}-monitoring`),
                templateBody: template,
                onFailure: "ROLLBACK",
                timeoutInMinutes: 30,
            }, { parent, dependsOn: [rolePolicy, ...logGroupDependency] });
        }

        function dataDimensions() {
            // The schedule's name is fixed, so the alarms can name it before the stack exists.
            return { Endpoint: args.endpointName, MonitoringSchedule: dataQualityScheduleName };
        }

        function createDriftAlarm() {
            const listed = args.features
                ? args.features.map((f) => `${f.name} (${f.column}, ${f.type})`).join(", ")
                : "the serving version's baseline features";
            const description = `Data drift: the drift rule (two-sample tests per feature, Holm's correction, false-alarm rate ` +
                `${monitoring.driftAlpha} per window, at least ${monitoring.driftMinWindow} requests) found the captured traffic ` +
                `changed on at least one of ${listed}. See constraint_violations.json under the monitoring reports. A retrain ` +
                `starts unless one ran within ${monitoring.retrainCooldownHours}h.`;
            return new aws.cloudwatch.MetricAlarm(`${name}-drift`, {
                name: namer.name("alarm", "feature-drift"),
                // CloudWatch allows 1024 characters; the feature list is what gets cut.
                alarmDescription: description.length <= 1024 ? description : `${description.slice(0, 1020)}...`,
                namespace: DATA_METRICS_NAMESPACE,
                metricName: DRIFT_METRICS.detected,
                dimensions: dataDimensions(),
                statistic: "Maximum",
                period: HOUR_SECONDS,
                comparisonOperator: "GreaterThanOrEqualToThreshold",
                threshold: 1,
                evaluationPeriods: 1,
                datapointsToAlarm: 1,
                // No verdict (no execution, or insufficient data) is not drift; the silent alarm reports a stopped monitor.
                treatMissingData: "notBreaching",
                alarmActions: [args.alertsTopicArn],
                okActions: [args.alertsTopicArn],
            }, { parent });
        }

        function createSilentAlarm() {
            return new aws.cloudwatch.MetricAlarm(`${name}-silent`, {
                name: namer.name("alarm", "data-quality-silent"),
                alarmDescription: `No data-quality result for ${silentAfterHours} hours: the monitoring executions fail, or the ` +
                    `endpoint captured no traffic. See log group ${PROCESSING_LOG_GROUP} and the schedule's executions.`,
                namespace: DATA_METRICS_NAMESPACE,
                // Every completed execution publishes the number of requests it judged (0 when none were captured).
                metricName: DRIFT_METRICS.windowRequests,
                dimensions: dataDimensions(),
                statistic: "Maximum",
                period: HOUR_SECONDS,
                evaluationPeriods: silentAfterHours,
                datapointsToAlarm: silentAfterHours,
                comparisonOperator: "LessThanThreshold",
                threshold: 1,
                treatMissingData: "breaching",
                alarmActions: [args.alertsTopicArn],
                okActions: [args.alertsTopicArn],
            }, { parent });
        }

        function createModelQuality() {
            const scheduleName = namer.name("sagemaker", "model-quality");
            const jobDefinition = {
                ModelQualityAppSpecification: { ImageUri: image!.registryPath, ProblemType: "BinaryClassification" },
                ModelQualityJobInput: {
                    EndpointInput: {
                        EndpointName: args.endpointName,
                        LocalPath: ENDPOINT_INPUT_PATH,
                        ProbabilityAttribute: args.probabilityAttribute ?? "predictions[0]",
                        ProbabilityThresholdAttribute: decisionThreshold,
                        // Labels need time to arrive: judge the day before yesterday's traffic.
                        StartTimeOffset: "-P2D",
                        EndTimeOffset: "-P1D",
                        S3InputMode: "File",
                        S3DataDistributionType: "FullyReplicated",
                    },
                    GroundTruthS3Input: { S3Uri: args.groundTruthS3Uri },
                },
                ModelQualityJobOutputConfig: {
                    KmsKeyId: args.kmsKeyArn,
                    MonitoringOutputs: [{ S3Output: { S3Uri: pulumi.interpolate`${reportsS3Uri}/model-quality`, LocalPath: OUTPUT_PATH, S3UploadMode: "EndOfJob" } }],
                },
                JobResources: { ClusterConfig: { InstanceCount: 1, InstanceType: monitoring.instanceType, VolumeSizeInGB: volumeSizeGb, VolumeKmsKeyId: args.kmsKeyArn } },
                NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true },
                RoleArn: parent.role.arn,
                StoppingCondition: { MaxRuntimeInSeconds: monitoring.maxRuntimeSeconds },
            };
            return createMonitoringStack("model-quality", {
                description: `Model-quality monitoring of ${namer.project}-${context.environment} (managed by Pulumi)`,
                jobDefinitionType: "AWS::SageMaker::ModelQualityJobDefinition",
                monitoringType: "ModelQuality",
                scheduleName,
                jobDefinition,
            });
        }

        function createAucAlarm(stack: aws.cloudformation.Stack) {
            return new aws.cloudwatch.MetricAlarm(`${name}-auc`, {
                name: namer.name("alarm", "model-quality-auc"),
                alarmDescription: `ROC AUC of the served model on labelled traffic fell below ${monitoring.modelQuality.minRocAuc}.`,
                namespace: MODEL_METRICS_NAMESPACE,
                metricName: "auc",
                dimensions: { Endpoint: args.endpointName, MonitoringSchedule: namer.name("sagemaker", "model-quality") },
                statistic: "Minimum",
                period: HOUR_SECONDS,
                evaluationPeriods: 1,
                comparisonOperator: "LessThanThreshold",
                threshold: monitoring.modelQuality.minRocAuc,
                treatMissingData: "notBreaching",
                alarmActions: [args.alertsTopicArn],
                okActions: [args.alertsTopicArn],
            }, { parent, dependsOn: [stack] });
        }

        function createRetrainRule() {
            return new aws.cloudwatch.EventRule(`${name}-retrain-rule`, {
                name: namer.name("eventRule", "drift-retrain"),
                description: "Drift (or model-quality) alarm entered ALARM: notify and consider a retrain",
                eventPattern: JSON.stringify({
                    source: ["aws.cloudwatch"],
                    "detail-type": ["CloudWatch Alarm State Change"],
                    detail: { alarmName: parent.retrainAlarmNames, state: { value: ["ALARM"] } },
                }),
            }, { parent });
        }

        function createRetrainTrigger() {
            return new PipelineFunction(`${name}-retrain-trigger`, {
                context,
                handler: "retrain-trigger",
                description: "Starts the retraining pipeline on a drift alarm unless a run is busy or within the cooldown",
                kmsKeyArn: args.kmsKeyArn,
                alertsTopicArn: args.alertsTopicArn,
                environment: {
                    PIPELINE_NAME: args.pipelineName,
                    RETRAIN_COOLDOWN_HOURS: String(monitoring.retrainCooldownHours),
                    // The execution records why it started (the pipeline declares this variable).
                    TRIGGER_VARIABLE: PIPELINE_VARIABLES.trigger,
                } satisfies LambdaEnvironment<RetrainTriggerEnvironment>,
                policyStatements: [{
                    Sid: "StartRetraining",
                    Effect: "Allow",
                    Action: ["codepipeline:ListPipelineExecutions", "codepipeline:StartPipelineExecution"],
                    Resource: args.pipelineArn,
                }],
                timeoutSeconds: 30,
                // One decision at a time: two concurrent alarms must not both see an idle pipeline and both start it.
                reservedConcurrency: 1,
                invokers: [{ principal: "events.amazonaws.com", sourceArn: parent.retrainRule.arn }],
            }, { parent });
        }

        function createRetrainTargets() {
            const dlq = createDeadLetterQueue(`${name}-retrain-rule-dlq`, {
                context,
                kmsKeyArn: args.kmsKeyArn,
                queueName: namer.name("sqsQueue", "drift-retrain-events-dlq"),
                senders: [{ principal: "events.amazonaws.com", sourceArn: parent.retrainRule.arn }],
                alarm: {
                    alarmName: namer.name("alarm", "drift-retrain-events-undelivered"),
                    description: "A drift alarm could not reach the alerts topic or the retrain trigger: see the dead-letter queue",
                    alertsTopicArn: args.alertsTopicArn,
                },
            }, { parent });
            const retryPolicy = { maximumRetryAttempts: 8, maximumEventAgeInSeconds: HOUR_SECONDS };
            new aws.cloudwatch.EventTarget(`${name}-retrain-rule-alerts`, {
                rule: parent.retrainRule.name,
                arn: args.alertsTopicArn,
                inputTransformer: {
                    inputPaths: { alarm: "$.detail.alarmName", reason: "$.detail.state.reason", time: "$.time" },
                    inputTemplate: "\"Drift alarm <alarm> entered ALARM at <time>: <reason>. The retrain trigger decides whether to start the pipeline (see its log).\"",
                },
                retryPolicy,
                deadLetterConfig: { arn: dlq.arn },
            }, { parent });
            new aws.cloudwatch.EventTarget(`${name}-retrain-rule-lambda`, {
                rule: parent.retrainRule.name,
                arn: parent.retrainTrigger.functionArn,
                retryPolicy,
                deadLetterConfig: { arn: dlq.arn },
            }, { parent });
        }

        function createFailureRule() {
            const schedules: pulumi.Input<string>[] = [arnOf(context, "sagemaker", `monitoring-schedule/${dataQualityScheduleName}`)];
            if (parent.modelQuality) {
                schedules.push(arnOf(context, "sagemaker", pulumi.interpolate`monitoring-schedule/${namer.name("sagemaker", "model-quality")}`));
            }
            const rule = new aws.cloudwatch.EventRule(`${name}-failure-rule`, {
                name: namer.name("eventRule", "monitoring-failed"),
                description: "A Model Monitor execution (processing job) of this stack failed or was stopped",
                eventPattern: pulumi.jsonStringify({
                    source: ["aws.sagemaker"],
                    "detail-type": ["SageMaker Processing Job State Change"],
                    detail: { ProcessingJobStatus: ["Failed", "Stopped"], MonitoringScheduleArn: schedules },
                }),
            }, { parent });
            const dlq = createDeadLetterQueue(`${name}-failure-rule-dlq`, {
                context,
                kmsKeyArn: args.kmsKeyArn,
                queueName: namer.name("sqsQueue", "monitoring-failed-events-dlq"),
                senders: [{ principal: "events.amazonaws.com", sourceArn: rule.arn }],
                alarm: {
                    alarmName: namer.name("alarm", "monitoring-failed-events-undelivered"),
                    description: "A Model Monitor failure event could not reach the alerts topic: see the dead-letter queue",
                    alertsTopicArn: args.alertsTopicArn,
                },
            }, { parent });
            new aws.cloudwatch.EventTarget(`${name}-failure-rule-alerts`, {
                rule: rule.name,
                arn: args.alertsTopicArn,
                inputTransformer: {
                    inputPaths: { job: "$.detail.ProcessingJobName", status: "$.detail.ProcessingJobStatus", reason: "$.detail.FailureReason" },
                    inputTemplate: "\"Model Monitor execution <job> ended <status>: <reason>\"",
                },
                retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: HOUR_SECONDS },
                deadLetterConfig: { arn: dlq.arn },
            }, { parent });
        }
    }
}

/** Bucket and key of an `s3://bucket/key` URI; a malformed URI fails the deployment naming the argument. */
export function s3Location(uri: string, what: string, parent?: pulumi.Resource): { bucket: string; key: string } {
    const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(uri);
    if (!match) {
        const message = `DriftMonitor: ${what} ${JSON.stringify(uri)} is not an S3 URI; expected s3://<bucket>/<key or prefix>`;
        throw parent ? new pulumi.ResourceError(message, parent) : new Error(message);
    }
    return { bucket: match[1], key: match[2] };
}
