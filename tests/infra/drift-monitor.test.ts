/**
 * The drift monitor in the graph: Model Monitor job definition and schedule, encryption and isolation, the
 * monitoring role, alarms, the EventBridge loop to the alerts topic and the retrain trigger, its cooldown, and the
 * optional model-quality monitor. Prod runs it (stack file values); dev has it off.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { DriftMonitor, driftFeaturesFromSchema, MAX_METRICS_PER_ALARM, s3Location } from "../../infra/components/drift-monitor";
import { testBed } from "../harness/fixtures";
import { PIPELINE_VARIABLES } from "../../infra/components/delivery-pipeline";
import {
    ACCOUNT_ID,
    evaluate,
    evaluateStackOk,
    hostSharedFixture,
    modelVersionFixture,
    readStackConfig,
    RecordedResource,
    REPO_ROOT,
    stackGraph,
    StackGraph,
} from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Statement = { Sid?: string; Effect: string; Principal?: any; Action: string | string[]; Resource?: any; Condition?: any };
const statements = (policy: string): Statement[] => JSON.parse(policy).Statement;
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resources = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

const SCHEMA_FEATURES = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "data_usage_gb", "age",
    "contract", "payment_method", "internet_service", "region"];
const prodMonitoring = () => JSON.parse(readStackConfig("prod")["mlops:monitoring"]);
const shared = hostSharedFixture();

function monitorResources(graph: StackGraph): RecordedResource[] {
    const component = graph.ofType("mlops:monitoring:DriftMonitor");
    return component.length === 0 ? [] : [component[0], ...graph.descendantsOf(component[0])];
}

describe("drift monitor: prod (stack file values)", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    let keyArn: string;
    let topicArn: string;
    before(async () => {
        ({ graph, outputs } = await stackGraph("prod"));
        keyArn = graph.one("aws:kms/key:Key").state.arn;
        topicArn = graph.one("aws:sns/topic:Topic", /alerts$/).state.arn;
    });

    it("defines a data-quality job against the serving version's baseline and the prod endpoint", () => {
        const job = graph.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs;
        const endpoint = graph.one("aws:sagemaker/endpoint:Endpoint");
        const run = `s3://${shared.curatedBucketName}/runs/2026-11-01T00-00-00Z/baseline`;
        assert.deepEqual(job.dataQualityBaselineConfig, {
            constraintsResource: { s3Uri: `${run}/constraints.json` },
            statisticsResource: { s3Uri: `${run}/statistics.json` },
        });
        assert.equal(job.dataQualityJobInput.endpointInput.endpointName, endpoint.state.name);
        assert.equal(job.dataQualityJobInput.endpointInput.localPath, "/opt/ml/processing/input/endpoint");
        assert.equal(job.dataQualityAppSpecification.imageUri,
            "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest");
        const imageCall = graph.calls.find((c) => c.token === "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage");
        assert.equal(imageCall?.inputs.repositoryName, "sagemaker-model-monitor-analyzer");
        assert.equal(job.jobResources.clusterConfig.instanceType, prodMonitoring().instanceType);
        assert.equal(job.stoppingCondition.maxRuntimeInSeconds, 3600);
        assert.equal(job.roleArn, graph.one("aws:iam/role:Role", "drift-monitor-role").state.arn);
        // Not fixed (that would block create-before-delete) and not autonamed (that would leave the prefix the
        // deployers' policies are scoped to): the prefix and a hash of the definition.
        assert.match(job.name, /^mlops-prod-data-quality-[0-9a-f]{8}$/);
    });

    it("encrypts outputs and volumes with the stack key and isolates the job", () => {
        const job = graph.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs;
        assert.equal(job.dataQualityJobOutputConfig.kmsKeyId, keyArn);
        assert.equal(job.jobResources.clusterConfig.volumeKmsKeyId, keyArn);
        assert.deepEqual(job.networkConfig, { enableNetworkIsolation: true, enableInterContainerTrafficEncryption: true });
        assert.equal(job.dataQualityJobOutputConfig.monitoringOutputs.s3Output.s3Uri,
            `s3://${outputs.buckets.artifacts}/monitoring/mlops-prod-churn/data-quality`);
    });

    it("schedules the job hourly on the endpoint with the configured cron", () => {
        const schedule = graph.one("aws:sagemaker/monitoringSchedule:MonitoringSchedule").inputs;
        const job = graph.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition");
        assert.equal(schedule.name, "mlops-prod-data-quality");
        assert.deepEqual(schedule.monitoringScheduleConfig, {
            monitoringJobDefinitionName: job.state.name,
            monitoringType: "DataQuality",
            scheduleConfig: { scheduleExpression: "cron(0 * ? * * *)" },
        });
        assert.equal(prodMonitoring().scheduleExpression, "cron(0 * ? * * *)");
        assert.equal(outputs.driftMonitor.scheduleName, "mlops-prod-data-quality");
    });

    it("gives the monitoring role only what the job needs, confined to this account", () => {
        const role = graph.one("aws:iam/role:Role", "drift-monitor-role").inputs;
        const trust = statements(role.assumeRolePolicy);
        assert.deepEqual(trust.map((s) => [s.Principal, s.Condition]), [[{ Service: "sagemaker.amazonaws.com" }, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } }]]);
        const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", "drift-monitor-role-policy").inputs.policy);
        const bySid = Object.fromEntries(policy.map((s) => [s.Sid, s]));
        for (const s of policy) {
            for (const a of actions(s)) assert.ok(a !== "*" && !/:\*$/.test(a), `${s.Sid} grants ${a}`);
            if (resources(s).includes("*")) assert.ok(["PublishMonitoringMetrics", "AuthenticateToEcr"].includes(s.Sid!), `${s.Sid} uses Resource *`);
        }
        const captureBucket = outputs.buckets.capture;
        assert.equal(bySid.ReadCapturedTraffic.Resource, `arn:aws:s3:::${captureBucket}/endpoints/mlops-prod-churn/*`);
        assert.deepEqual(bySid.ListCapturedTraffic.Condition, { StringLike: { "s3:prefix": "endpoints/mlops-prod-churn/*" } });
        assert.deepEqual(bySid.ReadBaseline.Resource, [
            `${shared.curatedBucketArn}/runs/2026-11-01T00-00-00Z/baseline/statistics.json`,
            `${shared.curatedBucketArn}/runs/2026-11-01T00-00-00Z/baseline/constraints.json`,
        ]);
        assert.deepEqual(bySid.DecryptBaseline, { Sid: "DecryptBaseline", Effect: "Allow", Action: "kms:Decrypt", Resource: shared.kmsKeyArn });
        assert.equal(bySid.WriteReports.Resource, `arn:aws:s3:::${outputs.buckets.artifacts}/monitoring/mlops-prod-churn/*`);
        assert.equal(bySid.UseStackKey.Resource, keyArn);
        assert.deepEqual(bySid.EncryptJobVolumes.Condition, { Bool: { "kms:GrantIsForAWSResource": true } });
        assert.deepEqual(bySid.PublishMonitoringMetrics.Condition.StringEquals["cloudwatch:namespace"],
            ["aws/sagemaker/Endpoints/data-metrics", "aws/sagemaker/Endpoints/model-metrics"]);
        assert.equal(bySid.ReadGroundTruth, undefined, "no labels access while model quality is off");
    });

    it("does not own SageMaker's account-wide processing-job log group by default", () => {
        assert.equal(graph.ofType("aws:cloudwatch/logGroup:LogGroup").filter((g) => g.inputs.name === "/aws/sagemaker/ProcessingJobs").length, 0);
    });

    it("with accountResources.processingJobsLogGroup, creates it with the key and prod retention", async () => {
        const { graph: owning } = await evaluateStackOk("prod", { config: { accountResources: { processingJobsLogGroup: true } } });
        const group = owning.one("aws:cloudwatch/logGroup:LogGroup", "drift-monitor-processing-logs").inputs;
        const keyArn = owning.one("aws:kms/key:Key").state.arn;
        assert.equal(group.name, "/aws/sagemaker/ProcessingJobs");
        assert.equal(group.kmsKeyId, keyArn);
        assert.equal(group.retentionInDays, 365);
    });

    it("alarms when any feature's baseline drift exceeds the threshold, one metric-math alarm over all ten features", () => {
        const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift-monitor-drift").inputs;
        assert.equal(alarm.name, "mlops-prod-feature-drift");
        assert.equal(alarm.threshold, prodMonitoring().driftThreshold);
        assert.equal(alarm.comparisonOperator, "GreaterThanThreshold");
        assert.equal(alarm.treatMissingData, "notBreaching");
        assert.deepEqual(alarm.alarmActions, [topicArn]);
        assert.deepEqual(alarm.okActions, [topicArn]);
        const metrics = alarm.metricQueries.filter((q: any) => q.metric);
        assert.equal(metrics.length, SCHEMA_FEATURES.length);
        assert.ok(metrics.length <= MAX_METRICS_PER_ALARM);
        assert.deepEqual(metrics.map((q: any) => q.metric.metricName), SCHEMA_FEATURES.map((_, i) => `feature_baseline_drift__c${i}`));
        assert.deepEqual(metrics.map((q: any) => q.label), SCHEMA_FEATURES);
        for (const q of metrics) {
            assert.equal(q.metric.namespace, "aws/sagemaker/Endpoints/data-metrics");
            assert.deepEqual(q.metric.dimensions, { Endpoint: "mlops-prod-churn", MonitoringSchedule: "mlops-prod-data-quality" });
            assert.equal(q.metric.period, 3600);
            assert.equal(q.returnData, false);
        }
        const expression = alarm.metricQueries.filter((q: any) => q.expression);
        assert.deepEqual(expression.map((q: any) => [q.expression, q.returnData]), [["MAX([f0, f1, f2, f3, f4, f5, f6, f7, f8, f9])", true]]);
        assert.match(alarm.alarmDescription, /tenure_months \(_c0\)/);
    });

    it("alarms when the monitor falls silent (failed executions or no captured traffic)", () => {
        const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift-monitor-silent").inputs;
        assert.equal(alarm.metricName, "feature_non_null__c0");
        assert.equal(alarm.namespace, "aws/sagemaker/Endpoints/data-metrics");
        assert.equal(alarm.treatMissingData, "breaching");
        assert.equal(alarm.evaluationPeriods, 3);
        assert.equal(alarm.comparisonOperator, "LessThanThreshold");
        assert.deepEqual(alarm.alarmActions, [topicArn]);
    });

    it("routes failed monitoring executions of this schedule to the alerts topic, with retries and a dead-letter queue", () => {
        const rule = graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-failure-rule").inputs;
        const pattern = JSON.parse(rule.eventPattern);
        const schedule = graph.one("aws:sagemaker/monitoringSchedule:MonitoringSchedule");
        assert.deepEqual(pattern, {
            source: ["aws.sagemaker"],
            "detail-type": ["SageMaker Processing Job State Change"],
            detail: { ProcessingJobStatus: ["Failed", "Stopped"], MonitoringScheduleArn: [schedule.state.arn] },
        });
        const target = graph.one("aws:cloudwatch/eventTarget:EventTarget", "drift-monitor-failure-rule-alerts").inputs;
        assert.equal(target.arn, topicArn);
        assert.ok(target.retryPolicy.maximumRetryAttempts > 0);
        assert.equal(target.deadLetterConfig.arn, graph.one("aws:sqs/queue:Queue", "drift-monitor-failure-rule-dlq").state.arn);
    });

    describe("the retrain loop", () => {
        it("sends drift alarms entering ALARM to the alerts topic and the retrain trigger, each with retries and a DLQ", () => {
            const rule = graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-retrain-rule").inputs;
            assert.deepEqual(JSON.parse(rule.eventPattern), {
                source: ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                detail: { alarmName: ["mlops-prod-feature-drift"], state: { value: ["ALARM"] } },
            });
            const ruleName = graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-retrain-rule").state.name;
            const dlq = graph.one("aws:sqs/queue:Queue", "drift-monitor-retrain-rule-dlq");
            const fn = graph.one("aws:lambda/function:Function", "drift-monitor-retrain-trigger-function");
            const targets = graph.ofType("aws:cloudwatch/eventTarget:EventTarget").filter((t) => t.inputs.rule === ruleName);
            assert.deepEqual(targets.map((t) => t.inputs.arn).sort(), [fn.state.arn, topicArn].sort());
            for (const t of targets) {
                assert.deepEqual(t.inputs.retryPolicy, { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 });
                assert.equal(t.inputs.deadLetterConfig.arn, dlq.state.arn);
            }
            assert.deepEqual(outputs.driftMonitor.retrainAlarmNames, ["mlops-prod-feature-drift"]);
        });

        it("encrypts the events dead-letter queue and lets only this rule send to it", () => {
            const dlq = graph.one("aws:sqs/queue:Queue", "drift-monitor-retrain-rule-dlq");
            assert.equal(dlq.inputs.kmsMasterKeyId, keyArn);
            const policy = statements(graph.one("aws:sqs/queuePolicy:QueuePolicy", "drift-monitor-retrain-rule-dlq-policy").inputs.policy);
            const allow = policy.find((s) => s.Effect === "Allow")!;
            assert.deepEqual(allow.Principal, { Service: "events.amazonaws.com" });
            assert.equal(allow.Condition.ArnEquals["aws:SourceArn"], graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-retrain-rule").state.arn);
        });

        it("runs the retrain trigger with the pipeline, the cooldown from config and nothing but the two pipeline calls", () => {
            const fn = graph.one("aws:lambda/function:Function", "drift-monitor-retrain-trigger-function").inputs;
            assert.equal(fn.runtime, "nodejs22.x");
            assert.deepEqual(fn.environment.variables, {
                PIPELINE_NAME: shared.pipelineName,
                RETRAIN_COOLDOWN_HOURS: String(prodMonitoring().retrainCooldownHours),
                // A variable the delivery pipeline declares: executions record which alarm started them.
                TRIGGER_VARIABLE: PIPELINE_VARIABLES.trigger,
            });
            assert.equal(fn.environment.variables.RETRAIN_COOLDOWN_HOURS, "24");
            assert.equal(fn.reservedConcurrentExecutions, -1, "unreserved unless lambdaReservedConcurrency");
            assert.deepEqual(fn.tracingConfig, { mode: "Active" });
            assert.equal(fn.kmsKeyArn, keyArn);
            const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", "drift-monitor-retrain-trigger-role-policy").inputs.policy);
            const start = policy.find((s) => s.Sid === "StartRetraining")!;
            assert.deepEqual(start.Action, ["codepipeline:ListPipelineExecutions", "codepipeline:StartPipelineExecution"]);
            assert.equal(start.Resource, shared.pipelineArn);
            assert.ok(!policy.some((s) => actions(s).some((a) => a.startsWith("codepipeline:") && s.Sid !== "StartRetraining")));
            const permission = graph.one("aws:lambda/permission:Permission", "drift-monitor-retrain-trigger-invoke-0").inputs;
            assert.equal(permission.principal, "events.amazonaws.com");
            assert.equal(permission.sourceArn, graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-retrain-rule").state.arn);
            assert.equal(outputs.driftMonitor.retrainFunctionName, "mlops-prod-retrain-trigger");
        });

        it("bundles the retrain-trigger handler", () => {
            const fn = graph.one("aws:lambda/function:Function", "drift-monitor-retrain-trigger-function").inputs;
            assert.equal(fn.handler, "index.handler");
            const component = graph.one("mlops:lambda:PipelineFunction", "drift-monitor-retrain-trigger");
            assert.match(String(component.outputs?.codeSha256), /^[0-9a-f]{64}$/);
        });
    });

    it("has no model-quality monitor while it is off (the default)", () => {
        assert.equal(graph.ofType("aws:cloudformation/stack:Stack").length, 0);
        assert.equal(graph.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name === "drift-monitor-auc").length, 0);
    });
});

describe("drift monitor: config variations", () => {
    it("dev has monitoring off: no monitor, no job definition, no retrain trigger", async () => {
        const { graph, outputs } = await stackGraph("dev");
        assert.deepEqual(monitorResources(graph), []);
        assert.equal(graph.ofType("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").length, 0);
        assert.equal(graph.ofType("aws:sagemaker/monitoringSchedule:MonitoringSchedule").length, 0);
        assert.equal(outputs.driftMonitor, undefined);
    });

    it("takes the cooldown, threshold, schedule and instance type from config", async () => {
        const monitoring = { ...prodMonitoring(), retrainCooldownHours: 6, driftThreshold: 0.25, scheduleExpression: "cron(30 */2 ? * * *)", instanceType: "ml.m5.xlarge", maxRuntimeSeconds: 1800 };
        const { graph } = await evaluateStackOk("prod", { config: { monitoring } });
        const fn = graph.one("aws:lambda/function:Function", "drift-monitor-retrain-trigger-function").inputs;
        assert.equal(fn.environment.variables.RETRAIN_COOLDOWN_HOURS, "6");
        assert.equal(graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift-monitor-drift").inputs.threshold, 0.25);
        assert.equal(graph.one("aws:sagemaker/monitoringSchedule:MonitoringSchedule").inputs.monitoringScheduleConfig.scheduleConfig.scheduleExpression, "cron(30 */2 ? * * *)");
        const job = graph.one("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").inputs;
        assert.equal(job.jobResources.clusterConfig.instanceType, "ml.m5.xlarge");
        assert.equal(job.stoppingCondition.maxRuntimeInSeconds, 1800);
    });

    it("a cooldown of 0 reaches the function as \"0\"", async () => {
        const { graph } = await evaluateStackOk("prod", { config: { monitoring: { ...prodMonitoring(), retrainCooldownHours: 0 } } });
        assert.equal(graph.one("aws:lambda/function:Function", "drift-monitor-retrain-trigger-function").inputs.environment.variables.RETRAIN_COOLDOWN_HOURS, "0");
    });

    it("skips the monitor while prod serves nothing (no baseline to compare with)", async () => {
        const { graph, outputs } = await evaluateStackOk("prod", { modelVersion: null });
        assert.deepEqual(monitorResources(graph), []);
        assert.equal(outputs.driftMonitor, undefined);
    });

    it("skips the monitor when the serving version records no baseline", async () => {
        const version = modelVersionFixture();
        const bare = { ...version, metadata: { ...version.metadata, baselineStatisticsUri: undefined, baselineConstraintsUri: undefined } };
        const { graph } = await evaluateStackOk("prod", { modelVersion: bare });
        assert.deepEqual(monitorResources(graph), []);
    });

    describe("model quality on", () => {
        let graph: StackGraph;
        let template: any;
        before(async () => {
            const monitoring = { ...prodMonitoring(), modelQuality: { enabled: true, labelsPrefix: "labels/churn/", minRocAuc: 0.72 } };
            ({ graph } = await evaluateStackOk("prod", { config: { monitoring } }));
            template = JSON.parse(graph.one("aws:cloudformation/stack:Stack", "drift-monitor-model-quality").inputs.templateBody);
        });

        it("defines a binary-classification model-quality job joining captured predictions with labels under the prefix", () => {
            const job = template.Resources.JobDefinition;
            assert.equal(job.Type, "AWS::SageMaker::ModelQualityJobDefinition");
            const p = job.Properties;
            assert.equal(p.ModelQualityAppSpecification.ProblemType, "BinaryClassification");
            assert.match(p.ModelQualityAppSpecification.ImageUri, /sagemaker-model-monitor-analyzer/);
            const captureBucket = graph.one("aws:s3/bucket:Bucket", /capture$/).state.bucket;
            assert.equal(p.ModelQualityJobInput.GroundTruthS3Input.S3Uri, `s3://${captureBucket}/labels/churn/`);
            assert.equal(p.ModelQualityJobInput.EndpointInput.EndpointName, "mlops-prod-churn");
            assert.equal(p.ModelQualityJobInput.EndpointInput.ProbabilityThresholdAttribute, 0.5);
            assert.equal(p.ModelQualityJobInput.EndpointInput.ProbabilityAttribute, "predictions[0]");
            const keyArn = graph.one("aws:kms/key:Key").state.arn;
            assert.equal(p.ModelQualityJobOutputConfig.KmsKeyId, keyArn);
            assert.equal(p.JobResources.ClusterConfig.VolumeKmsKeyId, keyArn);
            assert.deepEqual(p.NetworkConfig, { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true });
            assert.equal(p.RoleArn, graph.one("aws:iam/role:Role", "drift-monitor-role").state.arn);
            const schedule = template.Resources.Schedule.Properties;
            assert.equal(schedule.MonitoringScheduleName, "mlops-prod-model-quality");
            assert.equal(schedule.MonitoringScheduleConfig.MonitoringType, "ModelQuality");
            assert.deepEqual(schedule.MonitoringScheduleConfig.MonitoringJobDefinitionName, { "Fn::GetAtt": ["JobDefinition", "JobDefinitionName"] });
        });

        it("alarms on AUC below the configured minimum, and that alarm also starts a retrain", () => {
            const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift-monitor-auc").inputs;
            assert.equal(alarm.namespace, "aws/sagemaker/Endpoints/model-metrics");
            assert.equal(alarm.metricName, "auc");
            assert.equal(alarm.threshold, 0.72);
            assert.equal(alarm.comparisonOperator, "LessThanThreshold");
            assert.deepEqual(alarm.dimensions, { Endpoint: "mlops-prod-churn", MonitoringSchedule: "mlops-prod-model-quality" });
            const rule = JSON.parse(graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-retrain-rule").inputs.eventPattern);
            assert.deepEqual(rule.detail.alarmName, ["mlops-prod-feature-drift", "mlops-prod-model-quality-auc"]);
        });

        it("lets the monitoring role read the labels, and routes failures of the model-quality schedule too", () => {
            const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", "drift-monitor-role-policy").inputs.policy);
            const captureBucket = graph.one("aws:s3/bucket:Bucket", /capture$/).state.bucket;
            assert.equal(policy.find((s) => s.Sid === "ReadGroundTruth")!.Resource, `arn:aws:s3:::${captureBucket}/labels/churn/*`);
            const failure = JSON.parse(graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-failure-rule").inputs.eventPattern);
            assert.equal(failure.detail.MonitoringScheduleArn.length, 2);
            assert.equal(failure.detail.MonitoringScheduleArn[1], `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:monitoring-schedule/mlops-prod-model-quality`);
        });
    });
});

describe("drift monitor component", () => {
    /** Evaluates one DriftMonitor with prod's test bed and the given overrides of its args. */
    async function monitor(overrides: Record<string, unknown> = {}) {
        return evaluate("prod", () => {
            const bed = testBed();
            return new DriftMonitor("dm", {
                context: bed.context,
                monitoring: bed.config.monitoring,
                endpointName: "ep",
                captureS3Uri: "s3://capture-bucket/endpoints/ep/",
                baselineStatisticsUri: "s3://curated-bucket/r1/baseline/statistics.json",
                baselineConstraintsUri: "s3://curated-bucket/r1/baseline/constraints.json",
                kmsKeyArn: bed.baseline.kmsKeyArn,
                alertsTopicArn: bed.baseline.alertsTopicArn,
                reportsBucket: { name: bed.baseline.buckets.artifacts.name, arn: bed.baseline.buckets.artifacts.arn },
                features: SCHEMA_FEATURES.map((name, i) => ({ name, column: `_c${i}` })),
                pipelineName: "pipe",
                pipelineArn: `arn:aws:codepipeline:us-east-1:${ACCOUNT_ID}:pipe`,
                ...overrides,
            }, bed.opts).scheduleName;
        });
    }

    it("splits more than ten features over several drift alarms, all of which start a retrain", async () => {
        const features = Array.from({ length: 23 }, (_, i) => ({ name: `f${i}`, column: `_c${i}` }));
        const { graph, error } = await monitor({ features });
        assert.equal(error, undefined);
        const alarms = graph.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => /^dm-drift-\d$/.test(a.name))
            .sort((a, b) => a.name.localeCompare(b.name));
        assert.deepEqual(alarms.map((a) => a.inputs.metricQueries.filter((q: any) => q.metric).length), [10, 10, 3]);
        assert.deepEqual(alarms.map((a) => a.inputs.name), ["mlops-prod-feature-drift-1", "mlops-prod-feature-drift-2", "mlops-prod-feature-drift-3"]);
        const rule = JSON.parse(graph.one("aws:cloudwatch/eventRule:EventRule", "dm-retrain-rule").inputs.eventPattern);
        assert.deepEqual(rule.detail.alarmName, alarms.map((a) => a.inputs.name));
    });

    it("defaults the baseline key to the stack key", async () => {
        const { graph } = await monitor();
        const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", "dm-role-policy").inputs.policy);
        assert.equal(policy.find((s) => s.Sid === "DecryptBaseline")!.Resource, graph.one("aws:kms/key:Key").state.arn);
    });

    for (const [what, overrides, message] of [
        ["no features", { features: [] }, /features is empty/],
        ["a column not named _c<i>", { features: [{ name: "tenure", column: "tenure" }] }, /expected Model Monitor's headerless name _c<index>/],
        ["a column twice", { features: [{ name: "a", column: "_c0" }, { name: "b", column: "_c0" }] }, /column _c0 is listed twice/],
        ["a silent window of one hour", { silentAfterHours: 1 }, /silentAfterHours is 1/],
        ["a decision threshold of 1", { decisionThreshold: 1 }, /decisionThreshold is 1/],
    ] as const) {
        it(`rejects ${what}`, async () => {
            const { error } = await monitor(overrides);
            assert.match(String(error?.message), message);
        });
    }

    it("requires the labels' location when model quality is on", async () => {
        const { error } = await evaluate("prod", () => {
            const bed = testBed();
            return new DriftMonitor("dm", {
                context: bed.context,
                monitoring: { ...bed.config.monitoring, modelQuality: { enabled: true, labelsPrefix: "gt/", minRocAuc: 0.7 } },
                endpointName: "ep", captureS3Uri: "s3://b1/p/", baselineStatisticsUri: "s3://b2/s.json", baselineConstraintsUri: "s3://b2/c.json",
                kmsKeyArn: bed.baseline.kmsKeyArn, alertsTopicArn: bed.baseline.alertsTopicArn,
                reportsBucket: { name: "r", arn: "arn:aws:s3:::r" }, features: [{ name: "a", column: "_c0" }],
                pipelineName: "p", pipelineArn: "arn:aws:codepipeline:us-east-1:1:p",
            }, bed.opts);
        });
        assert.match(String(error?.message), /groundTruthS3Uri is not set/);
    });

    it("reads an S3 URI into bucket and key, and names a malformed one", () => {
        assert.deepEqual(s3Location("s3://my-bucket/a/b/", "x"), { bucket: "my-bucket", key: "a/b/" });
        assert.throws(() => s3Location("https://my-bucket/a", "captureS3Uri"), /captureS3Uri "https:\/\/my-bucket\/a" is not an S3 URI/);
    });

    it("names the features of the dataset schema after Model Monitor's headerless columns, numeric first", () => {
        const features = driftFeaturesFromSchema(path.join(REPO_ROOT, "data", "churn.schema.json"));
        assert.deepEqual(features.map((f) => f.name), SCHEMA_FEATURES);
        assert.deepEqual(features.map((f) => f.column), SCHEMA_FEATURES.map((_, i) => `_c${i}`));
        assert.throws(() => driftFeaturesFromSchema(path.join(REPO_ROOT, "package.json")), /lists no features/);
        assert.throws(() => driftFeaturesFromSchema(path.join(REPO_ROOT, "missing.json")), /cannot read the dataset schema/);
    });
});
