/**
 * `npm run lead-time` — how long a one-line change takes to reach prod serving on the local pipeline, per stage,
 * recomputing everything (cold, `--no-reuse`) and reusing what did not change (the default).
 *
 * In a scratch copy of the repository (the tracked files as they are in the working tree; node_modules and .venv
 * linked, not copied):
 *   0. a first run creates the champion and fills the reuse caches (not measured: a repository's steady state);
 *   1. a one-line change in steps/evaluate, then the pipeline with --no-reuse      → "cold"
 *   2. another one-line change there, then the pipeline with reuse (the default)   → "reuse"
 *   3. and 4. the same for a one-line change in etl/ (its code is part of the ETL reuse key: expect no saving).
 * Each time is measured from the moment the change is written to the moment the pipeline prints that prod serves
 * the new version ("promote to prod"): process start and compilation included, traffic replay and drift check
 * (after promotion) excluded. Prints a table per stage and the lines `cold <N> s` / `reuse <N> s` for the
 * evaluate-only change. Goal: reuse ≤ 50% of cold.
 *
 *   npx ts-node --transpile-only scripts/lead-time.ts [--rows 20000] [--requests 1000] [--keep]
 */
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../infra/lib/repo";

const GOAL_RATIO = 0.5;

/** The lines the changes touch: real code, so the edited module is compiled (TypeScript) or imported (Python). */
const CHANGES = {
    evaluate: { file: "steps/evaluate/evaluate.ts", line: (n: string) => `export const LEAD_TIME_PROBE = "${n}";\n` },
    etl: { file: "etl/mlops_etl/__init__.py", line: (n: string) => `LEAD_TIME_PROBE = "${n}"\n` },
} as const;
type ChangeKind = keyof typeof CHANGES;

export interface StageTime {
    readonly name: string;
    readonly status: string;
    readonly seconds: number;
    readonly detail: string;
}

export interface Measurement {
    /** Seconds from writing the change to the "promote to prod" line. */
    readonly toProdSeconds: number;
    /** Seconds from writing the change to the pipeline's first line (process start, compilation). */
    readonly startupSeconds: number;
    readonly stages: readonly StageTime[];
}

/** One stage line of the local pipeline (pipeline/lib/stage-runner.ts): `✔ name   ok   12.3s  detail`. */
export function parseStageLine(line: string): StageTime | undefined {
    const m = /^[✔✖■·] (.{22}) (ok|failed|stopped|skipped)\s+([\d.]+)s {2}(.*)$/.exec(line);
    return m ? { name: m[1].trim(), status: m[2], seconds: Number(m[3]), detail: m[4] } : undefined;
}

/** Copies the tracked files of `from` (working-tree content) to `to`, linking node_modules and .venv. */
export function scratchCopy(from: string, to: string): number {
    const files = execFileSync("git", ["ls-files", "-z"], { cwd: from, encoding: "utf8" }).split("\0").filter((f) => f !== "");
    let copied = 0;
    for (const f of files) {
        const src = path.join(from, f);
        if (!fs.existsSync(src) || fs.lstatSync(src).isSymbolicLink()) continue;
        fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
        fs.copyFileSync(src, path.join(to, f));
        copied++;
    }
    for (const link of ["node_modules", ".venv"]) {
        const target = path.join(from, link);
        if (!fs.existsSync(target)) throw new Error(`${target} is missing: run npm run bootstrap first`);
        fs.symlinkSync(fs.realpathSync(target), path.join(to, link));
    }
    return copied;
}

/** Runs the local pipeline in `repo`, timing from `t0` (ms, performance.now()). */
function runPipeline(repo: string, args: readonly string[], t0: number, log: string): Promise<Measurement> {
    return new Promise((resolve, reject) => {
        const child = spawn(path.join(repo, "node_modules", ".bin", "ts-node"), ["--transpile-only", "pipeline/local.ts", ...args], {
            cwd: repo, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env },
        });
        const out = fs.createWriteStream(log);
        const stages: StageTime[] = [];
        let first: number | undefined;
        let promoted: number | undefined;
        let buffered = "";
        child.stdout.on("data", (chunk: Buffer) => {
            const now = performance.now();
            out.write(chunk);
            buffered += chunk.toString("utf8");
            const lines = buffered.split("\n");
            buffered = lines.pop()!;
            for (const line of lines) {
                first ??= now;
                const stage = parseStageLine(line);
                if (!stage) continue;
                stages.push(stage);
                if (stage.name === "promote to prod" && stage.status === "ok") promoted = now;
            }
        });
        child.stderr.on("data", (chunk: Buffer) => out.write(chunk));
        child.on("error", reject);
        child.on("close", (code) => {
            out.end();
            if (promoted === undefined) {
                reject(new Error(`the pipeline did not promote (exit ${code}); see ${log}`));
                return;
            }
            resolve({ toProdSeconds: (promoted - t0) / 1000, startupSeconds: ((first ?? promoted) - t0) / 1000, stages });
        });
    });
}

async function measure(repo: string, kind: ChangeKind, n: string, reuse: boolean, common: string[], logs: string): Promise<Measurement> {
    const change = CHANGES[kind];
    const t0 = performance.now();
    fs.appendFileSync(path.join(repo, change.file), change.line(n));
    return runPipeline(repo, [...common, ...(reuse ? [] : ["--no-reuse"])], t0, path.join(logs, `${kind}-${reuse ? "reuse" : "cold"}.log`));
}

/** Stage rows up to and including promotion, the ones a lead time is made of. */
const TO_PROD = ["data", "prod (current)", "etl", "train + register", "dev endpoint", "evaluate + gate", "promote to prod"];

export function renderTable(columns: readonly [string, Measurement][]): string[] {
    const header = ["stage", ...columns.map(([c]) => c)];
    const cell = (m: Measurement, stage: string) => {
        const s = m.stages.find((x) => x.name === stage);
        if (!s) return "—";
        return `${s.seconds.toFixed(1)}${s.detail.startsWith("reused") ? " (reused)" : ""}`;
    };
    const rows: string[][] = [
        ["start-up (process, compile)", ...columns.map(([, m]) => m.startupSeconds.toFixed(1))],
        ...TO_PROD.map((stage) => [stage, ...columns.map(([, m]) => cell(m, stage))]),
        ["change → prod serving", ...columns.map(([, m]) => m.toProdSeconds.toFixed(1))],
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
    return [line(header), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.map(line)];
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        rows: { type: "string", default: "20000" }, requests: { type: "string", default: "1000" }, keep: { type: "boolean" },
    } });
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lead-time-"));
    const logs = path.join(scratch, "_logs");
    const repo = path.join(scratch, "repo");
    fs.mkdirSync(logs, { recursive: true });
    const common = ["--rows", String(values.rows), "--requests", String(values.requests), "--runs-root", path.join(scratch, "runs")];
    try {
        const copied = scratchCopy(REPO_ROOT, repo);
        console.log(`scratch copy: ${copied} files in ${repo}; ${values.rows} rows; ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
        const prime = await runPipeline(repo, common, performance.now(), path.join(logs, "prime.log"));
        console.log(`first run (champion, caches; not measured as a change): ${prime.toProdSeconds.toFixed(1)} s to prod`);
        const results: [string, Measurement][] = [];
        for (const kind of ["evaluate", "etl"] as const) {
            for (const reuse of [false, true]) {
                const m = await measure(repo, kind, `${kind}-${reuse ? "reuse" : "cold"}-${Date.now()}`, reuse, common, logs);
                results.push([`${kind} ${reuse ? "reuse" : "cold"} (s)`, m]);
                console.log(`  one-line change in ${CHANGES[kind].file}, ${reuse ? "reuse" : "cold (--no-reuse)"}: ${m.toProdSeconds.toFixed(1)} s to prod`);
            }
        }
        console.log("");
        for (const l of renderTable(results)) console.log(l);
        const [evalCold, evalReuse, etlCold, etlReuse] = results.map(([, m]) => m.toProdSeconds);
        console.log("");
        console.log(`one-line change in ${CHANGES.evaluate.file}, change to prod serving:`);
        console.log(`cold ${evalCold.toFixed(1)} s`);
        console.log(`reuse ${evalReuse.toFixed(1)} s`);
        const ratio = evalReuse / evalCold;
        console.log(`ratio ${ratio.toFixed(2)}; goal ≤ ${GOAL_RATIO}: ${ratio <= GOAL_RATIO ? "met" : "NOT met"}`);
        console.log(`one-line change in ${CHANGES.etl.file}: cold ${etlCold.toFixed(1)} s, reuse ${etlReuse.toFixed(1)} s ` +
            `(ratio ${(etlReuse / etlCold).toFixed(2)}: the ETL code is in the ETL key and new curated data in the training key, so nothing is reused)`);
    } finally {
        if (values.keep) console.log(`kept ${scratch}`);
        else fs.rmSync(scratch, { recursive: true, force: true });
    }
}

if (require.main === module) {
    main().catch((err) => {
        console.error(`lead-time: ${(err as Error).message}`);
        process.exitCode = 1;
    });
}
