/**
 * The function's environment, validated once at cold start. An invalid environment does not crash the module:
 * every invocation logs the reason and fails, so the event lands in the dead-letter queue with it.
 */
import { z } from "zod";
import { ConfigError, loadEnvironment, parseEnvironment } from "../shared/environment";
import type { RetrainTriggerEnvironment, SameKeys } from "../../contracts/lambda-environment";

/** CodePipeline variable names (pipeline-level variables: letters, digits, '@', '-', '_', at most 128). */
const variableName = z.string().regex(/^[A-Za-z0-9@\-_]{1,128}$/, {
    message: "expected a pipeline variable name: 1-128 letters, digits, '@', '-' or '_'",
});

const variablesJson = z.string().transform((text, ctx) => {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        ctx.addIssue({ code: "custom", message: "expected a JSON object of pipeline variable names to values" });
        return z.NEVER;
    }
    const result = z.record(variableName, z.string().max(1000)).safeParse(parsed);
    if (!result.success) {
        ctx.addIssue({ code: "custom", message: `expected {"name": "value", ...} with string values up to 1000 characters: ${result.error.issues[0]?.message}` });
        return z.NEVER;
    }
    return result.data;
});

const envSchema = z.object({
    /** The pipeline this function starts (in the host stack; name, not ARN). */
    PIPELINE_NAME: z.string().regex(/^[A-Za-z0-9.@\-_]{1,100}$/, { message: "expected a CodePipeline name (1-100 of A-Z a-z 0-9 . @ - _)" }),
    /** A run started less than this many hours ago suppresses another (0 = only a running pipeline suppresses). */
    RETRAIN_COOLDOWN_HOURS: z.coerce.number().min(0).max(720),
    /** Static pipeline variables passed on every start, as JSON (the pipeline must declare them). */
    PIPELINE_VARIABLES: variablesJson.default({}),
    /** When set, the pipeline variable of this name receives why the run was started (alarm name and time). */
    TRIGGER_VARIABLE: variableName.optional(),
});

export interface TriggerConfig {
    readonly pipelineName: string;
    readonly cooldownMs: number;
    readonly cooldownHours: number;
    readonly variables: Readonly<Record<string, string>>;
    readonly triggerVariable?: string;
}

export { ConfigError };

/** Parses the environment; throws {@link ConfigError} naming every bad variable and what is allowed. */
export function parseConfig(env: Record<string, string | undefined>): TriggerConfig {
    const e = parseEnvironment(envSchema, env);
    if (e.TRIGGER_VARIABLE !== undefined && e.TRIGGER_VARIABLE in e.PIPELINE_VARIABLES) {
        throw new ConfigError(`invalid function environment: TRIGGER_VARIABLE ${e.TRIGGER_VARIABLE} is also set in PIPELINE_VARIABLES; use one or the other`);
    }
    return {
        pipelineName: e.PIPELINE_NAME,
        cooldownHours: e.RETRAIN_COOLDOWN_HOURS,
        cooldownMs: e.RETRAIN_COOLDOWN_HOURS * 3_600_000,
        variables: e.PIPELINE_VARIABLES,
        triggerVariable: e.TRIGGER_VARIABLE,
    };
}

/** The config, or the error that explains why there is none. */
export function loadConfig(env: Record<string, string | undefined> = process.env): TriggerConfig | ConfigError {
    return loadEnvironment(parseConfig, env);
}

// The variable names are the contract's (contracts/lambda-environment.ts), which infra sets: a compile error here means
// the schema and the contract drifted apart.
const _sameVariables: SameKeys<RetrainTriggerEnvironment, z.input<typeof envSchema>> = true;
void _sameVariables;
