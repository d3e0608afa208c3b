/**
 * Time, waiting and retrying, injectable so tests run without real sleeps.
 */
import { isStepError, StepError } from "./errors";

/** What a step needs of time; tests pass a fake. */
export interface Clock {
    /** Milliseconds, monotonic enough to time requests. */
    now(): number;
    sleep(ms: number): Promise<void>;
    /** A number in [0, 1) for jitter. */
    random(): number;
}

export const systemClock: Clock = {
    now: () => performance.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
};

export interface BackoffOptions {
    /**
     * First delay before jitter.
     * @default 1000
     */
    readonly baseMs?: number;
    /**
     * Largest delay.
     * @default 60000
     */
    readonly capMs?: number;
}

/**
 * Exponential backoff with "equal jitter": half the exponential delay is fixed, half random, so waits never
 * collapse to zero (which would hammer a throttled API) yet callers that started together spread out.
 */
export function backoffDelay(attempt: number, clock: Pick<Clock, "random">, options: BackoffOptions = {}): number {
    const base = options.baseMs ?? 1000;
    const cap = options.capMs ?? 60_000;
    const exp = Math.min(cap, base * 2 ** Math.max(0, attempt));
    return Math.round(exp / 2 + clock.random() * (exp / 2));
}

export interface RetryOptions extends BackoffOptions {
    /**
     * Attempts after the first.
     * @default 5
     */
    readonly retries?: number;
    /**
     * Which errors to retry.
     * @default throttling (StepError kind "throttled")
     */
    readonly retryable?: (e: unknown) => boolean;
    /** Called before each wait, e.g. to log. */
    readonly onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn`, retrying retryable failures with backoff; the last error is rethrown. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, clock: Clock, options: RetryOptions = {}): Promise<T> {
    const retries = options.retries ?? 5;
    const retryable = options.retryable ?? ((e: unknown) => isStepError(e, "throttled"));
    for (let attempt = 0; ; attempt++) {
        try {
            return await fn(attempt);
        } catch (e) {
            if (attempt >= retries || !retryable(e)) {
                if (attempt > 0 && e instanceof StepError && retryable(e)) {
                    throw new StepError(e.kind, `${e.message} (gave up after ${attempt + 1} attempts)`, e.operation, { cause: e });
                }
                throw e;
            }
            const delay = backoffDelay(attempt, clock, options);
            options.onRetry?.(e, attempt + 1, delay);
            await clock.sleep(delay);
        }
    }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
    const results = new Array<R>(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const index = next++;
            results[index] = await fn(items[index], index);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}
