/**
 * Pure parts of the retrain trigger: reading the alarm event, deciding whether to start the pipeline, and the
 * idempotency token. Kept apart from the handler so the rules are tested without any AWS client.
 */
import { PipelineExecutionSummary } from "@aws-sdk/client-codepipeline";

/** What the trigger needs from an EventBridge "CloudWatch Alarm State Change" event. */
export interface AlarmEvent {
    /** EventBridge's event id: the same for every delivery and retry of one event. */
    readonly eventId: string;
    readonly alarmName: string;
    readonly state: string;
    /** When the alarm changed state (the event's `time` when the detail has no timestamp). */
    readonly time: string;
}

/** Thrown for an event that is not a CloudWatch alarm state change; nothing can be decided from it. */
export class MalformedEventError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "MalformedEventError";
    }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v : undefined);

export function readAlarmEvent(event: unknown): AlarmEvent {
    if (!isRecord(event)) throw new MalformedEventError(`expected an EventBridge event object, got ${Array.isArray(event) ? "an array" : typeof event}`);
    if (event.source !== "aws.cloudwatch" || event["detail-type"] !== "CloudWatch Alarm State Change") {
        throw new MalformedEventError(`expected source "aws.cloudwatch" and detail-type "CloudWatch Alarm State Change", got ${JSON.stringify(event.source)} / ${JSON.stringify(event["detail-type"])}`);
    }
    const eventId = text(event.id);
    if (!eventId) throw new MalformedEventError("event has no id: the start could not be made idempotent");
    const detail = isRecord(event.detail) ? event.detail : undefined;
    const alarmName = text(detail?.alarmName);
    const state = isRecord(detail?.state) ? detail.state : undefined;
    const value = text(state?.value);
    if (!alarmName || !value) throw new MalformedEventError("event detail lacks alarmName or state.value");
    return { eventId, alarmName, state: value, time: text(state?.timestamp) ?? text(event.time) ?? "unknown" };
}

/** CodePipeline accepts client request tokens of 1-128 characters matching [a-zA-Z0-9-]+. */
export function clientRequestToken(eventId: string): string {
    const cleaned = eventId.replace(/[^a-zA-Z0-9-]/g, "-");
    return `drift-${cleaned}`.slice(0, 128);
}

export interface LastExecution {
    readonly id: string;
    readonly status: string;
    readonly startTime?: string;
}

export type Verdict =
    | { readonly start: true; readonly reason: string; readonly lastExecution?: LastExecution }
    | { readonly start: false; readonly reason: string; readonly lastExecution?: LastExecution };

function summary(e: PipelineExecutionSummary): LastExecution {
    return { id: e.pipelineExecutionId ?? "unknown", status: e.status ?? "unknown", startTime: e.startTime?.toISOString() };
}

function hours(ms: number): string {
    return `${Number((ms / 3_600_000).toFixed(2))}h`;
}

/**
 * Whether to start a retrain, given the pipeline's recent executions (any order; the newest start counts):
 * a running execution → no ("pipeline busy"); an execution started within the cooldown → no ("debounced");
 * otherwise → yes. A cooldown of 0 disables debouncing.
 */
export function decide(executions: readonly PipelineExecutionSummary[], now: Date, cooldownMs: number): Verdict {
    const byStart = [...executions].sort((a, b) => (b.startTime?.getTime() ?? -Infinity) - (a.startTime?.getTime() ?? -Infinity));
    const running = byStart.find((e) => e.status === "InProgress");
    if (running) {
        const last = summary(running);
        return { start: false, reason: `pipeline busy: execution ${last.id} is InProgress (started ${last.startTime ?? "at an unknown time"})`, lastExecution: last };
    }
    const latest = byStart.find((e) => e.startTime !== undefined);
    if (!latest) return { start: true, reason: "no previous run of the pipeline" };
    const last = summary(latest);
    const age = now.getTime() - latest.startTime!.getTime();
    if (cooldownMs > 0 && age < cooldownMs) {
        return {
            start: false,
            reason: `debounced: last run ${last.id} started ${last.startTime} (${hours(Math.max(age, 0))} ago), within the ${hours(cooldownMs)} cooldown`,
            lastExecution: last,
        };
    }
    const why = cooldownMs > 0 ? `outside the ${hours(cooldownMs)} cooldown` : "cooldown is 0";
    return { start: true, reason: `last run ${last.id} (${last.status}) started ${last.startTime}, ${why}`, lastExecution: last };
}
