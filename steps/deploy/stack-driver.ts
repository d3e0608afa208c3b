/**
 * The Pulumi operations the deploy step needs, behind an interface: the real driver runs the Automation API (which
 * needs the Pulumi CLI on PATH); tests drive the orchestration with a fake.
 */
import { UsageError } from "../lib/errors";

/**
 * Another update holds the stack's lock (Pulumi Deployments and the pipeline's deploy action can both update dev).
 * The deploy step waits and tries again rather than fail the pipeline.
 */
export class StackBusyError extends Error {
    constructor(stackName: string, cause: string) {
        super(`stack ${stackName} is being updated by someone else (${cause})`);
        this.name = "StackBusyError";
    }
}

/** Resource operation counts, as Pulumi reports them (`create`, `update`, `replace`, `same`, …). */
export type ChangeSummary = Readonly<Record<string, number>>;

export interface UpSummary {
    /** Stack outputs after the update, unwrapped (`pulumi stack output --json`). */
    readonly outputs: Readonly<Record<string, unknown>>;
    readonly resourceChanges: ChangeSummary;
    /** Pulumi's result: `succeeded` or `failed`. */
    readonly result: string;
}

export interface StackDriver {
    readonly stackName: string;
    /** A config value of the stack (`aws:region`, `mlops:…`); undefined when unset. */
    getConfig(key: string): Promise<string | undefined>;
    setConfig(key: string, value: string): Promise<void>;
    removeConfig(key: string): Promise<void>;
    /** The outputs of the stack's last update; {} before the first one. */
    outputs(): Promise<Readonly<Record<string, unknown>>>;
    preview(onOutput: (text: string) => void): Promise<ChangeSummary>;
    up(onOutput: (text: string) => void): Promise<UpSummary>;
}

/** Selects `stackName` of the Pulumi project in `workDir` through the Automation API (LocalWorkspace). */
export async function automationStackDriver(stackName: string, workDir: string): Promise<StackDriver> {
    // Loaded here, not at the top: only the real driver needs it, and tests never construct one.
    const { ConcurrentUpdateError, LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const busy = async <T>(operation: () => Promise<T>): Promise<T> => {
        try {
            return await operation();
        } catch (e) {
            if (e instanceof ConcurrentUpdateError) throw new StackBusyError(stackName, (e as Error).message.split("\n")[0]);
            throw e;
        }
    };
    let stack;
    try {
        stack = await LocalWorkspace.selectStack({ stackName, workDir });
    } catch (e) {
        const message = (e as Error).message ?? String(e);
        if (/ENOENT|not found|could not find|no such file/i.test(message) && /pulumi/i.test(message)) {
            throw new UsageError(`cannot run the Pulumi CLI to select stack ${stackName} (${message}); install it (https://www.pulumi.com/docs/install/) and log in`);
        }
        throw e;
    }
    const unwrap = (outputs: Record<string, { value: unknown }>) =>
        Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
    return {
        stackName,
        getConfig: async (key) => {
            const all = await stack.getAllConfig();
            return all[key]?.value;
        },
        setConfig: (key, value) => stack.setConfig(key, { value }),
        removeConfig: (key) => stack.removeConfig(key),
        outputs: async () => unwrap(await stack.outputs()),
        preview: async (onOutput) => (await busy(() => stack.preview({ onOutput }))).changeSummary,
        up: async (onOutput) => {
            const result = await busy(() => stack.up({ onOutput }));
            return { outputs: unwrap(result.outputs), resourceChanges: result.summary.resourceChanges ?? {}, result: result.summary.result };
        },
    };
}

/** `create 3, replace 1, update 2, same 40` in a stable order; `no changes` when nothing but `same`. */
export function formatChanges(changes: ChangeSummary): string {
    const order = ["create", "replace", "update", "delete", "same"];
    const keys = Object.keys(changes).filter((k) => (changes[k] ?? 0) > 0)
        .sort((a, b) => (order.indexOf(a) === -1 ? 99 : order.indexOf(a)) - (order.indexOf(b) === -1 ? 99 : order.indexOf(b)) || a.localeCompare(b));
    if (keys.every((k) => k === "same")) return `no changes (${changes.same ?? 0} unchanged)`;
    return keys.map((k) => `${k} ${changes[k]}`).join(", ");
}
