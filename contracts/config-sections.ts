/**
 * Config sections that the pipeline steps read too (`mlops:training`, `mlops:evaluation`): infra/config.ts
 * validates them as part of the stack, and the CodeBuild steps parse the JSON they receive with the very same
 * schemas (steps/lib/config.ts `parseJsonConfig`), so defaults and limits cannot drift apart. Only zod here: steps
 * must not load the Pulumi SDK.
 */
import { z } from "zod";

export const sagemakerInstanceType = z
    .string()
    .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, { message: "expected a SageMaker instance type such as ml.m5.large" });
export const percent = z.number().min(0).max(100);
export const share = z.number().min(0).max(1);
export const positiveInt = z.number().int().positive();

export const trainingSchema = z
    .strictObject({
        instanceType: sagemakerInstanceType.default("ml.m5.xlarge"),
        instanceCount: positiveInt.default(1),
        volumeSizeGb: z.number().int().min(1).max(16384).default(30),
        maxRuntimeSeconds: z.number().int().min(60).max(432000).default(3600),
        spot: z
            .strictObject({ enabled: z.boolean().default(false), maxWaitSeconds: positiveInt.default(7200) })
            .prefault({}),
        /** Passed to the container as strings; the container validates names and ranges. */
        hyperparameters: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
    })
    .superRefine((c, ctx) => {
        if (c.spot.enabled && c.spot.maxWaitSeconds < c.maxRuntimeSeconds) {
            ctx.addIssue({
                code: "custom", path: ["spot", "maxWaitSeconds"], input: c.spot.maxWaitSeconds,
                message: `must be >= maxRuntimeSeconds (${c.maxRuntimeSeconds}) for managed spot training`,
            });
        }
    });

export const evaluationSchema = z.strictObject({
    decisionThreshold: share.default(0.5),
    minRocAuc: share.default(0.75),
    minPrAuc: share.default(0),
    maxLogLoss: z.number().positive().default(1),
    maxErrorRate: share.default(0.01),
    maxLatencyP99Ms: z.number().positive().default(500),
    /** The challenger may be at most this much worse than the champion on ROC AUC. */
    championTolerance: share.default(0.005),
});

/** `mlops:training` after defaults: what the train step runs with. */
export type TrainingSettings = z.output<typeof trainingSchema>;
/** `mlops:evaluation` after defaults: the gate's thresholds. */
export type EvaluationThresholds = z.output<typeof evaluationSchema>;
