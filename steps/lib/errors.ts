/**
 * Errors every backend throws, so a step reacts to "throttled", "denied", "not found" or "already exists" the
 * same way whether AWS or the local backend answered. Each carries the operation it came from.
 */

export type StepErrorKind =
    /** Bad arguments or configuration: exit code 2. */
    | "usage"
    /** The caller lacks a permission; retrying does not help. */
    | "access-denied"
    /** The service asked us to slow down (or was briefly unavailable); retrying later helps. */
    | "throttled"
    /** The named thing does not exist. */
    | "not-found"
    /** The named thing already exists (an idempotent create met its earlier self). */
    | "conflict"
    /** Bad data or a refused request. */
    | "invalid"
    /** Anything else. */
    | "failed";

export class StepError extends Error {
    constructor(
        readonly kind: StepErrorKind,
        message: string,
        readonly operation?: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
        this.name = "StepError";
    }

    get retryable(): boolean {
        return this.kind === "throttled";
    }
}

/** Invalid arguments or configuration (exit code 2). */
export class UsageError extends StepError {
    constructor(message: string) {
        super("usage", message);
        this.name = "UsageError";
    }
}

export function isStepError(e: unknown, kind?: StepErrorKind): e is StepError {
    return e instanceof StepError && (kind === undefined || e.kind === kind);
}

export function errorMessage(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const THROTTLING_NAMES = new Set([
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
    "SlowDown", "ProvisionedThroughputExceededException", "ServiceUnavailable", "ServiceUnavailableException",
    "RequestThrottled", "RequestThrottledException",
]);
const ACCESS_DENIED_NAMES = new Set([
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
    "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "KMSAccessDeniedException",
]);
const NOT_FOUND_NAMES = new Set(["NoSuchKey", "NotFound", "NoSuchBucket", "ResourceNotFound", "ResourceNotFoundException"]);

/**
 * Maps an AWS SDK v3 error to a {@link StepError}. SageMaker answers a missing training job or model package with
 * `ValidationException` "... not found" / "does not exist", and a duplicate job name with `ResourceInUse`.
 */
export function fromAwsError(e: unknown, operation: string): StepError {
    if (e instanceof StepError) return e;
    const err = e as any;
    const name: string = err?.name ?? err?.Code ?? "Error";
    const status: number | undefined = err?.$metadata?.httpStatusCode;
    const message: string = err?.message ?? String(e);
    const text = `${operation}: ${name}: ${message}`;
    if (THROTTLING_NAMES.has(name) || status === 429 || status === 503) {
        return new StepError("throttled", text, operation, { cause: e });
    }
    if (ACCESS_DENIED_NAMES.has(name) || status === 403) {
        return new StepError("access-denied", text, operation, { cause: e });
    }
    if (name === "ResourceInUse" || /already exists/i.test(message)) {
        return new StepError("conflict", text, operation, { cause: e });
    }
    if (NOT_FOUND_NAMES.has(name) || status === 404 ||
        (name === "ValidationException" && /(not found|does not exist)/i.test(message))) {
        return new StepError("not-found", text, operation, { cause: e });
    }
    if (name === "ValidationException" || name === "ModelError" || status === 400 || status === 413 || status === 424) {
        return new StepError("invalid", text, operation, { cause: e });
    }
    return new StepError("failed", text, operation, { cause: e });
}
