/**
 * Lead time on AWS (steps/lib/lead-time.ts): which change an execution delivers, the spans of its stages and
 * actions, the summary object and the CloudWatch metrics, against mocked CodePipeline, CloudWatch and S3. Recording
 * must never fail the release.
 */
import { strict as assert } from "assert";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { CodePipelineClient, GetPipelineExecutionCommand, ListActionExecutionsCommand } from "@aws-sdk/client-codepipeline";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { DELIVERY_METRICS_NAMESPACE, METRICS_FAILURE_MARKER } from "../../contracts/delivery";
import { classifyTrigger, ExecutionFacts, executionSummary, metricData, recordDelivery } from "../../steps/lib/lead-time";
import { CapturedIo } from "./helpers";

const t = (minutes: number) => new Date(Date.UTC(2026, 10, 30, 6, 0, 0) + minutes * 60_000);
const EXECUTION = "5c1d3f0e-8a7b-4c2d-9e1f-0a1b2c3d4e5f";

function facts(extra: Partial<ExecutionFacts> = {}): ExecutionFacts {
    return {
        pipelineName: "mlops-dev-churn",
        executionId: EXECUTION,
        triggerType: "WebhookV2",
        variables: { trigger: "source-change", reuse: "true" },
        revisions: [{ name: "code", revisionId: "4f2c1e9", created: t(-2) }, { name: "data", revisionId: "v7", created: t(-600) }],
        actions: [
            { stage: "Source", action: "Code", status: "Succeeded", start: t(0), end: t(1) },
            { stage: "Source", action: "Data", status: "Succeeded", start: t(0), end: t(0.5) },
            { stage: "Prepare", action: "ETL", status: "Succeeded", start: t(1), end: t(1.2), outputVariables: { reused: "true", runId: "r1" } },
            { stage: "Train", action: "Train", status: "Succeeded", start: t(1.5), end: t(4) },
            { stage: "Dev", action: "DeployDev", status: "Succeeded", start: t(4), end: t(12) },
            { stage: "Dev", action: "Evaluate", status: "Succeeded", start: t(12), end: t(15) },
            { stage: "Prod", action: "DeployProd", status: "InProgress", start: t(15) },
        ],
        servedAt: t(40),
        ...extra,
    };
}

describe("lead time: trigger and spans", () => {
    it("classifies the change: drift by the trigger variable, data by EventBridge, code by a push, else the newest revision", () => {
        assert.equal(classifyTrigger(facts()), "code");
        assert.equal(classifyTrigger(facts({ triggerType: "CloudWatchEvent" })), "data");
        assert.equal(classifyTrigger(facts({ triggerType: "StartPipelineExecution", variables: { trigger: "drift alarm mlops-prod-drift at 2026-11-30T05:00Z" } })), "drift");
        assert.equal(classifyTrigger(facts({ triggerType: "StartPipelineExecution" })), "code");
        assert.equal(classifyTrigger(facts({ triggerType: "StartPipelineExecution", revisions: [{ name: "code", created: t(-100) }, { name: "data", created: t(-1) }] })), "data");
    });

    it("measures from the triggering revision's time to prod serving; stages span their actions; the running deploy ends at serving", () => {
        const s = executionSummary(facts());
        assert.equal(s.trigger, "code");
        assert.deepEqual(s.change, { source: "code", revisionId: "4f2c1e9", at: t(-2).toISOString() });
        assert.equal(s.leadTimeSeconds, 42 * 60);
        assert.deepEqual(s.stages.map((x) => [x.name, x.seconds]), [["Source", 60], ["Prepare", 12], ["Train", 150], ["Dev", 660], ["Prod", 25 * 60]]);
        assert.equal(s.actions.find((a) => a.name === "DeployProd")!.end, t(40).toISOString());
        assert.deepEqual(s.reused, ["Prepare"]);
        // A data change counts from the upload; drift from the execution's start.
        assert.equal(executionSummary(facts({ triggerType: "CloudWatchEvent" })).leadTimeSeconds, 640 * 60);
        const drift = executionSummary(facts({ variables: { trigger: "drift alarm x" } }));
        assert.deepEqual([drift.trigger, drift.change.at, drift.leadTimeSeconds], ["drift", t(0).toISOString(), 40 * 60]);
    });

    it("metrics: LeadTime per (Pipeline, Trigger), StageDuration per stage too, in seconds at serving time", () => {
        const data = metricData(executionSummary(facts()));
        assert.deepEqual(data[0], {
            MetricName: "LeadTime", Dimensions: [{ Name: "Pipeline", Value: "mlops-dev-churn" }, { Name: "Trigger", Value: "code" }],
            Timestamp: t(40), Value: 2520, Unit: "Seconds",
        });
        assert.deepEqual(data.slice(1).map((d) => [d.MetricName, d.Dimensions.map((x) => x.Value).join("/"), d.Value]), [
            ["StageDuration", "mlops-dev-churn/code/Source", 60], ["StageDuration", "mlops-dev-churn/code/Prepare", 12],
            ["StageDuration", "mlops-dev-churn/code/Train", 150], ["StageDuration", "mlops-dev-churn/code/Dev", 660],
            ["StageDuration", "mlops-dev-churn/code/Prod", 1500],
        ]);
        // PutMetricData accepts at most 1000 data and 30 dimensions per datum; this pipeline sends 6 of 3.
        assert.ok(data.length <= 1000 && data.every((d) => d.Dimensions.length <= 30));
    });
});

describe("lead time: recording on AWS", () => {
    const codepipeline = mockClient(CodePipelineClient);
    const cloudwatch = mockClient(CloudWatchClient);
    const s3 = mockClient(S3Client);
    const deps = () => ({ codepipeline: new CodePipelineClient({ region: "us-east-1" }), cloudwatch: new CloudWatchClient({ region: "us-east-1" }), s3: new S3Client({ region: "us-east-1" }) });
    const options = { pipelineName: "mlops-dev-churn", executionId: EXECUTION, summaryPrefix: "s3://mlops-dev-artifacts/executions/", servedAt: t(40) };

    beforeEach(() => {
        codepipeline.reset();
        cloudwatch.reset();
        s3.reset();
        const f = facts();
        codepipeline.on(GetPipelineExecutionCommand).resolves({ pipelineExecution: {
            pipelineName: f.pipelineName, pipelineExecutionId: EXECUTION, status: "InProgress",
            trigger: { triggerType: "WebhookV2" }, variables: [{ name: "trigger", resolvedValue: "source-change" }],
            artifactRevisions: f.revisions.map((r) => ({ name: r.name, revisionId: r.revisionId, created: r.created })),
        } });
        const details = f.actions.map((a) => ({
            pipelineExecutionId: EXECUTION, stageName: a.stage, actionName: a.action, status: a.status as never,
            startTime: a.start, lastUpdateTime: a.end ?? t(39), output: a.outputVariables ? { outputVariables: a.outputVariables } : undefined,
        }));
        codepipeline.on(ListActionExecutionsCommand).resolvesOnce({ actionExecutionDetails: details.slice(0, 4), nextToken: "p2" })
            .resolves({ actionExecutionDetails: details.slice(4) });
        s3.on(PutObjectCommand).resolves({});
        cloudwatch.on(PutMetricDataCommand).resolves({});
    });
    after(() => { codepipeline.restore(); cloudwatch.restore(); s3.restore(); });

    it("reads every page of action executions of this execution, writes the summary object, then the metrics", async () => {
        const io = new CapturedIo();
        const summary = await recordDelivery(deps(), options, io);
        assert.ok(summary);
        const lists = codepipeline.commandCalls(ListActionExecutionsCommand).map((c) => c.args[0].input);
        assert.deepEqual(lists.map((l) => [l.filter?.pipelineExecutionId, l.nextToken]), [[EXECUTION, undefined], [EXECUTION, "p2"]]);
        const put = s3.commandCalls(PutObjectCommand)[0].args[0].input;
        assert.deepEqual([put.Bucket, put.Key, put.ServerSideEncryption], ["mlops-dev-artifacts", `executions/${EXECUTION}.json`, undefined]);
        const written = JSON.parse(String(put.Body));
        assert.equal(written.leadTimeSeconds, 2520);
        assert.equal(written.stages.length, 5);
        assert.deepEqual(written.reused, ["Prepare"]);
        const metrics = cloudwatch.commandCalls(PutMetricDataCommand)[0].args[0].input;
        assert.equal(metrics.Namespace, DELIVERY_METRICS_NAMESPACE);
        assert.equal(metrics.MetricData?.[0].MetricName, "LeadTime");
        assert.match(io.stdout.join("\n"), /^lead time 2520 s \(code change at 2026-11-30T05:58:00.000Z → prod serving at 2026-11-30T06:40:00.000Z\); Source 60 s, .*; reused: Prepare$/m);
        assert.deepEqual(io.stderr, []);
    });

    for (const [what, arrange] of [
        ["PutMetricData is denied", () => cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error("not authorized to perform cloudwatch:PutMetricData"), { name: "AccessDenied" }))],
        ["the summary cannot be written", () => s3.on(PutObjectCommand).rejects(Object.assign(new Error("slow down"), { name: "SlowDown" }))],
        ["CodePipeline does not answer", () => codepipeline.on(GetPipelineExecutionCommand).rejects(Object.assign(new Error("gone"), { name: "PipelineExecutionNotFoundException" }))],
    ] as const) {
        it(`${what}: logged with the alarm marker, never thrown`, async () => {
            arrange();
            const io = new CapturedIo();
            assert.equal(await recordDelivery(deps(), options, io), undefined);
            assert.equal(io.stderr.length, 1);
            assert.match(io.stderr[0], new RegExp(`^${METRICS_FAILURE_MARKER}: lead-time metrics of execution ${EXECUTION} were not recorded \\(the release is not affected\\)`));
        });
    }
});
