/**
 * Starts the local pipeline's long-running processes (model servers) and guarantees they stop: on normal exit,
 * on failure, and on Ctrl-C / SIGTERM. Each child runs in its own process group so that its workers stop too.
 */
import { ChildProcess, spawn, SpawnOptions } from "child_process";
import * as fs from "fs";
import * as net from "net";

export interface ManagedProcess {
    readonly name: string;
    readonly child: ChildProcess;
    /** Resolves with the exit code (or signal name) once the process has ended. */
    readonly exited: Promise<number | string>;
    /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when it has ended. */
    stop(graceMs?: number): Promise<number | string>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export class ProcessSupervisor {
    private readonly running = new Set<ManagedProcess>();
    private readonly onSignal = (signal: NodeJS.Signals) => {
        void this.stopAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };
    private readonly onExit = () => {
        // Last resort when the event loop is gone: synchronous kills only.
        for (const p of this.running) killGroup(p.child, "SIGKILL");
    };

    constructor() {
        process.on("SIGINT", this.onSignal);
        process.on("SIGTERM", this.onSignal);
        process.on("exit", this.onExit);
    }

    /** Spawns `command`, its output appended to `logFile`. */
    start(name: string, command: string, args: string[], options: SpawnOptions & { logFile: string }): ManagedProcess {
        const log = fs.openSync(options.logFile, "a");
        const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", log, log] });
        fs.closeSync(log);
        const exited = new Promise<number | string>((resolve) => {
            child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
            child.once("error", (err) => resolve(`spawn error: ${err.message}`));
        });
        const managed: ManagedProcess = {
            name,
            child,
            exited,
            stop: async (graceMs = 5000) => {
                if (child.exitCode === null && child.signalCode === null) {
                    killGroup(child, "SIGTERM");
                    const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
                    await exited;
                    clearTimeout(timer);
                }
                this.running.delete(managed);
                return exited;
            },
        };
        this.running.add(managed);
        void exited.then(() => this.running.delete(managed));
        return managed;
    }

    get active(): readonly ManagedProcess[] {
        return [...this.running];
    }

    async stopAll(): Promise<void> {
        await Promise.all([...this.running].map((p) => p.stop()));
    }

    /** Stops everything and removes the signal handlers. */
    async dispose(): Promise<void> {
        await this.stopAll();
        process.off("SIGINT", this.onSignal);
        process.off("SIGTERM", this.onSignal);
        process.off("exit", this.onExit);
    }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
        process.kill(-child.pid, signal);
    } catch {
        // Already gone.
    }
}

/** Polls `url` until it answers 200, the process exits, or `timeoutMs` passes. */
export async function waitForHealthy(url: string, proc: ManagedProcess, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited: number | string | undefined;
    void proc.exited.then((code) => { exited = code; });
    while (Date.now() < deadline) {
        if (exited !== undefined) throw new Error(`${proc.name} exited (${exited}) before ${url} became healthy`);
        try {
            const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
            if (res.ok) return;
        } catch {
            // Not listening yet.
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${proc.name}: ${url} not healthy within ${timeoutMs} ms`);
}
