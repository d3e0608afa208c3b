/** Replays production traffic against the local prod endpoint: one request per line, bounded concurrency. */
import * as fs from "fs";

export interface ReplayResult {
    readonly requests: number;
    readonly failed: number;
    readonly seconds: number;
    readonly latencyP50Ms: number;
    readonly latencyP99Ms: number;
    /** First few failures, for the log. */
    readonly errors: string[];
}

function percentile(sorted: readonly number[], q: number): number {
    if (sorted.length === 0) return 0;
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

export async function replayTraffic(url: string, trafficFile: string, concurrency = 8): Promise<ReplayResult> {
    const bodies = fs.readFileSync(trafficFile, "utf8").split("\n").filter((l) => l.length > 0);
    const latencies: number[] = [];
    const errors: string[] = [];
    let failed = 0;
    let next = 0;
    const started = performance.now();
    const worker = async () => {
        while (next < bodies.length) {
            const body = bodies[next++];
            const t0 = performance.now();
            try {
                const res = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "text/csv" }, body });
                await res.arrayBuffer();
                if (!res.ok) throw new Error(`HTTP ${res.status}`);
                latencies.push(performance.now() - t0);
            } catch (err) {
                failed++;
                if (errors.length < 5) errors.push(`${(err as Error).message} for ${body.slice(0, 80)}`);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, bodies.length) }, worker));
    latencies.sort((a, b) => a - b);
    return {
        requests: bodies.length,
        failed,
        seconds: (performance.now() - started) / 1000,
        latencyP50Ms: percentile(latencies, 0.5),
        latencyP99Ms: percentile(latencies, 0.99),
        errors,
    };
}
