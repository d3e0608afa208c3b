import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeModelPackageCommand, ListModelPackagesCommand, UpdateModelPackageCommand } from "@aws-sdk/client-sagemaker";
import { InvokeEndpointCommand } from "@aws-sdk/client-sagemaker-runtime";
import { main } from "../../steps/evaluate/main";
import { makeBatches, parsePredictions, scoreRows } from "../../steps/evaluate/score";
import { EndpointInvoker } from "../../steps/lib/backend";
import { StepError } from "../../steps/lib/errors";
import { rocAuc } from "../../steps/lib/metrics";
import { accessDenied, awsError, body, CapturedIo, FakeClock, mockedAwsBackend, sklearnMismatch, throttled } from "./helpers";

/* eslint-disable @typescript-eslint/no-explicit-any */
interface FixtureCase { name: string; labels: number[]; scores: number[]; threshold: number; expected: Record<string, any> }
const fixture: { cases: FixtureCase[]; calibration: { case: string; bins: number; meanPredicted: number[]; fractionPositive: number[] }[] } = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "metrics", "sklearn-metrics.json"), "utf8"));
const CASE = fixture.cases.find((c) => c.name === "realistic-with-ties")!;

const GROUP = "mlops-dev-churn";
const CHALLENGER = `arn:aws:sagemaker:us-east-1:123456789012:model-package/${GROUP}/5`;
const CHAMPION = `arn:aws:sagemaker:us-east-1:123456789012:model-package/${GROUP}/3`;
const BUCKET = "mlops-dev-curated-123456789012-us-east-1";
const DATA = `s3://${BUCKET}/run-42/`;
const REPORTS = "s3://mlops-dev-artifacts-123456789012-us-east-1/evaluations";
const CONFIG = { decisionThreshold: 0.5, minRocAuc: 0.75, maxLogLoss: 0.6, maxErrorRate: 0.01, maxLatencyP99Ms: 500, championTolerance: 0.005 };

/** Test rows: label, row index, a constant feature. The fake endpoint scores a row by its index. */
function partFiles(labels: number[]): [string, string][] {
    const lines = labels.map((y, i) => `${y},${i},1.5`);
    const half = Math.ceil(lines.length / 2);
    return [["run-42/test/part-00000-a.csv", `${lines.slice(0, half).join("\n")}\n`], ["run-42/test/part-00001-a.csv", `${lines.slice(half).join("\n")}\n`]];
}

function versionDescription(arn: string, version: number, status: string, props: Record<string, string> = {}) {
    return {
        ModelPackageArn: arn, ModelPackageGroupName: GROUP, ModelPackageVersion: version, ModelApprovalStatus: status as never,
        CreationTime: new Date(), ModelPackageName: GROUP, ModelPackageStatus: "Completed" as const,
        InferenceSpecification: { Containers: [{ Image: "img", ModelDataUrl: "s3://m/model.tar.gz" }], SupportedContentTypes: [], SupportedResponseMIMETypes: [] },
        CustomerMetadataProperties: { PipelineExecutionId: "exec-5", ...props },
    };
}

const summary = (arn: string, version: number) => ({
    ModelPackageArn: arn, ModelPackageGroupName: GROUP, ModelPackageVersion: version, CreationTime: new Date(),
    ModelPackageStatus: "Completed" as const, ModelApprovalStatus: "Approved" as const, ModelPackageName: GROUP,
});

describe("steps/evaluate against AWS (aws-sdk-client-mock)", () => {
    let mocks: ReturnType<typeof mockedAwsBackend>;
    let clock: FakeClock;
    let io: CapturedIo;
    let tmp: string;
    let invocations: { rows: number; bytes: number }[];

    function serveScores(scores: number[]) {
        mocks.runtime.on(InvokeEndpointCommand).callsFake((input: any) => {
            const text = Buffer.from(input.Body).toString("utf8");
            const rows = text.split("\n").filter((l) => l !== "");
            invocations.push({ rows: rows.length, bytes: Buffer.byteLength(text) });
            clock.time += 40;
            assert.equal(input.ContentType, "text/csv");
            assert.equal(input.Accept, "application/json");
            return { Body: body(JSON.stringify({ predictions: rows.map((r) => scores[Number(r.split(",")[0])]) })), ContentType: "application/json" };
        });
    }

    beforeEach(() => {
        mocks = mockedAwsBackend();
        clock = new FakeClock();
        io = new CapturedIo();
        invocations = [];
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "evaluate-test-"));
        const files = partFiles(CASE.labels);
        mocks.s3.on(GetObjectCommand, { Key: "run-42/manifest.json" }).resolves({ Body: body(JSON.stringify({ features: ["index", "constant"] })) });
        for (const [key, text] of files) mocks.s3.on(GetObjectCommand, { Key: key }).resolves({ Body: body(text) });
        mocks.s3.on(ListObjectsV2Command).resolves({ Contents: [...files.map(([Key]) => ({ Key })), { Key: "run-42/test/_SUCCESS" }] });
        mocks.s3.on(PutObjectCommand).resolves({});
        mocks.sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: CHALLENGER }).resolves(versionDescription(CHALLENGER, 5, "PendingManualApproval"));
        mocks.sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
        mocks.sagemaker.on(UpdateModelPackageCommand).resolves({ ModelPackageArn: CHALLENGER });
        serveScores(CASE.scores);
    });
    afterEach(() => {
        mocks.restore();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    const run = (config: object = CONFIG, extra: string[] = []) => main([
        "--model-package-arn", CHALLENGER, "--data-prefix", DATA, "--endpoint", "mlops-dev-churn", "--config", JSON.stringify(config),
        "--report-prefix", REPORTS, "--report-dir", tmp, "--max-rows-per-request", "100", ...extra,
    ], { backend: mocks.backend, io, clock });

    const update = () => {
        const calls = mocks.sagemaker.commandCalls(UpdateModelPackageCommand);
        assert.equal(calls.length, 1, "exactly one approval update");
        return calls[0].args[0].input;
    };
    const putBody = (suffix: string) => {
        const call = mocks.s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key!.endsWith(suffix));
        assert.ok(call, `no PutObject for ${suffix}`);
        return { input: call.args[0].input, text: String(call.args[0].input.Body) };
    };

    it("pass, no champion yet: Approved with reasons, metrics equal scikit-learn's, reports written, exit 0", async () => {
        const code = await run();
        assert.equal(code, 0, io.all);
        // One warm-up request (answered fast), 200 one-row probe requests, then 600 rows in batches of at most 100.
        assert.equal(invocations.length, 1 + 200 + 6);
        assert.ok(invocations.slice(0, 201).every((i) => i.rows === 1));
        assert.deepEqual(invocations.slice(201).map((i) => i.rows), [100, 100, 100, 100, 100, 100]);

        const u = update();
        assert.equal(u.ModelApprovalStatus, "Approved");
        assert.match(u.ApprovalDescription!, /^Approved by evaluation: all 5 applicable rules passed; no champion yet/);
        assert.equal(Number(u.CustomerMetadataProperties!["eval.rocAuc"]), Number(JSON.parse(putBody("evaluation.json").text).metrics.rocAuc));
        assert.equal(u.CustomerMetadataProperties!["eval.championVersion"], "none");
        assert.equal(u.CustomerMetadataProperties!["eval.report"], `${REPORTS}/${GROUP}/5/evaluation.json`);

        const report = JSON.parse(putBody("evaluation.json").text);
        for (const key of ["rocAuc", "prAuc", "accuracy", "precision", "recall", "f1", "logLoss", "brier"]) {
            const mismatch = sklearnMismatch(report.metrics[key], CASE.expected[key], key);
            assert.ok(mismatch === undefined, mismatch);
        }
        assert.deepEqual(report.confusionMatrix, CASE.expected.confusion);
        // The reliability diagram's bins are scikit-learn's calibration_curve(n_bins=10), rounded to 6 decimals.
        const sk = fixture.calibration.find((c) => c.case === CASE.name && c.bins === 10)!;
        assert.deepEqual(report.calibration.map((b: { count: number }) => b.count > 0), sk.meanPredicted.map(() => true));
        report.calibration.forEach((b: { meanPredicted: number; fractionPositive: number }, i: number) => {
            assert.ok(Math.abs(b.meanPredicted - sk.meanPredicted[i]) <= 5e-7 && Math.abs(b.fractionPositive - sk.fractionPositive[i]) <= 5e-7, `bin ${i}`);
        });
        assert.equal(report.metrics.errorRate, 0);
        assert.ok(report.metrics.latencyP99Ms > 0 && report.metrics.latencyP99Ms <= 500);
        assert.equal(report.decision, "Approved");
        assert.equal(report.champion, null);
        assert.equal(report.data.rows, 600);
        assert.equal(report.data.files, 2);
        const html = putBody("report.html");
        assert.equal(html.input.Key, `evaluations/${GROUP}/5/report.html`);
        assert.equal(html.input.ServerSideEncryption, "aws:kms");
        assert.match(html.text, /<svg id="roc-curve"/);
        assert.match(html.text, /<svg id="reliability-diagram"[^>]*>.*Reliability diagram \(Brier \d\.\d{4}\)/);

        const junit = fs.readFileSync(path.join(tmp, "junit.xml"), "utf8");
        assert.equal((junit.match(/<testcase /g) ?? []).length, 6);
        assert.equal((junit.match(/<failure /g) ?? []).length, 0);
        assert.equal((junit.match(/<skipped /g) ?? []).length, 1);
        assert.ok(fs.existsSync(path.join(tmp, "report.html")) && fs.existsSync(path.join(tmp, "evaluation.json")));
    });

    it("fails on an absolute threshold: Rejected with that reason, exit 1", async () => {
        const code = await run({ ...CONFIG, minRocAuc: 0.9 });
        assert.equal(code, 1);
        const u = update();
        assert.equal(u.ModelApprovalStatus, "Rejected");
        assert.match(u.ApprovalDescription!, /Rejected by evaluation: ROC AUC 0\.80\d+ is below the minimum 0\.9/);
        const junit = fs.readFileSync(path.join(tmp, "junit.xml"), "utf8");
        assert.match(junit, /<testcase classname="evaluation.gate" name="min_roc_auc: ROC AUC &gt;= 0.9000" time="0"><failure /);
    });

    it("fails against the champion: Rejected naming the champion's version and metric, exit 1", async () => {
        mocks.sagemaker.on(ListModelPackagesCommand, { ModelApprovalStatus: "Approved" }).resolves({ ModelPackageSummaryList: [summary(CHAMPION, 3)] });
        mocks.sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: CHAMPION })
            .resolves(versionDescription(CHAMPION, 3, "Approved", { "eval.rocAuc": "0.85", "eval.logLoss": "0.4" }));
        const code = await run();
        assert.equal(code, 1);
        const listed = mocks.sagemaker.commandCalls(ListModelPackagesCommand)[0].args[0].input;
        assert.deepEqual([listed.ModelPackageGroupName, listed.ModelApprovalStatus, listed.SortOrder], [GROUP, "Approved", "Descending"]);
        const u = update();
        assert.equal(u.ModelApprovalStatus, "Rejected");
        assert.match(u.ApprovalDescription!, /worse than champion version 3 \(0\.85\) by more than the tolerance 0\.005/);
        assert.equal(u.CustomerMetadataProperties!["eval.championVersion"], "3");
        const report = JSON.parse(putBody("evaluation.json").text);
        assert.deepEqual(report.champion, { arn: CHAMPION, version: 3, metrics: { rocAuc: 0.85, logLoss: 0.4 } });
        assert.match(putBody("report.html").text, /champion \(v3\)/);
    });

    it("tie with the champion passes (tolerance 0, champion ROC AUC equal to the challenger's)", async () => {
        const same = String(rocAuc(CASE.labels, CASE.scores));
        mocks.sagemaker.on(ListModelPackagesCommand, { ModelApprovalStatus: "Approved" }).resolves({ ModelPackageSummaryList: [summary(CHAMPION, 3)] });
        mocks.sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: CHAMPION }).resolves(versionDescription(CHAMPION, 3, "Approved", { "eval.rocAuc": same }));
        const code = await run({ ...CONFIG, championTolerance: 0 });
        assert.equal(code, 0, io.all);
        assert.equal(update().ModelApprovalStatus, "Approved");
        assert.match(update().ApprovalDescription!, /within tolerance 0 of champion version 3/);
    });

    it("the challenger is never its own champion (re-evaluating an approved version)", async () => {
        mocks.sagemaker.on(ListModelPackagesCommand, { ModelApprovalStatus: "Approved" }).resolves({ ModelPackageSummaryList: [summary(CHALLENGER, 5)] });
        const code = await run();
        assert.equal(code, 0, io.all);
        assert.match(update().ApprovalDescription!, /no champion yet/);
    });

    it("retries throttled invocations with backoff; throttling does not count as errors", async () => {
        let calls = 0;
        const inner = mocks.runtime.on(InvokeEndpointCommand);
        inner.callsFake((input: any) => {
            const rows = Buffer.from(input.Body).toString("utf8").split("\n").filter((l) => l !== "");
            if (rows.length > 1 && ++calls <= 2) throw throttled();
            return { Body: body(JSON.stringify({ predictions: rows.map((r) => CASE.scores[Number(r.split(",")[0])]) })) };
        });
        const code = await run();
        assert.equal(code, 0, io.all);
        // Six scoring batches, two of them retried once.
        assert.equal(calls, 8);
        assert.ok(clock.sleeps.length >= 2);
        const report = JSON.parse(putBody("evaluation.json").text);
        assert.equal(report.metrics.errorRate, 0);
        assert.equal(report.requests.retries, 2);
    });

    /** An endpoint whose first `cold` requests pay a cold start, then answer one row in `warmMs` and a batch in 40 ms/100 rows. */
    function serveWithColdStart(cold: number, coldMs: number, warmMs: number) {
        let n = 0;
        mocks.runtime.on(InvokeEndpointCommand).callsFake((input: any) => {
            const rows = Buffer.from(input.Body).toString("utf8").split("\n").filter((l) => l !== "");
            invocations.push({ rows: rows.length, bytes: Buffer.byteLength(String(input.Body)) });
            clock.time += ++n <= cold ? coldMs : rows.length === 1 ? warmMs : 40 * Math.ceil(rows.length / 100);
            return { Body: body(JSON.stringify({ predictions: rows.map((r) => CASE.scores[Number(r.split(",")[0])]) })) };
        });
    }

    it("a fresh endpoint's cold start does not fail the latency gate: warm-up first, recorded in the report", async () => {
        // Three 8-second cold-start answers, then 30 ms per row: timing the scoring batches made p99 the cold start.
        serveWithColdStart(3, 8000, 30);
        const code = await run(CONFIG, ["--max-rows-per-request", "250"]);
        assert.equal(code, 0, io.all);
        const report = JSON.parse(putBody("evaluation.json").text);
        assert.deepEqual([report.latency.warmUp.warm, report.latency.warmUp.attempts], [true, 4]);
        assert.deepEqual(report.latency.warmUp.latenciesMs, [8000, 8000, 8000, 30]);
        assert.equal(report.latency.probe.requests, 200);
        assert.deepEqual([report.latency.probe.p50Ms, report.latency.probe.p95Ms, report.latency.probe.p99Ms], [30, 30, 30]);
        assert.equal(report.metrics.latencyP99Ms, 30);
        assert.match(io.all, /warm-up: a one-row request answered in 30 ms after 4 attempt\(s\)/);
        assert.match(io.all, /latency probe: 200 one-row requests, p50 30 ms, p95 30 ms, p99 30 ms/);
    });

    it("a model slow per request fails the gate on the probe's per-request p99, the warm-up's deadline recorded", async () => {
        serveWithColdStart(0, 0, 700);
        const code = await run(CONFIG, ["--warm-up-seconds", "5"]);
        assert.equal(code, 1);
        const report = JSON.parse(putBody("evaluation.json").text);
        assert.equal(report.latency.warmUp.warm, false);
        assert.ok(report.latency.warmUp.elapsedMs >= 5000, "warmed until the deadline");
        assert.equal(report.metrics.latencyP99Ms, 700);
        assert.match(update().ApprovalDescription!, /latency p99/);
    });

    it("sizes scoring requests by the endpoint's payload limit: serverless 4 MB, instances 6 MiB", async () => {
        for (const [kind, limit] of [["serverless", 4_000_000], ["instances", 6 * 1024 * 1024]] as const) {
            invocations = [];
            serveWithColdStart(0, 0, 10);
            const code = await main([
                "--model-package-arn", CHALLENGER, "--data-prefix", DATA, "--endpoint", "mlops-dev-churn", "--config", JSON.stringify(CONFIG),
                "--report-prefix", REPORTS, "--report-dir", tmp, "--endpoint-kind", kind,
            ], { backend: mocks.backend, io, clock });
            assert.equal(code, 0, io.all);
            // No row cap: the 600 small rows go in one request, far under either limit.
            assert.deepEqual(invocations.slice(201).map((i) => i.rows), [600]);
            assert.equal(JSON.parse(putBody("evaluation.json").text).latency.scoringPayloadLimitBytes, limit);
            mocks.s3.resetHistory();
            mocks.sagemaker.resetHistory();
        }
        assert.equal(await main(["--model-package-arn", CHALLENGER, "--data-prefix", DATA, "--endpoint", "e", "--config", JSON.stringify(CONFIG),
            "--report-prefix", REPORTS, "--endpoint-kind", "lambda"], { backend: mocks.backend, io, clock }), 2);
        assert.match(io.all, /--endpoint-kind \(ENDPOINT_KIND\) is "lambda"; expected one of serverless, instances/);
    });

    it("failing requests count as errors: error rate above the maximum → Rejected, errors listed", async () => {
        mocks.runtime.on(InvokeEndpointCommand).callsFake((input: any) => {
            const rows = Buffer.from(input.Body).toString("utf8").split("\n").filter((l) => l !== "");
            if (rows[0].split(",")[0] === "0") throw awsError("ModelError", "Received server error (500) from primary", 424);
            return { Body: body(JSON.stringify({ predictions: rows.map((r) => CASE.scores[Number(r.split(",")[0])]) })) };
        });
        const code = await run();
        assert.equal(code, 1);
        const report = JSON.parse(putBody("evaluation.json").text);
        assert.ok(Math.abs(report.metrics.errorRate - 100 / 600) < 1e-12);
        assert.equal(report.data.failedRows, 100);
        assert.match(report.requests.errors[0], /rows 1-100: sagemaker:InvokeEndpoint mlops-dev-churn: ModelError/);
        assert.equal(update().ModelApprovalStatus, "Rejected");
        assert.match(update().ApprovalDescription!, /error rate 0\.166667 is above the maximum 0\.01/);
    });

    it("access denied on the endpoint aborts (exit 1) without judging the model", async () => {
        mocks.runtime.on(InvokeEndpointCommand).rejects(accessDenied("sagemaker:InvokeEndpoint"));
        const code = await run();
        assert.equal(code, 1);
        assert.match(io.stderr.join("\n"), /access denied: sagemaker:InvokeEndpoint/);
        assert.equal(mocks.sagemaker.commandCalls(UpdateModelPackageCommand).length, 0);
    });

    it("a missing endpoint aborts (exit 1) without judging the model", async () => {
        mocks.runtime.on(InvokeEndpointCommand).rejects(awsError("ValidationException", "Endpoint mlops-dev-churn of account 123456789012 not found."));
        assert.equal(await run(), 1);
        assert.equal(mocks.sagemaker.commandCalls(UpdateModelPackageCommand).length, 0);
    });

    it("finds the version by pipeline execution id when no ARN is given", async () => {
        mocks.sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [summary(CHALLENGER, 5)] });
        mocks.sagemaker.on(ListModelPackagesCommand, { ModelApprovalStatus: "Approved" }).resolves({ ModelPackageSummaryList: [] });
        const code = await main(["--model-package-group", GROUP, "--execution-id", "exec-5", "--data-prefix", DATA, "--endpoint", "ep",
            "--report-prefix", REPORTS, "--report-dir", tmp, "--config", JSON.stringify(CONFIG)], { backend: mocks.backend, io, clock });
        assert.equal(code, 0, io.all);
        assert.equal(update().ModelPackageArn, CHALLENGER);
    });

    it("usage errors exit 2 and touch nothing", async () => {
        assert.equal(await main(["--data-prefix", DATA], { backend: mocks.backend, io, clock }), 2);
        assert.match(io.stderr.join("\n"), /name the version: --model-package-arn/);
        const io2 = new CapturedIo();
        assert.equal(await main(["--model-package-arn", CHALLENGER, "--data-prefix", DATA, "--endpoint", "e", "--report-prefix", REPORTS,
            "--config", "{\"minRocAuc\": 1.5}"], { backend: mocks.backend, io: io2, clock }), 2);
        assert.match(io2.stderr.join("\n"), /evaluation config\.minRocAuc/);
        const io3 = new CapturedIo();
        assert.equal(await main(["--model-package-arn", CHALLENGER, "--data-prefix", DATA, "--endpoint", "e", "--report-prefix", REPORTS,
            "--concurrency", "0"], { backend: mocks.backend, io: io3, clock }), 2);
        assert.match(io3.stderr.join("\n"), /--concurrency is "0"; expected an integer from 1 to 64/);
        assert.equal(mocks.runtime.commandCalls(InvokeEndpointCommand).length, 0);
        assert.equal(mocks.sagemaker.commandCalls(UpdateModelPackageCommand).length, 0);
    });
});

describe("evaluate: batching and response parsing", () => {
    it("keeps at most `concurrency` requests in flight, and uses that many", async () => {
        let inFlight = 0;
        let maxInFlight = 0;
        const invoker: EndpointInvoker = {
            async invoke(req) {
                inFlight++;
                maxInFlight = Math.max(maxInFlight, inFlight);
                await new Promise((r) => setTimeout(r, 2));
                inFlight--;
                const rows = String(req.body).split("\n").filter((l) => l !== "");
                return { body: Buffer.from(JSON.stringify({ predictions: rows.map(() => 0.5) })) };
            },
        };
        const rows = Array.from({ length: 200 }, (_, i) => `${i},1`);
        const result = await scoreRows(invoker, rows, { endpoint: "e", maxRowsPerRequest: 10, concurrency: 4 }, new FakeClock());
        assert.equal(result.requests, 20);
        assert.equal(maxInFlight, 4);
        assert.ok(result.predictions.every((p) => p === 0.5));
        maxInFlight = 0;
        const serial = await scoreRows(invoker, rows.slice(0, 30), { endpoint: "e", maxRowsPerRequest: 10, concurrency: 1 }, new FakeClock());
        assert.equal(serial.requests, 3);
        assert.equal(maxInFlight, 1);
    });

    it("gives up on a batch after the retries and counts its rows as failed (HTTP 429 from a local endpoint)", async () => {
        let calls = 0;
        const invoker: EndpointInvoker = {
            async invoke() {
                calls++;
                throw new StepError("throttled", "POST http://127.0.0.1/invocations: HTTP 429");
            },
        };
        const clock = new FakeClock();
        const result = await scoreRows(invoker, ["1,2", "3,4"], { endpoint: "e", retries: 3, retryBaseMs: 100 }, clock);
        assert.equal(calls, 4);
        assert.deepEqual(result.predictions, [null, null]);
        assert.equal(result.failedRows, 2);
        assert.match(result.errors[0], /HTTP 429 \(gave up after 4 attempts\)/);
        // Backoff grows: 100·2^k with equal jitter (random() = 0.5 → 3/4 of the exponential delay).
        assert.deepEqual(clock.sleeps, [75, 150, 300]);
    });

    it("keeps every request under the payload limit and the row limit, in order, covering every row once", () => {
        const rows = Array.from({ length: 1000 }, (_, i) => `${i},${"x".repeat(i % 37)}`);
        const batches = makeBatches(rows, 64, 2048);
        assert.ok(batches.length > 1000 / 64);
        let next = 0;
        for (const b of batches) {
            assert.equal(b.start, next);
            assert.ok(b.count <= 64);
            assert.ok(Buffer.byteLength(b.body) <= 2048, `batch at ${b.start} is ${Buffer.byteLength(b.body)} bytes`);
            assert.deepEqual(b.body.split("\n").slice(0, -1), rows.slice(b.start, b.start + b.count));
            next += b.count;
        }
        assert.equal(next, rows.length);
    });

    it("uses the 6 MiB SageMaker limit by default and refuses a single row over the limit", () => {
        const big = "1,".repeat(1024 * 1024); // ~2 MiB per row
        const batches = makeBatches([big, big, big, big], 1000);
        assert.ok(batches.every((b) => Buffer.byteLength(b.body) <= 6 * 1024 * 1024));
        assert.deepEqual(batches.map((b) => b.count), [2, 2]);
        assert.throws(() => makeBatches(["x".repeat(100)], 10, 50), /test row 1 alone is 101 bytes, over the 50-byte payload limit/);
    });

    it("refuses responses that do not have one probability per row", () => {
        assert.deepEqual(parsePredictions(Buffer.from("{\"predictions\":[0.1,0.9]}"), 2), [0.1, 0.9]);
        assert.throws(() => parsePredictions(Buffer.from("{\"predictions\":[0.1]}"), 2), /1 predictions for 2 rows/);
        assert.throws(() => parsePredictions(Buffer.from("{\"predictions\":[0.1,1.7]}"), 2), /prediction 1 is 1.7/);
        assert.throws(() => parsePredictions(Buffer.from("<html>"), 1), /not JSON/);
        assert.throws(() => parsePredictions(Buffer.from("{\"error\":\"x\"}"), 1), /no "predictions" list/);
    });
});
