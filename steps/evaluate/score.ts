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

/** SageMaker real-time endpoints accept at most 6 MiB per request. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

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
    /** @default 1000 */
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
    const batches = makeBatches(rows, options.maxRowsPerRequest ?? 1000, options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES);
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
