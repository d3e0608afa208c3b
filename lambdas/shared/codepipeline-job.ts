/**
 * What every CodePipeline "Invoke Lambda" job worker needs: reading the job out of the event without trusting its
 * shape, a summary of the event that is safe to log, and a reporter for the job's result.
 *
 * CodePipeline waits until the worker calls PutJobSuccessResult or PutJobFailureResult; an action whose worker
 * never answers hangs until its timeout. Success with a continuation token re-invokes the worker later.
 */
import {
    CodePipelineClient,
    FailureType,
    PutJobFailureResultCommand,
    PutJobSuccessResultCommand,
} from "@aws-sdk/client-codepipeline";
import { Logger } from "./log";

/** API limits of PutJobSuccessResult / PutJobFailureResult (CodePipeline API reference). */
export const LIMITS = {
    failureMessage: 5000,
    summary: 2048,
    externalExecutionId: 1500,
    continuationToken: 2048,
    /** Output variable names: letters, digits, '@', '-', '_'. */
    outputVariableName: /^[A-Za-z0-9@\-_]+$/,
    /** Sum of all output variable names and values. */
    outputVariablesTotal: 122_880,
} as const;

export type JobFailureType = `${FailureType}`;

/** The `CodePipeline.job` part of the event that a worker reads. Credentials are deliberately not modelled. */
export interface CodePipelineJob {
    readonly id: string;
    readonly accountId?: string;
    readonly userParameters?: string;
    readonly functionName?: string;
    readonly continuationToken?: string;
    readonly inputArtifacts: readonly string[];
}

/** Thrown when the event is not a CodePipeline job event at all: without a job id no result can be reported. */
export class MalformedEventError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "MalformedEventError";
    }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const optionalString = (v: unknown) => (typeof v === "string" ? v : undefined);

/**
 * Reads the job from an event of unknown shape. Throws {@link MalformedEventError} when there is no job id (the
 * only case where nothing can be reported); any other missing field is left undefined for the caller to reject.
 */
export function readCodePipelineJob(event: unknown): CodePipelineJob {
    const job = isRecord(event) ? event["CodePipeline.job"] : undefined;
    if (!isRecord(job)) {
        throw new MalformedEventError("event has no \"CodePipeline.job\" object: this function must be invoked by a CodePipeline Invoke action");
    }
    const id = job.id;
    if (typeof id !== "string" || id.trim() === "") {
        throw new MalformedEventError("event's \"CodePipeline.job\" has no id: no job result can be reported");
    }
    const data = isRecord(job.data) ? job.data : {};
    const actionConfiguration = isRecord(data.actionConfiguration) ? data.actionConfiguration : {};
    const configuration = isRecord(actionConfiguration.configuration) ? actionConfiguration.configuration : {};
    const artifacts = Array.isArray(data.inputArtifacts) ? data.inputArtifacts : [];
    return {
        id,
        accountId: optionalString(job.accountId),
        userParameters: optionalString(configuration.UserParameters),
        functionName: optionalString(configuration.FunctionName),
        continuationToken: optionalString(data.continuationToken),
        inputArtifacts: artifacts.map((a) => (isRecord(a) && typeof a.name === "string" ? a.name : "?")),
    };
}

/** What may be logged about a job: identifiers only, never the artifact credentials or the whole event. */
export function jobSummary(job: CodePipelineJob): Record<string, unknown> {
    return {
        jobId: job.id,
        accountId: job.accountId,
        functionName: job.functionName,
        continuation: job.continuationToken !== undefined,
        inputArtifacts: job.inputArtifacts,
    };
}

/** Cuts `text` to at most `limit` characters, marking the cut. */
export function truncate(text: string, limit: number): string {
    if (text.length <= limit) return text;
    const marker = "… [truncated]";
    return text.slice(0, Math.max(0, limit - marker.length)) + marker;
}

export interface SuccessResult {
    /** Re-invoke the worker later with this token (the action keeps running). */
    readonly continuationToken?: string;
    /** Variables for downstream actions; only allowed on the final success (no continuation token). */
    readonly outputVariables?: Readonly<Record<string, string>>;
    readonly summary?: string;
    readonly externalExecutionId?: string;
}

export interface FailureResult {
    readonly type: JobFailureType;
    readonly message: string;
    readonly externalExecutionId?: string;
}

/** Sends the job's result. Errors from CodePipeline propagate: the caller must let the invocation fail. */
export class JobReporter {
    constructor(private readonly client: CodePipelineClient, private readonly jobId: string, private readonly log: Logger) {}

    async succeed(result: SuccessResult): Promise<void> {
        const problem = successProblem(result);
        if (problem !== undefined) throw new Error(problem);
        const executionDetails = result.summary === undefined && result.externalExecutionId === undefined ? undefined : {
            summary: result.summary === undefined ? undefined : truncate(result.summary, LIMITS.summary),
            externalExecutionId: result.externalExecutionId === undefined ? undefined : truncate(result.externalExecutionId, LIMITS.externalExecutionId),
        };
        await this.client.send(new PutJobSuccessResultCommand({
            jobId: this.jobId,
            continuationToken: result.continuationToken,
            executionDetails,
            outputVariables: result.outputVariables === undefined ? undefined : { ...result.outputVariables },
        }));
        this.log.info(result.continuationToken === undefined ? "reported success" : "reported progress (continuation)", {
            jobId: this.jobId,
            summary: result.summary,
            outputVariables: result.outputVariables,
        });
    }

    async fail(result: FailureResult): Promise<void> {
        const message = truncate(result.message, LIMITS.failureMessage);
        await this.client.send(new PutJobFailureResultCommand({
            jobId: this.jobId,
            failureDetails: {
                type: result.type,
                message,
                externalExecutionId: result.externalExecutionId === undefined ? undefined : truncate(result.externalExecutionId, LIMITS.externalExecutionId),
            },
        }));
        this.log.warn("reported failure", { jobId: this.jobId, type: result.type, message });
    }
}

/** Why CodePipeline would reject this success result, or undefined when it is acceptable. */
export function successProblem(result: SuccessResult): string | undefined {
    if (result.continuationToken !== undefined && result.outputVariables !== undefined) {
        return "output variables can only be sent with the final success, not with a continuation token";
    }
    if (result.continuationToken !== undefined && result.continuationToken.length > LIMITS.continuationToken) {
        return `continuation token is ${result.continuationToken.length} characters; CodePipeline accepts at most ${LIMITS.continuationToken}`;
    }
    if (result.outputVariables === undefined) return undefined;
    let total = 0;
    for (const [name, value] of Object.entries(result.outputVariables)) {
        if (!LIMITS.outputVariableName.test(name)) {
            return `output variable name ${JSON.stringify(name)} is invalid: use letters, digits, '@', '-' and '_'`;
        }
        total += name.length + value.length;
    }
    if (total > LIMITS.outputVariablesTotal) {
        return `output variables total ${total} characters; CodePipeline accepts at most ${LIMITS.outputVariablesTotal}`;
    }
    return undefined;
}
