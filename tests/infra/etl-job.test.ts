/**
 * The ETL Glue job as the real program builds it: dev (the host) has it with its security configuration, code
 * objects, least-privilege role, encrypted log groups and failure alerts; prod (an environment) has none of it.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EtlJob } from "../../infra/components/etl-job";
import { parseConfig as parseTriggerConfig } from "../../lambdas/etl-trigger/config";
import { testBed } from "../harness/fixtures";
import { ACCOUNT_ID, evaluate, evaluateStackOk, readStackConfig, RecordedResource, REPO_ROOT, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Statement = { Sid?: string; Effect: string; Principal?: any; Action: string | string[]; Resource?: any; Condition?: any };
const statements = (policy: string): Statement[] => JSON.parse(policy).Statement;
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const sha = (file: string) => createHash("sha256").update(fs.readFileSync(path.join(REPO_ROOT, file))).digest("hex");

/** Statements allowed to use `Resource: "*"`, each because the action has no resource-level permissions. */
const WILDCARD_RESOURCE_ALLOWED = new Set(["PublishGlueMetrics"]);

/**
 * Glue's own job parameters the stack sets ("Using job parameters in AWS Glue jobs", job parameters reference:
 * https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html); Glue consumes them.
 */
const GLUE_PARAMETERS = new Set([
    "--job-language", "--enable-metrics", "--enable-job-insights", "--enable-observability-metrics", "--job-bookmark-option",
    "--TempDir", "--extra-py-files",
]);

/** etl/glue_job.py's argument names and, given arguments, the options it parses from them (its own parser). */
function glueScript(argv: string[]): { required: string[]; optional: string[]; options?: Record<string, unknown> } {
    const program = [
        "import dataclasses, json, sys",
        "sys.path.insert(0, 'etl')",
        "import glue_job",
        "argv = json.loads(sys.argv[1])",
        "options = dataclasses.asdict(glue_job.parse_args(['glue_job.py', *argv])[0]) if argv else None",
        "print(json.dumps({'required': glue_job.REQUIRED, 'optional': glue_job.OPTIONAL, 'options': options}))",
    ].join("\n");
    const out = execFileSync(path.join(REPO_ROOT, ".venv", "bin", "python"), ["-c", program, JSON.stringify(argv)], { cwd: REPO_ROOT, encoding: "utf8" });
    return JSON.parse(out);
}

describe("stack platform: ETL Glue job", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    let job: RecordedResource;
    let keyArn: string;
    const bucket = (purpose: string) => `mlops-platform-${purpose}-${ACCOUNT_ID}-us-east-1`;
    const devEtl = JSON.parse(readStackConfig("platform")["mlops:etl"]);

    before(async () => {
        ({ graph, outputs } = await stackGraph("platform"));
        job = graph.one("aws:glue/job:Job");
        keyArn = graph.one("aws:kms/key:Key").state.arn;
    });

    it("is a Glue 5.0 PySpark job sized, timed and retried from the stack's config", () => {
        assert.equal(job.inputs.name, "mlops-platform-etl");
        assert.equal(job.inputs.glueVersion, "5.0");
        assert.equal(job.inputs.command.name, "glueetl");
        assert.equal(job.inputs.command.pythonVersion, "3");
        assert.equal(job.inputs.workerType, devEtl.workerType);
        assert.equal(job.inputs.numberOfWorkers, devEtl.numberOfWorkers);
        assert.equal(job.inputs.timeout, devEtl.timeoutMinutes);
        assert.equal(job.inputs.maxRetries, devEtl.maxRetries);
        assert.equal(job.inputs.executionProperty.maxConcurrentRuns, 1);
        assert.equal(outputs.etlJobName, "mlops-platform-etl");
    });

    it("runs the uploaded script; the script itself reads its default arguments as the package, schema, output and limits", () => {
        const script = graph.one("aws:s3/bucketObjectv2:BucketObjectv2", /^etl-script$/).inputs;
        const pkg = graph.one("aws:s3/bucketObjectv2:BucketObjectv2", /^etl-package$/).inputs;
        const schema = graph.one("aws:s3/bucketObjectv2:BucketObjectv2", /^etl-schema$/).inputs;
        const args: Record<string, string> = job.inputs.defaultArguments;
        assert.equal(job.inputs.command.scriptLocation, `s3://${bucket("artifacts")}/${script.key}`);
        // Glue's own parameters go to Glue, the rest to the script: each must be a name one of them knows.
        const reads = glueScript([]);
        const scriptArgs = Object.keys(args).filter((k) => !GLUE_PARAMETERS.has(k));
        assert.deepEqual(scriptArgs.filter((k) => ![...reads.required, ...reads.optional].includes(k.slice(2))), [], "arguments neither Glue nor glue_job.py reads");
        assert.equal(args["--extra-py-files"], `s3://${bucket("artifacts")}/${pkg.key}`, "the package the script imports");
        assert.equal(args["--job-bookmark-option"], "job-bookmark-disable", "every run is explicit; bookmarks would skip reprocessed input");
        assert.ok(!("--input" in args) && !("--run-id" in args), "per-run arguments are the trigger's");
        // What the script makes of them, with the trigger's per-run arguments added (lambdas/etl-trigger/handler.ts).
        const parsed = glueScript(["--input", `s3://${bucket("raw")}/in.csv`, "--run-id", "r1", ...scriptArgs.flatMap((k) => [k, args[k]])]).options!;
        assert.deepEqual(parsed, {
            input: `s3://${bucket("raw")}/in.csv`, run_id: "r1", seed: null,
            schema_uri: `s3://${bucket("artifacts")}/${schema.key}`,
            output: `s3://${bucket("curated")}/datasets`,
            max_quarantine_share: devEtl.maxQuarantineShare, min_rows: devEtl.minRows, train_shards: devEtl.trainShards ?? 1,
        });
    });

    it("follows other etl config values (not constants)", async () => {
        const { graph: other } = await evaluateStackOk("platform", {
            config: { etl: { workerType: "G.2X", numberOfWorkers: 5, timeoutMinutes: 90, maxRetries: 0, maxQuarantineShare: 0.1, minRows: 50, trainShards: 8 } },
        });
        const j = other.one("aws:glue/job:Job").inputs;
        assert.deepEqual([j.workerType, j.numberOfWorkers, j.timeout, j.maxRetries], ["G.2X", 5, 90, 0]);
        assert.equal(j.defaultArguments["--max-quarantine-share"], "0.1");
        assert.equal(j.defaultArguments["--min-rows"], "50");
        assert.equal(j.defaultArguments["--train-shards"], "8");
        const fn = other.one("aws:lambda/function:Function", /^etl-trigger-function$/);
        assert.equal(fn.inputs.environment.variables.GLUE_MAX_RETRIES, "0");
    });

    it("uploads script, package and schema as content-addressed, KMS-encrypted objects", async () => {
        const objects = Object.fromEntries(["script", "package", "schema"].map((s) =>
            [s, graph.one("aws:s3/bucketObjectv2:BucketObjectv2", new RegExp(`^etl-${s}$`)).inputs]));
        assert.equal(objects.script.key, `etl/scripts/glue_job-${sha("etl/glue_job.py").slice(0, 16)}.py`);
        assert.equal(objects.schema.key, `etl/schemas/churn.schema-${sha("data/churn.schema.json").slice(0, 16)}.json`);
        assert.match(objects.package.key, /^etl\/scripts\/mlops_etl-[0-9a-f]{16}\.zip$/);
        for (const o of Object.values(objects)) {
            assert.equal(o.bucket, bucket("artifacts"));
            assert.equal(o.serverSideEncryption, "aws:kms");
            assert.equal(o.kmsKeyId, keyArn);
        }
        assert.equal(await objects.script.source.path, path.join(REPO_ROOT, "etl/glue_job.py"));
        const assets = await objects.package.source.assets;
        const names = Object.keys(assets);
        assert.ok(names.includes("mlops_etl/__init__.py"), names.join(", "));
        assert.ok(names.every((n) => n.startsWith("mlops_etl/") && !n.includes("__pycache__") && !n.endsWith(".pyc")), names.join(", "));
    });

    it("has a security configuration: SSE-KMS for S3, CSE-KMS for bookmarks, KMS for CloudWatch logs, all with the stack key", () => {
        const sc = graph.one("aws:glue/securityConfiguration:SecurityConfiguration");
        assert.equal(job.inputs.securityConfiguration, sc.inputs.name);
        const e = sc.inputs.encryptionConfiguration;
        assert.deepEqual(e.s3Encryption, { s3EncryptionMode: "SSE-KMS", kmsKeyArn: keyArn });
        assert.deepEqual(e.jobBookmarksEncryption, { jobBookmarksEncryptionMode: "CSE-KMS", kmsKeyArn: keyArn });
        assert.deepEqual(e.cloudwatchEncryption, { cloudwatchEncryptionMode: "SSE-KMS", kmsKeyArn: keyArn });
    });

    it("creates the encrypted log groups Glue writes to under the security configuration, before the job", () => {
        const sc = graph.one("aws:glue/securityConfiguration:SecurityConfiguration").inputs.name;
        const role = graph.one("aws:iam/role:Role", /^etl-role$/).inputs.name;
        const groups = ["output", "error"].map((g) => graph.one("aws:cloudwatch/logGroup:LogGroup", new RegExp(`^etl-${g}-logs$`)));
        assert.deepEqual(groups.map((g) => g.inputs.name), [
            `/aws-glue/jobs/${sc}-role/${role}/output`,
            `/aws-glue/jobs/${sc}-role/${role}/error`,
        ]);
        // Glue 5.0 has no continuous logging: no Glue 4.0 argument, no logs-v2 group.
        assert.equal(job.inputs.glueVersion, "5.0");
        assert.ok(!Object.keys(job.inputs.defaultArguments).some((k) => /continuous/.test(k)));
        assert.ok(!graph.ofType("aws:cloudwatch/logGroup:LogGroup").some((g) => /logs-v2/.test(g.inputs.name)));
        for (const g of groups) {
            assert.equal(g.inputs.kmsKeyId, keyArn);
            assert.equal(g.inputs.retentionInDays, 365, "the platform stack file's logRetentionDays");
            assert.ok(job.dependencies.includes(g.urn), `the job does not wait for ${g.name}`);
        }
    });

    describe("role", () => {
        let role: RecordedResource;
        let policy: Statement[];
        before(() => {
            role = graph.one("aws:iam/role:Role", /^etl-role$/);
            policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", /^etl-role-policy$/).inputs.policy);
        });

        it("is assumable only by Glue on behalf of this account and is the job's role", () => {
            assert.deepEqual(statements(role.inputs.assumeRolePolicy), [{
                Effect: "Allow", Principal: { Service: "glue.amazonaws.com" }, Action: "sts:AssumeRole",
                Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } },
            }]);
            assert.equal(job.inputs.roleArn, role.state.arn);
            assert.equal(graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => a.inputs.role === role.state.name).length, 0, "no managed policies");
        });

        it("grants no wildcard actions, and Resource \"*\" only where the action has no resource-level permissions", () => {
            for (const s of policy) {
                assert.equal(s.Effect, "Allow");
                for (const a of list(s.Action)) assert.ok(a !== "*" && !/:\*$/.test(a), `${s.Sid} grants ${a}`);
                if (list(s.Resource).includes("*")) {
                    assert.ok(WILDCARD_RESOURCE_ALLOWED.has(s.Sid!), `${s.Sid} uses Resource "*"`);
                }
            }
            const metrics = policy.find((s) => s.Sid === "PublishGlueMetrics")!;
            assert.deepEqual(metrics.Action, "cloudwatch:PutMetricData");
            assert.deepEqual(metrics.Condition, { StringEquals: { "cloudwatch:namespace": "Glue" } });
        });

        it("reads raw data and code, writes only the curated prefix and its temp dir", () => {
            const allowed = (action: string) => policy.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource));
            const arn = (b: string) => `arn:aws:s3:::${bucket(b)}`;
            assert.deepEqual(allowed("s3:PutObject").sort(), [`${arn("artifacts")}/etl/temp/*`, `${arn("curated")}/datasets/*`].sort());
            assert.deepEqual(allowed("s3:DeleteObject").sort(), [`${arn("artifacts")}/etl/temp/*`, `${arn("curated")}/datasets/*`].sort());
            assert.deepEqual(allowed("s3:GetObject").sort(), [
                `${arn("artifacts")}/etl/schemas/*`, `${arn("artifacts")}/etl/scripts/*`, `${arn("artifacts")}/etl/temp/*`,
                `${arn("curated")}/datasets/*`, `${arn("raw")}/*`,
            ].sort());
            assert.deepEqual(allowed("s3:ListBucket").sort(), [arn("artifacts"), arn("curated"), arn("raw")]);
            assert.deepEqual(allowed("s3:GetBucketLocation").sort(), [arn("artifacts"), arn("curated"), arn("raw")]);
            const s3Actions = new Set(policy.flatMap((s) => list(s.Action)).filter((a) => a.startsWith("s3:")));
            assert.deepEqual([...s3Actions].sort(), ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
            const curatedList = policy.find((s) => s.Sid === "ListCuratedRuns")!;
            assert.deepEqual(curatedList.Condition, { StringLike: { "s3:prefix": ["datasets", "datasets/*"] } });
            assert.ok(!JSON.stringify(policy).includes(bucket("models")), "no access to the models bucket");
        });

        it("uses only the stack key and writes only its own log groups (with logs:AssociateKmsKey)", () => {
            const kms = policy.find((s) => list(s.Action).some((a) => a.startsWith("kms:")))!;
            assert.equal(kms.Resource, keyArn);
            const logs = policy.find((s) => s.Sid === "WriteEncryptedJobLogs")!;
            assert.ok(list(logs.Action).includes("logs:AssociateKmsKey"));
            const names = ["output", "error"].map((g) => graph.one("aws:cloudwatch/logGroup:LogGroup", new RegExp(`^etl-${g}-logs$`)).inputs.name);
            const expected = names.flatMap((n) => {
                const a = `arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:${n}`;
                return [a, `${a}:log-stream:*`];
            });
            assert.deepEqual(logs.Resource, expected);
        });
    });

    describe("failure alerts", () => {
        it("routes FAILED, TIMEOUT, STOPPED and ERROR runs of this job to the alerts topic", () => {
            const rule = graph.one("aws:cloudwatch/eventRule:EventRule", /^etl-failed$/);
            assert.deepEqual(JSON.parse(rule.inputs.eventPattern), {
                source: ["aws.glue"],
                "detail-type": ["Glue Job State Change"],
                detail: { jobName: ["mlops-platform-etl"], state: ["FAILED", "TIMEOUT", "STOPPED", "ERROR"] },
            });
            const target = graph.one("aws:cloudwatch/eventTarget:EventTarget", /^etl-failed-alert$/).inputs;
            assert.equal(target.rule, rule.state.name);
            assert.equal(target.arn, graph.one("aws:sns/topic:Topic", /alerts$/).state.arn);
            assert.deepEqual(target.retryPolicy, { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 });
            const dlq = graph.one("aws:sqs/queue:Queue", /^etl-failed-dlq$/);
            assert.equal(target.deadLetterConfig.arn, dlq.state.arn);
        });

        it("keeps undelivered alerts in a KMS-encrypted queue that only this rule may write to, with an alarm", () => {
            const rule = graph.one("aws:cloudwatch/eventRule:EventRule", /^etl-failed$/);
            const dlq = graph.one("aws:sqs/queue:Queue", /^etl-failed-dlq$/);
            assert.equal(dlq.inputs.kmsMasterKeyId, keyArn);
            const policy = statements(graph.one("aws:sqs/queuePolicy:QueuePolicy", /^etl-failed-dlq-policy$/).inputs.policy);
            const allow = policy.filter((s) => s.Effect === "Allow");
            assert.deepEqual(allow, [{
                Sid: "AllowDeadLettersFromSource", Effect: "Allow", Principal: { Service: "events.amazonaws.com" },
                Action: "sqs:SendMessage", Resource: dlq.state.arn,
                Condition: { ArnEquals: { "aws:SourceArn": rule.state.arn }, StringEquals: { "aws:SourceAccount": ACCOUNT_ID } },
            }]);
            assert.ok(policy.some((s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === false));
            const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", /^etl-failed-dlq-messages$/).inputs;
            assert.deepEqual(alarm.dimensions, { QueueName: dlq.state.name });
            assert.deepEqual(alarm.alarmActions, [graph.one("aws:sns/topic:Topic", /alerts$/).state.arn]);
        });
    });

    it("gives the trigger Lambda only the run and manifest access it needs", () => {
        const fn = graph.one("aws:lambda/function:Function", /^etl-trigger-function$/);
        // The function reads its environment with its own parser: what it makes of it must be this job's.
        const trigger = parseTriggerConfig(fn.inputs.environment.variables);
        const args: Record<string, string> = job.inputs.defaultArguments;
        assert.equal(trigger.glueJobName, job.inputs.name);
        assert.equal(trigger.glueMaxRetries, job.inputs.maxRetries);
        assert.equal(`s3://${trigger.curatedBucket}/${trigger.curatedPrefix}`, args["--output"], "the trigger looks for runs where the job writes them");
        assert.equal(trigger.rawBucket, bucket("raw"));
        // The reuse key's deployed inputs: the code and schema this job runs, the settings that change its output.
        assert.deepEqual(trigger.reuse?.settings, {
            maxQuarantineShare: Number(args["--max-quarantine-share"]), minRows: Number(args["--min-rows"]), trainShards: Number(args["--train-shards"]),
        });
        assert.equal(trigger.reuse?.schemaSha256, sha("data/churn.schema.json"));
        assert.notEqual(trigger.reuse?.etlCodeSha256, sha("etl/glue_job.py"), "the package is part of the code too");
        const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", /^etl-trigger-role-policy$/).inputs.policy);
        const bySid = Object.fromEntries(policy.map((s) => [s.Sid, s]));
        assert.deepEqual(bySid.StartAndWatchEtlRuns.Action, ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns"]);
        assert.equal(bySid.StartAndWatchEtlRuns.Resource, `arn:aws:glue:us-east-1:${ACCOUNT_ID}:job/mlops-platform-etl`);
        assert.equal(bySid.ReadRunManifests.Resource, `arn:aws:s3:::${bucket("curated")}/datasets/*/manifest.json`);
        assert.equal(bySid.DecryptRunManifests.Resource, keyArn);
        // Reuse: read the input's version, read and write only the reuse index (never a run's data).
        assert.deepEqual([bySid.ReadInputVersions.Action, bySid.ReadInputVersions.Resource], ["s3:GetObject", `arn:aws:s3:::${bucket("raw")}/*`]);
        assert.deepEqual([bySid.ReadAndRecordReuseIndex.Action, bySid.ReadAndRecordReuseIndex.Resource],
            [["s3:GetObject", "s3:PutObject"], `arn:aws:s3:::${bucket("curated")}/datasets/_reuse/*`]);
        assert.deepEqual([bySid.EncryptReuseIndex.Action, bySid.EncryptReuseIndex.Resource], ["kms:GenerateDataKey", keyArn]);
        assert.ok(policy.every((st) => !list(st.Action).includes("s3:PutObject") || st.Resource === `arn:aws:s3:::${bucket("curated")}/datasets/_reuse/*`),
            "the only write is the reuse index");
    });
});

describe("stack prod: no ETL", () => {
    it("has no Glue job, security configuration or trigger function (prod is not the host)", async () => {
        const { graph, outputs } = await stackGraph("prod");
        assert.equal(graph.ofType("aws:glue/job:Job").length, 0);
        assert.equal(graph.ofType("aws:glue/securityConfiguration:SecurityConfiguration").length, 0);
        assert.equal(graph.resources.filter((r) => r.type === "mlops:etl:EtlJob").length, 0);
        assert.equal(graph.resources.filter((r) => r.name.startsWith("etl-trigger")).length, 0);
        assert.equal(outputs.etlJobName, undefined);
        assert.equal(outputs.etlTriggerFunctionArn, undefined);
    });
});

describe("EtlJob component", () => {
    let dir: string;
    before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "etl-job-")); });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function build(overrides: Record<string, unknown>) {
        return evaluate("platform", () => {
            const bed = testBed();
            const etl = new EtlJob("probe", {
                context: bed.context,
                etl: bed.config.etl,
                kmsKeyArn: bed.baseline.kmsKeyArn,
                buckets: bed.baseline.buckets,
                alertsTopicArn: bed.baseline.alertsTopicArn,
                ...overrides,
            }, bed.opts);
            return { jobName: etl.jobName };
        });
    }

    it("fails with a clear error when the script is missing", async () => {
        const result = await build({ scriptPath: "etl/does-not-exist.py" });
        assert.match(result.error?.message ?? "", /EtlJob probe: ETL script etl\/does-not-exist\.py not found; it must exist when the program runs \(set scriptPath/);
        assert.equal(result.graph.ofType("aws:glue/job:Job").length, 0);
    });

    it("fails with a clear error when the package has no __init__.py", async () => {
        const result = await build({ packagePath: dir });
        assert.match(result.error?.message ?? "", /ETL package .* not found or has no __init__\.py/);
    });

    it("fails when the schema is not JSON", async () => {
        const schema = path.join(dir, "bad.schema.json");
        fs.writeFileSync(schema, "{ not json");
        const result = await build({ schemaPath: schema });
        assert.match(result.error?.message ?? "", /dataset schema .*bad\.schema\.json is not valid JSON/);
    });

    it("rejects an unusable curated prefix", async () => {
        const result = await build({ curatedPrefix: "/datasets/" });
        assert.match(result.error?.message ?? "", /curatedPrefix "\/datasets\/" is invalid/);
    });

    it("uploads a changed script under a new key", async () => {
        const script = path.join(dir, "job.py");
        const keyFor = async (content: string) => {
            fs.writeFileSync(script, content);
            const { graph, error } = await build({ scriptPath: script });
            assert.equal(error, undefined);
            return graph.one("aws:s3/bucketObjectv2:BucketObjectv2", /^probe-script$/).inputs.key as string;
        };
        const a = await keyFor("print('a')\n");
        const b = await keyFor("print('b')\n");
        assert.notEqual(a, b);
        assert.equal(a, `etl/scripts/glue_job-${createHash("sha256").update("print('a')\n").digest("hex").slice(0, 16)}.py`);
    });
});
