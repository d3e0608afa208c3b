/**
 * Starts the retraining pipeline when a drift alarm goes into ALARM, unless it would be redundant.
 *
 * Invoked asynchronously by an EventBridge rule on "CloudWatch Alarm State Change" events of the drift alarms.
 * Per event: ListPipelineExecutions → an InProgress execution means "pipeline busy"; an execution started within
 * RETRAIN_COOLDOWN_HOURS means "debounced"; otherwise StartPipelineExecution with a client request token derived
 * from the event id, so a retried delivery of the same event cannot start a second run. Every invocation writes
 * exactly one decision line (`"message": "retrain decision"`) and returns the decision.
 *
 * Failures throw after the decision line is logged with `"decision": "failed"`: an API error (the SDK has
 * already retried throttling), an invalid environment or an event that is not an alarm state change. Lambda then
 * retries the asynchronous invocation and finally sends the event to the function's dead-letter queue.
 */
import {
    CodePipelineClient,
    ListPipelineExecutionsCommand,
    PipelineExecutionSummary,
    StartPipelineExecutionCommand,
} from "@aws-sdk/client-codepipeline";
import { describeError } from "../shared/aws-errors";
import { createLogger, Logger } from "../shared/log";
import { ConfigError, loadConfig, TriggerConfig } from "./config";
import { AlarmEvent, clientRequestToken, decide, LastExecution, MalformedEventError, readAlarmEvent } from "./decision";

/** Executions read: the newest first; an InProgress run older than these would be unusual for a retrain pipeline. */
export const EXECUTIONS_PAGE_SIZE = 20;

export interface RetrainDecision {
    readonly decision: "started" | "skipped" | "failed";
    readonly reason: string;
    readonly pipelineName?: string;
    readonly alarmName?: string;
    readonly alarmState?: string;
    readonly alarmTime?: string;
    readonly eventId?: string;
    readonly cooldownHours?: number;
    readonly lastExecution?: LastExecution;
    readonly executionId?: string;
    readonly clientRequestToken?: string;
}

export interface HandlerDeps {
    readonly codepipeline: CodePipelineClient;
    readonly config: TriggerConfig | ConfigError;
    /** @default the system clock */
    readonly now?: () => Date;
    /** @default JSON lines on the console */
    readonly log?: Logger;
}

export function createHandler(deps: HandlerDeps): (event: unknown) => Promise<RetrainDecision> {
    const now = deps.now ?? (() => new Date());
    const log = deps.log ?? createLogger({ function: "retrain-trigger" });

    const record = (d: RetrainDecision): RetrainDecision => {
        if (d.decision === "failed") log.error("retrain decision", { ...d });
        else log.info("retrain decision", { ...d });
        return d;
    };

    return async function handler(event: unknown): Promise<RetrainDecision> {
        const config = deps.config;
        if (config instanceof ConfigError) {
            record({ decision: "failed", reason: config.message });
            throw config;
        }
        const base = { pipelineName: config.pipelineName, cooldownHours: config.cooldownHours };
        let alarm: AlarmEvent;
        try {
            alarm = readAlarmEvent(event);
        } catch (e) {
            if (!(e instanceof MalformedEventError)) throw e;
            record({ ...base, decision: "failed", reason: `malformed event: ${e.message}` });
            throw e;
        }
        const context = { ...base, alarmName: alarm.alarmName, alarmState: alarm.state, alarmTime: alarm.time, eventId: alarm.eventId };
        if (alarm.state !== "ALARM") {
            return record({ ...context, decision: "skipped", reason: `alarm ${alarm.alarmName} changed to ${alarm.state}, not ALARM` });
        }

        let executions: PipelineExecutionSummary[];
        try {
            const page = await deps.codepipeline.send(new ListPipelineExecutionsCommand({
                pipelineName: config.pipelineName,
                maxResults: EXECUTIONS_PAGE_SIZE,
            }));
            executions = page.pipelineExecutionSummaries ?? [];
        } catch (e) {
            record({ ...context, decision: "failed", reason: `ListPipelineExecutions failed: ${describeError(e)}` });
            throw e;
        }

        const verdict = decide(executions, now(), config.cooldownMs);
        if (!verdict.start) {
            return record({ ...context, decision: "skipped", reason: verdict.reason, lastExecution: verdict.lastExecution });
        }

        const token = clientRequestToken(alarm.eventId);
        const variables = { ...config.variables };
        if (config.triggerVariable) {
            variables[config.triggerVariable] = `drift alarm ${alarm.alarmName} at ${alarm.time}`.slice(0, 1000);
        }
        try {
            const started = await deps.codepipeline.send(new StartPipelineExecutionCommand({
                name: config.pipelineName,
                clientRequestToken: token,
                variables: Object.keys(variables).length > 0
                    ? Object.entries(variables).map(([name, value]) => ({ name, value }))
                    : undefined,
            }));
            return record({
                ...context,
                decision: "started",
                reason: verdict.reason,
                lastExecution: verdict.lastExecution,
                executionId: started.pipelineExecutionId,
                clientRequestToken: token,
            });
        } catch (e) {
            record({ ...context, decision: "failed", reason: `StartPipelineExecution failed: ${describeError(e)}`, clientRequestToken: token });
            throw e;
        }
    };
}

const config = loadConfig(process.env);

/** The Lambda entry point (`index.handler` in the bundle). */
export const handler = createHandler({ codepipeline: new CodePipelineClient({}), config });
