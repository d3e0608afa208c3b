/**
 * What every step CLI shares: exit codes, output, argument/env handling, choosing a backend, and turning errors
 * into one clear line and an exit code. Library code never calls `process.exit`; only a step's entry does.
 */
import * as path from "path";
import { parseArgs, ParseArgsConfig } from "node:util";
import { Backend } from "./backend";
import { createAwsBackend } from "./aws";
import { errorMessage, StepError, UsageError } from "./errors";
import { createLocalBackend } from "./local";
import { Clock, systemClock } from "./retry";

/** 0 = done (for evaluate: Approved); 1 = failed or Rejected; 2 = bad arguments or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Where a step writes its lines and reads its environment; tests capture both. */
export interface Io {
    out(line: string): void;
    err(line: string): void;
    readonly env: Readonly<Record<string, string | undefined>>;
}

export const processIo: Io = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
};

/** A step's collaborators; each defaults to the real thing. */
export interface StepDeps {
    readonly io?: Io;
    readonly clock?: Clock;
    /** A ready backend (tests inject one built from mocked clients); otherwise built from the arguments. */
    readonly backend?: Backend;
}

export function resolveDeps(deps: StepDeps = {}): { io: Io; clock: Clock } {
    return { io: deps.io ?? processIo, clock: deps.clock ?? systemClock };
}

/** parseArgs option specs every step accepts for choosing its backend. */
export const BACKEND_OPTIONS = {
    backend: { type: "string" },
    region: { type: "string" },
    "kms-key-id": { type: "string" },
    "local-root": { type: "string" },
    "serve-url": { type: "string" },
    help: { type: "boolean", short: "h" },
} as const;

export const BACKEND_USAGE = `Backend options:
  --backend aws|local       where the step runs (env STEP_BACKEND; default aws)
  --region REGION           AWS region (env AWS_REGION)
  --kms-key-id ARN          KMS key for S3 writes and training volumes/outputs (env KMS_KEY_ID)
  --local-root DIR          local backend folder (env LOCAL_ROOT; default .runs/local)
  --serve-url URL           local backend: base URL of the local serve process (env SERVE_URL)`;

type Values = Record<string, string | boolean | undefined>;

/** An option's value, else the environment variable's, else the default. Empty strings count as absent. */
export function optionOrEnv(values: Values, name: string, env: Io["env"], envName: string | undefined, fallback?: string): string | undefined {
    const v = values[name];
    if (typeof v === "string" && v !== "") return v;
    const e = envName ? env[envName] : undefined;
    if (e !== undefined && e !== "") return e;
    return fallback;
}

export function requireOption(values: Values, name: string, env: Io["env"], envName?: string): string {
    const v = optionOrEnv(values, name, env, envName);
    if (v === undefined) throw new UsageError(`missing --${name}${envName ? ` (or env ${envName})` : ""}`);
    return v;
}

export function intOption(values: Values, name: string, env: Io["env"], envName: string | undefined, fallback: number, min: number, max: number): number {
    const raw = optionOrEnv(values, name, env, envName);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} is ${JSON.stringify(raw)}; expected an integer from ${min} to ${max}`);
    return n;
}

/** The backend the arguments ask for. */
export function backendFromOptions(values: Values, env: Io["env"]): Backend {
    const kind = optionOrEnv(values, "backend", env, "STEP_BACKEND", "aws");
    if (kind === "aws") {
        const region = optionOrEnv(values, "region", env, "AWS_REGION") ?? env.AWS_DEFAULT_REGION;
        if (!region) throw new UsageError("missing --region (or env AWS_REGION) for --backend aws");
        return createAwsBackend({ region, kmsKeyId: optionOrEnv(values, "kms-key-id", env, "KMS_KEY_ID") });
    }
    if (kind === "local") {
        return createLocalBackend({
            root: path.resolve(optionOrEnv(values, "local-root", env, "LOCAL_ROOT", ".runs/local")!),
            serveUrl: optionOrEnv(values, "serve-url", env, "SERVE_URL"),
        });
    }
    throw new UsageError(`--backend is ${JSON.stringify(kind)}; expected aws or local`);
}

/** Runs a step body and maps what it throws to an exit code and one explanatory line. */
export async function runStep(io: Io, body: () => Promise<number>): Promise<number> {
    try {
        return await body();
    } catch (e) {
        if (e instanceof UsageError || (e instanceof StepError && e.kind === "usage")) {
            io.err(`error: ${e.message}`);
            return EXIT_USAGE;
        }
        if (e instanceof StepError && e.kind === "access-denied") {
            io.err(`error: access denied: ${e.message}`);
            io.err("hint: the role running this step lacks the permission named above; see infra/components/training-steps.ts");
            return EXIT_FAILED;
        }
        if (e instanceof StepError && e.kind === "throttled") {
            io.err(`error: still throttled after retries: ${e.message}`);
            return EXIT_FAILED;
        }
        io.err(`error: ${errorMessage(e)}`);
        return EXIT_FAILED;
    }
}

/** Seconds as `1h02m03s` / `4m05s` / `6s` for progress lines. */
export function formatDuration(ms: number): string {
    const total = Math.max(0, Math.round(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(s).padStart(2, "0")}s`;
    if (m > 0) return `${m}m${String(s).padStart(2, "0")}s`;
    return `${s}s`;
}

/**
 * Parses a step's arguments (strict, no positionals). Bad arguments become a UsageError that carries the usage
 * text; `null` means `--help` was given and the usage has been printed.
 */
export function parseStepArgs<O extends NonNullable<ParseArgsConfig["options"]>>(
    argv: readonly string[], options: O, usage: string, io: Io,
): ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>["values"] | null {
    let values;
    try {
        ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
    } catch (e) {
        throw new UsageError(`${(e as Error).message}\n\n${usage}`);
    }
    if ((values as Record<string, unknown>).help) {
        io.out(usage);
        return null;
    }
    return values;
}
