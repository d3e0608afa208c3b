/**
 * The continuation token CodePipeline hands back on the next invocation: what this function needs to resume.
 *
 * - `starting`: no Glue run yet; the start was throttled or blocked by the job's concurrency limit since
 *   `waitingSince`, and is retried on the next invocation until the budget for `reason` runs out.
 * - `running`: Glue run `jobRunId` (for pipeline run `runId`) is being watched. `throttledSince` is set while
 *   status reads are throttled, so a throttling streak has a deadline too.
 */
import { z } from "zod";
import { RUN_ID } from "./parameters";

const isoTime = z.iso.datetime();

/**
 * The reuse key computed before the run started and the object versions it was computed from (./reuse.ts), so
 * the finished run is recorded under the key of the data it actually read, not of a newer upload.
 */
const reusePlan = z.strictObject({
    key: z.string().regex(/^etl-[0-9a-f]{64}$/),
    datasetVersionId: z.string().min(1).max(256),
    schemaVersionId: z.string().min(1).max(256).optional(),
});

const startingToken = z.strictObject({
    v: z.literal(1),
    phase: z.literal("starting"),
    runId: z.string().regex(RUN_ID),
    waitingSince: isoTime,
    reason: z.enum(["throttled", "concurrent-runs"]),
    reuse: reusePlan.optional(),
});

const runningToken = z.strictObject({
    v: z.literal(1),
    phase: z.literal("running"),
    runId: z.string().regex(RUN_ID),
    jobRunId: z.string().min(1).max(255),
    startedAt: isoTime,
    throttledSince: isoTime.optional(),
    reuse: reusePlan.optional(),
});

const tokenSchema = z.discriminatedUnion("phase", [startingToken, runningToken]);

export type StartingToken = z.infer<typeof startingToken>;
export type RunningToken = z.infer<typeof runningToken>;
export type ContinuationToken = StartingToken | RunningToken;

export class TokenError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TokenError";
    }
}

export function encodeToken(token: ContinuationToken): string {
    return JSON.stringify(tokenSchema.parse(token));
}

/** Decodes a token this function wrote; anything else is a {@link TokenError}. */
export function decodeToken(raw: string): ContinuationToken {
    let json: unknown;
    try {
        json = JSON.parse(raw);
    } catch {
        throw new TokenError("continuation token is not JSON: it was not written by this function");
    }
    const result = tokenSchema.safeParse(json);
    if (!result.success) {
        throw new TokenError(`continuation token is not one this function writes: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
    }
    return result.data;
}
