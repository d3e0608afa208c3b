/**
 * The parts of the stack config the steps read, passed to them as JSON (CodeBuild environment variables
 * `TRAINING_CONFIG` / `EVALUATION_CONFIG`, written by infra from the validated `mlops:training` /
 * `mlops:evaluation`). Parsed again here with the schemas infra validates the stack with (contracts/config-sections.ts,
 * `trainingSchema` / `evaluationSchema`), so a step run by hand with partial JSON behaves like one run by the pipeline.
 */
import { z } from "zod";
import { UsageError } from "./errors";

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
