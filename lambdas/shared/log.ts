/**
 * Structured logging for Lambda handlers: one JSON object per line, with every field passed through
 * {@link redact} first, so a handler cannot log credentials even by passing a whole object by mistake.
 */

/** Keys whose values are never written to a log, at any depth (CodePipeline's temporary S3 credentials and alike). */
const SENSITIVE_KEY = /^(artifactCredentials|credentials|secretAccessKey|accessKeyId|sessionToken|password|secret|authorization)$/i;
export const REDACTED = "[redacted]";

export type LogFields = Record<string, unknown>;

export interface Logger {
    info(message: string, fields?: LogFields): void;
    warn(message: string, fields?: LogFields): void;
    error(message: string, fields?: LogFields): void;
}

/** A copy of `value` with sensitive keys replaced by {@link REDACTED}; cycles and depth are bounded. */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
    if (value === null || typeof value !== "object") return value;
    if (value instanceof Error) return { name: value.name, message: value.message };
    if (seen.has(value) || depth > 8) return "[omitted]";
    seen.add(value);
    if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
        out[k] = SENSITIVE_KEY.test(k) ? REDACTED : redact(v, depth + 1, seen);
    }
    return out;
}

/** Writes `{"level", "message", ...base, ...fields}` lines through `console`. */
export function createLogger(base: LogFields = {}): Logger {
    const write = (level: "info" | "warn" | "error", message: string, fields: LogFields = {}) => {
        const line = JSON.stringify(redact({ level, message, ...base, ...fields }));
        if (level === "error") console.error(line);
        else if (level === "warn") console.warn(line);
        else console.info(line);
    };
    return {
        info: (message, fields) => write("info", message, fields),
        warn: (message, fields) => write("warn", message, fields),
        error: (message, fields) => write("error", message, fields),
    };
}
