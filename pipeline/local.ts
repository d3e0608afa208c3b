/**
 * `npm run pipeline:local` — the whole pipeline on one machine, no AWS:
 *
 *   data → ETL (local Spark) → train (model-container/bin/train) → register (local registry)
 *   → dev endpoint (bin/serve) → evaluate (steps/evaluate) → gate → promote to the local prod endpoint
 *   (bin/serve behind a data-capture proxy) → replay production traffic → drift check → summary
 *
 * The same step code as on AWS runs here (steps/train, steps/evaluate) through the local backend, with the
 * evaluation thresholds and hyperparameters of the dev stack's own config. Exit code 0 only when the model
 * was promoted. See --help.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "node:util";
import { main as evaluateMain } from "../steps/evaluate/main";
import { main as trainMain } from "../steps/train/main";
import { Io } from "../steps/lib/cli";
import { LocalInvoker, LocalObjectStore, LocalRegistry, LocalTraining } from "../steps/lib/local";
import { Backend, ModelVersion } from "../steps/lib/backend";
import { REGISTRY_METADATA } from "../contracts/registry";
import { SERVING_VARIANT } from "../contracts/serving";
import { loadStackFile } from "../infra/stack-files";
import { CaptureProxy } from "./lib/capture-proxy";
import { renderDriftReport, Violation } from "./lib/drift-report";
import { freePort, ManagedProcess, ProcessSupervisor, waitForHealthy } from "./lib/process-supervisor";
import { REPO_ROOT, runPython, summaryLine } from "./lib/python";
import { StageRunner, StageStop } from "./lib/stage-runner";
import { replayTraffic, ReplayResult } from "./lib/traffic";
import { findEtlRun, localEtlReuseInputs, localImageUri, recordEtlRun } from "./lib/reuse";
import { etlReuseKey } from "../contracts/reuse-key";

export const SCENARIOS = ["default", "drift", "bad-data", "weak-model"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const USAGE = `Usage: npm run pipeline:local -- [options]

Runs the whole MLOps pipeline on this machine and prints a line per stage, then a summary.

Options:
  --scenario NAME    default | drift (production traffic drifts: drift is flagged)
                     | bad-data (the ETL quality gate stops the run before training)
                     | weak-model (evaluation rejects the version; prod keeps serving the previous one)
  --rows N           rows of synthetic data to generate (default 20000); nothing else
  --seed N           data seed (default 7)
  --data CSV         your own dataset instead of synthetic data (needs --schema)
  --schema JSON      its dataset schema (docs/contracts.md §1)
  --requests N       production requests to replay (default 1000)
  --runs-root DIR    where runs and the local model registry live (default .runs)
  --stack NAME       whose config (evaluation thresholds, hyperparameters) to use (default dev)
  --no-reuse         recompute every stage (audit): by default the ETL and training are reused when their
                     inputs (data, ETL code, schema, settings; curated data, image, hyperparameters) are unchanged
  --train-hosts N    training instances (default: the stack's training.instanceCount); N > 1 trains
                     distributed: one container process per host on loopback, the ETL writes >= N train shards
  -h, --help

Exit codes: 0 a model was promoted to the local prod endpoint; 1 the run stopped (gate) or failed; 2 usage.`;

export interface LocalPipelineOptions {
    readonly scenario: Scenario;
    readonly rows: number;
    readonly seed: number;
    readonly data?: string;
    readonly schema?: string;
    readonly requests: number;
    readonly runsRoot: string;
    readonly stack: string;
    /**
     * Reuse the ETL run and the trained version of unchanged inputs (contracts/reuse-key.ts).
     * @default true
     */
    readonly reuse?: boolean;
    /**
     * Training instances; more than one trains distributed, one container process per host.
     * @default the stack's training.instanceCount
     */
    readonly trainHosts?: number;
    /** Where stage lines go. @default console.log */
    readonly print?: (line: string) => void;
}

export interface LocalPipelineResult {
    readonly exitCode: number;
    readonly runDir: string;
    readonly promoted: boolean;
    readonly stages: StageRunner["results"];
    readonly summary: Record<string, unknown>;
}

/** Drift injected by `--scenario drift`: tenure (the model's most important feature) moves by 1 std. */
const DRIFT_SHIFT = "tenure_months=1";
/** Share of rows with a defect in `--scenario bad-data`: far over the schema's 5% quarantine limit. */
const BAD_DATA_DIRTY_FRACTION = "0.3";
/** `--scenario weak-model`: one shallow tree with a tiny step cannot learn the churn signal. */
const WEAK_HYPERPARAMETERS = { max_depth: "1", eta: "0.01", num_round: "2", early_stopping_rounds: "1" };


/**
 * The local capture's sampling draw in [0, 1), fixed by the run's seed and the request's bytes. A stream of draws
 * handed out in arrival order would make the captured window depend on how concurrent requests interleave, so two
 * runs with one seed could capture different rows and reach different drift verdicts; keyed by content, a run's
 * window is the same every time.
 */
export function captureDraw(seed: number, requestBody: Buffer | string): number {
    return createHash("sha256").update(`${seed}\0`).update(requestBody).digest().readUInt32BE(0) / 2 ** 32;
}

/** Io for the steps: their lines go to the run's log, not the console. */
function logIo(logFile: string): Io {
    const write = (line: string) => fs.appendFileSync(logFile, `${line}\n`);
    return { out: write, err: write, env: {} };
}

export async function runLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipelineResult> {
    const print = options.print ?? ((l: string) => console.log(l));
    const config = loadStackFile(options.stack);
    const trainHosts = options.trainHosts ?? config.training.instanceCount;
    // The local prod endpoint and its drift check behave as the prod stack configures them on AWS.
    const prodConfig = loadStackFile("prod");
    const samplingPercentage = prodConfig.endpoint.dataCapture.samplingPercentage;
    // Lowercase: the run id doubles as the run's "bucket" name.
    const runId = `${new Date().toISOString().replace(/[-:]/g, "").replace(/\..+/, "").toLowerCase()}-${options.scenario}`;
    const runsRoot = path.resolve(options.runsRoot);
    const runDir = path.join(runsRoot, runId);
    const logs = path.join(runDir, "logs");
    fs.mkdirSync(logs, { recursive: true });
    // Each run is a bucket under the runs root: `s3://<runId>/<key>` is `<runsRoot>/<runId>/<key>`, so everything a
    // run writes stays in its folder while a champion's artifacts from an earlier run still resolve by URI.
    const objects = new LocalObjectStore({ s3Root: runsRoot });
    const s3 = (key: string) => `s3://${runId}/${key}`;
    const backend: Backend = {
        kind: "local",
        objects,
        training: new LocalTraining({ root: path.join(runDir, "training-jobs"), objects }),
        // The registry outlives runs, as on AWS: the champion of an earlier run is this run's bar to clear.
        registry: new LocalRegistry({ file: path.join(runsRoot, "model-registry.json") }),
        invoker: new LocalInvoker({}),
    } as Backend;
    const localPath = (uri: string) => objects.pathOf(uri);
    const supervisor = new ProcessSupervisor();
    const stages = new StageRunner(print);
    const summary: Record<string, unknown> = { run: runDir, scenario: options.scenario };
    const reuse = options.reuse ?? true;
    // The ETL reuse index outlives runs, like the registry: `s3://reuse-index/etl/<key>.json` under the runs root.
    const etlIndex = "s3://reuse-index/etl/";
    const reused: Record<string, { key: string; reused: boolean }> = {};
    summary.reuse = { enabled: reuse, stages: reused };
    let prod: { version: ModelVersion; server: ManagedProcess } | undefined;
    let proxy: CaptureProxy | undefined;
    let promoted = false;

    print(`run ${runId} → ${runDir}`);
    try {
        // ── data ──
        const dataset = await stages.run("data", async () => {
            const inputDir = path.join(runDir, "input");
            fs.mkdirSync(inputDir, { recursive: true });
            if (options.data) {
                const csv = path.join(inputDir, path.basename(options.data));
                const schema = path.join(inputDir, "schema.json");
                fs.copyFileSync(options.data, csv);
                fs.copyFileSync(options.schema!, schema);
                return { value: { csv, schema, synthetic: false }, detail: `${options.data} with ${options.schema}` };
            }
            const csv = path.join(inputDir, "churn.csv");
            const args = ["--rows", String(options.rows), "--seed", String(options.seed), "--out", csv];
            if (options.scenario === "bad-data") args.push("--dirty-fraction", BAD_DATA_DIRTY_FRACTION);
            const result = await runPython("data/synthetic_churn.py", args, path.join(logs, "data.log"));
            if (result.code !== 0) throw new Error(`data generator failed (exit ${result.code}); see ${logs}/data.log`);
            const line = summaryLine(result.output, "synthetic_churn:") ?? "";
            summary.bayesAuc = Number(/bayes_auc=([\d.]+)/.exec(line)?.[1]);
            return { value: { csv, schema: path.join(REPO_ROOT, "data", "churn.schema.json"), synthetic: true }, detail: line.replace(/^synthetic_churn: /, "") };
        });
        const schema = dataset ? JSON.parse(fs.readFileSync(dataset.schema, "utf8")) as { name: string } : undefined;
        const group = `mlops-local-${(schema?.name ?? "model").toLowerCase().replace(/[^a-z0-9-]+/g, "-")}`.slice(0, 63);
        summary.modelPackageGroup = group;

        // ── the model prod serves now (an earlier run's champion) ──
        const startProd = async (version: ModelVersion): Promise<string> => {
            const modelDir = localPath(version.modelDataUri);
            if (!fs.existsSync(path.join(modelDir, "metadata.json"))) throw new Error(`model of version ${version.version} is gone (${modelDir})`);
            const port = await freePort();
            const server = supervisor.start(`prod-v${version.version}`, path.join(REPO_ROOT, ".venv", "bin", "python"),
                [path.join(REPO_ROOT, "model-container", "bin", "serve")], {
                    env: { ...process.env, OPT_ML_DIR: path.dirname(modelDir), SAGEMAKER_BIND_TO_PORT: String(port), SERVE_HOST: "127.0.0.1", MODEL_SERVER_WORKERS: "1" },
                    logFile: path.join(logs, `prod-v${version.version}.log`),
                });
            await waitForHealthy(`http://127.0.0.1:${port}/ping`, server);
            const previous = prod;
            prod = { version, server };
            if (!proxy) {
                proxy = new CaptureProxy({
                    upstream: `http://127.0.0.1:${port}`,
                    captureRoot: path.join(runDir, "capture"),
                    endpointName: `${group}-prod`,
                    variantName: SERVING_VARIANT,
                    samplingPercentage,
                    // Keyed by seed and content, so a run's captured sample is reproducible.
                    random: (body) => captureDraw(options.seed + 2000, body),
                });
                await proxy.listen(await freePort());
            } else {
                proxy.setUpstream(`http://127.0.0.1:${port}`);
            }
            // Blue/green: the new server answered /ping before traffic moved; only now does the old one stop.
            await previous?.server.stop();
            return `http://127.0.0.1:${(proxy.server.address() as { port: number }).port}`;
        };
        let prodUrl: string | undefined;
        if (dataset) {
            await stages.run("prod (current)", async () => {
                const [champion] = await backend.registry.listVersions(group, { approvalStatus: "Approved" });
                if (!champion) return { value: undefined, detail: "no approved version yet: prod serves nothing" };
                try {
                    prodUrl = await startProd(await backend.registry.describeVersion(champion.arn));
                    return { value: undefined, detail: `serves version ${champion.version} (${prodUrl})` };
                } catch (err) {
                    return { value: undefined, detail: `cannot serve version ${champion.version}: ${(err as Error).message}` };
                }
            });
        }

        // weak-model shows a rejection against a champion: make sure there is one first.
        const cycles: { label: string; hyperparameters?: Record<string, string> }[] = [];
        if (options.scenario === "weak-model") {
            if (!prod) cycles.push({ label: "champion" });
            cycles.push({ label: "weak", hyperparameters: WEAK_HYPERPARAMETERS });
        } else {
            cycles.push({ label: "" });
        }

        for (const cycle of cycles) {
            const prefix = cycle.label ? `${cycle.label}: ` : "";
            const cycleId = cycle.label ? `${runId}-${cycle.label}` : runId;

            // ── ETL ──
            const etl = await stages.run(`${prefix}etl`, async () => {
                if (!dataset) throw new Error("no dataset");
                // The shard count is part of the key: a 1-shard run cannot feed a training job of several hosts.
                const etlSettings = { maxQuarantineShare: config.etl.maxQuarantineShare, minRows: config.etl.minRows, trainShards: Math.max(config.etl.trainShards, trainHosts) };
                const reuseInputs = localEtlReuseInputs(REPO_ROOT, dataset, etlSettings);
                const reuseKey = etlReuseKey(reuseInputs);
                const hit = reuse ? await findEtlRun(objects, etlIndex, reuseKey) : undefined;
                reused[`${prefix}etl`] = { key: reuseKey, reused: hit !== undefined };
                if (hit) {
                    const dir = localPath(hit.runPrefix);
                    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
                    summary.etl = { rowsIn: manifest.rowsIn, rowsOut: manifest.rowsOut, rowsQuarantined: manifest.rowsQuarantined, splits: manifest.splits, splitBy: manifest.splitBy, reusedRun: hit.runPrefix };
                    return { value: { prefix: hit.runPrefix, dir, manifest }, detail: `reused run ${hit.runId} (same data, ETL code, schema, settings; key ${reuseKey.slice(0, 16)}…): rows in=${manifest.rowsIn} out=${manifest.rowsOut}` };
                }
                const output = localPath(s3("curated/datasets"));
                const result = await runPython("etl/glue_job.py", [
                    "--input", dataset.csv, "--schema", dataset.schema, "--output", output, "--run-id", cycleId,
                    // Platform limits from stack config (the schema may only tighten them); --rows never changes them.
                    "--max-quarantine-share", String(etlSettings.maxQuarantineShare), "--min-rows", String(etlSettings.minRows),
                    "--train-shards", String(etlSettings.trainShards),
                ], path.join(logs, "etl.log"));
                const line = summaryLine(result.output, "etl:") ?? result.output.trim().split("\n").pop() ?? "";
                if (result.code !== 0) {
                    const failure = path.join(output, `_failed-${cycleId}`, "failure.json");
                    if (!fs.existsSync(failure)) throw new Error(`ETL failed (exit ${result.code}): ${line}; see ${logs}/etl.log`);
                    const report = JSON.parse(fs.readFileSync(failure, "utf8"));
                    // The ETL read a copy of the schema in the run folder: name the file the user edits.
                    const message = options.schema ? String(report.message).split(dataset.schema).join(path.resolve(options.schema)) : report.message;
                    summary.etl = { rowsIn: report.rowsIn, rowsOut: 0, rowsQuarantined: report.rowsQuarantined, quarantineByReason: report.quarantineByReason, failure, kind: report.kind, message };
                    throw new StageStop(`${report.kind === "gate" ? "quality gate" : `ETL (${report.kind})`}: ${message}; nothing published (report: ${failure})`);
                }
                const manifest = JSON.parse(fs.readFileSync(path.join(output, cycleId, "manifest.json"), "utf8"));
                summary.etl = { rowsIn: manifest.rowsIn, rowsOut: manifest.rowsOut, rowsQuarantined: manifest.rowsQuarantined, splits: manifest.splits, splitBy: manifest.splitBy };
                await recordEtlRun(objects, etlIndex, reuseKey, reuseInputs, { runId: cycleId, runPrefix: s3(`curated/datasets/${cycleId}/`) });
                return { value: { prefix: s3(`curated/datasets/${cycleId}/`), dir: path.join(output, cycleId), manifest }, detail: line.replace(/^etl: /, "") };
            });

            // ── train + register ──
            const version = await stages.run(`${prefix}train + register`, async () => {
                const resultFile = path.join(runDir, `train-${cycle.label || "result"}.json`);
                const training = { ...config.training, instanceCount: trainHosts, hyperparameters: { ...config.training.hyperparameters, ...(cycle.hyperparameters ?? {}) }, spot: { enabled: false, maxWaitSeconds: 7200 } };
                const code = await trainMain([
                    "--data-prefix", etl!.prefix, "--output-prefix", s3("models/training"), "--image-uri", localImageUri(REPO_ROOT),
                    "--model-package-group", group, "--execution-id", cycleId, "--config", JSON.stringify(training),
                    "--output-file", resultFile, "--poll-seconds", "1", "--reuse", String(reuse),
                ], { backend, io: logIo(path.join(logs, "train.log")) });
                if (code !== 0) throw new Error(`train step exited ${code}; see ${logs}/train.log`);
                const result = JSON.parse(fs.readFileSync(resultFile, "utf8"));
                reused[`${prefix}train + register`] = { key: result.reuseKey, reused: result.reused === true };
                const registered = await backend.registry.describeVersion(result.modelPackageArn);
                return { value: registered, detail: `${result.reused ? "reused " : ""}version ${registered.version} (${registered.approvalStatus}), validation AUC ${registered.properties["train.validation_auc"] ?? "?"}` };
            });

            // ── dev endpoint ──
            const devUrl = await stages.run(`${prefix}dev endpoint`, async () => {
                const modelDir = localPath(version!.modelDataUri);
                const port = await freePort();
                const server = supervisor.start(`dev-${cycle.label || "candidate"}`, path.join(REPO_ROOT, ".venv", "bin", "python"),
                    [path.join(REPO_ROOT, "model-container", "bin", "serve")], {
                        env: { ...process.env, OPT_ML_DIR: path.dirname(modelDir), SAGEMAKER_BIND_TO_PORT: String(port), SERVE_HOST: "127.0.0.1", MODEL_SERVER_WORKERS: "1" },
                        logFile: path.join(logs, "dev-endpoint.log"),
                    });
                const url = `http://127.0.0.1:${port}`;
                await waitForHealthy(`${url}/ping`, server);
                return { value: { url, server }, detail: `serves version ${version!.version} at ${url}` };
            });

            // ── evaluate + gate ──
            const decision = await stages.run(`${prefix}evaluate + gate`, async () => {
                const code = await evaluateMain([
                    "--model-package-arn", version!.arn, "--data-prefix", etl!.prefix, "--endpoint", devUrl!.url,
                    "--config", JSON.stringify(config.evaluation), "--report-prefix", s3("artifacts/evaluations"),
                    "--report-dir", path.join(runDir, "reports", cycle.label || "evaluation"),
                ], { backend, io: logIo(path.join(logs, "evaluate.log")) });
                await devUrl!.server.stop();
                const evaluated = await backend.registry.describeVersion(version!.arn);
                // eval.report names the report folder's evaluation.json; report.html sits beside it.
                const reportUri = evaluated.properties["eval.report"];
                const report = reportUri ? localPath(reportUri) : undefined;
                const evaluation = report && fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, "utf8")) : undefined;
                summary.evaluation = {
                    version: version!.version,
                    decision: evaluated.approvalStatus,
                    reasons: evaluation?.reasons ?? [evaluated.approvalDescription],
                    metrics: evaluation?.metrics,
                    report: report ? path.join(path.dirname(report), "report.html") : undefined,
                };
                if (code === 1 && evaluated.approvalStatus === "Rejected") {
                    throw new StageStop(`Rejected: ${evaluated.approvalDescription ?? "see report"}`);
                }
                if (code !== 0) throw new Error(`evaluate step exited ${code}; see ${logs}/evaluate.log`);
                return { value: evaluated, detail: `${evaluated.approvalStatus}: ROC AUC ${evaluation?.metrics?.rocAuc?.toFixed(4) ?? "?"}` };
            });

            // ── promote ──
            await stages.run(`${prefix}promote to prod`, async () => {
                prodUrl = await startProd(decision!);
                promoted = true;
                return { value: undefined, detail: `prod serves version ${decision!.version} (${prodUrl})` };
            });
            if (stages.halted) break;
        }
        summary.prodServes = prod ? `version ${prod.version.version}` : "nothing";

        // ── production traffic + drift check (whatever prod serves, also after a rejection) ──
        const manifestDir = trainingDataOf(prod?.version, localPath);
        if (prod && prodUrl && manifestDir) {
            const traffic = path.join(runDir, "traffic.csv");
            const replay = await stages.run("replay traffic", async () => {
                const args = ["--manifest", path.join(manifestDir, "manifest.json"), "--out", traffic];
                if (dataset?.synthetic) {
                    args.push("--generate", String(options.requests), "--seed", String(options.seed + 1000));
                    if (options.scenario === "drift") args.push("--shift", DRIFT_SHIFT);
                } else {
                    args.push("--split-dir", path.join(manifestDir, "test"), "--limit", String(options.requests));
                }
                const made = await runPython("pipeline/make_traffic.py", args, path.join(logs, "traffic.log"));
                if (made.code !== 0) throw new Error(`make_traffic failed (exit ${made.code}); see ${logs}/traffic.log`);
                const result: ReplayResult = await replayTraffic(prodUrl!, traffic);
                if (result.failed > 0) throw new Error(`${result.failed} of ${result.requests} requests failed: ${result.errors[0]}`);
                summary.traffic = { ...result, drifted: options.scenario === "drift" ? DRIFT_SHIFT : "no" };
                summary.traffic = { ...(summary.traffic as object), captured: proxy!.captured, samplingPercentage };
                return { value: result, detail: `${result.requests} requests to version ${prod!.version.version} in ${result.seconds.toFixed(1)}s, p50 ${result.latencyP50Ms.toFixed(1)} ms, p99 ${result.latencyP99Ms.toFixed(1)} ms, ${proxy!.captured} captured (prod samples ${samplingPercentage}%)` };
            }, { afterGateStop: true });
            if (replay) {
                await stages.run("drift check", async () => {
                    const output = path.join(runDir, "drift");
                    const capture = path.join(runDir, "capture");
                    // The same drift rule and settings as the prod monitoring job (monitor/drift_checker).
                    const result = await runPython("monitor/check_drift.py", [
                        "--baseline-dir", path.join(manifestDir, "baseline"), "--capture-dir", capture,
                        "--manifest", path.join(manifestDir, "manifest.json"), "--output", output,
                        "--alpha", String(prodConfig.monitoring.driftAlpha), "--min-window", String(prodConfig.monitoring.driftMinWindow),
                    ], path.join(logs, "drift.log"));
                    if (result.code === 2) throw new Error(`drift check could not run; see ${logs}/drift.log`);
                    const rule = /drift verdict: (drift|no drift|insufficient data|not evaluated);/.exec(result.output)?.[1] ?? "not evaluated";
                    const violations = (JSON.parse(fs.readFileSync(path.join(output, "constraint_violations.json"), "utf8")).violations ?? []) as Violation[];
                    const manifest = JSON.parse(fs.readFileSync(path.join(manifestDir, "manifest.json"), "utf8"));
                    const names: Record<string, string> = Object.fromEntries((manifest.baselineColumns ?? []).map((c: { name: string; feature: string }) => [c.name, c.feature]));
                    const html = path.join(output, "report.html");
                    fs.writeFileSync(html, renderDriftReport({
                        baselineStatistics: JSON.parse(fs.readFileSync(path.join(manifestDir, "baseline", "statistics.json"), "utf8")),
                        windowRows: fs.readFileSync(traffic, "utf8").split("\n").filter(Boolean).map((l) => l.split(",").map(Number)),
                        violations,
                        featureNames: names,
                        endpoint: `${group}-prod`,
                        captureDir: capture,
                        verdict: rule,
                        capturedRequests: proxy?.captured,
                    }));
                    const drifted = violations.filter((v) => v.constraint_check_type === "baseline_drift_check").map((v) => names[v.feature_name] ?? v.feature_name);
                    const verdict = rule === "drift" ? "drift flagged" : rule;
                    summary.drift = { verdict, rule: { alpha: prodConfig.monitoring.driftAlpha, minWindow: prodConfig.monitoring.driftMinWindow }, violations: violations.length, driftedFeatures: drifted, report: html };
                    const listed = [...new Set(violations.map((v) => `${names[v.feature_name] ?? v.feature_name} ${v.constraint_check_type}`))].slice(0, 4).join(", ");
                    return {
                        value: violations,
                        detail: violations.length === 0 ? verdict : `${verdict}: ${violations.length} violation(s) (${listed})`,
                    };
                }, { afterGateStop: true });
            }
        }
    } finally {
        await proxy?.close();
        await supervisor.dispose();
    }

    const exitCode = promoted && !stages.results.some((r) => r.status === "failed") ? 0 : 1;
    summary.promoted = promoted;
    summary.stages = stages.results;
    fs.writeFileSync(path.join(runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    printSummary(print, summary, stages);
    return { exitCode, runDir, promoted, stages: stages.results, summary };
}

/** The ETL run prod's model was trained on (its manifest and baseline define what "no drift" means). */
function trainingDataOf(version: ModelVersion | undefined, pathOf: (uri: string) => string): string | undefined {
    const prefix = version?.properties[REGISTRY_METADATA.dataPrefix];
    const dir = prefix ? pathOf(prefix) : undefined;
    return dir && fs.existsSync(path.join(dir, "manifest.json")) ? dir : undefined;
}

/** What the summary keeps of the ETL run: manifest counts, or failure.json's counts, kind and message. */
export interface EtlSummary {
    rowsIn?: number;
    rowsOut?: number;
    rowsQuarantined?: number;
    quarantineByReason?: Record<string, number>;
    /** Path of failure.json when the ETL stopped. */
    failure?: string;
    kind?: string;
    message?: string;
}

/**
 * The summary's "data" line. A run the ETL stopped says so and why (failure.json's kind and message), instead of
 * "569 rows in, 0 out, 0 quarantined ()": on a gate stop nothing was output, and the reason need not be quarantine.
 */
export function etlDataLine(etl: EtlSummary | undefined): string {
    if (!etl) return "—";
    const reasons = Object.entries(etl.quarantineByReason ?? {}).filter(([, n]) => Number(n) > 0).map(([k, n]) => `${k} ${n}`).join(", ");
    const quarantined = `${etl.rowsQuarantined ?? 0} quarantined${reasons ? ` (${reasons})` : ""}`;
    if (etl.failure) {
        const read = typeof etl.rowsIn === "number" ? `${etl.rowsIn} rows read, ${quarantined}; ` : "";
        return `stopped by the ETL ${etl.kind === "gate" ? "quality gate" : `(${etl.kind ?? "error"})`}, nothing published: ${read}${etl.message ?? "see " + etl.failure}`;
    }
    return `${etl.rowsIn} rows in, ${etl.rowsOut} out, ${quarantined}`;
}

// The summary is assembled from JSON files the stages wrote; its shape is documented by printSummary itself.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function printSummary(print: (l: string) => void, summary: Record<string, any>, stages: StageRunner): void {
    const total = stages.results.reduce((s, r) => s + r.seconds, 0);
    const evaluation = summary.evaluation;
    const m = evaluation?.metrics ?? {};
    const fmt = (v: unknown) => (typeof v === "number" ? v.toFixed(4) : "—");
    const rows: [string, string][] = [
        ["scenario", summary.scenario],
        ["reuse", summary.reuse?.enabled === false ? "off (--no-reuse): every stage recomputed" :
            Object.entries(summary.reuse?.stages ?? {}).map(([stage, r]) => `${stage} ${(r as { reused: boolean }).reused ? "reused" : "computed"}`).join(", ") || "—"],
        ["stages", `${stages.results.filter((r) => r.status === "ok").length} ok, ${stages.results.filter((r) => r.status !== "ok").length} not; ${total.toFixed(1)} s in all`],
        ["data", etlDataLine(summary.etl)],
        ["best achievable ROC AUC", fmt(summary.bayesAuc)],
        ["metrics", evaluation ? `ROC AUC ${fmt(m.rocAuc)}, PR AUC ${fmt(m.prAuc)}, F1 ${fmt(m.f1)}, log loss ${fmt(m.logLoss)}, p99 ${fmt(m.latencyP99Ms)} ms` : "—"],
        ["gate", evaluation ? `${evaluation.decision} (version ${evaluation.version})` : "—"],
        ...((evaluation?.reasons ?? []) as string[]).map((r): [string, string] => ["  reason", r]),
        ["prod serves", summary.prodServes ?? "nothing"],
        ["drift", summary.drift ? `${summary.drift.verdict}${summary.drift.driftedFeatures.length ? `: ${summary.drift.driftedFeatures.join(", ")}` : ""}` : "not checked"],
        ["evaluation report", evaluation?.report ?? "—"],
        ["drift report", summary.drift?.report ?? "—"],
        ["run folder", summary.run],
        ["result", summary.promoted ? "PROMOTED" : "NOT PROMOTED"],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    print("");
    for (const [k, v] of rows) print(`${k.padEnd(width)}  ${v}`);
}

export function parseCli(argv: readonly string[]): LocalPipelineOptions | "help" {
    const { values } = parseArgs({
        args: [...argv],
        options: {
            scenario: { type: "string", default: "default" },
            rows: { type: "string", default: "20000" },
            seed: { type: "string", default: "7" },
            data: { type: "string" },
            schema: { type: "string" },
            requests: { type: "string", default: "1000" },
            "runs-root": { type: "string", default: path.join(REPO_ROOT, ".runs") },
            stack: { type: "string", default: "dev" },
            "no-reuse": { type: "boolean" },
            "train-hosts": { type: "string" },
            help: { type: "boolean", short: "h" },
        },
        strict: true,
    });
    if (values.help) return "help";
    const scenario = values.scenario as Scenario;
    if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario ${values.scenario}: expected one of ${SCENARIOS.join(", ")}`);
    const int = (name: "rows" | "seed" | "requests" | "train-hosts", min: number) => {
        const n = Number(values[name]);
        if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${values[name]}: expected a whole number >= ${min}`);
        return n;
    };
    if (Boolean(values.data) !== Boolean(values.schema)) throw new Error("--data and --schema go together");
    for (const f of [values.data, values.schema]) if (f && !fs.existsSync(f)) throw new Error(`${f}: no such file`);
    if (values.data && scenario !== "default" && scenario !== "weak-model") {
        throw new Error(`--scenario ${scenario} needs the synthetic data (it changes how the data is generated)`);
    }
    return {
        scenario,
        rows: int("rows", 100),
        seed: int("seed", 0),
        requests: int("requests", 1),
        data: values.data,
        schema: values.schema,
        runsRoot: values["runs-root"]!,
        stack: values.stack!,
        reuse: !values["no-reuse"],
        trainHosts: values["train-hosts"] === undefined ? undefined : int("train-hosts", 1),
    };
}

if (require.main === module) {
    let options: LocalPipelineOptions | "help";
    try {
        options = parseCli(process.argv.slice(2));
    } catch (err) {
        console.error(`pipeline:local: ${(err as Error).message}\n\n${USAGE}`);
        process.exit(2);
    }
    if (options === "help") {
        console.log(USAGE);
    } else {
        runLocalPipeline(options).then((r) => {
            process.exitCode = r.exitCode;
        }, (err) => {
            console.error(`pipeline:local: ${(err as Error).stack ?? err}`);
            process.exitCode = 1;
        });
    }
}
