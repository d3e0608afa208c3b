/** The trigger's pure modules and shared helpers, and the module's real entry point wired from the environment. */
import { strict as assert } from "assert";
import { CodePipelineClient, PutJobFailureResultCommand, PutJobSuccessResultCommand } from "@aws-sdk/client-codepipeline";
import { GetJobRunsCommand, GlueClient, StartJobRunCommand } from "@aws-sdk/client-glue";
import { mockClient } from "aws-sdk-client-mock";
import { ConfigError, loadConfig, parseConfig } from "../../lambdas/etl-trigger/config";
import { failureMessage, retriedByGlue, runStatus } from "../../lambdas/etl-trigger/glue-run";
import { outputVariables } from "../../lambdas/etl-trigger/manifest";
import { ParameterError, parseUserParameters } from "../../lambdas/etl-trigger/parameters";
import { decodeToken, encodeToken, TokenError } from "../../lambdas/etl-trigger/token";
import { classifyAwsError, describeError } from "../../lambdas/shared/aws-errors";
import { jobSummary, readCodePipelineJob, successProblem, truncate } from "../../lambdas/shared/codepipeline-job";
import { createLogger, REDACTED, redact } from "../../lambdas/shared/log";

const ENV = {
    GLUE_JOB_NAME: "mlops-dev-etl",
    RAW_BUCKET: "mlops-dev-raw-123456789012-us-east-1",
    CURATED_BUCKET: "mlops-dev-curated-123456789012-us-east-1",
    CURATED_PREFIX: "datasets",
    GLUE_MAX_RETRIES: "1",
};

describe("etl-trigger config", () => {
    it("parses the environment with defaults for the budgets", () => {
        assert.deepEqual(parseConfig(ENV), {
            glueJobName: "mlops-dev-etl",
            rawBucket: ENV.RAW_BUCKET,
            curatedBucket: ENV.CURATED_BUCKET,
            curatedPrefix: "datasets",
            glueMaxRetries: 1,
            throttleBudgetMs: 900_000,
            concurrencyBudgetMs: 3_600_000,
            retryGraceMs: 300_000,
        });
        assert.equal(parseConfig({ ...ENV, THROTTLE_BUDGET_SECONDS: "60" }).throttleBudgetMs, 60_000);
    });

    it("names every invalid variable", () => {
        const error = loadConfig({ ...ENV, GLUE_JOB_NAME: undefined, CURATED_PREFIX: "/datasets/", GLUE_MAX_RETRIES: "eleven" });
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /GLUE_JOB_NAME: /);
        assert.match(error.message, /CURATED_PREFIX: expected a key prefix without leading or trailing '\/'/);
        assert.match(error.message, /GLUE_MAX_RETRIES: /);
    });
});

describe("etl-trigger UserParameters", () => {
    const opts = { rawBucket: "raw-bucket", defaultRunId: "job-1" };
    it("accepts input, run id and schema from the raw bucket", () => {
        assert.deepEqual(parseUserParameters('{"inputUri":"s3://raw-bucket/in/x.csv","runId":"a1b2","schemaUri":"s3://raw-bucket/s.json"}', opts),
            { inputUri: "s3://raw-bucket/in/x.csv", runId: "a1b2", schemaUri: "s3://raw-bucket/s.json", reuse: true });
        assert.equal(parseUserParameters('{"inputUri":"s3://raw-bucket/in/x.csv","reuse":"false"}', opts).reuse, false);
        assert.equal(parseUserParameters('{"inputUri":"s3://raw-bucket/in/"}', opts).runId, "job-1");
    });

    it("rejects what the job could not use, saying what is allowed", () => {
        const bad: [string | undefined, RegExp][] = [
            [undefined, /missing: expected a JSON object such as \{"inputUri": "s3:\/\/raw-bucket\/<key>"/],
            ["[]", /\(root\): /],
            ['{"inputUri":"s3://raw-bucket"}', /inputUri: expected s3:\/\/<bucket>\/<key or prefix>/],
            ['{"inputUri":"https://raw-bucket/x"}', /inputUri: expected s3:\/\//],
            ['{"inputUri":"s3://raw-bucket/x","runId":""}', /runId: expected 1-128 characters/],
            ['{"inputUri":"s3://raw-bucket/x","runId":"a/b"}', /runId: expected 1-128 characters/],
        ];
        for (const [raw, message] of bad) {
            assert.throws(() => parseUserParameters(raw, opts), (e: Error) => e instanceof ParameterError && message.test(e.message), String(raw));
        }
        assert.throws(() => parseUserParameters('{"inputUri":"s3://raw-bucket/x"}', { ...opts, defaultRunId: "bad id" }), /run id "bad id" is invalid/);
    });
});

describe("etl-trigger continuation token", () => {
    it("round-trips both phases", () => {
        const running = { v: 1, phase: "running", runId: "r1", jobRunId: "jr_1", startedAt: "2025-01-01T00:00:00.000Z" } as const;
        assert.deepEqual(decodeToken(encodeToken(running)), running);
        const starting = { v: 1, phase: "starting", runId: "r1", waitingSince: "2025-01-01T00:00:00.000Z", reason: "throttled" } as const;
        assert.deepEqual(decodeToken(encodeToken(starting)), starting);
    });

    it("refuses tokens it did not write", () => {
        for (const raw of ["", "{", '{"v":1,"phase":"done","runId":"r1"}', '{"v":1,"phase":"running","runId":"r1","jobRunId":"jr","startedAt":"yesterday"}']) {
            assert.throws(() => decodeToken(raw), TokenError, raw);
        }
    });
});

describe("etl-trigger Glue run states", () => {
    it("sorts states into in progress, succeeded and failed", () => {
        assert.deepEqual(["STARTING", "RUNNING", "STOPPING", "WAITING"].map(runStatus), Array(4).fill("in-progress"));
        assert.equal(runStatus("SUCCEEDED"), "succeeded");
        assert.deepEqual(["FAILED", "TIMEOUT", "STOPPED", "ERROR", "EXPIRED", "NEW", undefined].map(runStatus), Array(7).fill("failed"));
    });

    it("expects Glue's retry only after FAILED or ERROR with attempts left", () => {
        assert.equal(retriedByGlue({ JobRunState: "FAILED", Attempt: 0 }, 1), true);
        assert.equal(retriedByGlue({ JobRunState: "ERROR" }, 2), true);
        assert.equal(retriedByGlue({ JobRunState: "FAILED", Attempt: 1 }, 1), false);
        assert.equal(retriedByGlue({ JobRunState: "TIMEOUT", Attempt: 0 }, 1), false);
        assert.equal(retriedByGlue({ JobRunState: "STOPPED", Attempt: 0 }, 1), false);
    });

    it("words failures with job, run, attempt, state and Glue's message", () => {
        assert.equal(failureMessage("job", { Id: "jr_1", JobRunState: "TIMEOUT", ErrorMessage: " took too long \n" }), "Glue job job run jr_1 ended TIMEOUT: took too long");
        assert.equal(failureMessage("job", { Id: "jr_2", Attempt: 2, JobRunState: "FAILED" }), "Glue job job run jr_2 (attempt 3) ended FAILED: Glue gave no error message");
    });
});

describe("etl-trigger manifest", () => {
    const manifest = { runId: "r1", rowsIn: 10, rowsOut: 7, rowsQuarantined: 3, splits: { train: 5, validation: 1, test: 1 }, extra: "kept" };
    it("derives the output variables", () => {
        const vars = outputVariables(JSON.stringify(manifest), "r1", "s3://c/d/r1/", "jr_9");
        assert.equal(vars.trainPrefix, "s3://c/d/r1/train/");
        assert.equal(vars.rowsQuarantined, "3");
        assert.equal(vars.glueJobRunId, "jr_9");
        assert.equal(successProblem({ outputVariables: vars }), undefined, "CodePipeline would accept them");
    });

    it("rejects negative or fractional counts and missing splits", () => {
        for (const bad of [{ ...manifest, rowsIn: -1 }, { ...manifest, rowsOut: 6.5 }, { ...manifest, splits: undefined }]) {
            assert.throws(() => outputVariables(JSON.stringify(bad), "r1", "s3://c/d/r1/", "jr"), /does not follow the ETL contract/);
        }
    });
});

describe("shared: AWS errors", () => {
    it("classifies by name and by the SDK's throttling flag", () => {
        const named = (name: string) => Object.assign(new Error("m"), { name });
        assert.equal(classifyAwsError(named("ThrottlingException")), "throttled");
        assert.equal(classifyAwsError(named("ThrottledException")), "throttled");
        assert.equal(classifyAwsError(Object.assign(named("Weird"), { $retryable: { throttling: true } })), "throttled");
        assert.equal(classifyAwsError(named("ConcurrentRunsExceededException")), "concurrent-runs");
        assert.equal(classifyAwsError(named("EntityNotFoundException")), "not-found");
        assert.equal(classifyAwsError(named("AccessDeniedException")), "access-denied");
        assert.equal(classifyAwsError(named("InternalServiceException")), "other");
        assert.equal(classifyAwsError("a string"), "other");
        assert.equal(describeError(named("X")), "X: m");
        assert.equal(describeError(undefined), "Error: undefined");
    });
});

describe("shared: CodePipeline job", () => {
    it("reads the job fields and summarises without credentials", () => {
        const event = { "CodePipeline.job": { id: "j1", accountId: "1", data: {
            actionConfiguration: { configuration: { FunctionName: "f", UserParameters: "{}" } },
            artifactCredentials: { secretAccessKey: "s3cr3t" },
            continuationToken: "t",
        } } };
        const job = readCodePipelineJob(event);
        assert.deepEqual(job, { id: "j1", accountId: "1", userParameters: "{}", functionName: "f", continuationToken: "t", inputArtifacts: [] });
        assert.ok(!JSON.stringify(jobSummary(job)).includes("s3cr3t"));
    });

    it("truncates to the limit with a marker", () => {
        assert.equal(truncate("abc", 5), "abc");
        const cut = truncate("y".repeat(100), 50);
        assert.equal(cut.length, 50);
        assert.ok(cut.endsWith("… [truncated]"));
    });

    it("refuses success results CodePipeline would reject", () => {
        assert.match(successProblem({ continuationToken: "t", outputVariables: {} })!, /only be sent with the final success/);
        assert.match(successProblem({ continuationToken: "t".repeat(2049) })!, /at most 2048/);
        assert.match(successProblem({ outputVariables: { "a b": "1" } })!, /name "a b" is invalid/);
        assert.match(successProblem({ outputVariables: { a: "x".repeat(130_000) } })!, /at most 122880/);
        assert.equal(successProblem({ continuationToken: "t" }), undefined);
    });
});

describe("shared: logging", () => {
    it("redacts credentials at any depth, keeping everything else", () => {
        const value = { jobId: "j", nested: [{ artifactCredentials: { secretAccessKey: "s" } }, { sessionToken: "t", ok: 1 }], error: new Error("e") };
        assert.deepEqual(redact(value), { jobId: "j", nested: [{ artifactCredentials: REDACTED }, { sessionToken: REDACTED, ok: 1 }], error: { name: "Error", message: "e" } });
        const cyclic: Record<string, unknown> = { a: 1 };
        cyclic.self = cyclic;
        assert.deepEqual(redact(cyclic), { a: 1, self: "[omitted]" });
    });

    it("writes one JSON line per entry through the console", () => {
        const lines: string[] = [];
        const original = console.warn;
        console.warn = (line: string) => lines.push(line);
        try {
            createLogger({ function: "f" }).warn("careful", { credentials: { accessKeyId: "AKIA" }, n: 2 });
        } finally {
            console.warn = original;
        }
        assert.deepEqual(lines.map((l) => JSON.parse(l)), [{ level: "warn", message: "careful", function: "f", credentials: REDACTED, n: 2 }]);
    });
});

describe("etl-trigger entry point (module `handler`)", () => {
    const modulePath = require.resolve("../../lambdas/etl-trigger/handler");
    const glue = mockClient(GlueClient);
    const codepipeline = mockClient(CodePipelineClient);
    const saved = { ...process.env };
    const silence = { info: console.info, error: console.error, warn: console.warn };

    /** Loads the module afresh with `env`, as a cold start would. */
    function coldStart(env: Record<string, string | undefined>): (event: unknown) => Promise<void> {
        for (const key of Object.keys(ENV)) delete process.env[key];
        Object.assign(process.env, env);
        delete require.cache[modulePath];
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require(modulePath).handler;
    }

    const event = { "CodePipeline.job": { id: "0c1d2e3f-4a5b-4c6d-8e7f-901234567890", data: { actionConfiguration: { configuration: {
        UserParameters: JSON.stringify({ inputUri: `s3://${ENV.RAW_BUCKET}/in.csv`, runId: "exec-1" }),
    } } } } };

    beforeEach(() => {
        glue.reset();
        codepipeline.reset();
        codepipeline.on(PutJobSuccessResultCommand).resolves({});
        codepipeline.on(PutJobFailureResultCommand).resolves({});
        glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
        console.info = console.error = console.warn = () => undefined;
    });
    afterEach(() => {
        process.env = { ...saved };
        delete require.cache[modulePath];
        Object.assign(console, silence);
    });

    it("reads its configuration from the environment at cold start", async () => {
        glue.on(StartJobRunCommand).resolves({ JobRunId: "jr_1" });
        await coldStart({ ...ENV, AWS_REGION: "us-east-1" })(event);
        assert.equal(glue.commandCalls(StartJobRunCommand)[0].args[0].input.JobName, "mlops-dev-etl");
        assert.equal(codepipeline.commandCalls(PutJobSuccessResultCommand).length, 1);
    });

    it("reports a ConfigurationError when the environment is invalid", async () => {
        await coldStart({ ...ENV, RAW_BUCKET: "Not_A_Bucket", AWS_REGION: "us-east-1" })(event);
        const failure = codepipeline.commandCalls(PutJobFailureResultCommand)[0].args[0].input.failureDetails!;
        assert.equal(failure.type, "ConfigurationError");
        assert.match(failure.message!, /RAW_BUCKET: expected an S3 bucket name/);
        assert.equal(glue.calls().length, 0);
    });
});
