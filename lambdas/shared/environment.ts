/**
 * A function's environment, validated once at cold start by its own zod schema. An invalid environment must not
 * crash the module: `loadEnvironment` returns the error, and each handler decides how to report it.
 */
import { z } from "zod";

export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

/** Parses `env` with `schema`; throws {@link ConfigError} naming every bad variable and what is allowed. */
export function parseEnvironment<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
    const result = schema.safeParse(env);
    if (!result.success) {
        const problems = result.error.issues.map((i) => `${i.path.join(".") || "environment"}: ${i.message}`);
        throw new ConfigError(`invalid function environment: ${problems.join("; ")}`);
    }
    return result.data;
}

/** `parse(env)`, or the error that explains why there is no config. */
export function loadEnvironment<T>(parse: (env: Record<string, string | undefined>) => T, env: Record<string, string | undefined>): T | ConfigError {
    try {
        return parse(env);
    } catch (e) {
        return e instanceof ConfigError ? e : new ConfigError(String(e));
    }
}
