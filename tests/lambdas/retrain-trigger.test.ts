/**
 * The retrain trigger against a mocked CodePipeline: starts, debounced, pipeline busy, API failures, malformed
 * events, cooldown 0, and the decision line every invocation logs.
 */
import { strict as assert } from "assert";
import {
    CodePipelineClient,
    ListPipelineExecutionsCommand,
    PipelineExecutionSummary,
    StartPipelineExecutionCommand,
} from "@aws-sdk/client-codepipeline";
import { mockClient } from "aws-sdk-client-mock";
import { ConfigError, loadConfig, parseConfig, TriggerConfig } from "../../lambdas/retrain-trigger/config";
import { clientRequestToken, decide, readAlarmEvent } from "../../lambdas/retrain-trigger/decision";
import { createHandler, EXECUTIONS_PAGE_SIZE, RetrainDecision } from "../../lambdas/retrain-trigger/handler";
import { Logger, LogFields } from "../../lambdas/shared/log";

const NOW = new Date("2024-05-01T12:00:00Z");
const HOUR = 3_600_000;
const EVENT_ID = "6a7e8feb-b491-4cf7-a9f1-bf3703467718";

function alarmEvent(overrides: Record<string, unknown> = {}, detail: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        version: "0",
        id: EVENT_ID,
        "detail-type": "CloudWatch Alarm State Change",
        source: "aws.cloudwatch",
        account: "123456789012",
        time: "2024-05-01T11:59:30Z",
        region: "us-east-1",
        resources: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlops-prod-drift-0"],
        detail: {
            alarmName: "mlops-prod-drift-0",
            state: { value: "ALARM", reason: "Threshold Crossed", timestamp: "2024-05-01T11:59:29.811+0000" },
            previousState: { value: "OK" },
            ...detail,
        },
        ...overrides,
    };
}

function execution(id: string, status: PipelineExecutionSummary["status"], hoursAgo: number): PipelineExecutionSummary {
    return { pipelineExecutionId: id, status, startTime: new Date(NOW.getTime() - hoursAgo * HOUR) };
}

class MemoryLog implements Logger {
    readonly lines: { level: string; message: string; fields: LogFields }[] = [];
    info(message: string, fields: LogFields = {}) { this.lines.push({ level: "info", message, fields }); }
    warn(message: string, fields: LogFields = {}) { this.lines.push({ level: "warn", message, fields }); }
    error(message: string, fields: LogFields = {}) { this.lines.push({ level: "error", message, fields }); }
}

const config = (env: Record<string, string> = {}): TriggerConfig =>
    parseConfig({ PIPELINE_NAME: "mlops-dev-pipeline", RETRAIN_COOLDOWN_HOURS: "24", ...env });

describe("retrain-trigger handler", () => {
    const cp = mockClient(CodePipelineClient);
    let log: MemoryLog;
    beforeEach(() => {
        cp.reset();
        log = new MemoryLog();
    });

    const run = (event: unknown, cfg: TriggerConfig | ConfigError = config()) =>
        createHandler({ codepipeline: cp as unknown as CodePipelineClient, config: cfg, now: () => NOW, log })(event);

    /** The one decision line of the invocation. */
    function decisionLine(): { level: string; fields: LogFields } {
        const lines = log.lines.filter((l) => l.message === "retrain decision");
        assert.equal(lines.length, 1, `expected one decision line, got ${lines.length}`);
        return lines[0];
    }

    it("starts the pipeline when the last run is older than the cooldown, with a token from the event id", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [execution("old", "Succeeded", 30)] });
        cp.on(StartPipelineExecutionCommand).resolves({ pipelineExecutionId: "new-exec" });
        const decision = await run(alarmEvent());
        assert.equal(decision.decision, "started");
        assert.equal(decision.executionId, "new-exec");
        assert.equal(decision.clientRequestToken, `drift-${EVENT_ID}`);
        assert.match(decision.reason, /^last run old \(Succeeded\) started 2024-04-30T06:00:00.000Z, outside the 24h cooldown$/);
        const list = cp.commandCalls(ListPipelineExecutionsCommand)[0].args[0].input;
        assert.deepEqual(list, { pipelineName: "mlops-dev-pipeline", maxResults: EXECUTIONS_PAGE_SIZE });
        const start = cp.commandCalls(StartPipelineExecutionCommand);
        assert.equal(start.length, 1);
        assert.deepEqual(start[0].args[0].input, { name: "mlops-dev-pipeline", clientRequestToken: `drift-${EVENT_ID}`, variables: undefined });
        const line = decisionLine();
        assert.equal(line.level, "info");
        assert.equal(line.fields.decision, "started");
        assert.equal(line.fields.alarmName, "mlops-prod-drift-0");
        assert.equal(line.fields.eventId, EVENT_ID);
        assert.equal(line.fields.executionId, "new-exec");
    });

    it("starts when the pipeline has never run", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({});
        cp.on(StartPipelineExecutionCommand).resolves({ pipelineExecutionId: "first" });
        const decision = await run(alarmEvent());
        assert.equal(decision.decision, "started");
        assert.equal(decision.reason, "no previous run of the pipeline");
    });

    it("passes static pipeline variables and the trigger variable", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [] });
        cp.on(StartPipelineExecutionCommand).resolves({ pipelineExecutionId: "x" });
        await run(alarmEvent(), config({ PIPELINE_VARIABLES: "{\"reason\":\"drift\"}", TRIGGER_VARIABLE: "trigger" }));
        assert.deepEqual(cp.commandCalls(StartPipelineExecutionCommand)[0].args[0].input.variables, [
            { name: "reason", value: "drift" },
            { name: "trigger", value: "drift alarm mlops-prod-drift-0 at 2024-05-01T11:59:29.811+0000" },
        ]);
    });

    it("debounces when a run started within the cooldown, whatever its outcome", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({
            pipelineExecutionSummaries: [execution("older", "Succeeded", 40), execution("recent", "Failed", 5)],
        });
        const decision = await run(alarmEvent());
        assert.equal(decision.decision, "skipped");
        assert.equal(decision.reason, "debounced: last run recent started 2024-05-01T07:00:00.000Z (5h ago), within the 24h cooldown");
        assert.deepEqual(decision.lastExecution, { id: "recent", status: "Failed", startTime: "2024-05-01T07:00:00.000Z" });
        assert.equal(cp.commandCalls(StartPipelineExecutionCommand).length, 0);
        assert.equal(decisionLine().fields.decision, "skipped");
    });

    it("does not start while the pipeline is busy, even when the running execution is outside the cooldown", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({
            pipelineExecutionSummaries: [execution("running", "InProgress", 30), execution("done", "Succeeded", 50)],
        });
        const decision = await run(alarmEvent());
        assert.equal(decision.decision, "skipped");
        assert.equal(decision.reason, "pipeline busy: execution running is InProgress (started 2024-04-30T06:00:00.000Z)");
        assert.equal(cp.commandCalls(StartPipelineExecutionCommand).length, 0);
    });

    it("with cooldown 0 starts right after a finished run, but still not while one is running", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [execution("just-now", "Succeeded", 0.01)] });
        cp.on(StartPipelineExecutionCommand).resolves({ pipelineExecutionId: "again" });
        const started = await run(alarmEvent(), config({ RETRAIN_COOLDOWN_HOURS: "0" }));
        assert.equal(started.decision, "started");
        assert.match(started.reason, /cooldown is 0$/);

        cp.reset();
        cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [execution("busy", "InProgress", 0.01)] });
        const busy = await run(alarmEvent(), config({ RETRAIN_COOLDOWN_HOURS: "0" }));
        assert.equal(busy.decision, "skipped");
        assert.match(busy.reason, /^pipeline busy/);
    });

    it("throws when ListPipelineExecutions fails, after logging a failed decision, and starts nothing", async () => {
        const error = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
        cp.on(ListPipelineExecutionsCommand).rejects(error);
        await assert.rejects(run(alarmEvent()), /Rate exceeded/);
        assert.equal(cp.commandCalls(StartPipelineExecutionCommand).length, 0);
        const line = decisionLine();
        assert.equal(line.level, "error");
        assert.equal(line.fields.decision, "failed");
        assert.equal(line.fields.reason, "ListPipelineExecutions failed: ThrottlingException: Rate exceeded");
    });

    it("throws when StartPipelineExecution fails, logging the token a retry will reuse", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [] });
        cp.on(StartPipelineExecutionCommand).rejects(Object.assign(new Error("no such pipeline"), { name: "PipelineNotFoundException" }));
        await assert.rejects(run(alarmEvent()), /no such pipeline/);
        const line = decisionLine();
        assert.equal(line.fields.decision, "failed");
        assert.equal(line.fields.reason, "StartPipelineExecution failed: PipelineNotFoundException: no such pipeline");
        assert.equal(line.fields.clientRequestToken, `drift-${EVENT_ID}`);
    });

    it("a retried delivery of the same event sends the same token", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [] });
        cp.on(StartPipelineExecutionCommand).rejectsOnce(new Error("timeout")).resolves({ pipelineExecutionId: "e1" });
        await assert.rejects(run(alarmEvent()));
        await run(alarmEvent());
        const tokens = cp.commandCalls(StartPipelineExecutionCommand).map((c) => c.args[0].input.clientRequestToken);
        assert.deepEqual(tokens, [`drift-${EVENT_ID}`, `drift-${EVENT_ID}`]);
    });

    it("skips an alarm that left the ALARM state without calling CodePipeline", async () => {
        const decision = await run(alarmEvent({}, { state: { value: "OK", timestamp: "2024-05-01T12:00:00Z" } }));
        assert.equal(decision.decision, "skipped");
        assert.equal(decision.reason, "alarm mlops-prod-drift-0 changed to OK, not ALARM");
        assert.equal(cp.calls().length, 0);
    });

    for (const [what, event, message] of [
        ["a non-object", "hello", /expected an EventBridge event object, got string/],
        ["another event type", alarmEvent({ source: "aws.sagemaker" }), /expected source "aws.cloudwatch"/],
        ["an event without id", alarmEvent({ id: "" }), /event has no id/],
        ["an event without alarm name", alarmEvent({}, { alarmName: undefined }), /lacks alarmName or state.value/],
    ] as const) {
        it(`rejects ${what}: logs a failed decision and throws, so the event reaches the dead-letter queue`, async () => {
            await assert.rejects(run(event), message);
            assert.equal(cp.calls().length, 0);
            const line = decisionLine();
            assert.equal(line.fields.decision, "failed");
            assert.match(String(line.fields.reason), /^malformed event: /);
        });
    }

    it("fails every invocation while the environment is invalid, naming the variable", async () => {
        const bad = loadConfig({ PIPELINE_NAME: "mlops-dev-pipeline", RETRAIN_COOLDOWN_HOURS: "-1" });
        assert.ok(bad instanceof ConfigError);
        await assert.rejects(run(alarmEvent(), bad), /RETRAIN_COOLDOWN_HOURS/);
        assert.equal(cp.calls().length, 0);
        assert.equal(decisionLine().fields.decision, "failed");
    });

    it("returns the same decision it logs", async () => {
        cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [execution("recent", "Succeeded", 1)] });
        const decision: RetrainDecision = await run(alarmEvent());
        assert.deepEqual(decisionLine().fields, { ...decision });
    });
});

describe("retrain-trigger configuration", () => {
    it("reads the cooldown in hours and defaults to no variables", () => {
        const c = parseConfig({ PIPELINE_NAME: "p", RETRAIN_COOLDOWN_HOURS: "1.5" });
        assert.equal(c.cooldownMs, 1.5 * HOUR);
        assert.deepEqual(c.variables, {});
        assert.equal(c.triggerVariable, undefined);
    });

    for (const [env, message] of [
        [{ RETRAIN_COOLDOWN_HOURS: "24" }, /PIPELINE_NAME/],
        [{ PIPELINE_NAME: "p" }, /RETRAIN_COOLDOWN_HOURS/],
        [{ PIPELINE_NAME: "p", RETRAIN_COOLDOWN_HOURS: "1000" }, /RETRAIN_COOLDOWN_HOURS/],
        [{ PIPELINE_NAME: "has space", RETRAIN_COOLDOWN_HOURS: "1" }, /expected a CodePipeline name/],
        [{ PIPELINE_NAME: "p", RETRAIN_COOLDOWN_HOURS: "1", PIPELINE_VARIABLES: "[1]" }, /PIPELINE_VARIABLES: expected \{"name": "value"/],
        [{ PIPELINE_NAME: "p", RETRAIN_COOLDOWN_HOURS: "1", PIPELINE_VARIABLES: "{" }, /PIPELINE_VARIABLES: expected a JSON object/],
        [{ PIPELINE_NAME: "p", RETRAIN_COOLDOWN_HOURS: "1", PIPELINE_VARIABLES: "{\"t\":\"x\"}", TRIGGER_VARIABLE: "t" }, /use one or the other/],
    ] as const) {
        it(`rejects ${JSON.stringify(env)}`, () => {
            assert.throws(() => parseConfig(env), (e: Error) => e instanceof ConfigError && message.test(e.message));
        });
    }
});

describe("retrain-trigger decision rules", () => {
    it("takes the newest start whatever the order CodePipeline lists executions in", () => {
        const verdict = decide([execution("a", "Succeeded", 48), execution("b", "Stopped", 2), execution("c", "Failed", 30)], NOW, 24 * HOUR);
        assert.equal(verdict.start, false);
        assert.equal(verdict.lastExecution?.id, "b");
    });

    it("ignores executions without a start time for debouncing", () => {
        const verdict = decide([{ pipelineExecutionId: "x", status: "Succeeded" }], NOW, 24 * HOUR);
        assert.deepEqual(verdict, { start: true, reason: "no previous run of the pipeline" });
    });

    it("a run exactly at the cooldown boundary no longer debounces", () => {
        assert.equal(decide([execution("a", "Succeeded", 24)], NOW, 24 * HOUR).start, true);
        assert.equal(decide([execution("a", "Succeeded", 23.99)], NOW, 24 * HOUR).start, false);
    });

    it("derives a token CodePipeline accepts from any event id", () => {
        assert.equal(clientRequestToken("abc_def:1"), "drift-abc-def-1");
        const long = clientRequestToken("x".repeat(300));
        assert.equal(long.length, 128);
        assert.match(long, /^[a-zA-Z0-9-]+$/);
    });

    it("falls back to the event time when the state has no timestamp", () => {
        const event = alarmEvent({}, { state: { value: "ALARM" } });
        assert.equal(readAlarmEvent(event).time, "2024-05-01T11:59:30Z");
    });
});
