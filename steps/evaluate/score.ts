/**
 * Scoring the test split against an endpoint: rows batched into `text/csv` requests under the payload limit,
 * a bounded number in flight, throttling retried with backoff. A batch that still fails counts its rows as
 * errors (the error rate); an endpoint that is missing or refuses us aborts the evaluation instead, since that
 * says nothing about the model.
 */
import { EndpointInvoker, ObjectStore } from "../lib/backend";
import { errorMessage, isStepError, StepError } from "../lib/errors";
import { Clock, mapWithConcurrency, withRetry } from "../lib/retry";
import { asPrefix } from "../lib/uri";
import { percentile } from "../lib/metrics";

/** SageMaker real-time endpoints accept at most 6 MiB per request. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * Request payload limit by endpoint kind: instance-backed endpoints 6 MiB (InvokeEndpoint API reference);
 * serverless endpoints 4 MB for request and response ("Invoke a serverless endpoint", SageMaker developer
 * guide), taken as 4,000,000 bytes so a decimal reading of "MB" is also respected.
 */
export const PAYLOAD_LIMIT_BYTES = { serverless: 4_000_000, instances: MAX_PAYLOAD_BYTES } as const;
export type EndpointKind = keyof typeof PAYLOAD_LIMIT_BYTES;
export const ENDPOINT_KINDS = Object.keys(PAYLOAD_LIMIT_BYTES) as EndpointKind[];

export interface TestSet {
    readonly labels: number[];
    /** Each row's features as the CSV text after the label (no label, no newline). */
    readonly rows: string[];
    readonly files: string[];
}

/** Reads the headerless, label-first CSV part files of a split (contracts §2). */
export async function readTestSet(objects: ObjectStore, splitPrefix: string, featureCount?: number): Promise<TestSet> {
    const uris = (await objects.list(asPrefix(splitPrefix))).filter((u) => /(^|\/)part-[^/]*\.csv$/.test(u));
    if (uris.length === 0) throw new StepError("invalid", `no part-*.csv files under ${splitPrefix}`);
    const labels: number[] = [];
    const rows: string[] = [];
    for (const uri of uris) {
        const lines = (await objects.get(uri)).toString("utf8").split(/\r?\n/);
        lines.forEach((line, i) => {
            if (line.trim() === "") return;
            const comma = line.indexOf(",");
            const labelText = comma < 0 ? line : line.slice(0, comma);
            const label = Number(labelText);
            if (label !== 0 && label !== 1) {
                throw new StepError("invalid", `${uri} line ${i + 1}: label ${JSON.stringify(labelText)} is not 0 or 1 (the label comes first)`);
            }
            const features = comma < 0 ? "" : line.slice(comma + 1);
            if (featureCount !== undefined) {
                const count = features === "" ? 0 : features.split(",").length;
                if (count !== featureCount) {
                    throw new StepError("invalid", `${uri} line ${i + 1}: ${count} features; the manifest lists ${featureCount}`);
                }
            }
            labels.push(label);
            rows.push(features);
        });
    }
    if (rows.length === 0) throw new StepError("invalid", `the test split under ${splitPrefix} has no rows`);
    return { labels, rows, files: uris };
}

export interface Batch {
    /** Index of the batch's first row in the test set. */
    readonly start: number;
    readonly count: number;
    readonly body: string;
}

/** Consecutive rows, each batch ≤ `maxRows` rows and ≤ `maxBytes` bytes of UTF-8 body. */
export function makeBatches(rows: readonly string[], maxRows: number, maxBytes = MAX_PAYLOAD_BYTES): Batch[] {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, got ${maxRows}`);
    const batches: Batch[] = [];
    let start = 0;
    let lines: string[] = [];
    let bytes = 0;
    const flush = () => {
        if (lines.length === 0) return;
        batches.push({ start, count: lines.length, body: lines.join("") });
        start += lines.length;
        lines = [];
        bytes = 0;
    };
    for (let i = 0; i < rows.length; i++) {
        const line = `${rows[i]}\n`;
        const size = Buffer.byteLength(line, "utf8");
        if (size > maxBytes) throw new StepError("invalid", `test row ${i + 1} alone is ${size} bytes, over the ${maxBytes}-byte payload limit`);
        if (lines.length >= maxRows || bytes + size > maxBytes) flush();
        lines.push(line);
        bytes += size;
    }
    flush();
    return batches;
}

export interface ScoreOptions {
    readonly endpoint: string;
    /**
     * Rows per scoring request; batches are otherwise sized by the payload limit alone.
     * @default unlimited
     */
    readonly maxRowsPerRequest?: number;
    /** @default MAX_PAYLOAD_BYTES */
    readonly maxPayloadBytes?: number;
    /** @default 4 */
    readonly concurrency?: number;
    /** Retries per request on throttling. @default 5 */
    readonly retries?: number;
    /** @default 200 */
    readonly retryBaseMs?: number;
}

export interface ScoreResult {
    /** Probability per row; null where the row's request failed. */
    readonly predictions: (number | null)[];
    /** Milliseconds of each successful request (the attempt that succeeded). */
    readonly latenciesMs: number[];
    readonly requests: number;
    readonly failedRequests: number;
    readonly failedRows: number;
    readonly retries: number;
    /** The first few distinct failure messages. */
    readonly errors: string[];
}

/** Parses `{"predictions": [p, ...]}` (contracts §4) and checks it has one probability per row. */
export function parsePredictions(body: Buffer, expected: number): number[] {
    let parsed: unknown;
    try {
        parsed = JSON.parse(body.toString("utf8"));
    } catch {
        throw new StepError("invalid", `response is not JSON: ${body.toString("utf8").slice(0, 200)}`);
    }
    const predictions = (parsed as { predictions?: unknown })?.predictions;
    if (!Array.isArray(predictions)) throw new StepError("invalid", "response has no \"predictions\" list");
    if (predictions.length !== expected) {
        throw new StepError("invalid", `response has ${predictions.length} predictions for ${expected} rows`);
    }
    return predictions.map((p, i) => {
        if (typeof p !== "number" || !Number.isFinite(p) || p < 0 || p > 1) {
            throw new StepError("invalid", `prediction ${i} is ${JSON.stringify(p)}; expected a probability in [0, 1]`);
        }
        return p;
    });
}

const MAX_ERRORS_KEPT = 5;

export async function scoreRows(invoker: EndpointInvoker, rows: readonly string[], options: ScoreOptions, clock: Clock,
    onProgress?: (line: string) => void): Promise<ScoreResult> {
    const batches = makeBatches(rows, options.maxRowsPerRequest ?? Number.MAX_SAFE_INTEGER, options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES);
    const predictions: (number | null)[] = new Array(rows.length).fill(null);
    const latencies: number[] = [];
    const errors: string[] = [];
    let failedRequests = 0;
    let failedRows = 0;
    let retries = 0;
    let done = 0;
    await mapWithConcurrency(batches, options.concurrency ?? 4, async (batch) => {
        try {
            const result = await withRetry(async () => {
                const t0 = clock.now();
                const response = await invoker.invoke({ endpoint: options.endpoint, body: batch.body, contentType: "text/csv", accept: "application/json" });
                return { response, ms: clock.now() - t0 };
            }, clock, {
                retries: options.retries ?? 5,
                baseMs: options.retryBaseMs ?? 200,
                capMs: 10_000,
                onRetry: () => { retries++; },
            });
            const probabilities = parsePredictions(result.response.body, batch.count);
            probabilities.forEach((p, i) => { predictions[batch.start + i] = p; });
            latencies.push(result.ms);
        } catch (e) {
            // No permission or no endpoint: every request would fail the same way and the model is not to blame.
            if (isStepError(e, "access-denied") || isStepError(e, "not-found") || isStepError(e, "usage")) throw e;
            failedRequests++;
            failedRows += batch.count;
            const message = `rows ${batch.start + 1}-${batch.start + batch.count}: ${errorMessage(e)}`;
            if (errors.length < MAX_ERRORS_KEPT) errors.push(message);
        }
        done++;
        if (onProgress && (done === batches.length || done % 25 === 0)) onProgress(`scored ${done}/${batches.length} requests`);
    });
    return { predictions, latenciesMs: latencies, requests: batches.length, failedRequests, failedRows, retries, errors };
}

export interface WarmUpOptions {
    readonly endpoint: string;
    /** A ping-sized request answered within this counts as warm. */
    readonly fastMs: number;
    /** Give up warming after this long (the probe then measures what a caller would see). */
    readonly deadlineMs: number;
    /** @default 1000 */
    readonly intervalMs?: number;
}

export interface WarmUpResult {
    /** True when a ping-sized request was answered within `fastMs` before the deadline. */
    readonly warm: boolean;
    readonly attempts: number;
    readonly elapsedMs: number;
    /** Latency of each answered warm-up request, in order. */
    readonly latenciesMs: number[];
    readonly errors: string[];
}

/**
 * Sends one-row requests until one is answered within `fastMs` or `deadlineMs` has passed. A freshly deployed
 * (serverless) endpoint's first requests pay its cold start, which is not the model's latency. Failures while
 * warming (a cold start can time out) are recorded and retried; a missing endpoint or a refusal aborts.
 */
export async function warmUp(invoker: EndpointInvoker, row: string, options: WarmUpOptions, clock: Clock): Promise<WarmUpResult> {
    if (!(options.fastMs > 0) || !(options.deadlineMs >= 0)) throw new RangeError("warmUp: fastMs must be > 0 and deadlineMs >= 0");
    const start = clock.now();
    const latencies: number[] = [];
    const errors: string[] = [];
    let attempts = 0;
    for (;;) {
        attempts++;
        const t0 = clock.now();
        try {
            await invoker.invoke({ endpoint: options.endpoint, body: `${row}\n`, contentType: "text/csv", accept: "application/json" });
            const ms = clock.now() - t0;
            latencies.push(ms);
            if (ms <= options.fastMs) return { warm: true, attempts, elapsedMs: clock.now() - start, latenciesMs: latencies, errors };
        } catch (e) {
            if (isStepError(e, "access-denied") || isStepError(e, "not-found") || isStepError(e, "usage")) throw e;
            if (errors.length < MAX_ERRORS_KEPT) errors.push(errorMessage(e));
        }
        if (clock.now() - start >= options.deadlineMs) return { warm: false, attempts, elapsedMs: clock.now() - start, latenciesMs: latencies, errors };
        await clock.sleep(options.intervalMs ?? 1000);
    }
}

export interface ProbeResult {
    readonly requests: number;
    readonly failed: number;
    /** Latency of each answered single-row request. */
    readonly latenciesMs: number[];
    readonly p50Ms: number | null;
    readonly p95Ms: number | null;
    readonly p99Ms: number | null;
    readonly errors: string[];
}

/** Fewest single-row requests the latency probe sends: with 200, p99 is not simply the slowest request. */
export const MIN_PROBE_REQUESTS = 200;

/**
 * Per-request latency as a caller sees it: `requests` one-row requests, one at a time (rows taken in turn), so
 * p50/p95/p99 describe single predictions, not the time to score a thousand-row batch.
 */
export async function probeLatency(invoker: EndpointInvoker, rows: readonly string[], options: { endpoint: string; requests?: number },
    clock: Clock): Promise<ProbeResult> {
    const requests = options.requests ?? MIN_PROBE_REQUESTS;
    if (!Number.isInteger(requests) || requests < MIN_PROBE_REQUESTS) {
        throw new RangeError(`probeLatency: ${requests} requests; at least ${MIN_PROBE_REQUESTS} are needed for a meaningful p99`);
    }
    if (rows.length === 0) throw new StepError("invalid", "the latency probe has no rows to send");
    const latencies: number[] = [];
    const errors: string[] = [];
    let failed = 0;
    for (let i = 0; i < requests; i++) {
        const t0 = clock.now();
        try {
            const response = await invoker.invoke({ endpoint: options.endpoint, body: `${rows[i % rows.length]}\n`, contentType: "text/csv", accept: "application/json" });
            parsePredictions(response.body, 1);
            latencies.push(clock.now() - t0);
        } catch (e) {
            if (isStepError(e, "access-denied") || isStepError(e, "not-found") || isStepError(e, "usage")) throw e;
            failed++;
            if (errors.length < MAX_ERRORS_KEPT) errors.push(errorMessage(e));
        }
    }
    return {
        requests, failed, latenciesMs: latencies, errors,
        p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95), p99Ms: percentile(latencies, 99),
    };
}
