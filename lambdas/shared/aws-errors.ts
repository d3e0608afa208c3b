/**
 * Sorting AWS SDK v3 errors into the few kinds a handler reacts to differently. The SDK has already retried
 * throttling with backoff by the time an error reaches the handler; what is left is a longer streak.
 */

export type AwsErrorKind = "throttled" | "concurrent-runs" | "not-found" | "access-denied" | "other";

const THROTTLING = new Set([
    "ThrottlingException", "ThrottledException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "RequestThrottled", "RequestThrottledException", "SlowDown", "ProvisionedThroughputExceededException",
]);
const NOT_FOUND = new Set(["EntityNotFoundException", "ResourceNotFoundException", "NoSuchKey", "NotFound", "NoSuchBucket"]);
const ACCESS_DENIED = new Set(["AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "KMSAccessDeniedException"]);

interface SdkErrorLike {
    name?: unknown;
    message?: unknown;
    $retryable?: { throttling?: boolean };
}

export function errorName(error: unknown): string {
    const name = (error as SdkErrorLike | null)?.name;
    return typeof name === "string" && name !== "" ? name : "Error";
}

export function classifyAwsError(error: unknown): AwsErrorKind {
    const name = errorName(error);
    if (THROTTLING.has(name) || (error as SdkErrorLike | null)?.$retryable?.throttling === true) return "throttled";
    if (name === "ConcurrentRunsExceededException") return "concurrent-runs";
    if (NOT_FOUND.has(name)) return "not-found";
    if (ACCESS_DENIED.has(name)) return "access-denied";
    return "other";
}

/** `Name: message` of any thrown value, for failure messages. */
export function describeError(error: unknown): string {
    const message = (error as SdkErrorLike | null)?.message;
    const text = typeof message === "string" && message !== "" ? message : String(error);
    return `${errorName(error)}: ${text}`;
}
