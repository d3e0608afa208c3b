/**
 * Lead-time metrics in the platform (host) stack's graph: the prod deploy's recording permissions, proven by the offline
 * IAM simulator (@cloud-copilot/iam-simulate) on the recorded policy — metrics only into the delivery namespace,
 * only this pipeline's executions, only summary objects — the dashboard and the failure alarm.
 */
import { strict as assert } from "assert";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { DELIVERY_METRICS_NAMESPACE, METRICS_FAILURE_MARKER, TRIGGERS } from "../../contracts/delivery";
import { dashboardBody, FAILURE_METRIC } from "../../infra/components/delivery-metrics";
import { ACCOUNT_ID, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REGION = "us-east-1";
const PIPELINE = "mlops-platform-churn";
const PIPELINE_ARN = `arn:aws:codepipeline:${REGION}:${ACCOUNT_ID}:${PIPELINE}`;
const ARTIFACTS = `mlops-platform-artifacts-${ACCOUNT_ID}-${REGION}`;

async function simulate(policy: object, action: string, resource: string, contextVariables: Record<string, string> = {}): Promise<string> {
    const result: any = await runSimulation({
        identityPolicies: [{ name: "recorder", policy }], serviceControlPolicies: [], resourceControlPolicies: [], resourcePolicy: undefined,
        request: { action, resource: { resource, accountId: ACCOUNT_ID }, principal: `arn:aws:iam::${ACCOUNT_ID}:role/mlops-platform-deploy-prod`, contextVariables },
    } as any, {});
    if (result.errors) throw new Error(`simulation of ${action} failed: ${JSON.stringify(result.errors)}`);
    return result.overallResult ?? result.result?.analysis?.result;
}

describe("delivery metrics (platform stack graph)", function () {
    this.timeout(120_000);
    let graph: StackGraph;
    let policy: any;
    before(async () => {
        graph = (await stackGraph("platform")).graph;
        policy = JSON.parse(graph.one("aws:iam/rolePolicy:RolePolicy", /^delivery-metrics-recorder-policy$/).inputs.policy);
    });

    it("gives the recorder policy to the prod deploy role, and the pipeline's variables to the prod deploy project only", () => {
        const rolePolicy = graph.one("aws:iam/rolePolicy:RolePolicy", /^delivery-metrics-recorder-policy$/);
        const prodRole = graph.one("aws:iam/role:Role", /^delivery-deploy-prod-role$/);
        assert.equal(rolePolicy.inputs.role, prodRole.inputs.name);
        const env = (project: RecordedResource) => Object.fromEntries(project.inputs.environment.environmentVariables.map((v: any) => [v.name, v.value]));
        const prod = env(graph.one("aws:codebuild/project:Project", /^delivery-deploy-prod$/));
        assert.equal(prod.PIPELINE_NAME, PIPELINE);
        assert.equal(prod.EXECUTION_SUMMARY_PREFIX, `s3://${ARTIFACTS}/executions/`);
        const dev = env(graph.one("aws:codebuild/project:Project", /^delivery-deploy-dev$/));
        assert.equal(dev.PIPELINE_NAME, undefined, "only the prod deploy records: prod serving ends the lead time");
    });

    it("PutMetricData is allowed into the delivery namespace only (cloudwatch:namespace condition), by simulation", async () => {
        const put = policy.Statement.find((s: any) => s.Action === "cloudwatch:PutMetricData");
        assert.deepEqual(put.Condition, { StringEquals: { "cloudwatch:namespace": DELIVERY_METRICS_NAMESPACE } });
        assert.equal(await simulate(policy, "cloudwatch:PutMetricData", "*", { "cloudwatch:namespace": DELIVERY_METRICS_NAMESPACE }), "Allowed");
        for (const other of ["AWS/SageMaker", "MLOps/Delivery2", "mlops/delivery"]) {
            assert.equal(await simulate(policy, "cloudwatch:PutMetricData", "*", { "cloudwatch:namespace": other }), "ImplicitlyDenied", other);
        }
        assert.equal(await simulate(policy, "cloudwatch:PutMetricData", "*"), "ImplicitlyDenied", "no namespace given");
    });

    it("reads only this pipeline's executions and writes only execution summaries, by simulation", async () => {
        for (const action of ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"]) {
            assert.equal(await simulate(policy, action, PIPELINE_ARN), "Allowed", action);
            assert.equal(await simulate(policy, action, `arn:aws:codepipeline:${REGION}:${ACCOUNT_ID}:another-pipeline`), "ImplicitlyDenied", action);
        }
        assert.equal(await simulate(policy, "codepipeline:StartPipelineExecution", PIPELINE_ARN), "ImplicitlyDenied");
        assert.equal(await simulate(policy, "s3:PutObject", `arn:aws:s3:::${ARTIFACTS}/executions/5c1d3f0e.json`), "Allowed");
        assert.equal(await simulate(policy, "s3:PutObject", `arn:aws:s3:::${ARTIFACTS}/source/code.zip`), "ImplicitlyDenied");
        assert.equal(await simulate(policy, "s3:GetObject", `arn:aws:s3:::${ARTIFACTS}/executions/5c1d3f0e.json`), "ImplicitlyDenied");
        // Every statement but the namespace-scoped PutMetricData names its resources.
        for (const s of policy.Statement) if (s.Resource === "*") assert.equal(s.Action, "cloudwatch:PutMetricData");
    });

    it("the dashboard shows lead time per trigger and time per stage from the metrics the step emits", () => {
        const dashboard = graph.one("aws:cloudwatch/dashboard:Dashboard", /^delivery-metrics-dashboard$/);
        const body = JSON.parse(dashboard.inputs.dashboardBody);
        assert.deepEqual(body, JSON.parse(JSON.stringify(dashboardBody(REGION, PIPELINE, "-P30D"))));
        const lead = body.widgets[0].properties;
        assert.deepEqual(lead.metrics.map((m: any[]) => m.slice(0, 6)), TRIGGERS.map((t) => [DELIVERY_METRICS_NAMESPACE, "LeadTime", "Pipeline", PIPELINE, "Trigger", t]));
        assert.equal(body.start, "-P30D");
        assert.match(body.widgets[1].properties.metrics[0][0].expression, new RegExp(`MetricName="StageDuration" Pipeline="${PIPELINE}"`));
        assert.ok(body.widgets.every((w: any) => w.properties.region === REGION));
    });

    it("a failed recording (the marker in the prod deploy's log) raises an alarm to the alerts topic", () => {
        const filter = graph.one("aws:cloudwatch/logMetricFilter:LogMetricFilter", /^delivery-metrics-failures$/);
        assert.equal(filter.inputs.logGroupName, graph.one("aws:cloudwatch/logGroup:LogGroup", /^delivery-deploy-prod-logs$/).inputs.name);
        assert.equal(filter.inputs.pattern, `"${METRICS_FAILURE_MARKER}"`);
        assert.deepEqual([filter.inputs.metricTransformation.namespace, filter.inputs.metricTransformation.name], [DELIVERY_METRICS_NAMESPACE, FAILURE_METRIC]);
        const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", /^delivery-metrics-failures-alarm$/).inputs;
        assert.deepEqual([alarm.namespace, alarm.metricName, alarm.threshold, alarm.comparisonOperator, alarm.treatMissingData],
            [DELIVERY_METRICS_NAMESPACE, FAILURE_METRIC, 1, "GreaterThanOrEqualToThreshold", "notBreaching"]);
        assert.deepEqual(alarm.alarmActions, [graph.one("aws:sns/topic:Topic", /alerts$/).state.arn]);
    });

    it("prod (not the host) has none of it", async () => {
        const prod = (await stackGraph("prod")).graph;
        assert.equal(prod.resources.filter((r) => r.type === "mlops:delivery:DeliveryMetrics").length, 0);
    });
});
