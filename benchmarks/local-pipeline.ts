/**
 * Per-stage times of the local pipeline's default run. Goal: the whole run (20k rows) under 90 s on a 2-core
 * machine. Each run starts from an empty runs root, as on a fresh clone (after set-up).
 *   npx ts-node --transpile-only benchmarks/local-pipeline.ts [--rows 20000] [--runs 1]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "node:util";
import { runLocalPipeline } from "../pipeline/local";

const GOAL_SECONDS = 90;

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { rows: { type: "string", default: "20000" }, runs: { type: "string", default: "1" } } });
    const rows = Number(values.rows);
    const runs = Number(values.runs);
    const table: Record<string, Record<string, string>> = {};
    const totals: number[] = [];
    for (let i = 0; i < runs; i++) {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-bench-"));
        const started = performance.now();
        try {
            const result = await runLocalPipeline({ scenario: "default", rows, seed: 7, requests: 1000, runsRoot: root, stack: "dev", print: () => undefined });
            if (result.exitCode !== 0) throw new Error(`run ${i + 1} did not promote: see ${result.runDir}`);
            const wall = (performance.now() - started) / 1000;
            totals.push(wall);
            for (const stage of result.stages) {
                table[stage.name] ??= {};
                table[stage.name][`run ${i + 1} (s)`] = stage.seconds.toFixed(1);
            }
            table["total (wall)"] ??= {};
            table["total (wall)"][`run ${i + 1} (s)`] = wall.toFixed(1);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    }
    console.log(`local pipeline, default scenario, ${rows} rows, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    console.table(table);
    const best = Math.min(...totals);
    console.log(`best total ${best.toFixed(1)} s; goal < ${GOAL_SECONDS} s: ${best < GOAL_SECONDS ? "met" : "NOT met"} (ratio ${(best / GOAL_SECONDS).toFixed(2)})`);
}

main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
});
