/**
 * The deployed artifact itself: the esbuild bundle of the ETL trigger (with its bundled SDK) runs in a fresh Node
 * process as the Lambda runtime would load it, talking to a loopback HTTP stand-in for Glue and CodePipeline.
 * The mocked-client tests prove the logic; this proves the bundle carries it and that the bundled SDK works.
 */
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { BUNDLE_FILE, bundleHandler } from "../../infra/lib/bundle";

const SECRET = "bundle-test-secret-NEVER-LOG";

interface Received {
    readonly target: string;
    readonly body: Record<string, unknown>;
}

/** Answers AWS JSON 1.1 requests by their X-Amz-Target, recording each. */
function startStandIn(answers: Record<string, unknown>): Promise<{ server: http.Server; url: string; received: Received[] }> {
    const received: Received[] = [];
    const server = http.createServer((req, res) => {
        let data = "";
        req.on("data", (chunk) => (data += chunk));
        req.on("end", () => {
            const target = String(req.headers["x-amz-target"] ?? "");
            received.push({ target, body: data ? JSON.parse(data) : {} });
            const answer = answers[target];
            res.writeHead(answer === undefined ? 400 : 200, { "content-type": "application/x-amz-json-1.1" });
            res.end(JSON.stringify(answer ?? { __type: "UnknownOperationException", message: target }));
        });
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
        resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received });
    }));
}

describe("etl-trigger bundle", function () {
    this.timeout(60_000);
    let dir: string;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "etl-trigger-bundle-"));
        fs.writeFileSync(path.join(dir, BUNDLE_FILE), bundleHandler("etl-trigger").code);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("runs alone (no node_modules) and starts the Glue run through the bundled SDK", async () => {
        const standIn = await startStandIn({
            "AWSGlue.GetJobRuns": { JobRuns: [] },
            "AWSGlue.StartJobRun": { JobRunId: "jr_from_bundle" },
            "CodePipeline_20150709.PutJobSuccessResult": {},
        });
        try {
            const event = { "CodePipeline.job": { id: "job-b", accountId: "123456789012", data: {
                actionConfiguration: { configuration: { FunctionName: "f", UserParameters: JSON.stringify({ inputUri: "s3://raw-bucket/in.csv", runId: "exec-b" }) } },
                inputArtifacts: [],
                artifactCredentials: { accessKeyId: "ASIA", secretAccessKey: SECRET, sessionToken: SECRET },
            } } };
            const script = "require(process.argv[1]).handler(JSON.parse(process.argv[2])).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })";
            const { stdout, stderr } = await promisify(execFile)(process.execPath, ["-e", script, path.join(dir, BUNDLE_FILE), JSON.stringify(event)], {
                cwd: dir,
                env: {
                    PATH: process.env.PATH,
                    AWS_ENDPOINT_URL: standIn.url,
                    AWS_REGION: "us-east-1",
                    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
                    AWS_SECRET_ACCESS_KEY: "local",
                    AWS_EC2_METADATA_DISABLED: "true",
                    GLUE_JOB_NAME: "mlops-dev-etl",
                    RAW_BUCKET: "raw-bucket",
                    CURATED_BUCKET: "curated-bucket",
                    CURATED_PREFIX: "datasets",
                },
                timeout: 30_000,
            });
            assert.deepEqual(standIn.received.map((r) => r.target), [
                "AWSGlue.GetJobRuns", "AWSGlue.StartJobRun", "CodePipeline_20150709.PutJobSuccessResult",
            ]);
            assert.deepEqual(standIn.received[1].body, { JobName: "mlops-dev-etl", Arguments: { "--input": "s3://raw-bucket/in.csv", "--run-id": "exec-b" } });
            const reported = standIn.received[2].body as { jobId: string; continuationToken: string };
            assert.equal(reported.jobId, "job-b");
            assert.equal(JSON.parse(reported.continuationToken).jobRunId, "jr_from_bundle");
            assert.match(stdout + stderr, /started Glue run/);
            assert.ok(!(stdout + stderr).includes(SECRET), "the bundle logged a credential");
        } finally {
            standIn.server.close();
        }
    });
});
