/**
 * The parts of the stack config the steps read, passed to them as JSON (CodeBuild environment variables
 * `TRAINING_CONFIG` / `EVALUATION_CONFIG`, written by infra from the validated `mlops:training` /
 * `mlops:evaluation`). Parsed again here, with the same defaults as infra/config.ts (a test keeps the two in
 * step), so a step run by hand with partial JSON behaves like one run by the pipeline.
 */
import { z } from "zod";
import { UsageError } from "./errors";

const share = z.number().min(0).max(1);

export const evaluationConfigSchema = z.strictObject({
    decisionThreshold: share.default(0.5),
    minRocAuc: share.default(0.75),
    minPrAuc: share.default(0),
    maxLogLoss: z.number().positive().default(1),
    maxErrorRate: share.default(0.01),
    maxLatencyP99Ms: z.number().positive().default(500),
    championTolerance: share.default(0.005),
});
export type EvaluationThresholds = z.output<typeof evaluationConfigSchema>;

export const trainingConfigSchema = z.strictObject({
    instanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, { message: "expected a SageMaker instance type such as ml.m5.large" }).default("ml.m5.xlarge"),
    instanceCount: z.number().int().positive().default(1),
    volumeSizeGb: z.number().int().min(1).max(16384).default(30),
    maxRuntimeSeconds: z.number().int().min(60).max(432000).default(3600),
    spot: z.strictObject({ enabled: z.boolean().default(false), maxWaitSeconds: z.number().int().positive().default(7200) }).prefault({}),
    hyperparameters: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
}).superRefine((c, ctx) => {
    if (c.spot.enabled && c.spot.maxWaitSeconds < c.maxRuntimeSeconds) {
        ctx.addIssue({ code: "custom", path: ["spot", "maxWaitSeconds"], input: c.spot.maxWaitSeconds,
            message: `must be >= maxRuntimeSeconds (${c.maxRuntimeSeconds}) for managed spot training` });
    }
});
export type TrainingSettings = z.output<typeof trainingConfigSchema>;

/** Parses a JSON config text against `schema`; UsageError naming each bad key otherwise. */
export function parseJsonConfig<S extends z.ZodType>(schema: S, text: string | undefined, what: string): z.output<S> {
    let raw: unknown = {};
    if (text !== undefined && text.trim() !== "") {
        try {
            raw = JSON.parse(text);
        } catch (e) {
            throw new UsageError(`${what} is not valid JSON: ${(e as Error).message}`);
        }
    }
    const result = schema.safeParse(raw, { reportInput: true });
    if (!result.success) {
        const problems = result.error.issues.map((i) => {
            const key = [what, ...i.path.map(String)].join(".");
            return i.code === "unrecognized_keys" ? `${key}: unknown key(s) ${i.keys.join(", ")}` : `${key}: ${i.message}`;
        });
        throw new UsageError(`invalid ${what}:\n  - ${problems.join("\n  - ")}`);
    }
    return result.data;
}

/** SageMaker's contract: hyperparameter values are strings. */
export function hyperparameterStrings(hp: Readonly<Record<string, string | number>>): Record<string, string> {
    return Object.fromEntries(Object.entries(hp).map(([k, v]) => [k, String(v)]));
}
