/**
 * Lead time of every pipeline execution on AWS, recorded by the prod deploy once it verified that the new version
 * serves: from the change (the commit's time, or the dataset version's upload time) to prod serving, and each
 * stage's and action's start and end. Written as an execution summary object (artifacts bucket) and as CloudWatch
 * custom metrics in {@link DELIVERY_METRICS_NAMESPACE}, dimensioned by trigger (code, data, drift).
 *
 * Sources (verified against botocore's codepipeline model, 2015-07-09):
 *   GetPipelineExecution → pipelineExecution.{trigger.triggerType, artifactRevisions[].{name, revisionId, created},
 *                                             variables[].{name, resolvedValue}}
 *   ListActionExecutions(filter.pipelineExecutionId) → actionExecutionDetails[].{stageName, actionName, startTime,
 *                                             lastUpdateTime, status, output.outputVariables}, nextToken
 *   PutMetricData(Namespace, MetricData[].{MetricName, Dimensions, Timestamp, Value, Unit}) (cloudwatch 2010-08-01)
 *
 * Recording never fails a release: {@link recordDelivery} catches every error, prints it with the marker
 * {@link METRICS_FAILURE_MARKER} (a log metric filter turns that into an alarm) and returns.
 */
import { CodePipelineClient, GetPipelineExecutionCommand, ListActionExecutionsCommand } from "@aws-sdk/client-codepipeline";
import { CloudWatchClient, PutMetricDataCommand, StandardUnit } from "@aws-sdk/client-cloudwatch";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
    DEFAULT_TRIGGER_VALUE, DELIVERY_METRICS_NAMESPACE, METRICS_FAILURE_MARKER, PIPELINE_VARIABLES, REUSED_VARIABLE, SOURCE_ARTIFACTS,
    TRIGGER_KIND, TriggerKind,
} from "../../contracts/delivery";
import { Io } from "./cli";
import { joinUri, parseS3Uri } from "./uri";


export interface ActionTiming {
    readonly stage: string;
    readonly action: string;
    readonly status: string;
    readonly start?: Date;
    readonly end?: Date;
    readonly outputVariables?: Readonly<Record<string, string>>;
}

export interface ExecutionFacts {
    readonly pipelineName: string;
    readonly executionId: string;
    /** ExecutionTrigger.triggerType: WebhookV2, CloudWatchEvent, StartPipelineExecution, … */
    readonly triggerType?: string;
    /** The pipeline variables as resolved for this execution. */
    readonly variables: Readonly<Record<string, string>>;
    /** Source artifacts (`code`, `data`) with their revision and its creation time (commit / upload time). */
    readonly revisions: readonly { readonly name: string; readonly revisionId?: string; readonly created?: Date }[];
    readonly actions: readonly ActionTiming[];
    /** When the deploy step verified that prod serves the new version. */
    readonly servedAt: Date;
}

export interface Span {
    readonly name: string;
    readonly start: string;
    readonly end: string;
    readonly seconds: number;
}

export interface DeliverySummary {
    readonly schemaVersion: 1;
    readonly pipelineName: string;
    readonly executionId: string;
    readonly trigger: TriggerKind;
    /** Where the lead time starts: the triggering revision and its time. */
    readonly change: { readonly source: string; readonly revisionId?: string; readonly at: string };
    readonly servedAt: string;
    readonly leadTimeSeconds: number;
    readonly stages: readonly Span[];
    readonly actions: readonly (Span & { readonly stage: string; readonly status: string })[];
    /** Stages that reused an earlier result (reuse keys), as the actions reported it. */
    readonly reused: readonly string[];
}

/**
 * drift: the retrain trigger set the `trigger` variable. data: the S3 EventBridge rule started it
 * (CloudWatchEvent). code: a push (WebhookV2, Webhook, PutActionRevision). Otherwise (a manual start) the source
 * whose revision is newest is the change.
 */
export function classifyTrigger(facts: Pick<ExecutionFacts, "triggerType" | "variables" | "revisions">): TriggerKind {
    const variable = facts.variables[PIPELINE_VARIABLES.trigger];
    if (variable !== undefined && variable !== "" && variable !== DEFAULT_TRIGGER_VALUE) return TRIGGER_KIND.drift;
    if (facts.triggerType === "CloudWatchEvent") return TRIGGER_KIND.data;
    if (facts.triggerType === "WebhookV2" || facts.triggerType === "Webhook" || facts.triggerType === "PutActionRevision") return TRIGGER_KIND.code;
    const newest = [...facts.revisions].filter((r) => r.created).sort((a, b) => b.created!.getTime() - a.created!.getTime())[0];
    return newest?.name === SOURCE_ARTIFACTS.data ? TRIGGER_KIND.data : TRIGGER_KIND.code;
}

const seconds = (start: Date, end: Date) => Math.max(0, (end.getTime() - start.getTime()) / 1000);

export function executionSummary(facts: ExecutionFacts): DeliverySummary {
    const trigger = classifyTrigger(facts);
    const started = facts.actions.map((a) => a.start).filter((d): d is Date => d !== undefined);
    const firstStart = started.length > 0 ? new Date(Math.min(...started.map((d) => d.getTime()))) : facts.servedAt;
    // Drift: the change is the retrain decision itself, i.e. the execution's start.
    const source = trigger === TRIGGER_KIND.drift ? undefined : facts.revisions.find((r) => r.name === trigger);
    const changeAt = source?.created ?? firstStart;
    // An action still in progress is the deploy that is recording this: it ends when prod serves.
    const actions = facts.actions.filter((a) => a.start !== undefined).map((a) => {
        const end = a.status === "InProgress" || a.end === undefined ? facts.servedAt : a.end;
        return { name: a.action, stage: a.stage, status: a.status, start: a.start!.toISOString(), end: end.toISOString(), seconds: seconds(a.start!, end) };
    });
    const stageNames = [...new Set(actions.map((a) => a.stage))];
    const stages = stageNames.map((name) => {
        const own = actions.filter((a) => a.stage === name);
        const start = new Date(Math.min(...own.map((a) => Date.parse(a.start))));
        const end = new Date(Math.max(...own.map((a) => Date.parse(a.end))));
        return { name, start: start.toISOString(), end: end.toISOString(), seconds: seconds(start, end) };
    }).sort((a, b) => a.start.localeCompare(b.start));
    const reused = facts.actions.filter((a) => a.outputVariables?.[REUSED_VARIABLE] === "true").map((a) => a.stage);
    return {
        schemaVersion: 1,
        pipelineName: facts.pipelineName,
        executionId: facts.executionId,
        trigger,
        change: { source: source?.name ?? "drift alarm", revisionId: source?.revisionId, at: changeAt.toISOString() },
        servedAt: facts.servedAt.toISOString(),
        leadTimeSeconds: seconds(changeAt, facts.servedAt),
        stages,
        actions,
        reused,
    };
}

export interface MetricDatum {
    readonly MetricName: string;
    readonly Dimensions: { Name: string; Value: string }[];
    readonly Timestamp: Date;
    readonly Value: number;
    readonly Unit: StandardUnit;
}

/** LeadTime (Pipeline, Trigger) and StageDuration (Pipeline, Trigger, Stage), all in seconds, at serving time. */
export function metricData(summary: DeliverySummary): MetricDatum[] {
    const base = [{ Name: "Pipeline", Value: summary.pipelineName }, { Name: "Trigger", Value: summary.trigger }];
    const at = new Date(summary.servedAt);
    return [
        { MetricName: "LeadTime", Dimensions: base, Timestamp: at, Value: summary.leadTimeSeconds, Unit: "Seconds" },
        ...summary.stages.map((s) => ({
            MetricName: "StageDuration", Dimensions: [...base, { Name: "Stage", Value: s.name }], Timestamp: at, Value: s.seconds, Unit: "Seconds" as StandardUnit,
        })),
    ];
}

export interface DeliveryRecorderDeps {
    readonly codepipeline: CodePipelineClient;
    readonly cloudwatch: CloudWatchClient;
    readonly s3: S3Client;
}

export interface RecordOptions {
    readonly pipelineName: string;
    readonly executionId: string;
    /** `s3://<artifacts>/executions/`: the summary goes to `<prefix><executionId>.json`. */
    readonly summaryPrefix: string;
    readonly servedAt: Date;
}

/** Gathers the execution's facts from CodePipeline. */
export async function executionFacts(codepipeline: CodePipelineClient, options: RecordOptions): Promise<ExecutionFacts> {
    const execution = (await codepipeline.send(new GetPipelineExecutionCommand({
        pipelineName: options.pipelineName, pipelineExecutionId: options.executionId,
    }))).pipelineExecution;
    const actions: ActionTiming[] = [];
    let nextToken: string | undefined;
    do {
        const page = await codepipeline.send(new ListActionExecutionsCommand({
            pipelineName: options.pipelineName, filter: { pipelineExecutionId: options.executionId }, maxResults: 100, nextToken,
        }));
        for (const a of page.actionExecutionDetails ?? []) {
            actions.push({
                stage: a.stageName ?? "?", action: a.actionName ?? "?", status: a.status ?? "?",
                start: a.startTime, end: a.status === "InProgress" ? undefined : a.lastUpdateTime, outputVariables: a.output?.outputVariables,
            });
        }
        nextToken = page.nextToken;
    } while (nextToken);
    return {
        pipelineName: options.pipelineName,
        executionId: options.executionId,
        triggerType: execution?.trigger?.triggerType,
        variables: Object.fromEntries((execution?.variables ?? []).map((v) => [v.name ?? "", v.resolvedValue ?? ""])),
        revisions: (execution?.artifactRevisions ?? []).map((r) => ({ name: r.name ?? "", revisionId: r.revisionId, created: r.created })),
        actions,
        servedAt: options.servedAt,
    };
}

/**
 * Records the execution: summary object, then metrics. Never throws; returns the summary when both were written.
 * A retried action execution has several entries; every attempt counts toward its stage's span (the time spent).
 */
export async function recordDelivery(deps: DeliveryRecorderDeps, options: RecordOptions, io: Io): Promise<DeliverySummary | undefined> {
    try {
        const summary = executionSummary(await executionFacts(deps.codepipeline, options));
        const uri = joinUri(options.summaryPrefix, `${options.executionId}.json`);
        const { bucket, key } = parseS3Uri(uri);
        // No SSE headers: the artifacts bucket's default encryption (SSE-KMS with the stack key) applies.
        await deps.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(summary, null, 2)}\n`, ContentType: "application/json" }));
        await deps.cloudwatch.send(new PutMetricDataCommand({ Namespace: DELIVERY_METRICS_NAMESPACE, MetricData: metricData(summary) }));
        io.out(`lead time ${summary.leadTimeSeconds.toFixed(0)} s (${summary.trigger} change at ${summary.change.at} → prod serving at ${summary.servedAt}); ` +
            `${summary.stages.map((s) => `${s.name} ${s.seconds.toFixed(0)} s`).join(", ")}${summary.reused.length ? `; reused: ${summary.reused.join(", ")}` : ""}`);
        io.out(`execution summary: ${uri}; metrics: ${DELIVERY_METRICS_NAMESPACE} LeadTime, StageDuration`);
        return summary;
    } catch (e) {
        io.err(`${METRICS_FAILURE_MARKER}: lead-time metrics of execution ${options.executionId} were not recorded (the release is not affected): ${(e as Error).name}: ${(e as Error).message}`);
        return undefined;
    }
}
