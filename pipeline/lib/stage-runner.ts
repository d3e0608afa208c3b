/**
 * Runs the local pipeline's stages in order, printing one line per stage as it finishes (status and duration),
 * and keeps the results for the final summary and the benchmark.
 */
export type StageStatus = "ok" | "failed" | "stopped" | "skipped";

export interface StageResult {
    readonly name: string;
    readonly status: StageStatus;
    readonly seconds: number;
    /** One line: what the stage produced or why it failed. */
    readonly detail: string;
}

/** What a stage's body returns: its value (for later stages) and one line for people. */
export interface StageOutcome<T> {
    readonly value: T;
    readonly detail: string;
}

/** A stage that ends the run on purpose (a gate said no); not a crash. */
export class StageStop extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StageStop";
    }
}

export interface StageOptions {
    /**
     * Run even after a gate stopped the run (not after a failure): e.g. production traffic still flows to what
     * prod serves when a candidate was rejected.
     * @default false
     */
    readonly afterGateStop?: boolean;
}

export class StageRunner {
    readonly results: StageResult[] = [];
    private stopped = false;
    private failed = false;

    constructor(private readonly print: (line: string) => void = (l) => console.log(l)) {}

    /** Whether a stage failed or stopped the run; later stages are skipped. */
    get halted(): boolean {
        return this.stopped;
    }

    /**
     * Runs `fn` unless the run is already halted. Returns its value, or undefined when skipped, stopped or failed.
     * `fn` returns the value and a one-line detail.
     */
    async run<T>(name: string, fn: () => Promise<StageOutcome<T>>, options: StageOptions = {}): Promise<T | undefined> {
        if (this.failed || (this.stopped && !options.afterGateStop)) {
            this.record({ name, status: "skipped", seconds: 0, detail: "an earlier stage halted the run" });
            return undefined;
        }
        const started = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        try {
            const { value, detail } = await fn();
            this.record({ name, status: "ok", seconds: seconds(), detail });
            return value;
        } catch (err) {
            this.stopped = true;
            const status = err instanceof StageStop ? "stopped" : "failed";
            if (status === "failed") this.failed = true;
            this.record({ name, status, seconds: seconds(), detail: (err as Error).message.split("\n")[0] });
            return undefined;
        }
    }

    private record(result: StageResult): void {
        this.results.push(result);
        const mark = { ok: "✔", failed: "✖", stopped: "■", skipped: "·" }[result.status];
        this.print(`${mark} ${result.name.padEnd(22)} ${result.status.padEnd(8)} ${result.seconds.toFixed(1).padStart(6)}s  ${result.detail}`);
    }
}
