/**
 * The local pipeline end to end, for real (Spark, the container's train and serve, the TypeScript steps), on
 * small data. The scenarios share one runs root, as a user's successive runs would: the default run creates
 * the champion, drift promotes a second version and flags drift, weak-model is rejected while prod keeps
 * serving the champion, bad-data stops at the ETL gate.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { captureDraw, LocalPipelineResult, parseCli, runLocalPipeline, Scenario } from "../../pipeline/local";
import { REPO_ROOT } from "../../pipeline/lib/python";

/* eslint-disable @typescript-eslint/no-explicit-any */
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

const status = (r: LocalPipelineResult, stage: string) => r.stages.find((s) => s.name === stage)?.status;
const registry = (root: string) => JSON.parse(fs.readFileSync(path.join(root, "model-registry.json"), "utf8"));
const versionsOf = (root: string): { version: number; approvalStatus: string }[] =>
    Object.values(registry(root).groups ?? registry(root)).flatMap((g: any) => g.versions ?? g);

describe("local pipeline (end to end)", function () {
    this.timeout(600_000);
    let root: string;
    const lines: string[] = [];
    const run = (scenario: Scenario, reuse = true) => runLocalPipeline({
        scenario, rows: ROWS, seed: 7, requests: REQUESTS, runsRoot: root, stack: "dev", print: (l) => lines.push(l), reuse,
    });

    before(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-e2e-"));
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));
    afterEach(function () {
        if (this.currentTest?.state === "failed") console.log(lines.join("\n"));
        lines.length = 0;
    });

    it("default: trains, approves and promotes the first version, then watches prod traffic", async () => {
        const r = await run("default");
        assert.equal(r.exitCode, 0);
        assert.equal(r.promoted, true);
        assert.deepEqual(r.stages.filter((s) => s.status !== "ok").map((s) => s.name), []);
        assert.deepEqual(r.stages.map((s) => s.name), [
            "data", "prod (current)", "etl", "train + register", "dev endpoint", "evaluate + gate", "promote to prod", "replay traffic", "drift check",
        ]);
        const summary = r.summary as any;
        assert.equal(summary.evaluation.decision, "Approved");
        assert.ok(summary.evaluation.metrics.rocAuc > 0.75, `ROC AUC ${summary.evaluation.metrics.rocAuc}`);
        assert.ok(summary.evaluation.metrics.rocAuc <= summary.bayesAuc + 0.05, "no model beats the known ground truth by much");
        assert.equal(summary.prodServes, "version 1");
        assert.equal(summary.drift.verdict, "no drift");
        assert.equal(summary.traffic.requests, REQUESTS);
        assert.equal(summary.etl.rowsIn, summary.etl.rowsOut + summary.etl.rowsQuarantined);
        // Reports for people, and the capture in SageMaker's layout.
        const evaluationHtml = fs.readFileSync(summary.evaluation.report, "utf8");
        assert.match(evaluationHtml, /<svg id="roc-curve"/);
        assert.match(fs.readFileSync(summary.drift.report, "utf8"), /<svg id="dist-_c0"/);
        const capture = files(path.join(r.runDir, "capture"));
        assert.ok(capture.length > 0);
        for (const f of capture) assert.match(path.relative(path.join(r.runDir, "capture"), f), /^[\w-]+\/primary\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}-\d{2}-\d{3}-[0-9a-f-]+\.jsonl$/);
        const captured = capture.flatMap((f) => fs.readFileSync(f, "utf8").trim().split("\n"));
        // The prod stack's sampling percentage, not 100%: 20% of 1,000 is 200 +- 13 (binomial sd); 4 sd either side.
        assert.equal(summary.traffic.samplingPercentage, 20);
        assert.equal(captured.length, summary.traffic.captured);
        assert.ok(captured.length >= 150 && captured.length <= 250, `captured ${captured.length} of ${REQUESTS}`);
        assert.equal(JSON.parse(captured[0]).captureData.endpointInput.encoding, "CSV");
        assert.ok(fs.existsSync(path.join(r.runDir, "summary.json")));
        assert.match(lines.join("\n"), /result\s+PROMOTED/);
        assert.deepEqual(summary.reuse, { enabled: true, stages: {
            etl: { key: summary.reuse.stages.etl.key, reused: false }, "train + register": { key: summary.reuse.stages["train + register"].key, reused: false },
        } });
        assert.deepEqual(serversUnder(root), [], "every model server is stopped");
    });

    it("reuse: the same data, ETL code, schema, image and hyperparameters reuse the ETL run and version 1 (hit), and say so", async () => {
        const firstRun = fs.readdirSync(root).filter((d) => d.endsWith("-default"));
        const r = await run("default");
        assert.equal(r.exitCode, 0);
        const summary = r.summary as any;
        assert.deepEqual(Object.entries(summary.reuse.stages).map(([k, v]: [string, any]) => [k, v.reused]), [["etl", true], ["train + register", true]]);
        const etlLine = r.stages.find((s) => s.name === "etl")!.detail;
        assert.match(etlLine, new RegExp(`^reused run ${firstRun[0]} `));
        assert.match(r.stages.find((s) => s.name === "train + register")!.detail, /^reused version 1 \(Approved\)/);
        assert.equal(summary.etl.reusedRun, `s3://${firstRun[0]}/curated/datasets/${firstRun[0]}/`);
        assert.ok(!fs.existsSync(path.join(r.runDir, "curated")), "no ETL output written");
        assert.ok(!fs.existsSync(path.join(r.runDir, "training-jobs")), "no training job run");
        assert.equal(versionsOf(root).length, 1, "no new version");
        // The reused version was re-evaluated and promoted: the stages after training still ran.
        assert.equal(summary.evaluation.version, 1);
        assert.equal(summary.prodServes, "version 1");
        assert.match(lines.join("\n"), /reuse\s+etl reused, train \+ register reused/);
    });

    it("drift, reuse off (miss by switch): retrains, promotes the next version (a tie with the champion passes), flags the drifted feature", async () => {
        const r = await run("drift", false);
        assert.deepEqual(Object.values((r.summary as any).reuse.stages).map((v: any) => v.reused), [false, false]);
        assert.match(lines.join("\n"), /reuse\s+off \(--no-reuse\)/);
        assert.equal(r.exitCode, 0);
        const summary = r.summary as any;
        assert.equal(summary.evaluation.version, 2);
        assert.equal(summary.prodServes, "version 2");
        assert.equal(summary.drift.verdict, "drift flagged");
        assert.ok(summary.drift.driftedFeatures.includes("tenure_months"), summary.drift.driftedFeatures.join(", "));
        assert.match(fs.readFileSync(summary.drift.report, "utf8"), /class="flag">drift/);
        assert.deepEqual(serversUnder(root), []);
    });

    it("weak-model: evaluation rejects the version and prod keeps serving the champion", async () => {
        const r = await run("weak-model");
        assert.equal(r.exitCode, 1);
        assert.equal(r.promoted, false);
        assert.equal(status(r, "prod (current)"), "ok");
        assert.equal(status(r, "weak: evaluate + gate"), "stopped");
        assert.equal(status(r, "weak: promote to prod"), "skipped");
        assert.equal(status(r, "replay traffic"), "ok", "prod still answers traffic");
        const summary = r.summary as any;
        assert.equal(summary.evaluation.decision, "Rejected");
        assert.ok(summary.evaluation.reasons.some((x: string) => /worse than champion version 2/.test(x)), summary.evaluation.reasons.join("; "));
        assert.equal(summary.prodServes, "version 2");
        assert.deepEqual(versionsOf(root).map((v) => [v.version, v.approvalStatus]), [[1, "Approved"], [2, "Approved"], [3, "Rejected"]]);
        // Same data: the ETL run is reused; other hyperparameters: a miss, the weak model is trained.
        assert.deepEqual(Object.entries(summary.reuse.stages).map(([k, v]: [string, any]) => [k, v.reused]), [["weak: etl", true], ["weak: train + register", false]]);
        assert.deepEqual(serversUnder(root), []);
    });

    it("bad-data: the ETL gate stops the run before training and publishes nothing", async () => {
        const r = await run("bad-data");
        assert.equal(r.exitCode, 1);
        assert.equal(status(r, "etl"), "stopped");
        for (const stage of ["train + register", "dev endpoint", "evaluate + gate", "promote to prod"]) assert.equal(status(r, stage), "skipped", stage);
        const summary = r.summary as any;
        assert.ok(summary.etl.rowsQuarantined / summary.etl.rowsIn > 0.05);
        assert.ok(fs.existsSync(summary.etl.failure));
        const runId = path.basename(r.runDir);
        assert.equal(fs.existsSync(path.join(r.runDir, "curated", "datasets", runId)), false, "no run prefix was published");
        assert.equal(versionsOf(root).length, 3, "nothing was registered");
        assert.equal(summary.prodServes, "version 2");
        assert.deepEqual(serversUnder(root), []);
    });
});

describe("local pipeline with --train-hosts 2 (distributed training, end to end)", function () {
    this.timeout(600_000);
    let root: string;
    const lines: string[] = [];
    before(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-two-host-"));
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it("the ETL writes two train shards and two container processes train one model on them", async () => {
        const r = await runLocalPipeline({
            scenario: "default", rows: ROWS, seed: 7, requests: REQUESTS, runsRoot: root, stack: "dev", trainHosts: 2, print: (l) => lines.push(l),
        });
        const log = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
        const jobs = path.join(r.runDir, "training-jobs");
        assert.equal(r.exitCode, 0, [lines.join("\n"), log(path.join(r.runDir, "logs", "train.log")),
            ...(fs.existsSync(jobs) ? fs.readdirSync(jobs).flatMap((j) => ["logs.txt", "logs-algo-2.txt"].map((f) => log(path.join(jobs, j, f)).slice(-3000))) : [])].join("\n"));
        const summary = r.summary as any;
        const runId = path.basename(r.runDir);
        const dataset = path.join(r.runDir, "curated", "datasets", runId);
        assert.equal(JSON.parse(fs.readFileSync(path.join(dataset, "manifest.json"), "utf8")).trainShards, 2);
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
        const metadata = JSON.parse(fs.readFileSync(path.join(jobDir, "opt_ml", "model", "metadata.json"), "utf8"));
        assert.equal(metadata.metrics.train_rows, shardRows("opt_ml") + shardRows("opt_ml-algo-2"));
        assert.equal(metadata.metrics.train_rows, summary.etl.splits.train);
        assert.ok(summary.evaluation.metrics.rocAuc > 0.75, `ROC AUC ${summary.evaluation.metrics.rocAuc}`);
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
