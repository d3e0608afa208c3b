/**
 * The local pipeline end to end, for real (Spark, the container's train and serve, the TypeScript steps), on
 * small data. Every scenario runs in a workspace (runs root, hence model registry) of its own, so each `describe`
 * runs alone and in any order: the default scenario on an empty workspace, as on a fresh clone; the others on a
 * copy of the workspace that first run left (version 1 the champion, its ETL run recorded for reuse), as a user's
 * second run finds it. The first run is made once per process, on demand, and never run in again.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalPipelineResult, runLocalPipeline } from "../../pipeline/local";
import { captureDraw } from "../../pipeline/lib/prod-endpoint";
import { REPO_ROOT } from "../../pipeline/lib/python";
import { LocalPipelineOptions, parseCli } from "../../pipeline/options";
import { Scenario } from "../../pipeline/scenarios";
import { LocalPipelineSummary } from "../../pipeline/summary";

const ROWS = 2000;
// Prod captures 20% (Pulumi.prod.yaml): 1,000 requests give a window of about 200, above the drift rule's minimum.
const REQUESTS = 1000;

/** Model servers still running whose model lives under `root`. */
function serversUnder(root: string): number[] {
    return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
        try {
            const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") return false;
            return cmd.includes("bin/serve") && fs.readFileSync(`/proc/${pid}/environ`, "utf8").includes(`OPT_ML_DIR=${root}`);
        } catch {
            return false;
        }
    });
}

function files(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));
const status = (r: LocalPipelineResult, stage: string) => r.stages.find((s) => s.name === stage)?.status;
const versionsOf = (root: string): { version: number; approvalStatus: string }[] =>
    Object.values(readJson(path.join(root, "model-registry.json")).groups as Record<string, { versions: { version: number; approvalStatus: string }[] }>)
        .flatMap((g) => g.versions);
const reusedStages = (summary: LocalPipelineSummary) => Object.entries(summary.reuse.stages).map(([k, v]) => [k, v.reused]);

/** A run of the pipeline with the printed lines it produced (shown when a test fails). */
interface Run {
    readonly root: string;
    readonly result: LocalPipelineResult;
    readonly lines: readonly string[];
}

async function runIn(root: string, scenario: Scenario, options: Partial<LocalPipelineOptions> = {}): Promise<Run> {
    const lines: string[] = [];
    const result = await runLocalPipeline({
        scenario, rows: ROWS, seed: 7, requests: REQUESTS, runsRoot: root, stack: "dev", print: (l) => lines.push(l), ...options,
    });
    return { root, result, lines };
}

/** Every workspace the tests made: removed once all have run (the first run's is copied by the others). */
const workspaces: string[] = [];
after(() => {
    for (const w of workspaces) fs.rmSync(w, { recursive: true, force: true });
});
function newWorkspace(name: string): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `pipeline-${name}-`));
    workspaces.push(root);
    return root;
}

let firstRun: Promise<Run> | undefined;
/** The default scenario's first run on an empty workspace (made on first use; its workspace is only ever copied). */
function firstDefaultRun(): Promise<Run> {
    firstRun ??= runIn(newWorkspace("first"), "default");
    return firstRun;
}

/** A workspace of its own holding a copy of the first run's. */
async function workspaceAfterFirstRun(name: string): Promise<string> {
    const first = await firstDefaultRun();
    assert.equal(first.result.exitCode, 0, `the first default run, which this scenario starts from, did not promote:\n${first.lines.join("\n")}`);
    const root = newWorkspace(name);
    fs.cpSync(first.root, root, { recursive: true });
    return root;
}

/** A scenario's own describe; the lines of the run its test keeps in `last.run` are printed when the test fails. */
function scenario(title: string, body: (last: { run?: Run }) => void): void {
    describe(title, function () {
        this.timeout(600_000);
        const last: { run?: Run } = {};
        afterEach(function () {
            if (this.currentTest?.state === "failed" && last.run) console.log(last.run.lines.join("\n"));
        });
        body(last);
    });
}

scenario("local pipeline, default scenario on an empty workspace (end to end)", (last) => {
    it("default: trains, approves and promotes the first version, then watches prod traffic", async () => {
        const { root, result: r, lines } = last.run = await firstDefaultRun();
        assert.equal(r.exitCode, 0);
        assert.equal(r.promoted, true);
        assert.deepEqual(r.stages.filter((s) => s.status !== "ok").map((s) => s.name), []);
        assert.deepEqual(r.stages.map((s) => s.name), [
            "data", "prod (current)", "etl", "train + register", "dev endpoint", "evaluate + gate", "promote to prod", "replay traffic", "drift check",
        ]);
        const { summary } = r;
        const evaluation = summary.evaluation!;
        const rocAuc = evaluation.metrics?.rocAuc ?? NaN;
        assert.equal(evaluation.decision, "Approved");
        assert.ok(rocAuc > 0.75, `ROC AUC ${rocAuc}`);
        assert.ok(rocAuc <= summary.bayesAuc! + 0.05, "no model beats the known ground truth by much");
        assert.equal(summary.prodServes, "version 1");
        assert.equal(summary.drift!.verdict, "no drift");
        assert.equal(summary.traffic!.requests, REQUESTS);
        const etl = summary.etl!;
        assert.equal(etl.rowsIn, etl.rowsOut! + etl.rowsQuarantined!);
        // Reports for people, and the capture in SageMaker's layout.
        const evaluationHtml = fs.readFileSync(evaluation.report!, "utf8");
        assert.match(evaluationHtml, /<svg id="roc-curve"/);
        assert.match(fs.readFileSync(summary.drift!.report, "utf8"), /<svg id="dist-_c0"/);
        const capture = files(path.join(r.runDir, "capture"));
        assert.ok(capture.length > 0);
        for (const f of capture) assert.match(path.relative(path.join(r.runDir, "capture"), f), /^[\w-]+\/primary\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}-\d{2}-\d{3}-[0-9a-f-]+\.jsonl$/);
        const captured = capture.flatMap((f) => fs.readFileSync(f, "utf8").trim().split("\n"));
        // The prod stack's sampling percentage, not 100%: 20% of 1,000 is 200 +- 13 (binomial sd); 4 sd either side.
        assert.equal(summary.traffic!.samplingPercentage, 20);
        assert.equal(captured.length, summary.traffic!.captured);
        assert.ok(captured.length >= 150 && captured.length <= 250, `captured ${captured.length} of ${REQUESTS}`);
        assert.equal(JSON.parse(captured[0]).captureData.endpointInput.encoding, "CSV");
        // summary.json is the summary the run returned (what the command line's users read).
        assert.deepEqual(readJson(path.join(r.runDir, "summary.json")), JSON.parse(JSON.stringify(summary)));
        assert.match(lines.join("\n"), /result\s+PROMOTED/);
        assert.deepEqual(summary.reuse, { enabled: true, stages: {
            etl: { key: summary.reuse.stages.etl.key, reused: false }, "train + register": { key: summary.reuse.stages["train + register"].key, reused: false },
        } });
        assert.deepEqual(serversUnder(root), [], "every model server is stopped");
    });
});

scenario("local pipeline, a second default run (reuse, end to end)", (last) => {
    it("reuse: the same data, ETL code, schema, image and hyperparameters reuse the ETL run and version 1 (hit), and say so", async () => {
        const workspace = await workspaceAfterFirstRun("reuse");
        const firstRunId = fs.readdirSync(workspace).filter((d) => d.endsWith("-default"));
        assert.equal(firstRunId.length, 1);
        const { root, result: r, lines } = last.run = await runIn(workspace, "default");
        assert.equal(r.exitCode, 0);
        const { summary } = r;
        assert.deepEqual(reusedStages(summary), [["etl", true], ["train + register", true]]);
        const etlLine = r.stages.find((s) => s.name === "etl")!.detail;
        assert.match(etlLine, new RegExp(`^reused run ${firstRunId[0]} `));
        assert.match(r.stages.find((s) => s.name === "train + register")!.detail, /^reused version 1 \(Approved\)/);
        assert.equal(summary.etl!.reusedRun, `s3://${firstRunId[0]}/curated/datasets/${firstRunId[0]}/`);
        assert.ok(!fs.existsSync(path.join(r.runDir, "curated")), "no ETL output written");
        assert.ok(!fs.existsSync(path.join(r.runDir, "training-jobs")), "no training job run");
        assert.equal(versionsOf(root).length, 1, "no new version");
        // The reused version was re-evaluated and promoted: the stages after training still ran.
        assert.equal(summary.evaluation!.version, 1);
        assert.equal(summary.prodServes, "version 1");
        assert.match(lines.join("\n"), /reuse\s+etl reused, train \+ register reused/);
    });
});

scenario("local pipeline, drift with reuse off (end to end)", (last) => {
    it("drift, reuse off (miss by switch): retrains, promotes the next version (a tie with the champion passes), flags the drifted feature", async () => {
        const { root, result: r, lines } = last.run = await runIn(await workspaceAfterFirstRun("drift"), "drift", { reuse: false });
        const { summary } = r;
        assert.deepEqual(reusedStages(summary), [["etl", false], ["train + register", false]]);
        assert.match(lines.join("\n"), /reuse\s+off \(--no-reuse\)/);
        assert.equal(r.exitCode, 0);
        assert.equal(summary.evaluation!.version, 2);
        assert.equal(summary.prodServes, "version 2");
        assert.equal(summary.drift!.verdict, "drift flagged");
        assert.ok(summary.drift!.driftedFeatures.includes("tenure_months"), summary.drift!.driftedFeatures.join(", "));
        assert.match(fs.readFileSync(summary.drift!.report, "utf8"), /class="flag">drift/);
        assert.deepEqual(serversUnder(root), []);
    });
});

scenario("local pipeline, weak-model against a champion (end to end)", (last) => {
    it("weak-model: evaluation rejects the version and prod keeps serving the champion", async () => {
        const { root, result: r } = last.run = await runIn(await workspaceAfterFirstRun("weak-model"), "weak-model");
        assert.equal(r.exitCode, 1);
        assert.equal(r.promoted, false);
        assert.equal(status(r, "prod (current)"), "ok");
        assert.equal(status(r, "weak: evaluate + gate"), "stopped");
        assert.equal(status(r, "weak: promote to prod"), "skipped");
        assert.equal(status(r, "replay traffic"), "ok", "prod still answers traffic");
        const { summary } = r;
        const evaluation = summary.evaluation!;
        assert.equal(evaluation.decision, "Rejected");
        assert.ok(evaluation.reasons.some((x) => /worse than champion version 1/.test(x)), evaluation.reasons.join("; "));
        assert.equal(summary.prodServes, "version 1");
        assert.deepEqual(versionsOf(root).map((v) => [v.version, v.approvalStatus]), [[1, "Approved"], [2, "Rejected"]]);
        // Same data: the ETL run is reused; other hyperparameters: a miss, the weak model is trained.
        assert.deepEqual(reusedStages(summary), [["weak: etl", true], ["weak: train + register", false]]);
        assert.deepEqual(serversUnder(root), []);
    });
});

scenario("local pipeline, bad data with a champion in prod (end to end)", (last) => {
    it("bad-data: the ETL gate stops the run before training and publishes nothing", async () => {
        const { root, result: r } = last.run = await runIn(await workspaceAfterFirstRun("bad-data"), "bad-data");
        assert.equal(r.exitCode, 1);
        assert.equal(status(r, "etl"), "stopped");
        for (const stage of ["train + register", "dev endpoint", "evaluate + gate", "promote to prod"]) assert.equal(status(r, stage), "skipped", stage);
        const etl = r.summary.etl!;
        assert.ok(etl.rowsQuarantined! / etl.rowsIn! > 0.05);
        assert.ok(fs.existsSync(etl.failure!));
        const runId = path.basename(r.runDir);
        assert.equal(fs.existsSync(path.join(r.runDir, "curated", "datasets", runId)), false, "no run prefix was published");
        assert.equal(versionsOf(root).length, 1, "nothing was registered");
        assert.equal(r.summary.prodServes, "version 1");
        assert.deepEqual(serversUnder(root), []);
    });
});

scenario("local pipeline with --train-hosts 2 (distributed training, end to end)", (last) => {
    it("the ETL writes two train shards and two container processes train one model on them", async () => {
        const { root, result: r, lines } = last.run = await runIn(newWorkspace("two-host"), "default", { trainHosts: 2 });
        const log = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
        const jobs = path.join(r.runDir, "training-jobs");
        assert.equal(r.exitCode, 0, [lines.join("\n"), log(path.join(r.runDir, "logs", "train.log")),
            ...(fs.existsSync(jobs) ? fs.readdirSync(jobs).flatMap((j) => ["logs.txt", "logs-algo-2.txt"].map((f) => log(path.join(jobs, j, f)).slice(-3000))) : [])].join("\n"));
        const { summary } = r;
        const runId = path.basename(r.runDir);
        const dataset = path.join(r.runDir, "curated", "datasets", runId);
        assert.equal(readJson(path.join(dataset, "manifest.json")).trainShards, 2);
        assert.deepEqual(fs.readdirSync(path.join(dataset, "train")).sort(), ["part-00000.csv", "part-00001.csv"]);
        const [job] = fs.readdirSync(path.join(r.runDir, "training-jobs"));
        const jobDir = path.join(r.runDir, "training-jobs", job);
        const hostLog = (name: string) => fs.readFileSync(path.join(jobDir, name), "utf8");
        assert.match(hostLog("logs.txt"), /host algo-1 is rank 0 of 2/);
        assert.match(hostLog("logs-algo-2.txt"), /host algo-2 is rank 1 of 2/);
        // each host read its own shard, and the model counts the rows of both
        const shardRows = (dir: string) => fs.readFileSync(path.join(jobDir, dir, "input", "data", "train",
            fs.readdirSync(path.join(jobDir, dir, "input", "data", "train"))[0]), "utf8").trim().split("\n").length;
        const version = versionsOf(root)[0];
        assert.equal(version.approvalStatus, "Approved");
        const metadata = readJson(path.join(jobDir, "opt_ml", "model", "metadata.json"));
        assert.equal(metadata.metrics.train_rows, shardRows("opt_ml") + shardRows("opt_ml-algo-2"));
        assert.equal(metadata.metrics.train_rows, summary.etl!.splits!.train);
        const rocAuc = summary.evaluation?.metrics?.rocAuc ?? NaN;
        assert.ok(rocAuc > 0.75, `ROC AUC ${rocAuc}`);
        assert.deepEqual(serversUnder(root), []);
    });
});

describe("local capture sampling", () => {
    it("draws from the run's seed and the request's bytes, whatever order requests arrive in", () => {
        const bodies = Array.from({ length: 10_000 }, (_, i) => `${i},${(i * 7919) % 1000}.5,a`);
        const draws = (seed: number, order: string[]) => new Map(order.map((b) => [b, captureDraw(seed, b)]));
        const a = draws(1007, bodies);
        const shuffled = [...bodies].reverse();
        assert.deepEqual([...draws(1007, shuffled)].sort(), [...a].sort(), "arrival order does not change any draw");
        assert.deepEqual(captureDraw(1007, Buffer.from(bodies[3])), a.get(bodies[3]), "a Buffer body draws as its text");
        const other = draws(1008, bodies);
        assert.ok(bodies.filter((b) => other.get(b) !== a.get(b)).length > 9_990, "another seed gives other draws");
        const values = [...a.values()];
        assert.ok(values.every((x) => x >= 0 && x < 1));
        // 20% sampling keeps 2,000 +- 40 (binomial sd) of 10,000: 5 sd either side.
        const kept = values.filter((x) => x * 100 < 20).length;
        assert.ok(kept > 1800 && kept < 2200, `kept ${kept}`);
    });
});

describe("local pipeline command line", () => {
    it("takes the documented flags and rejects bad ones with the allowed values", () => {
        const options = parseCli(["--scenario", "drift", "--rows", "5000", "--requests", "10"]);
        assert.ok(options !== "help");
        assert.deepEqual([options.scenario, options.rows, options.requests, options.seed, options.reuse], ["drift", 5000, 10, 7, true]);
        assert.equal((parseCli(["--no-reuse"]) as { reuse: boolean }).reuse, false);
        assert.equal(parseCli(["--help"]), "help");
        assert.throws(() => parseCli(["--scenario", "chaos"]), /--scenario chaos: expected one of default, drift, bad-data, weak-model/);
        assert.throws(() => parseCli(["--rows", "ten"]), /--rows ten: expected a whole number >= 100/);
        const hosts = parseCli(["--train-hosts", "2"]);
        assert.ok(hosts !== "help" && hosts.trainHosts === 2);
        assert.ok(options.trainHosts === undefined, "without the flag the stack's training.instanceCount applies");
        assert.throws(() => parseCli(["--train-hosts", "0"]), /--train-hosts 0: expected a whole number >= 1/);
        assert.throws(() => parseCli(["--data", "x.csv"]), /--data and --schema go together/);
        assert.throws(() => parseCli(["--data", "nope.csv", "--schema", "nope.json"]), /nope.csv: no such file/);
        const sample = path.join(REPO_ROOT, "data", "churn-sample.csv");
        const schema = path.join(REPO_ROOT, "data", "churn.schema.json");
        assert.throws(() => parseCli(["--data", sample, "--schema", schema, "--scenario", "drift"]), /needs the synthetic data/);
    });
});
