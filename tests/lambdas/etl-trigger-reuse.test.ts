/**
 * ETL reuse through the AWS backend: the trigger Lambda against mocked Glue and CodePipeline and an in-memory S3
 * (objects with versions), so a miss records its run and a later execution with the same inputs hits it.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CodePipelineClient, PutJobFailureResultCommand, PutJobSuccessResultCommand, PutJobSuccessResultCommandInput } from "@aws-sdk/client-codepipeline";
import { GetJobRunCommand, GetJobRunsCommand, GlueClient, StartJobRunCommand } from "@aws-sdk/client-glue";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { ConfigError, parseConfig, TriggerConfig } from "../../lambdas/etl-trigger/config";
import { createHandler } from "../../lambdas/etl-trigger/handler";
import { etlReuseKey } from "../../contracts/reuse-key";

/* eslint-disable @typescript-eslint/no-explicit-any */

const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "manifest.json"), "utf8"));
const INPUT = "s3://raw-bucket/incoming/churn.csv";
const CODE = "c".repeat(64);
const SCHEMA = "5".repeat(64);
const SETTINGS = { maxQuarantineShare: 0.05, minRows: 1000, trainShards: 1 };
const config: TriggerConfig = {
    glueJobName: "mlops-dev-etl", rawBucket: "raw-bucket", curatedBucket: "curated-bucket", curatedPrefix: "datasets",
    glueMaxRetries: 0, throttleBudgetMs: 900_000, concurrencyBudgetMs: 3_600_000, retryGraceMs: 300_000,
    reuse: { etlCodeSha256: CODE, schemaSha256: SCHEMA, settings: SETTINGS },
};

/** CodePipeline job ids are UUIDs (botocore's JobId pattern); one per run id, stable across invocations. */
function jobId(runId: string): string {
    const hex = Buffer.from(runId).toString("hex").padEnd(12, "0").slice(-12);
    return `00000000-0000-4000-8000-${hex}`;
}

function named(name: string, message = name): Error {
    const e = new Error(message);
    e.name = name;
    return e;
}

describe("etl-trigger reuse (AWS backend)", () => {
    const glue = mockClient(GlueClient);
    const s3 = mockClient(S3Client);
    const codepipeline = mockClient(CodePipelineClient);
    /** The in-memory S3: bucket/key → body; versions of the raw objects. */
    let objects: Map<string, string>;
    let versions: Map<string, string>;
    let logs: string[];
    const originals = { info: console.info, warn: console.warn, error: console.error, log: console.log };

    const handler = (c: TriggerConfig = config) => createHandler({
        glue: new GlueClient({ region: "us-east-1" }), s3: new S3Client({ region: "us-east-1" }),
        codepipeline: new CodePipelineClient({ region: "us-east-1" }), config: c, now: () => new Date("2025-01-01T00:00:00Z"),
    });
    const event = (runId: string, extra: Record<string, unknown> = {}, continuationToken?: string) => ({
        "CodePipeline.job": { id: jobId(runId), accountId: "123456789012", data: {
            actionConfiguration: { configuration: { FunctionName: "f", UserParameters: JSON.stringify({ inputUri: INPUT, runId, ...extra }) } },
            ...(continuationToken ? { continuationToken } : {}),
        } },
    });
    const successes = () => codepipeline.commandCalls(PutJobSuccessResultCommand).map((c) => c.args[0].input as PutJobSuccessResultCommandInput);
    const last = () => successes()[successes().length - 1];
    const manifestFor = (runId: string) => JSON.stringify({ ...FIXTURE, runId });

    /** Runs one execution to the end: start, then (Glue SUCCEEDED) the continuation. */
    async function execute(runId: string, extra: Record<string, unknown> = {}, c: TriggerConfig = config): Promise<PutJobSuccessResultCommandInput> {
        await handler(c)(event(runId, extra));
        const first = last();
        if (first?.continuationToken === undefined) return first;
        objects.set(`curated-bucket/datasets/${runId}/manifest.json`, manifestFor(runId));
        glue.on(GetJobRunCommand).resolves({ JobRun: { Id: `jr-${runId}`, JobRunState: "SUCCEEDED", Attempt: 0 } });
        await handler(c)(event(runId, extra, first.continuationToken));
        return last();
    }

    beforeEach(() => {
        glue.reset();
        s3.reset();
        codepipeline.reset();
        objects = new Map();
        versions = new Map([["raw-bucket/incoming/churn.csv", "v1"]]);
        logs = [];
        const capture = (...args: unknown[]) => { logs.push(args.map(String).join(" ")); };
        Object.assign(console, { info: capture, warn: capture, error: capture, log: capture });
        codepipeline.on(PutJobSuccessResultCommand).resolves({});
        codepipeline.on(PutJobFailureResultCommand).resolves({});
        glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
        glue.on(StartJobRunCommand).callsFake((input: any) => ({ JobRunId: `jr-${input.Arguments["--run-id"]}` }));
        s3.on(HeadObjectCommand).callsFake((input: any) => {
            const v = versions.get(`${input.Bucket}/${input.Key}`);
            if (v === undefined) throw named("NotFound");
            return { VersionId: v };
        });
        s3.on(GetObjectCommand).callsFake((input: any) => {
            const body = objects.get(`${input.Bucket}/${input.Key}`);
            if (body === undefined) throw named("NoSuchKey");
            return { Body: { transformToString: async () => body } };
        });
        s3.on(PutObjectCommand).callsFake((input: any) => {
            objects.set(`${input.Bucket}/${input.Key}`, String(input.Body));
            return {};
        });
    });
    afterEach(() => Object.assign(console, originals));

    const expectedKey = (version: string) => etlReuseKey({
        datasetVersion: `s3-version:${INPUT}?versionId=${version}`, etlCodeSha256: CODE, schema: `sha256:${SCHEMA}`, settings: SETTINGS,
    });

    it("miss: runs Glue, carries the key in the token, records the finished run under it; reused=false", async () => {
        const result = await execute("exec-1");
        assert.equal(glue.commandCalls(StartJobRunCommand).length, 1);
        assert.deepEqual(s3.commandCalls(HeadObjectCommand)[0].args[0].input, { Bucket: "raw-bucket", Key: "incoming/churn.csv" });
        const key = expectedKey("v1");
        assert.equal(result.outputVariables?.reused, "false");
        assert.equal(result.outputVariables?.reuseKey, key);
        const record = JSON.parse(objects.get(`curated-bucket/datasets/_reuse/${key}.json`)!);
        assert.deepEqual([record.key, record.runId, record.runPrefix, record.glueJobRunId], [key, "exec-1", "s3://curated-bucket/datasets/exec-1/", "jr-exec-1"]);
        assert.deepEqual(record.inputs, { datasetVersion: `s3-version:${INPUT}?versionId=v1`, etlCodeSha256: CODE, schema: `sha256:${SCHEMA}`, settings: SETTINGS });
    });

    it("hit: a later execution with the same inputs reports the recorded run at once, starts no Glue run, says so", async () => {
        await execute("exec-1");
        glue.resetHistory();
        codepipeline.resetHistory();
        await handler()(event("exec-2"));
        assert.equal(glue.commandCalls(StartJobRunCommand).length, 0);
        assert.equal(successes().length, 1);
        const s = last();
        assert.equal(s.continuationToken, undefined);
        const prefix = "s3://curated-bucket/datasets/exec-1/";
        assert.equal(s.outputVariables?.reused, "true");
        assert.equal(s.outputVariables?.runId, "exec-1");
        assert.equal(s.outputVariables?.curatedPrefix, prefix);
        assert.equal(s.outputVariables?.manifestUri, `${prefix}manifest.json`);
        assert.equal(s.outputVariables?.reuseKey, expectedKey("v1"));
        assert.match(s.executionDetails?.summary ?? "", /^Reused ETL run exec-1 \(same dataset version, ETL code, schema and settings/);
    });

    it("each input changes the key: a new upload, other ETL code, a per-run schema or other settings run Glue again", async () => {
        await execute("exec-1");
        const changes: [string, () => void, Record<string, unknown>, TriggerConfig][] = [
            ["new object version", () => versions.set("raw-bucket/incoming/churn.csv", "v2"), {}, config],
            ["ETL code", () => undefined, {}, { ...config, reuse: { ...config.reuse!, etlCodeSha256: "d".repeat(64) } }],
            ["schema", () => versions.set("raw-bucket/schemas/s.json", "s1"), { schemaUri: "s3://raw-bucket/schemas/s.json" }, config],
            ["settings", () => undefined, {}, { ...config, reuse: { ...config.reuse!, settings: { ...SETTINGS, minRows: 999 } } }],
        ];
        const keys = new Set([expectedKey("v1")]);
        for (const [what, arrange, extra, c] of changes) {
            arrange();
            glue.resetHistory();
            const result = await execute(`exec-${what.replace(/\W/g, "")}`, extra, c);
            assert.equal(glue.commandCalls(StartJobRunCommand).length, 1, `${what}: Glue runs`);
            assert.equal(result.outputVariables?.reused, "false", what);
            assert.ok(!keys.has(result.outputVariables!.reuseKey), `${what}: a new key`);
            keys.add(result.outputVariables!.reuseKey);
        }
    });

    it("reuse=false (the pipeline variable): runs Glue although the key is recorded, and records the new run", async () => {
        await execute("exec-1");
        glue.resetHistory();
        const result = await execute("exec-audit", { reuse: "false" });
        assert.equal(glue.commandCalls(StartJobRunCommand).length, 1);
        assert.equal(result.outputVariables?.reused, "false");
        assert.equal(JSON.parse(objects.get(`curated-bucket/datasets/_reuse/${expectedKey("v1")}.json`)!).runId, "exec-audit");
        assert.ok(logs.some((l) => l.includes("reuse off for this execution")));
    });

    it("no reuse for a prefix, an unversioned object, or an older stack without reuse inputs: Glue runs, nothing recorded", async () => {
        versions.set("raw-bucket/incoming/churn.csv", "null");
        await handler()(event("exec-null"));
        const noReuse = { ...config, reuse: undefined };
        await handler(noReuse)(event("exec-old"));
        await handler()({ "CodePipeline.job": { id: jobId("p"), accountId: "123456789012", data: { actionConfiguration: { configuration: {
            FunctionName: "f", UserParameters: JSON.stringify({ inputUri: "s3://raw-bucket/incoming/", runId: "exec-prefix" }) } } } } });
        assert.equal(glue.commandCalls(StartJobRunCommand).length, 3);
        assert.ok(successes().every((s) => JSON.parse(s.continuationToken!).reuse === undefined));
        assert.ok(logs.some((l) => l.includes("has no object version")));
        assert.ok(logs.some((l) => l.includes("is not a single object")));
        assert.ok(logs.some((l) => l.includes("reuse inputs are not configured")));
    });

    it("a failing lookup or record never fails the action: logged, the ETL runs, its result is reported", async () => {
        s3.on(GetObjectCommand, { Key: `datasets/_reuse/${expectedKey("v1")}.json` }).rejects(named("AccessDenied", "no read"));
        s3.on(PutObjectCommand).rejects(named("AccessDenied", "no write"));
        const result = await execute("exec-1");
        assert.equal(codepipeline.commandCalls(PutJobFailureResultCommand).length, 0);
        assert.equal(glue.commandCalls(StartJobRunCommand).length, 1);
        assert.equal(result.outputVariables?.rowsOut, "1150");
        assert.ok(logs.some((l) => l.includes("reuse lookup failed") && l.includes("no read")));
        assert.ok(logs.some((l) => l.includes("could not record the run for reuse") && l.includes("no write")));
    });

    it("a record whose run lost its manifest is a miss; a redeploy mid-run records nothing", async () => {
        await execute("exec-1");
        objects.delete("curated-bucket/datasets/exec-1/manifest.json");
        glue.resetHistory();
        await handler()(event("exec-2"));
        assert.equal(glue.commandCalls(StartJobRunCommand).length, 1);

        versions.set("raw-bucket/incoming/churn.csv", "v9");
        await handler()(event("exec-9"));
        const token = last().continuationToken!;
        objects.set("curated-bucket/datasets/exec-9/manifest.json", manifestFor("exec-9"));
        glue.on(GetJobRunCommand).resolves({ JobRun: { Id: "jr-exec-9", JobRunState: "SUCCEEDED", Attempt: 0 } });
        await handler({ ...config, reuse: { ...config.reuse!, etlCodeSha256: "e".repeat(64) } })(event("exec-9", {}, token));
        assert.equal(last().outputVariables?.runId, "exec-9");
        assert.ok(!objects.has(`curated-bucket/datasets/_reuse/${expectedKey("v9")}.json`));
        assert.ok(logs.some((l) => l.includes("function redeployed")));
    });

    it("bad switch or reuse environment: named errors", async () => {
        await handler()(event("exec-x", { reuse: "sometimes" }));
        const failure = codepipeline.commandCalls(PutJobFailureResultCommand)[0].args[0].input;
        assert.equal(failure.failureDetails?.type, "ConfigurationError");
        assert.match(failure.failureDetails?.message ?? "", /UserParameters.reuse is "sometimes": expected "true"/);
        const env = { GLUE_JOB_NAME: "j", RAW_BUCKET: "raw-bucket", CURATED_BUCKET: "curated-bucket", CURATED_PREFIX: "datasets" };
        assert.throws(() => parseConfig({ ...env, ETL_SETTINGS: "{\"minRows\": 1}" }), (e) => e instanceof ConfigError && /ETL_SETTINGS: expected JSON/.test(e.message));
        assert.throws(() => parseConfig({ ...env, ETL_CODE_SHA256: "xyz" }), /ETL_CODE_SHA256: expected a SHA-256/);
        assert.deepEqual(parseConfig({ ...env, ETL_CODE_SHA256: CODE, ETL_SCHEMA_SHA256: SCHEMA, ETL_SETTINGS: JSON.stringify(SETTINGS) }).reuse,
            { etlCodeSha256: CODE, schemaSha256: SCHEMA, settings: SETTINGS });
    });
});
