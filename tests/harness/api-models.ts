/**
 * Validates AWS SDK requests against AWS's published API models: botocore's `service-2.json.gz` for each service
 * (PyPI `botocore`, pinned in requirements.lock, installed in .venv). The SDK for JavaScript v3 does not check
 * these constraints on the client; AWS does, at request time, so a request our mocks accept can still be refused.
 *
 * Checked per the model: required members, unknown members (a misspelt field the SDK would silently drop),
 * string length, pattern and enum, numeric ranges, list and map sizes, recursively through structures, lists
 * and maps. Patterns are Java regexes that AWS's request validation matches against the whole value (its
 * refusals read "Value '…' at '…' failed to satisfy constraint: Member must satisfy regular expression pattern: …"
 * for a value with one bad character, e.g. an underscore in a ClientToken), so they are anchored here; one
 * JavaScript cannot compile is reported as unchecked, never silently passed.
 */
import * as fs from "fs";
import * as path from "path";
import { gunzipSync } from "zlib";

/* eslint-disable @typescript-eslint/no-explicit-any */
const DATA_DIR = path.resolve(__dirname, "..", "..", ".venv", "lib", "python3.11", "site-packages", "botocore", "data");

/** SDK client class → botocore service directory. */
export const SERVICE_OF_CLIENT: Readonly<Record<string, string>> = {
    SageMakerClient: "sagemaker",
    SageMakerRuntimeClient: "sagemaker-runtime",
    S3Client: "s3",
    GlueClient: "glue",
    CodePipelineClient: "codepipeline",
    CloudWatchClient: "cloudwatch",
    ApplicationAutoScalingClient: "application-autoscaling",
};

interface Shape {
    type: string;
    required?: string[];
    members?: Record<string, { shape: string }>;
    member?: { shape: string };
    key?: { shape: string };
    value?: { shape: string };
    min?: number;
    max?: number;
    pattern?: string;
    enum?: string[];
}
interface ServiceModel {
    operations: Record<string, { input?: { shape: string } }>;
    shapes: Record<string, Shape>;
}

const models = new Map<string, ServiceModel>();

/** The newest API version of a service's model; fails naming the directory when botocore is not installed. */
export function serviceModel(service: string): ServiceModel {
    let model = models.get(service);
    if (!model) {
        const dir = path.join(DATA_DIR, service);
        if (!fs.existsSync(dir)) {
            throw new Error(`AWS API model for ${service} not found in ${dir}: install the dev requirements (scripts/setup-python.sh)`);
        }
        const version = fs.readdirSync(dir).sort().pop()!;
        model = JSON.parse(gunzipSync(fs.readFileSync(path.join(dir, version, "service-2.json.gz"))).toString("utf8")) as ServiceModel;
        models.set(service, model);
    }
    return model;
}

export interface Validation {
    readonly problems: string[];
    /** Patterns JavaScript could not compile (so not checked). */
    readonly uncheckedPatterns: string[];
}

/**
 * Java's POSIX character classes (java.util.regex.Pattern: US-ASCII only), which JavaScript does not know:
 * without the `u` flag `\p{Print}` would silently mean the letters "p{Print}".
 */
const JAVA_POSIX_CLASSES: Readonly<Record<string, string>> = {
    Lower: "a-z", Upper: "A-Z", Alpha: "a-zA-Z", Digit: "0-9", Alnum: "a-zA-Z0-9",
    Punct: "!-/:-@\\[-`{-~", Graph: "!-~", Print: " -~", Space: " \\t\\n\\x0B\\f\\r", ASCII: "\\x00-\\x7F",
};
/** Java's POSIX classes as JavaScript ranges (bracketed outside a character class), `\A` and `\z` as anchors. */
function javaToJavaScript(pattern: string): string {
    let out = "";
    let inClass = false;
    for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === "\\") {
            const posix = /^\\p\{(\w+)\}/.exec(pattern.slice(i));
            const range = posix && JAVA_POSIX_CLASSES[posix[1]];
            if (posix && range) {
                out += inClass ? range : `[${range}]`;
                i += posix[0].length - 1;
            } else if (!inClass && (pattern[i + 1] === "A" || pattern[i + 1] === "z")) {
                out += pattern[i + 1] === "A" ? "^" : "$";
                i++;
            } else {
                out += c + (pattern[i + 1] ?? "");
                i++;
            }
            continue;
        }
        if (c === "[") inClass = true;
        else if (c === "]") inClass = false;
        out += c;
    }
    return out;
}
const patternCache = new Map<string, RegExp | null>();
function compile(pattern: string): RegExp | null {
    if (!patternCache.has(pattern)) {
        let re: RegExp | null = null;
        const source = javaToJavaScript(pattern);
        try {
            re = new RegExp(`^(?:${source})$`, "u");
        } catch {
            try {
                // Without `u` a remaining \p{…} would match literal text: leave such a pattern unchecked instead.
                re = /\\p\{/.test(source) ? null : new RegExp(`^(?:${source})$`);
            } catch {
                re = null;
            }
        }
        patternCache.set(pattern, re);
    }
    return patternCache.get(pattern)!;
}

function byteLength(value: unknown): number | undefined {
    if (typeof value === "string") return Buffer.byteLength(value);
    if (value instanceof Uint8Array) return value.byteLength;
    return undefined;
}

/** Validates `input` for `service`'s `operation`; an unknown operation is itself a problem. */
export function validateRequest(service: string, operation: string, input: unknown): Validation {
    const model = serviceModel(service);
    const problems: string[] = [];
    const uncheckedPatterns: string[] = [];
    const op = model.operations[operation];
    if (!op) return { problems: [`${service} has no operation ${operation}`], uncheckedPatterns };
    if (op.input) check(op.input.shape, input ?? {}, operation);
    return { problems, uncheckedPatterns };

    function check(shapeName: string, value: any, where: string): void {
        const shape = model.shapes[shapeName];
        if (value === undefined || value === null) return;
        switch (shape.type) {
            case "structure": {
                if (typeof value !== "object") {
                    problems.push(`${where}: expected a structure (${shapeName}), got ${typeof value}`);
                    return;
                }
                for (const required of shape.required ?? []) {
                    if (value[required] === undefined || value[required] === null) problems.push(`${where}.${required}: required by ${shapeName} but missing`);
                }
                for (const [key, member] of Object.entries(value)) {
                    if (member === undefined) continue;
                    const declared = shape.members?.[key];
                    if (!declared) {
                        problems.push(`${where}.${key}: not a member of ${shapeName} (the SDK drops it silently)`);
                        continue;
                    }
                    check(declared.shape, member, `${where}.${key}`);
                }
                return;
            }
            case "list": {
                if (!Array.isArray(value)) {
                    problems.push(`${where}: expected a list (${shapeName})`);
                    return;
                }
                range(value.length, "items");
                value.forEach((item, i) => check(shape.member!.shape, item, `${where}[${i}]`));
                return;
            }
            case "map": {
                if (typeof value !== "object") {
                    problems.push(`${where}: expected a map (${shapeName})`);
                    return;
                }
                const entries = Object.entries(value).filter(([, v]) => v !== undefined);
                range(entries.length, "entries");
                for (const [k, v] of entries) {
                    check(shape.key!.shape, k, `${where} key ${JSON.stringify(k)}`);
                    check(shape.value!.shape, v, `${where}[${JSON.stringify(k)}]`);
                }
                return;
            }
            case "string": {
                if (typeof value !== "string") {
                    problems.push(`${where}: expected a string (${shapeName}), got ${typeof value}`);
                    return;
                }
                range([...value].length, "characters");
                if (shape.enum && !shape.enum.includes(value)) {
                    problems.push(`${where}: ${JSON.stringify(value)} is not one of ${shapeName}'s values (${shape.enum.slice(0, 8).join(", ")}${shape.enum.length > 8 ? ", …" : ""})`);
                }
                if (shape.pattern) {
                    const re = compile(shape.pattern);
                    if (!re) uncheckedPatterns.push(`${shapeName}: ${shape.pattern}`);
                    else if (!re.test(value)) problems.push(`${where}: ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)} does not match ${shapeName}'s pattern ${shape.pattern}`);
                }
                return;
            }
            case "integer":
            case "long":
            case "float":
            case "double":
                if (typeof value !== "number" || Number.isNaN(value)) {
                    problems.push(`${where}: expected a number (${shapeName}), got ${JSON.stringify(value)}`);
                    return;
                }
                if ((shape.type === "integer" || shape.type === "long") && !Number.isInteger(value)) problems.push(`${where}: ${value} is not an integer (${shapeName})`);
                if (shape.min !== undefined && value < shape.min) problems.push(`${where}: ${value} is below ${shapeName}'s minimum ${shape.min}`);
                if (shape.max !== undefined && value > shape.max) problems.push(`${where}: ${value} is above ${shapeName}'s maximum ${shape.max}`);
                return;
            case "boolean":
                if (typeof value !== "boolean") problems.push(`${where}: expected a boolean (${shapeName}), got ${JSON.stringify(value)}`);
                return;
            case "timestamp":
                if (!(value instanceof Date) && typeof value !== "number" && typeof value !== "string") problems.push(`${where}: expected a timestamp (${shapeName})`);
                return;
            case "blob": {
                const size = byteLength(value);
                if (size !== undefined) range(size, "bytes");
                return;
            }
            default:
                return;
        }

        function range(size: number, unit: string) {
            if (shape.min !== undefined && size < shape.min) problems.push(`${where}: ${size} ${unit}, fewer than ${shapeName}'s minimum ${shape.min}`);
            if (shape.max !== undefined && size > shape.max) problems.push(`${where}: ${size} ${unit}, more than ${shapeName}'s maximum ${shape.max}`);
        }
    }
}

/** `CreateModelPackageCommand` → `CreateModelPackage`. */
export function operationOf(command: { constructor: { name: string } }): string {
    return command.constructor.name.replace(/Command$/, "");
}
