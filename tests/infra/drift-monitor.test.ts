/**
 * The drift monitor in the graph: the data-quality job definition running our container (the serving model's image,
 * entrypoint bin/monitor) and its schedule, encryption and isolation, the monitoring role, alarms on the metrics the
 * container emits, the EventBridge loop to the alerts topic and the retrain trigger, its cooldown, and the
 * optional model-quality monitor. Prod runs it (stack file values); dev has it off.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DATA_METRICS_NAMESPACE, DRIFT_METRICS, DriftMonitor, MONITOR_ENTRYPOINT, s3Location } from "../../infra/components/drift-monitor";
import { REGISTRY_METADATA } from "../../contracts/registry";
import { testBed } from "../harness/fixtures";
import { PIPELINE_VARIABLES } from "../../contracts/delivery";
import {
    ACCOUNT_ID,
    evaluate,
    evaluateStack,
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

const prodMonitoring = () => JSON.parse(readStackConfig("prod")["mlops:monitoring"]);
const shared = hostSharedFixture();

/** The data-quality job definition and schedule: a CloudFormation template (see DriftMonitor.dataQuality). */
function dataQualityTemplate(graph: StackGraph, name = "drift-monitor-data-quality"): any {
    return JSON.parse(graph.one("aws:cloudformation/stack:Stack", name).inputs.templateBody);
}

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

    it("runs our container: the serving version's image with entrypoint bin/monitor and the drift rule's settings", () => {
        const app = dataQualityTemplate(graph).Resources.JobDefinition.Properties.DataQualityAppSpecification;
        assert.equal(app.ImageUri, modelVersionFixture().imageUri, "the image of the version that serves, from the registry");
        assert.deepEqual(app.ContainerEntrypoint, ["/opt/program/bin/monitor"]);
        assert.deepEqual(MONITOR_ENTRYPOINT, ["/opt/program/bin/monitor"]);
        // The features and their types come from the serving version's baseline (inside the container), not a schema.
        assert.deepEqual(app.Environment, { drift_alpha: "0.01", drift_min_window: "100" });
        assert.deepEqual([prodMonitoring().driftAlpha, prodMonitoring().driftMinWindow], [0.01, 100]);
        assert.equal(graph.calls.filter((c) => c.token === "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage").length, 0,
            "no prebuilt analyzer while model quality is off");
        assert.equal(graph.ofType("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition").length, 0);
    });

    it("the entrypoint exists in the repository and is executable", () => {
        const program = path.join(REPO_ROOT, "model-container", "bin", "monitor");
        assert.ok(fs.statSync(program).mode & 0o111, "bin/monitor must be executable");
        assert.match(fs.readFileSync(program, "utf8"), /from drift_checker\.processing_job import main/);
        // The image puts bin/ and the drift checker where the entrypoint and bin/monitor's sys.path expect them.
        const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "model-container", "Dockerfile"), "utf8");
        assert.match(dockerfile, /^COPY model-container\/bin\/ \/opt\/program\/bin\/$/m);
        assert.match(dockerfile, /^COPY monitor\/drift_checker \/opt\/program\/drift_checker$/m);
        assert.equal(path.posix.dirname(MONITOR_ENTRYPOINT[0]), "/opt/program/bin");
    });

    it("defines the job against the serving version's baseline and the prod endpoint, as before", () => {
        const job = dataQualityTemplate(graph).Resources.JobDefinition;
        assert.equal(job.Type, "AWS::SageMaker::DataQualityJobDefinition");
        const p = job.Properties;
        const run = `s3://${shared.curatedBucketName}/runs/2026-11-01T00-00-00Z/baseline`;
        assert.deepEqual(p.DataQualityBaselineConfig, {
            ConstraintsResource: { S3Uri: `${run}/constraints.json` },
            StatisticsResource: { S3Uri: `${run}/statistics.json` },
        });
        const endpoint = graph.one("aws:sagemaker/endpoint:Endpoint");
        assert.deepEqual(p.DataQualityJobInput, { EndpointInput: {
            EndpointName: endpoint.state.name, LocalPath: "/opt/ml/processing/input/endpoint",
            S3InputMode: "File", S3DataDistributionType: "FullyReplicated",
        } });
        assert.equal(p.JobResources.ClusterConfig.InstanceType, prodMonitoring().instanceType);
        assert.equal(p.JobResources.ClusterConfig.InstanceCount, 1);
        assert.equal(p.StoppingCondition.MaxRuntimeInSeconds, 3600);
        assert.equal(p.RoleArn, graph.one("aws:iam/role:Role", "drift-monitor-role").state.arn);
        // Named after its content: within the deploy role's data-quality-job-definition/mlops-prod-* scope, and new
        // whenever a property changes (every property forces replacement).
        assert.match(p.JobDefinitionName, /^mlops-prod-data-quality-[0-9a-f]{8}$/);
        assert.equal(graph.one("aws:cloudformation/stack:Stack", "drift-monitor-data-quality").inputs.name, "mlops-prod-data-quality-monitoring");
    });

    it("encrypts outputs and volumes with the stack key and isolates the job", () => {
        const p = dataQualityTemplate(graph).Resources.JobDefinition.Properties;
        assert.equal(p.DataQualityJobOutputConfig.KmsKeyId, keyArn);
        assert.equal(p.JobResources.ClusterConfig.VolumeKmsKeyId, keyArn);
        assert.deepEqual(p.NetworkConfig, { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true });
        assert.deepEqual(p.DataQualityJobOutputConfig.MonitoringOutputs, [{ S3Output: {
            S3Uri: `s3://${outputs.buckets.artifacts}/monitoring/mlops-prod-churn/data-quality`,
            LocalPath: "/opt/ml/processing/output", S3UploadMode: "EndOfJob",
        } }]);
    });

    it("schedules the job hourly on the endpoint with the configured cron, in the same stack as the job", () => {
        const template = dataQualityTemplate(graph);
        assert.deepEqual(Object.keys(template.Resources).sort(), ["JobDefinition", "Schedule"]);
        const schedule = template.Resources.Schedule;
        assert.equal(schedule.Type, "AWS::SageMaker::MonitoringSchedule");
        assert.deepEqual(schedule.Properties, {
            MonitoringScheduleName: "mlops-prod-data-quality",
            EndpointName: "mlops-prod-churn",
            MonitoringScheduleConfig: {
                MonitoringJobDefinitionName: { "Fn::GetAtt": ["JobDefinition", "JobDefinitionName"] },
                MonitoringType: "DataQuality",
                ScheduleConfig: { ScheduleExpression: "cron(0 * ? * * *)" },
            },
        });
        const stack = graph.one("aws:cloudformation/stack:Stack", "drift-monitor-data-quality").inputs;
        assert.equal(stack.onFailure, "ROLLBACK");
        assert.equal(prodMonitoring().scheduleExpression, "cron(0 * ? * * *)");
        assert.equal(outputs.driftMonitor.scheduleName, "mlops-prod-data-quality");
    });

    it("the template is valid CloudFormation for every property it sets (cfn-lint's resource schema)", () => {
        const schemaDir = path.join(REPO_ROOT, ".venv", "lib", "python3.11", "site-packages", "cfnlint", "data", "schemas");
        const providers = JSON.parse(fs.readFileSync(path.join(schemaDir, "providers", "us-east-1.json"), "utf8"));
        const template = dataQualityTemplate(graph);
        for (const resource of Object.values(template.Resources) as any[]) {
            const schema = JSON.parse(fs.readFileSync(path.join(schemaDir, "resources", `${providers[resource.Type]}.json`), "utf8"));
            for (const key of Object.keys(resource.Properties)) assert.ok(key in schema.properties, `${resource.Type}.${key}`);
            for (const key of schema.required ?? []) assert.ok(key in resource.Properties, `${resource.Type} needs ${key}`);
        }
        const app = JSON.parse(fs.readFileSync(path.join(schemaDir, "resources",
            `${providers["AWS::SageMaker::DataQualityJobDefinition"]}.json`), "utf8")).definitions.DataQualityAppSpecification;
        for (const key of Object.keys(template.Resources.JobDefinition.Properties.DataQualityAppSpecification)) assert.ok(key in app.properties, key);
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
        assert.deepEqual(bySid.PullModelImage.Action, ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]);
        assert.equal(bySid.PullModelImage.Resource, shared.imageRepositoryArn, "pulls only the model image's repository");
        assert.equal(bySid.PullAnalyzerImage, undefined, "no analyzer image while model quality is off");
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

    it("lets the monitoring role pull only the model image and read only the baseline (IAM policy simulation)", async () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runSimulation } = require("@cloud-copilot/iam-simulate");
        const policy = JSON.parse(graph.one("aws:iam/rolePolicy:RolePolicy", "drift-monitor-role-policy").inputs.policy);
        const simulate = async (action: string, resource: string, contextVariables: Record<string, string> = {}) => {
            const out = await runSimulation({
                identityPolicies: [{ name: "monitor", policy }], serviceControlPolicies: [], resourceControlPolicies: [],
                resourcePolicy: undefined,
                request: { action, resource: { resource, accountId: ACCOUNT_ID }, principal: `arn:aws:iam::${ACCOUNT_ID}:role/monitor`, contextVariables },
            }, {});
            return out.overallResult ?? `error: ${JSON.stringify(out.errors)}`;
        };
        const run = `${shared.curatedBucketArn}/runs/2026-11-01T00-00-00Z/baseline`;
        const cases: [string, string, Record<string, string>, string][] = [
            ["ecr:BatchGetImage", shared.imageRepositoryArn, {}, "Allowed"],
            ["ecr:GetDownloadUrlForLayer", shared.imageRepositoryArn, {}, "Allowed"],
            ["ecr:BatchGetImage", "arn:aws:ecr:us-east-1:156813124566:repository/sagemaker-model-monitor-analyzer", {}, "ImplicitlyDenied"],
            ["ecr:BatchGetImage", `arn:aws:ecr:us-east-1:${ACCOUNT_ID}:repository/another-image`, {}, "ImplicitlyDenied"],
            ["ecr:PutImage", shared.imageRepositoryArn, {}, "ImplicitlyDenied"],
            ["s3:GetObject", `${run}/statistics.json`, {}, "Allowed"],
            ["s3:GetObject", `${run}/constraints.json`, {}, "Allowed"],
            ["s3:GetObject", `${shared.curatedBucketArn}/runs/2026-11-01T00-00-00Z/train/part-0.csv`, {}, "ImplicitlyDenied"],
            ["cloudwatch:PutMetricData", "*", { "cloudwatch:namespace": DATA_METRICS_NAMESPACE }, "Allowed"],
            ["cloudwatch:PutMetricData", "*", { "cloudwatch:namespace": "Custom/Other" }, "ImplicitlyDenied"],
        ];
        for (const [action, resource, context, expected] of cases) {
            assert.equal(await simulate(action, resource, context), expected, `${action} on ${resource}`);
        }
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

    it("alarms on the drift rule's verdict, the metric the container emits", () => {
        const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift-monitor-drift").inputs;
        assert.equal(alarm.name, "mlops-prod-feature-drift");
        assert.equal(alarm.namespace, "aws/sagemaker/Endpoints/data-metrics");
        assert.equal(alarm.metricName, "drift_detected");
        assert.deepEqual(alarm.dimensions, { Endpoint: "mlops-prod-churn", MonitoringSchedule: "mlops-prod-data-quality" });
        assert.equal(alarm.statistic, "Maximum");
        assert.equal(alarm.period, 3600);
        assert.deepEqual([alarm.comparisonOperator, alarm.threshold], ["GreaterThanOrEqualToThreshold", 1]);
        assert.equal(alarm.treatMissingData, "notBreaching", "insufficient data publishes no verdict: never an alarm");
        assert.deepEqual(alarm.alarmActions, [topicArn]);
        assert.deepEqual(alarm.okActions, [topicArn]);
        assert.match(alarm.alarmDescription, /false-alarm rate 0\.01 per window, at least 100 requests/);
        assert.ok(alarm.alarmDescription.length <= 1024);
    });

    it("reads the metric names and dimensions the container writes (monitor/drift_checker/processing_job.py)", () => {
        const source = fs.readFileSync(path.join(REPO_ROOT, "monitor", "drift_checker", "processing_job.py"), "utf8");
        const constant = (name: string) => new RegExp(`^${name} = "([^"]+)"$`, "m").exec(source)?.[1];
        assert.equal(constant("DRIFT_DETECTED_METRIC"), DRIFT_METRICS.detected);
        assert.equal(constant("INSUFFICIENT_DATA_METRIC"), DRIFT_METRICS.insufficientData);
        assert.equal(constant("WINDOW_REQUESTS_METRIC"), DRIFT_METRICS.windowRequests);
        assert.equal(constant("FEATURE_DRIFT_PREFIX"), DRIFT_METRICS.featureDistancePrefix);
        assert.match(source, /\{"Name": "Endpoint", "Value": settings\.endpoint_name\}/);
        assert.match(source, /\{"Name": "MonitoringSchedule", "Value": settings\.schedule_name\}/);
        const alarms = graph.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.inputs.namespace === DATA_METRICS_NAMESPACE);
        assert.deepEqual(alarms.map((a) => a.inputs.metricName).sort(), [DRIFT_METRICS.detected, DRIFT_METRICS.windowRequests]);
    });

    it("alarms when the monitor falls silent (failed executions or no captured traffic)", () => {
        const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift-monitor-silent").inputs;
        assert.equal(alarm.metricName, "drift_window_requests");
        assert.equal(alarm.namespace, "aws/sagemaker/Endpoints/data-metrics");
        assert.deepEqual(alarm.dimensions, { Endpoint: "mlops-prod-churn", MonitoringSchedule: "mlops-prod-data-quality" });
        assert.equal(alarm.statistic, "Maximum");
        assert.equal(alarm.treatMissingData, "breaching");
        assert.equal(alarm.evaluationPeriods, 3);
        assert.deepEqual([alarm.comparisonOperator, alarm.threshold], ["LessThanThreshold", 1]);
        assert.deepEqual(alarm.alarmActions, [topicArn]);
    });

    it("routes failed monitoring executions of this schedule to the alerts topic, with retries and a dead-letter queue", () => {
        const rule = graph.one("aws:cloudwatch/eventRule:EventRule", "drift-monitor-failure-rule").inputs;
        const pattern = JSON.parse(rule.eventPattern);
        assert.deepEqual(pattern, {
            source: ["aws.sagemaker"],
            "detail-type": ["SageMaker Processing Job State Change"],
            detail: {
                ProcessingJobStatus: ["Failed", "Stopped"],
                MonitoringScheduleArn: [`arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:monitoring-schedule/mlops-prod-data-quality`],
            },
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
        assert.deepEqual(graph.ofType("aws:cloudformation/stack:Stack").map((st) => st.name), ["drift-monitor-data-quality"]);
        assert.equal(graph.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name === "drift-monitor-auc").length, 0);
    });
});

describe("drift monitor: config variations", () => {
    it("dev has monitoring off: no monitor, no job definition, no retrain trigger", async () => {
        const { graph, outputs } = await stackGraph("dev");
        assert.deepEqual(monitorResources(graph), []);
        assert.equal(graph.ofType("aws:cloudformation/stack:Stack").length, 0);
        assert.equal(outputs.driftMonitor, undefined);
    });

    it("takes the cooldown, drift rule, schedule and instance type from config", async () => {
        const monitoring = { ...prodMonitoring(), retrainCooldownHours: 6, driftAlpha: 0.005, driftMinWindow: 250, scheduleExpression: "cron(30 */2 ? * * *)", instanceType: "ml.m5.xlarge", maxRuntimeSeconds: 1800 };
        const { graph } = await evaluateStackOk("prod", { config: { monitoring } });
        const fn = graph.one("aws:lambda/function:Function", "drift-monitor-retrain-trigger-function").inputs;
        assert.equal(fn.environment.variables.RETRAIN_COOLDOWN_HOURS, "6");
        const template = dataQualityTemplate(graph);
        assert.equal(template.Resources.Schedule.Properties.MonitoringScheduleConfig.ScheduleConfig.ScheduleExpression, "cron(30 */2 ? * * *)");
        const job = template.Resources.JobDefinition.Properties;
        assert.deepEqual(job.DataQualityAppSpecification.Environment, { drift_alpha: "0.005", drift_min_window: "250" });
        assert.equal(job.JobResources.ClusterConfig.InstanceType, "ml.m5.xlarge");
        assert.equal(job.StoppingCondition.MaxRuntimeInSeconds, 1800);
        const before = (await evaluateStackOk("prod")).graph;
        const name = (g: StackGraph) => dataQualityTemplate(g).Resources.JobDefinition.Properties.JobDefinitionName;
        assert.notEqual(name(graph), name(before), "a changed job definition gets a new name");
        assert.equal(name(before), name((await evaluateStackOk("prod")).graph), "the same definition keeps its name");
        assert.match(graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "drift-monitor-drift").inputs.alarmDescription, /0\.005 per window, at least 250 requests/);
    });

    it("refuses a drift alpha outside (0, 1) and a minimum window below 1, naming the key", async () => {
        for (const [bad, message] of [[{ driftAlpha: 1 }, /driftAlpha/], [{ driftAlpha: 0 }, /driftAlpha/], [{ driftMinWindow: 0 }, /driftMinWindow/]] as const) {
            const { error } = await evaluateStack("prod", { config: { monitoring: { ...prodMonitoring(), ...bad } } });
            assert.match(String(error?.message), message);
        }
    });

    it("uses the image of whichever version serves", async () => {
        const version = { ...modelVersionFixture(), imageUri: `${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-model:src-feedface` };
        const { graph } = await evaluateStackOk("prod", { modelVersion: version });
        assert.equal(dataQualityTemplate(graph).Resources.JobDefinition.Properties.DataQualityAppSpecification.ImageUri, version.imageUri);
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
        const {
            [REGISTRY_METADATA.baselineStatisticsUri]: _statistics, [REGISTRY_METADATA.baselineConstraintsUri]: _constraints, ...rest
        } = version.properties;
        const bare = { ...version, properties: rest };
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
            assert.ok(graph.calls.some((c) => c.token === "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage"
                && c.inputs.repositoryName === "sagemaker-model-monitor-analyzer"));
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
            assert.match(String(policy.find((s) => s.Sid === "PullAnalyzerImage")!.Resource), /repository\/sagemaker-model-monitor-analyzer$/);
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
                imageUri: `${ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/model:v1`,
                imageRepositoryArn: `arn:aws:ecr:us-east-1:${ACCOUNT_ID}:repository/model`,
                pipelineName: "pipe",
                pipelineArn: `arn:aws:codepipeline:us-east-1:${ACCOUNT_ID}:pipe`,
                ...overrides,
            }, bed.opts).scheduleName;
        });
    }

    it("with the serving version's features, fixes the categorical columns and names them in the alarm", async () => {
        const features = [
            { name: "petal_width", column: "_c0", type: "numeric" },
            { name: "colour", column: "_c1", type: "categorical" },
            { name: "shape", column: "_c2", type: "categorical" },
        ];
        const { graph, error } = await monitor({ features });
        assert.equal(error, undefined);
        const template = JSON.parse(graph.one("aws:cloudformation/stack:Stack", "dm-data-quality").inputs.templateBody);
        assert.equal(template.Resources.JobDefinition.Properties.DataQualityAppSpecification.Environment.drift_categorical_columns, "_c1,_c2");
        assert.match(graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", "dm-drift").inputs.alarmDescription,
            /petal_width \(_c0, numeric\), colour \(_c1, categorical\), shape \(_c2, categorical\)/);
    });

    it("keeps one drift alarm however many features there are", async () => {
        const features = Array.from({ length: 300 }, (_, i) => ({ name: `feature_with_a_long_name_${i}`, column: `_c${i}`, type: "numeric" }));
        const { graph } = await monitor({ features });
        const alarms = graph.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name.startsWith("dm-drift"));
        assert.equal(alarms.length, 1);
        assert.ok(alarms[0].inputs.alarmDescription.length <= 1024, "CloudWatch limit");
    });

    it("defaults the baseline key to the stack key", async () => {
        const { graph } = await monitor();
        const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", "dm-role-policy").inputs.policy);
        assert.equal(policy.find((s) => s.Sid === "DecryptBaseline")!.Resource, graph.one("aws:kms/key:Key").state.arn);
    });

    for (const [what, overrides, message] of [
        ["an empty feature list", { features: [] }, /features is empty/],
        ["a column not named _c<i>", { features: [{ name: "tenure", column: "tenure", type: "numeric" }] }, /expected Model Monitor's headerless name _c<index>/],
        ["a column twice", { features: [{ name: "a", column: "_c0", type: "numeric" }, { name: "b", column: "_c0", type: "numeric" }] }, /column _c0 is listed twice/],
        ["an unknown feature type", { features: [{ name: "a", column: "_c0", type: "ordinal" }] }, /has type "ordinal"; expected numeric or categorical/],
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
                reportsBucket: { name: "r", arn: "arn:aws:s3:::r" },
                imageUri: "img", imageRepositoryArn: "arn:aws:ecr:us-east-1:1:repository/r",
                pipelineName: "p", pipelineArn: "arn:aws:codepipeline:us-east-1:1:p",
            }, bed.opts);
        });
        assert.match(String(error?.message), /groundTruthS3Uri is not set/);
    });

    it("reads an S3 URI into bucket and key, and names a malformed one", () => {
        assert.deepEqual(s3Location("s3://my-bucket/a/b/", "x"), { bucket: "my-bucket", key: "a/b/" });
        assert.throws(() => s3Location("https://my-bucket/a", "captureS3Uri"), /captureS3Uri "https:\/\/my-bucket\/a" is not an S3 URI/);
    });
});
