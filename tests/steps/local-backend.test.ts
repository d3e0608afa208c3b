import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { main as evaluateMain } from "../../steps/evaluate/main";
import { TrainingJobRequest } from "../../steps/lib/backend";
import { isStepError } from "../../steps/lib/errors";
import { createLocalBackend, defaultTrainCommand, LocalInvoker, LocalObjectStore, LocalRegistry, LocalTraining, REPO_ROOT } from "../../steps/lib/local";
import { metricDefinitions } from "../../steps/train/train";
import { main as trainMain } from "../../steps/train/main";
import { CapturedIo, FakeClock } from "./helpers";

/**
 * A stand-in for model-container/bin/train that follows the same contract (contracts §3): reads OPT_ML_DIR's
 * config and channels, prints METRIC lines, writes model/ or output/failure. FAKE_MODE picks the outcome.
 */
const FAKE_TRAIN = `
const fs = require("fs"), path = require("path");
const root = process.env.OPT_ML_DIR;
const hp = JSON.parse(fs.readFileSync(path.join(root, "input/config/hyperparameters.json"), "utf8"));
const channels = JSON.parse(fs.readFileSync(path.join(root, "input/config/inputdataconfig.json"), "utf8"));
const mode = process.env.FAKE_MODE || "ok";
if (mode === "fail") {
  fs.writeFileSync(path.join(root, "output/failure"), "ClientError: unknown hyperparameter 'etaa'\\n\\ntraceback here");
  process.exit(2);
}
if (mode === "hang") { process.on("SIGTERM", () => process.exit(143)); setInterval(() => {}, 1000); return; }
const rc = JSON.parse(fs.readFileSync(path.join(root, "input/config/resourceconfig.json"), "utf8"));
if (process.env.FAKE_FAIL_HOST === rc.current_host) {
  fs.writeFileSync(path.join(root, "output/failure"), "DataError: host " + rc.current_host + ": bad shard\\n");
  process.exit(1);
}
console.log("host " + rc.current_host + " of " + rc.hosts.join(",") + " via " + (process.env.MLCONTAINER_HOST_ADDRESSES || "-") +
  " files " + fs.readdirSync(path.join(root, "input/data/train")).sort().join(",") + " distribution " + channels.train.S3DistributionType);
const rows = fs.readdirSync(path.join(root, "input/data/train")).map((f) => fs.readFileSync(path.join(root, "input/data/train", f), "utf8")).join("").trim().split("\\n").length;
console.log("loaded " + rows + " rows; channels " + Object.keys(channels).sort().join(","));
console.log("METRIC validation_auc=0.5");
console.log("METRIC validation_auc=8.5e-01");
console.log("METRIC train_rows=" + rows);
fs.writeFileSync(path.join(root, "model/model.ubj"), "model bytes " + JSON.stringify(hp));
fs.writeFileSync(path.join(root, "model/metadata.json"), JSON.stringify({ features: ["a", "b"], manifest: fs.existsSync(path.join(root, "input/data/manifest/manifest.json")) }));
`;

function tmpdir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "local-backend-"));
}

/** An ETL run under `<root>/s3/curated/run-1/` with two features; the label is 1 when the first feature > 0.5. */
function writeEtlRun(root: string, rows = 40): string {
    const base = path.join(root, "s3", "curated", "run-1");
    const lines = (n: number, offset: number) => Array.from({ length: n }, (_, i) => {
        const x = ((i * 37 + offset) % 100) / 100;
        return `${x > 0.5 ? 1 : 0},${x},${(i % 3)}`;
    }).join("\n") + "\n";
    for (const [split, n] of [["train", rows], ["validation", rows / 2], ["test", rows / 2]] as const) {
        fs.mkdirSync(path.join(base, split), { recursive: true });
        fs.writeFileSync(path.join(base, split, "part-00000.csv"), lines(n, split.length));
    }
    fs.mkdirSync(path.join(base, "baseline"), { recursive: true });
    fs.writeFileSync(path.join(base, "baseline", "statistics.json"), "{}");
    fs.writeFileSync(path.join(base, "baseline", "constraints.json"), "{}");
    fs.writeFileSync(path.join(base, "manifest.json"), JSON.stringify({ runId: "run-1", features: ["x", "k"], label: "y", baseline: { statistics: "baseline/statistics.json", constraints: "baseline/constraints.json" } }));
    return "s3://curated/run-1/";
}

/** A stand-in for a model server on a free loopback port: `answer` maps a POST's CSV rows (and content type) to a JSON reply. */
async function fakeModelServer(answer: (rows: string[], contentType: string | undefined) => { status: number; body: unknown }): Promise<{ server: http.Server; url: string }> {
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            const reply = answer(body.split("\n").filter((l) => l !== ""), req.headers["content-type"]);
            res.writeHead(reply.status, { "Content-Type": "application/json" });
            res.end(JSON.stringify(reply.body));
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function request(jobName: string, extra: Partial<TrainingJobRequest> = {}): TrainingJobRequest {
    return {
        jobName, imageUri: "local", hyperparameters: { eta: "0.1" },
        channels: [
            { name: "train", uri: "s3://curated/run-1/train/" }, { name: "validation", uri: "s3://curated/run-1/validation/" },
            { name: "manifest", uri: "s3://curated/run-1/manifest.json" },
        ],
        outputUri: "s3://models/training", instanceType: "ml.m5.large", instanceCount: 1, volumeSizeGb: 1, maxRuntimeSeconds: 60,
        metricDefinitions: metricDefinitions(), tags: { "mlops:pipeline-execution-id": "e1" }, ...extra,
    };
}

describe("local backend: objects", () => {
    it("puts, gets, lists and checks objects by s3://, file:// and plain paths", async () => {
        const root = tmpdir();
        const store = new LocalObjectStore({ s3Root: path.join(root, "s3") });
        await store.put("s3://bucket/a/b.txt", "hello");
        await store.put("s3://bucket/a/c/d.txt", Buffer.from("x"));
        assert.equal((await store.get("s3://bucket/a/b.txt")).toString(), "hello");
        assert.deepEqual(await store.list("s3://bucket/a/"), ["s3://bucket/a/b.txt", "s3://bucket/a/c/d.txt"]);
        assert.deepEqual(await store.list("s3://bucket/nothing/"), []);
        assert.equal(await store.exists("s3://bucket/a/b.txt"), true);
        assert.equal(await store.exists("s3://bucket/a/"), false);
        const file = path.join(root, "s3", "bucket", "a", "b.txt");
        assert.equal((await store.get(`file://${file}`)).toString(), "hello");
        assert.deepEqual(await store.list(`file://${path.join(root, "s3", "bucket", "a")}/`), [`file://${root}/s3/bucket/a/b.txt`, `file://${root}/s3/bucket/a/c/d.txt`]);
        assert.deepEqual(await store.list(path.join(root, "s3", "bucket", "a", "c")), [path.join(root, "s3", "bucket", "a", "c", "d.txt")]);
        await assert.rejects(store.get("s3://bucket/missing"), (e) => isStepError(e, "not-found"));
        await assert.rejects(new LocalObjectStore().get("s3://bucket/x"), /maps s3:\/\/ URIs only when it has an s3Root/);
        fs.rmSync(root, { recursive: true, force: true });
    });
});

describe("local backend: registry", () => {
    let root: string;
    let registry: LocalRegistry;
    beforeEach(() => {
        root = tmpdir();
        registry = new LocalRegistry({ file: path.join(root, "registry.json") });
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    const version = (token?: string) => ({
        groupName: "churn", imageUri: "img", modelDataUri: "s3://m/x/", description: "d", metrics: { validation_auc: 0.8 },
        datasetManifestUri: "s3://c/run/manifest.json", properties: { trainingJobName: "j" }, idempotencyToken: token,
    });

    it("numbers versions, lists newest first, filters by status, records approval with merged properties", async () => {
        const v1 = await registry.createVersion(version());
        const v2 = await registry.createVersion(version());
        assert.deepEqual([v1.version, v2.version], [1, 2]);
        assert.equal(v1.arn, "arn:aws:sagemaker:local:000000000000:model-package/churn/1");
        assert.equal(v1.approvalStatus, "PendingManualApproval");
        assert.equal(v1.properties["train.validation_auc"], "0.8");
        assert.equal(v1.properties.ManifestUri, "s3://c/run/manifest.json");
        assert.deepEqual((await registry.listVersions("churn")).map((v) => v.version), [2, 1]);
        await registry.updateApproval(v1.arn, { status: "Approved", description: "ok", properties: { "eval.rocAuc": "0.9" } });
        assert.deepEqual((await registry.listVersions("churn", { approvalStatus: "Approved" })).map((v) => v.version), [1]);
        const d = await registry.describeVersion(v1.arn);
        assert.equal(d.approvalDescription, "ok");
        assert.deepEqual([d.properties.trainingJobName, d.properties["eval.rocAuc"]], ["j", "0.9"]);
        await assert.rejects(registry.describeVersion("arn:aws:sagemaker:local:000000000000:model-package/churn/9"), (e) => isStepError(e, "not-found"));
        assert.deepEqual(await registry.listVersions("other"), []);
    });

    it("a retried create with the same idempotency token returns the same version", async () => {
        const a = await registry.createVersion(version("job-1"));
        const b = await registry.createVersion(version("job-1"));
        assert.equal(a.arn, b.arn);
        assert.equal((await registry.listVersions("churn")).length, 1);
    });

    it("concurrent writers (separate instances, one file) lose no version and never reuse a number", async () => {
        const writers = Array.from({ length: 12 }, () => new LocalRegistry({ file: path.join(root, "registry.json") }));
        const created = await Promise.all(writers.map((w) => w.createVersion(version())));
        assert.deepEqual(created.map((v) => v.version).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
        assert.equal((await registry.listVersions("churn")).length, 12);
        assert.ok(!fs.existsSync(path.join(root, "registry.json.lock")));
    });

    it("refuses properties SageMaker would refuse, before writing anything", async () => {
        await assert.rejects(registry.createVersion({ ...version(), properties: { "bad#key": "v" } }), /key "bad#key": only letters/);
        await assert.rejects(registry.createVersion({ ...version(), properties: { k: "v".repeat(257) } }), /257 characters; at most 256/);
        assert.deepEqual(await registry.listVersions("churn"), []);
    });
});

describe("local backend: training jobs (child processes, SageMaker's /opt/ml layout)", function () {
    this.timeout(30_000);
    let root: string;
    let script: string;
    beforeEach(() => {
        root = tmpdir();
        writeEtlRun(root);
        script = path.join(root, "fake-train.js");
        fs.writeFileSync(script, FAKE_TRAIN);
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    const service = (mode: string, extra: object = {}) => {
        const objects = new LocalObjectStore({ s3Root: path.join(root, "s3") });
        return new LocalTraining({ root: path.join(root, "jobs"), objects, command: [process.execPath, script], env: { FAKE_MODE: mode }, stopGraceMs: 2000, ...extra });
    };

    it("Completed: lays out config and channels, reads METRIC lines (last value wins), copies model/ to the output", async () => {
        const lines: string[] = [];
        const training = service("ok", { onLogLine: (_: string, l: string) => lines.push(l) });
        assert.deepEqual(await training.start(request("job-ok")), { jobName: "job-ok", created: true });
        await training.settled("job-ok");
        const d = await training.describe("job-ok");
        assert.equal(d.status, "Completed", d.failureReason);
        assert.deepEqual(d.finalMetrics, { validation_auc: 0.85, train_rows: 40 });
        assert.equal(d.modelArtifactUri, "s3://models/training/job-ok/output/model/");
        const modelDir = path.join(root, "s3", "models", "training", "job-ok", "output", "model");
        assert.equal(fs.readFileSync(path.join(modelDir, "model.ubj"), "utf8"), "model bytes {\"eta\":\"0.1\"}");
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(modelDir, "metadata.json"), "utf8")), { features: ["a", "b"], manifest: true });
        const optMl = path.join(root, "jobs", "job-ok", "opt_ml");
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(optMl, "input/config/resourceconfig.json"), "utf8")).hosts, ["algo-1"]);
        assert.ok(lines.includes("loaded 40 rows; channels manifest,train,validation"));
        assert.match(fs.readFileSync(d.logLocation, "utf8"), /METRIC validation_auc=8.5e-01/);
    });

    it("multi-host: one container per host on loopback, train files sharded by key, validation replicated, the first host's model", async () => {
        const base = path.join(root, "s3", "curated", "run-1", "train");
        for (const k of [1, 2]) fs.copyFileSync(path.join(base, "part-00000.csv"), path.join(base, `part-0000${k}.csv`));
        const lines: string[] = [];
        const training = service("ok", { onLogLine: (_: string, l: string) => lines.push(l) });
        const channels = request("x").channels.map((c) => ({ ...c, distribution: c.name === "train" ? "ShardedByS3Key" as const : "FullyReplicated" as const }));
        await training.start(request("job-two", { instanceCount: 2, channels }));
        await training.settled("job-two");
        const d = await training.describe("job-two");
        assert.equal(d.status, "Completed", d.failureReason);
        const addresses = "algo-1=127.0.0.1,algo-2=127.0.0.1";
        // the job's log and metrics are the first host's; the second host logs to its own file
        assert.ok(lines.includes(`host algo-1 of algo-1,algo-2 via ${addresses} files part-00000.csv,part-00002.csv distribution ShardedByS3Key`), lines.join("\n"));
        assert.deepEqual(d.finalMetrics, { validation_auc: 0.85, train_rows: 80 });
        const second = fs.readFileSync(path.join(root, "jobs", "job-two", "logs-algo-2.txt"), "utf8");
        assert.match(second, new RegExp(`host algo-2 of algo-1,algo-2 via ${addresses} files part-00001.csv distribution ShardedByS3Key`));
        for (const dir of ["opt_ml", "opt_ml-algo-2"]) {
            const optMl = path.join(root, "jobs", "job-two", dir);
            assert.deepEqual(fs.readdirSync(path.join(optMl, "input/data/validation")), ["part-00000.csv"]);
            assert.equal(JSON.parse(fs.readFileSync(path.join(optMl, "input/config/inputdataconfig.json"), "utf8")).validation.S3DistributionType, "FullyReplicated");
        }
        assert.equal(d.modelArtifactUri, "s3://models/training/job-two/output/model/");
    });

    it("multi-host: a failing second host fails the job with its failure file", async () => {
        const training = service("ok", { env: { FAKE_MODE: "ok", FAKE_FAIL_HOST: "algo-2" } });
        await training.start(request("job-two-fail", { instanceCount: 2 }));
        await training.settled("job-two-fail");
        const d = await training.describe("job-two-fail");
        assert.equal(d.status, "Failed");
        assert.equal(d.failureReason, "DataError: host algo-2: bad shard");
    });

    it("a second start with the same name returns the existing job and starts nothing", async () => {
        const training = service("ok");
        await training.start(request("job-twice"));
        assert.deepEqual(await training.start(request("job-twice")), { jobName: "job-twice", created: false });
        await training.settled("job-twice");
        assert.equal((await service("fail").start(request("job-twice"))).created, false);
        assert.equal((await training.describe("job-twice")).status, "Completed");
    });

    it("Failed: FailureReason is the failure file's first 1,024 characters", async () => {
        const training = service("fail");
        await training.start(request("job-fail"));
        await training.settled("job-fail");
        const d = await training.describe("job-fail");
        assert.equal(d.status, "Failed");
        assert.match(d.failureReason!, /^ClientError: unknown hyperparameter 'etaa'/);
        assert.equal(d.modelArtifactUri, undefined);
    });

    it("Failed with ClientError when a channel has no data, before running the container", async () => {
        const training = service("ok");
        await training.start(request("job-empty", { channels: [{ name: "train", uri: "s3://curated/run-1/nothing/" }] }));
        await training.settled("job-empty");
        assert.match((await training.describe("job-empty")).failureReason!, /ClientError: no data found in channel train at s3:\/\/curated\/run-1\/nothing\//);
    });

    it("stop → Stopped; exceeding MaxRuntimeInSeconds → Stopped / MaxRuntimeExceeded", async () => {
        const training = service("hang");
        await training.start(request("job-stop"));
        for (let i = 0; i < 100 && (await training.describe("job-stop")).secondaryStatus !== "Training"; i++) await new Promise((r) => setTimeout(r, 20));
        await training.stop("job-stop");
        await training.settled("job-stop");
        assert.deepEqual([(await training.describe("job-stop")).status, (await training.describe("job-stop")).secondaryStatus], ["Stopped", "Stopped"]);

        await training.start(request("job-slow", { maxRuntimeSeconds: 0.3 }));
        await training.settled("job-slow");
        const d = await training.describe("job-slow");
        assert.deepEqual([d.status, d.secondaryStatus], ["Stopped", "MaxRuntimeExceeded"]);
    });

    it("a job whose runner died is reported Failed rather than InProgress forever", async () => {
        const jobDir = path.join(root, "jobs", "orphan");
        fs.mkdirSync(jobDir, { recursive: true });
        fs.writeFileSync(path.join(jobDir, "status.json"), JSON.stringify({ jobName: "orphan", status: "InProgress", secondaryStatus: "Training",
            finalMetrics: {}, tags: {}, createdAt: new Date().toISOString(), ownerPid: 2 ** 22 + 12345 }));
        const d = await service("ok").describe("orphan");
        assert.equal(d.status, "Failed");
        assert.match(d.failureReason!, /ended before the job did/);
        await assert.rejects(service("ok").describe("never-started"), (e) => isStepError(e, "not-found"));
    });
});

describe("local backend: invoker", () => {
    let server: http.Server;
    let url: string;
    let statuses: number[];
    before(async () => {
        ({ server, url } = await fakeModelServer((rows, contentType) => {
            const status = statuses.shift() ?? 200;
            return { status, body: status === 200 ? { predictions: rows.map((r) => Number(r.split(",")[0])) } : { error: "e", detail: contentType } };
        }));
    });
    after(() => server.close());
    beforeEach(() => { statuses = []; });

    it("POSTs to <url>/invocations and maps 429/503 to throttled, 4xx to invalid, no server to failed", async () => {
        const invoker = new LocalInvoker();
        const ok = await invoker.invoke({ endpoint: url, body: "0.25,1\n0.75,2\n", contentType: "text/csv" });
        assert.deepEqual(JSON.parse(ok.body.toString()), { predictions: [0.25, 0.75] });
        statuses = [429, 503, 400, 500];
        await assert.rejects(invoker.invoke({ endpoint: url, body: "1", contentType: "text/csv" }), (e) => isStepError(e, "throttled"));
        await assert.rejects(invoker.invoke({ endpoint: url, body: "1", contentType: "text/csv" }), (e) => isStepError(e, "throttled"));
        await assert.rejects(invoker.invoke({ endpoint: url, body: "1", contentType: "text/csv" }), (e) => isStepError(e, "invalid") && /HTTP 400.*text\/csv/.test(e.message));
        await assert.rejects(invoker.invoke({ endpoint: url, body: "1", contentType: "text/csv" }), (e) => isStepError(e, "failed"));
        await assert.rejects(invoker.invoke({ endpoint: "http://127.0.0.1:1", body: "1", contentType: "text/csv" }), (e) => isStepError(e, "failed"));
        await assert.rejects(invoker.invoke({ endpoint: "dev-endpoint", body: "1", contentType: "text/csv" }), /needs an http\(s\):\/\/ URL/);
        assert.equal(new LocalInvoker({ defaultUrl: `${url}/` }).baseUrl("any-name"), url);
    });
});

describe("train and evaluate end to end on the local backend (same CLIs, --backend local)", function () {
    this.timeout(60_000);
    let root: string;
    let server: http.Server;
    let serveUrl: string;
    /** The "model": probability = the first feature, so AUC on the test split is 1. */
    let predict: (x: number) => number;
    before(async () => {
        ({ server, url: serveUrl } = await fakeModelServer((rows) => ({ status: 200, body: { predictions: rows.map((r) => predict(Number(r.split(",")[0]))) } })));
    });
    after(() => server.close());
    beforeEach(() => {
        root = tmpdir();
        predict = (x) => x;
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("trains, registers, approves the first version, rejects a worse challenger against it", async () => {
        const data = writeEtlRun(root);
        const script = path.join(root, "fake-train.js");
        fs.writeFileSync(script, FAKE_TRAIN);
        const backend = createLocalBackend({ root, trainCommand: [process.execPath, script] });
        const clock = new FakeClock();
        const train = async (execution: string, extra: string[] = []) => {
            const io = new CapturedIo();
            const code = await trainMain(["--backend", "local", "--data-prefix", data, "--output-prefix", "s3://models/training", "--image-uri", "local",
                "--model-package-group", "churn", "--execution-id", execution, "--poll-seconds", "1", ...extra], {
                backend, io, clock: { ...clock, now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))), random: () => 0.5 },
            });
            return { code, io };
        };
        const evaluate = async (arn: string, config: object = {}) => {
            const io = new CapturedIo();
            const code = await evaluateMain(["--backend", "local", "--model-package-arn", arn, "--data-prefix", data, "--endpoint", serveUrl,
                "--report-prefix", "s3://artifacts/evaluations", "--report-dir", path.join(root, "reports"),
                "--config", JSON.stringify({ minRocAuc: 0.75, maxLogLoss: 1, maxErrorRate: 0, maxLatencyP99Ms: 10_000, ...config })], { backend, io, clock });
            return { code, io };
        };

        const first = await train("exec-1");
        assert.equal(first.code, 0, first.io.all);
        const arn1 = first.io.stdout.find((l) => l.startsWith("model package version: "))!.slice("model package version: ".length);
        assert.equal(arn1, "arn:aws:sagemaker:local:000000000000:model-package/churn/1");
        const v1 = await backend.registry.describeVersion(arn1);
        assert.equal(v1.modelDataUri, `s3://models/training/${v1.properties.TrainingJobName}/output/model/`);
        assert.equal(v1.properties["train.validation_auc"], "0.85");

        // A rerun of the same execution finds the version by its reuse key, or (reuse off) by its job name.
        const again = await train("exec-1");
        assert.equal(again.code, 0, again.io.all);
        assert.match(again.io.all, /reused: version 1 \(PendingManualApproval\)/);
        const audit = await train("exec-1", ["--reuse", "false"]);
        assert.equal(audit.code, 0, audit.io.all);
        assert.match(audit.io.all, /already registered as version 1/);
        assert.equal((await backend.registry.listVersions("churn")).length, 1);

        const e1 = await evaluate(arn1);
        assert.equal(e1.code, 0, e1.io.all);
        assert.equal((await backend.registry.describeVersion(arn1)).approvalStatus, "Approved");
        const report = JSON.parse(fs.readFileSync(path.join(root, "s3", "artifacts", "evaluations", "churn", "1", "evaluation.json"), "utf8"));
        assert.equal(report.metrics.rocAuc, 1); // exact: every positive outranks every negative, pairs / pairs
        assert.ok(fs.existsSync(path.join(root, "s3", "artifacts", "evaluations", "churn", "1", "report.html")));

        // Same data, image and hyperparameters: reuse would hand back version 1; an audit run retrains.
        const second = await train("exec-2", ["--reuse", "false"]);
        assert.equal(second.code, 0, second.io.all);
        assert.match(second.io.all, /reuse off for this execution/);
        const arn2 = `arn:aws:sagemaker:local:000000000000:model-package/churn/2`;
        predict = (x) => (x > 0.5 ? 0.6 : 0.4) * (x % 0.07 > 0.035 ? 0.5 : 1); // worse ranking than the champion's
        const e2 = await evaluate(arn2);
        assert.equal(e2.code, 1, e2.io.all);
        const v2 = await backend.registry.describeVersion(arn2);
        assert.equal(v2.approvalStatus, "Rejected");
        assert.match(v2.approvalDescription!, /worse than champion version 1 \(1\)/);
        assert.equal((await backend.registry.describeVersion(arn1)).approvalStatus, "Approved");
    });

    const venvPython = path.join(REPO_ROOT, ".venv", "bin", "python");
    (fs.existsSync(venvPython) ? it : it.skip)("runs the real model container's train program through the local backend", async function () {
        this.timeout(120_000);
        const data = writeEtlRun(root, 200);
        const backend = createLocalBackend({ root, trainCommand: defaultTrainCommand() });
        const io = new CapturedIo();
        const code = await trainMain(["--backend", "local", "--data-prefix", data, "--output-prefix", "s3://models/training", "--image-uri", "local",
            "--model-package-group", "churn", "--execution-id", "real-1", "--poll-seconds", "1",
            "--config", JSON.stringify({ hyperparameters: { num_round: 20, max_depth: 3 } })], { backend, io });
        const jobLogs = path.join(root, "training-jobs");
        const logs = fs.existsSync(jobLogs) ? fs.readdirSync(jobLogs).map((j) => fs.readFileSync(path.join(jobLogs, j, "logs.txt"), "utf8")).join("\n") : "";
        assert.equal(code, 0, `${io.all}\n${logs}`);
        const version = (await backend.registry.listVersions("churn"))[0];
        const described = await backend.registry.describeVersion(version.arn);
        assert.ok(Number(described.properties["train.validation_auc"]) > 0.5, JSON.stringify(described.properties));
        const modelDir = path.join(root, "s3", "models", "training", described.properties.TrainingJobName, "output", "model");
        const metadata = JSON.parse(fs.readFileSync(path.join(modelDir, "metadata.json"), "utf8"));
        assert.deepEqual(metadata.features, ["x", "k"]);
    });
});

describe("local backend: where its parts live", function () {
    this.timeout(60_000);

    it("puts objects, training jobs and the registry where the options place them, and nothing under root's defaults", async () => {
        const root = tmpdir();
        const elsewhere = tmpdir();
        try {
            // The local pipeline's layout: its runs folder is the S3 root, each run's jobs in the run, the registry beside the runs.
            const data = writeEtlRun(elsewhere);
            const script = path.join(elsewhere, "fake-train.js");
            fs.writeFileSync(script, FAKE_TRAIN);
            const backend = createLocalBackend({
                root, s3Root: path.join(elsewhere, "s3"), trainingRoot: path.join(elsewhere, "run-1", "jobs"), registryFile: path.join(elsewhere, "registry.json"),
                trainCommand: [process.execPath, script],
            });
            const io = new CapturedIo();
            const code = await trainMain(["--backend", "local", "--data-prefix", data, "--output-prefix", "s3://models/training", "--image-uri", "local",
                "--model-package-group", "churn", "--execution-id", "exec-1", "--poll-seconds", "1"], { backend, io });
            assert.equal(code, 0, io.all);
            const [summary] = await backend.registry.listVersions("churn");
            const job = (await backend.registry.describeVersion(summary.arn)).properties.TrainingJobName;
            assert.ok(fs.existsSync(path.join(elsewhere, "s3", "models", "training", job, "output", "model", "metadata.json")), "the model under s3Root");
            assert.deepEqual(fs.readdirSync(path.join(elsewhere, "run-1", "jobs")), [job], "the job's folder under trainingRoot");
            assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(path.join(elsewhere, "registry.json"), "utf8")).groups), ["churn"], "the version in registryFile");
            assert.deepEqual(fs.readdirSync(root), [], "nothing in root's default places");
        } finally {
            for (const d of [root, elsewhere]) fs.rmSync(d, { recursive: true, force: true });
        }
    });
});
