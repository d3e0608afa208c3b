/**
 * The ETL trigger handler against mocked Glue, S3 and CodePipeline clients: every Glue state and error path ends
 * in exactly one job result (or a thrown invocation when none can be sent), and the event's credentials never
 * reach the console or CodePipeline.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    CodePipelineClient,
    PutJobFailureResultCommand,
    PutJobFailureResultCommandInput,
    PutJobSuccessResultCommand,
    PutJobSuccessResultCommandInput,
} from "@aws-sdk/client-codepipeline";
import {
    AccessDeniedException,
    ConcurrentRunsExceededException,
    EntityNotFoundException,
    GetJobRunCommand,
    GetJobRunsCommand,
    GlueClient,
    InternalServiceException,
    JobRun,
    StartJobRunCommand,
    ThrottlingException,
} from "@aws-sdk/client-glue";
import { GetObjectCommand, NoSuchKey, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { TriggerConfig, ConfigError } from "../../lambdas/etl-trigger/config";
import { createHandler, HandlerDeps } from "../../lambdas/etl-trigger/handler";
import { MalformedEventError } from "../../lambdas/shared/codepipeline-job";

/* eslint-disable @typescript-eslint/no-explicit-any */

const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCY-NEVER-LOG-THIS";
const SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////wEaDNEVERLOGSESSION";
const ACCESS_KEY = "ASIAZZZNEVERLOGGED01";
const MANIFEST = fs.readFileSync(path.join(__dirname, "fixtures", "manifest.json"), "utf8");
const T0 = new Date("2025-01-01T00:00:00.000Z");
const RUN_ID = "exec-42";
const JOB_RUN_ID = "jr_0123456789abcdef";
const INPUT = "s3://raw-bucket/incoming/churn.csv";

const baseConfig: TriggerConfig = {
    glueJobName: "mlops-dev-etl",
    rawBucket: "raw-bucket",
    curatedBucket: "curated-bucket",
    curatedPrefix: "datasets",
    glueMaxRetries: 1,
    throttleBudgetMs: 900_000,
    concurrencyBudgetMs: 3_600_000,
    retryGraceMs: 300_000,
};

interface EventOptions {
    readonly id?: string;
    readonly userParameters?: unknown;
    readonly continuationToken?: string;
}

function pipelineEvent(opts: EventOptions = {}): any {
    const userParameters = opts.userParameters === undefined
        ? JSON.stringify({ inputUri: INPUT, runId: RUN_ID })
        : typeof opts.userParameters === "string" ? opts.userParameters : JSON.stringify(opts.userParameters);
    return {
        "CodePipeline.job": {
            id: opts.id ?? "11111111-2222-3333-4444-555555555555",
            accountId: "123456789012",
            data: {
                actionConfiguration: { configuration: { FunctionName: "mlops-dev-etl-trigger", UserParameters: userParameters } },
                inputArtifacts: [{ name: "SourceOutput", revision: null, location: { type: "S3", s3Location: { bucketName: "b", objectKey: "k" } } }],
                outputArtifacts: [],
                artifactCredentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, sessionToken: SESSION_TOKEN },
                ...(opts.continuationToken === undefined ? {} : { continuationToken: opts.continuationToken }),
            },
        },
    };
}

const runningToken = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ v: 1, phase: "running", runId: RUN_ID, jobRunId: JOB_RUN_ID, startedAt: T0.toISOString(), ...extra });
const startingToken = (reason: string, waitingSince = T0.toISOString()) =>
    JSON.stringify({ v: 1, phase: "starting", runId: RUN_ID, waitingSince, reason });

const sdkError = <T>(Cls: new (o: any) => T, message: string): T => new Cls({ message, $metadata: {} });

describe("etl-trigger handler", () => {
    const glue = mockClient(GlueClient);
    const s3 = mockClient(S3Client);
    const codepipeline = mockClient(CodePipelineClient);
    let clock: Date;
    let output: string[];
    const originals = { info: console.info, warn: console.warn, error: console.error, log: console.log };

    function handler(overrides: Partial<HandlerDeps> = {}) {
        return createHandler({
            glue: new GlueClient({ region: "us-east-1" }),
            s3: new S3Client({ region: "us-east-1" }),
            codepipeline: new CodePipelineClient({ region: "us-east-1" }),
            config: baseConfig,
            now: () => clock,
            ...overrides,
        });
    }

    const successes = () => codepipeline.commandCalls(PutJobSuccessResultCommand).map((c) => c.args[0].input as PutJobSuccessResultCommandInput);
    const failures = () => codepipeline.commandCalls(PutJobFailureResultCommand).map((c) => c.args[0].input as PutJobFailureResultCommandInput);

    /** Exactly one result was sent, a success; returns it. */
    function onlySuccess(): PutJobSuccessResultCommandInput {
        assert.equal(failures().length, 0, `unexpected failure: ${JSON.stringify(failures())}`);
        assert.equal(successes().length, 1);
        return successes()[0];
    }

    /** Exactly one result was sent, a failure; returns its details. */
    function onlyFailure() {
        assert.equal(successes().length, 0, `unexpected success: ${JSON.stringify(successes())}`);
        assert.equal(failures().length, 1);
        const f = failures()[0];
        assert.equal(f.jobId, "11111111-2222-3333-4444-555555555555");
        const details = f.failureDetails!;
        assert.equal(typeof details.message, "string");
        return { ...details, message: details.message! };
    }

    const token = (s: PutJobSuccessResultCommandInput) => JSON.parse(s.continuationToken!);
    const run = (state: string, extra: Partial<JobRun> = {}): JobRun =>
        ({ Id: JOB_RUN_ID, JobName: baseConfig.glueJobName, JobRunState: state as JobRun["JobRunState"], Attempt: 0, Arguments: { "--run-id": RUN_ID }, ...extra });

    beforeEach(() => {
        glue.reset();
        s3.reset();
        codepipeline.reset();
        codepipeline.on(PutJobSuccessResultCommand).resolves({});
        codepipeline.on(PutJobFailureResultCommand).resolves({});
        glue.on(GetJobRunsCommand).resolves({ JobRuns: [] });
        clock = new Date(T0);
        output = [];
        const capture = (...args: unknown[]) => { output.push(args.map(String).join(" ")); };
        console.info = capture;
        console.warn = capture;
        console.error = capture;
        console.log = capture;
    });

    afterEach(function () {
        Object.assign(console, originals);
        // Every path: nothing of the credentials reaches the logs or CodePipeline.
        const sent = JSON.stringify([successes(), failures()]);
        for (const secret of [SECRET, SESSION_TOKEN, ACCESS_KEY]) {
            assert.ok(!output.join("\n").includes(secret), `${this.currentTest?.title}: a credential was logged`);
            assert.ok(!sent.includes(secret), `${this.currentTest?.title}: a credential was sent to CodePipeline`);
        }
    });

    describe("first invocation", () => {
        it("starts the Glue run with --input and --run-id and asks to be invoked again", async () => {
            glue.on(StartJobRunCommand).resolves({ JobRunId: JOB_RUN_ID });
            await handler()(pipelineEvent());
            const start = glue.commandCalls(StartJobRunCommand);
            assert.equal(start.length, 1);
            assert.deepEqual(start[0].args[0].input, { JobName: "mlops-dev-etl", Arguments: { "--input": INPUT, "--run-id": RUN_ID } });
            const s = onlySuccess();
            assert.deepEqual(token(s), { v: 1, phase: "running", runId: RUN_ID, jobRunId: JOB_RUN_ID, startedAt: T0.toISOString() });
            assert.equal(s.executionDetails?.externalExecutionId, JOB_RUN_ID);
            assert.equal(s.outputVariables, undefined);
            assert.ok(output.some((l) => l.includes("started Glue run")), "the start is logged");
        });

        it("passes a per-run schema and defaults the run id to the CodePipeline job id", async () => {
            glue.on(StartJobRunCommand).resolves({ JobRunId: JOB_RUN_ID });
            await handler()(pipelineEvent({ id: "77777777-8888-4999-aaaa-bbbbbbbbbbbb", userParameters: { inputUri: INPUT, schemaUri: "s3://raw-bucket/schemas/s.json" } }));
            assert.deepEqual(glue.commandCalls(StartJobRunCommand)[0].args[0].input.Arguments,
                { "--input": INPUT, "--run-id": "77777777-8888-4999-aaaa-bbbbbbbbbbbb", "--schema": "s3://raw-bucket/schemas/s.json" });
            assert.equal(token(successes()[0]).runId, "77777777-8888-4999-aaaa-bbbbbbbbbbbb");
        });

        it("adopts a run already started for the same run id instead of starting another", async () => {
            glue.on(GetJobRunsCommand).resolves({ JobRuns: [
                run("RUNNING", { Id: "jr_other", Arguments: { "--run-id": "another-run" } }),
                run("RUNNING", { Id: "jr_adopted", StartedOn: new Date("2024-12-31T23:59:00Z") }),
            ] });
            await handler()(pipelineEvent());
            assert.equal(glue.commandCalls(StartJobRunCommand).length, 0);
            assert.deepEqual(token(onlySuccess()), { v: 1, phase: "running", runId: RUN_ID, jobRunId: "jr_adopted", startedAt: "2024-12-31T23:59:00.000Z" });
        });

        it("adopts an already SUCCEEDED run for the same run id and reports its dataset", async () => {
            glue.on(GetJobRunsCommand).resolves({ JobRuns: [run("SUCCEEDED")] });
            s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => MANIFEST } as any });
            await handler()(pipelineEvent());
            assert.equal(glue.commandCalls(StartJobRunCommand).length, 0);
            assert.equal(onlySuccess().outputVariables?.rowsOut, "1150");
        });

        it("starts a new run when the last run for the same run id failed (a stage retry)", async () => {
            glue.on(GetJobRunsCommand).resolves({ JobRuns: [run("FAILED", { Id: "jr_failed" })] });
            glue.on(StartJobRunCommand).resolves({ JobRunId: "jr_new" });
            await handler()(pipelineEvent());
            assert.equal(glue.commandCalls(StartJobRunCommand).length, 1);
            assert.equal(token(onlySuccess()).jobRunId, "jr_new");
        });

        it("searches at most three pages of runs", async () => {
            glue.on(GetJobRunsCommand).resolves({ JobRuns: [run("RUNNING", { Arguments: { "--run-id": "x" } })], NextToken: "more" });
            glue.on(StartJobRunCommand).resolves({ JobRunId: JOB_RUN_ID });
            await handler()(pipelineEvent());
            const calls = glue.commandCalls(GetJobRunsCommand);
            assert.equal(calls.length, 3);
            assert.deepEqual(calls.map((c) => c.args[0].input.NextToken), [undefined, "more", "more"]);
            onlySuccess();
        });
    });

    describe("re-invocation with a continuation token", () => {
        for (const state of ["STARTING", "RUNNING", "STOPPING", "WAITING"]) {
            it(`${state}: reports progress with the continuation token again`, async () => {
                glue.on(GetJobRunCommand).resolves({ JobRun: run(state) });
                await handler()(pipelineEvent({ continuationToken: runningToken() }));
                assert.deepEqual(glue.commandCalls(GetJobRunCommand)[0].args[0].input,
                    { JobName: "mlops-dev-etl", RunId: JOB_RUN_ID, PredecessorsIncluded: false });
                const s = onlySuccess();
                assert.deepEqual(token(s), JSON.parse(runningToken()));
                assert.match(s.executionDetails!.summary!, new RegExp(`is ${state}`));
                assert.equal(glue.commandCalls(StartJobRunCommand).length, 0);
            });
        }

        it("SUCCEEDED: reads the run's manifest and reports output variables without a continuation token", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("SUCCEEDED") });
            s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => MANIFEST } as any });
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            assert.deepEqual(s3.commandCalls(GetObjectCommand)[0].args[0].input, { Bucket: "curated-bucket", Key: "datasets/exec-42/manifest.json" });
            const s = onlySuccess();
            assert.equal(s.continuationToken, undefined);
            const prefix = "s3://curated-bucket/datasets/exec-42/";
            assert.deepEqual(s.outputVariables, {
                runId: RUN_ID,
                glueJobRunId: JOB_RUN_ID,
                curatedPrefix: prefix,
                trainPrefix: `${prefix}train/`,
                validationPrefix: `${prefix}validation/`,
                testPrefix: `${prefix}test/`,
                manifestUri: `${prefix}manifest.json`,
                rowsIn: "1200",
                rowsOut: "1150",
                rowsQuarantined: "50",
                reused: "false",
            });
            assert.equal(s.executionDetails?.externalExecutionId, JOB_RUN_ID);
        });

        it("SUCCEEDED without a manifest: failure (the dataset is not published)", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("SUCCEEDED") });
            s3.on(GetObjectCommand).rejects(sdkError(NoSuchKey, "The specified key does not exist."));
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            const f = onlyFailure();
            assert.equal(f.type, "JobFailed");
            assert.match(f.message, /SUCCEEDED but wrote no manifest at s3:\/\/curated-bucket\/datasets\/exec-42\/manifest\.json/);
        });

        const badManifests: [string, string, RegExp][] = [
            ["not JSON", "{", /is not valid JSON/],
            ["of another run", JSON.stringify({ ...JSON.parse(MANIFEST), runId: "exec-41" }), /belongs to run "exec-41", not "exec-42"/],
            ["with inconsistent counts", JSON.stringify({ ...JSON.parse(MANIFEST), rowsQuarantined: 49 }), /rowsIn 1200 != rowsOut 1150 \+ rowsQuarantined 49/],
            ["missing counts", JSON.stringify({ ...JSON.parse(MANIFEST), rowsOut: undefined }), /does not follow the ETL contract: rowsOut/],
        ];
        for (const [title, text, message] of badManifests) {
            it(`SUCCEEDED with a manifest ${title}: failure`, async () => {
                glue.on(GetJobRunCommand).resolves({ JobRun: run("SUCCEEDED") });
                s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => text } as any });
                await handler()(pipelineEvent({ continuationToken: runningToken() }));
                const f = onlyFailure();
                assert.equal(f.type, "JobFailed");
                assert.match(f.message, message);
            });
        }

        it("FAILED: failure with Glue's error message and the run id", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("FAILED", { Attempt: 1, ErrorMessage: "GateFailure: quarantine share 0.31 > 0.05" }) });
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            const f = onlyFailure();
            assert.equal(f.type, "JobFailed");
            assert.equal(f.externalExecutionId, JOB_RUN_ID);
            assert.equal(f.message, `Glue job mlops-dev-etl run ${JOB_RUN_ID} (attempt 2) ended FAILED: GateFailure: quarantine share 0.31 > 0.05`);
        });

        for (const state of ["TIMEOUT", "STOPPED", "ERROR", "EXPIRED"]) {
            it(`${state}: failure naming the state`, async () => {
                // Attempt 0 with a retry left: TIMEOUT, STOPPED and EXPIRED are not retried by Glue; ERROR is.
                glue.on(GetJobRunCommand).resolves({ JobRun: run(state, { Attempt: state === "ERROR" ? 1 : 0, ErrorMessage: `run ended ${state.toLowerCase()}` }) });
                await handler()(pipelineEvent({ continuationToken: runningToken() }));
                const f = onlyFailure();
                assert.equal(f.type, "JobFailed");
                assert.match(f.message, new RegExp(`run ${JOB_RUN_ID}.* ended ${state}: run ended ${state.toLowerCase()}$`));
                assert.equal(glue.commandCalls(GetJobRunsCommand).length, 0, "no search for a Glue retry");
            });
        }

        it("an unknown state is a failure that names it", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("PAUSED") });
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            assert.match(onlyFailure().message, /ended PAUSED: unknown job run state "PAUSED"/);
        });

        it("a failed run without an error message still says so", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("STOPPED") });
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            assert.match(onlyFailure().message, /ended STOPPED: Glue gave no error message$/);
        });

        it("truncates Glue's error message to the API's 5000 characters", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("FAILED", { Attempt: 1, ErrorMessage: "x".repeat(12_000) }) });
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            const message = onlyFailure().message;
            assert.equal(message.length, 5000);
            assert.ok(message.endsWith("[truncated]"));
            assert.ok(message.startsWith(`Glue job mlops-dev-etl run ${JOB_RUN_ID}`));
        });

        describe("Glue's own retries (MaxRetries 1)", () => {
            const failedAttempt = run("FAILED", { Attempt: 0, ErrorMessage: "executor lost", CompletedOn: new Date("2025-01-01T00:00:00Z") });

            it("follows the retry run Glue started", async () => {
                glue.on(GetJobRunCommand).resolves({ JobRun: failedAttempt });
                glue.on(GetJobRunsCommand).resolves({ JobRuns: [run("RUNNING", { Id: "jr_retry", Attempt: 1, PreviousRunId: JOB_RUN_ID })] });
                await handler()(pipelineEvent({ continuationToken: runningToken() }));
                assert.equal(token(onlySuccess()).jobRunId, "jr_retry");
            });

            it("reports the retry's own failure", async () => {
                glue.on(GetJobRunCommand).resolves({ JobRun: failedAttempt });
                glue.on(GetJobRunsCommand).resolves({ JobRuns: [run("FAILED", { Id: "jr_retry", Attempt: 1, PreviousRunId: JOB_RUN_ID, ErrorMessage: "still broken" })] });
                await handler()(pipelineEvent({ continuationToken: runningToken() }));
                const f = onlyFailure();
                assert.match(f.message, /run jr_retry \(attempt 2\) ended FAILED: still broken/);
                assert.equal(f.externalExecutionId, "jr_retry");
            });

            it("waits within the grace period for the retry to appear", async () => {
                clock = new Date("2025-01-01T00:04:00Z");
                glue.on(GetJobRunCommand).resolves({ JobRun: failedAttempt });
                await handler()(pipelineEvent({ continuationToken: runningToken() }));
                assert.equal(token(onlySuccess()).jobRunId, JOB_RUN_ID);
            });

            it("fails with the attempt's message once the grace period is over", async () => {
                clock = new Date("2025-01-01T00:05:00Z");
                glue.on(GetJobRunCommand).resolves({ JobRun: failedAttempt });
                await handler()(pipelineEvent({ continuationToken: runningToken() }));
                assert.match(onlyFailure().message, /ended FAILED: executor lost \(Glue started no retry within 300 s\)/);
            });

            it("does not wait for a retry when the job has none left", async () => {
                glue.on(GetJobRunCommand).resolves({ JobRun: failedAttempt });
                await handler({ config: { ...baseConfig, glueMaxRetries: 0 } })(pipelineEvent({ continuationToken: runningToken() }));
                assert.match(onlyFailure().message, /ended FAILED: executor lost$/);
            });
        });
    });

    describe("concurrent runs exceeded", () => {
        const busy = () => sdkError(ConcurrentRunsExceededException, "Concurrent runs exceeded for mlops-dev-etl");

        it("waits (continuation) while within the budget", async () => {
            glue.on(StartJobRunCommand).rejects(busy());
            await handler()(pipelineEvent());
            assert.deepEqual(token(onlySuccess()), JSON.parse(startingToken("concurrent-runs")));
        });

        it("starts the run on a later invocation once the other run finished", async () => {
            clock = new Date("2025-01-01T00:20:00Z");
            glue.on(StartJobRunCommand).resolves({ JobRunId: JOB_RUN_ID });
            await handler()(pipelineEvent({ continuationToken: startingToken("concurrent-runs") }));
            assert.deepEqual(token(onlySuccess()), { v: 1, phase: "running", runId: RUN_ID, jobRunId: JOB_RUN_ID, startedAt: clock.toISOString() });
        });

        it("keeps the time it started waiting across invocations", async () => {
            clock = new Date("2025-01-01T00:30:00Z");
            glue.on(StartJobRunCommand).rejects(busy());
            await handler()(pipelineEvent({ continuationToken: startingToken("concurrent-runs") }));
            assert.equal(token(onlySuccess()).waitingSince, T0.toISOString());
        });

        it("fails once the budget is used up", async () => {
            clock = new Date("2025-01-01T01:00:00Z");
            glue.on(StartJobRunCommand).rejects(busy());
            await handler()(pipelineEvent({ continuationToken: startingToken("concurrent-runs") }));
            const f = onlyFailure();
            assert.equal(f.type, "JobFailed");
            assert.match(f.message, /still at its concurrent-run limit after 3600 s \(budget 3600 s\): ConcurrentRunsExceededException: Concurrent runs exceeded/);
        });

        it("fails at once with a zero budget", async () => {
            glue.on(StartJobRunCommand).rejects(busy());
            await handler({ config: { ...baseConfig, concurrencyBudgetMs: 0 } })(pipelineEvent());
            assert.match(onlyFailure().message, /concurrent-run limit/);
        });
    });

    describe("throttling", () => {
        it("a throttled start is retried through a continuation token", async () => {
            glue.on(StartJobRunCommand).rejects(sdkError(ThrottlingException, "Rate exceeded"));
            await handler()(pipelineEvent());
            assert.deepEqual(token(onlySuccess()), JSON.parse(startingToken("throttled")));
        });

        it("a throttled start fails as SystemUnavailable past the deadline", async () => {
            clock = new Date("2025-01-01T00:15:00Z");
            glue.on(StartJobRunCommand).rejects(sdkError(ThrottlingException, "Rate exceeded"));
            await handler()(pipelineEvent({ continuationToken: startingToken("throttled") }));
            const f = onlyFailure();
            assert.equal(f.type, "SystemUnavailable");
            assert.match(f.message, /kept throttling the start of job mlops-dev-etl for 900 s \(budget 900 s\): ThrottlingException: Rate exceeded/);
        });

        it("a throttled search for an earlier run is retried too", async () => {
            glue.on(GetJobRunsCommand).rejects(sdkError(ThrottlingException, "Rate exceeded"));
            await handler()(pipelineEvent());
            assert.equal(token(onlySuccess()).phase, "starting");
            assert.equal(glue.commandCalls(StartJobRunCommand).length, 0);
        });

        it("throttled status reads continue within the deadline, keeping when the streak began", async () => {
            const err = Object.assign(new Error("Rate exceeded"), { name: "ThrottledException" });
            glue.on(GetJobRunCommand).rejects(err);
            clock = new Date("2025-01-01T00:10:00Z");
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            assert.equal(token(successes()[0]).throttledSince, "2025-01-01T00:10:00.000Z");

            codepipeline.resetHistory();
            clock = new Date("2025-01-01T00:20:00Z");
            await handler()(pipelineEvent({ continuationToken: runningToken({ throttledSince: "2025-01-01T00:10:00.000Z" }) }));
            assert.equal(token(onlySuccess()).throttledSince, "2025-01-01T00:10:00.000Z");
        });

        it("throttled status reads fail past the deadline", async () => {
            glue.on(GetJobRunCommand).rejects(sdkError(ThrottlingException, "Rate exceeded"));
            clock = new Date("2025-01-01T00:25:00Z");
            await handler()(pipelineEvent({ continuationToken: runningToken({ throttledSince: "2025-01-01T00:10:00.000Z" }) }));
            const f = onlyFailure();
            assert.equal(f.type, "SystemUnavailable");
            assert.match(f.message, new RegExp(`could not read the state of Glue job mlops-dev-etl run ${JOB_RUN_ID}: throttled for 900 s`));
        });

        it("a successful read ends the throttling streak", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("RUNNING") });
            await handler()(pipelineEvent({ continuationToken: runningToken({ throttledSince: "2025-01-01T00:10:00.000Z" }) }));
            assert.equal(token(onlySuccess()).throttledSince, undefined);
        });

        it("a throttled manifest read (S3 SlowDown) is retried", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("SUCCEEDED") });
            s3.on(GetObjectCommand).rejects(Object.assign(new Error("Please reduce your request rate."), { name: "SlowDown" }));
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            assert.equal(token(onlySuccess()).throttledSince, T0.toISOString());
        });
    });

    describe("Glue errors", () => {
        it("job not found at start: ConfigurationError naming the job", async () => {
            glue.on(StartJobRunCommand).rejects(sdkError(EntityNotFoundException, "Job not found"));
            await handler()(pipelineEvent());
            const f = onlyFailure();
            assert.equal(f.type, "ConfigurationError");
            assert.equal(f.message, "Glue job mlops-dev-etl does not exist (GLUE_JOB_NAME): EntityNotFoundException: Job not found");
        });

        it("run not found while watching: ConfigurationError naming the job and run", async () => {
            glue.on(GetJobRunCommand).rejects(sdkError(EntityNotFoundException, "Job run not found"));
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            const f = onlyFailure();
            assert.equal(f.type, "ConfigurationError");
            assert.match(f.message, new RegExp(`Glue job mlops-dev-etl run ${JOB_RUN_ID}: EntityNotFoundException`));
        });

        it("access denied: PermissionError", async () => {
            glue.on(StartJobRunCommand).rejects(sdkError(AccessDeniedException, "not authorized to perform glue:StartJobRun"));
            await handler()(pipelineEvent());
            const f = onlyFailure();
            assert.equal(f.type, "PermissionError");
            assert.match(f.message, /not allowed to start Glue job mlops-dev-etl: AccessDeniedException/);
        });

        it("any other Glue error: failure with its name and message", async () => {
            glue.on(StartJobRunCommand).rejects(sdkError(InternalServiceException, "Internal failure"));
            await handler()(pipelineEvent());
            assert.equal(onlyFailure().message, "could not start Glue job mlops-dev-etl: InternalServiceException: Internal failure");
        });

        it("an unexpected non-AWS error while reading the manifest still sends a failure", async () => {
            glue.on(GetJobRunCommand).resolves({ JobRun: run("SUCCEEDED") });
            s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => { throw new TypeError("stream already consumed"); } } as any });
            await handler()(pipelineEvent({ continuationToken: runningToken() }));
            assert.match(onlyFailure().message, /TypeError: stream already consumed/);
        });

        it("an error thrown outside any AWS call still sends a failure", async () => {
            glue.on(GetJobRunCommand).rejects(sdkError(ThrottlingException, "Rate exceeded"));
            await handler({ now: () => { throw new Error("clock broke"); } })(pipelineEvent({ continuationToken: runningToken() }));
            const f = onlyFailure();
            assert.equal(f.type, "JobFailed");
            assert.equal(f.message, "ETL trigger failed unexpectedly: Error: clock broke");
            assert.ok(output.some((l) => l.includes("unexpected error")));
        });

        it("StartJobRun without a run id: failure", async () => {
            glue.on(StartJobRunCommand).resolves({});
            await handler()(pipelineEvent());
            assert.match(onlyFailure().message, /returned no JobRunId/);
        });
    });

    describe("malformed input", () => {
        for (const [title, event] of [
            ["no CodePipeline.job", { Records: [] }],
            ["null", null],
            ["a string", "CodePipeline.job"],
            ["a job without an id", { "CodePipeline.job": { data: pipelineEvent()["CodePipeline.job"].data } }],
            ["a job with an empty id", { "CodePipeline.job": { ...pipelineEvent()["CodePipeline.job"], id: " " } }],
        ] as [string, unknown][]) {
            it(`${title}: throws after logging why, reports nothing`, async () => {
                await assert.rejects(handler()(event), MalformedEventError);
                assert.equal(codepipeline.calls().length, 0);
                assert.equal(glue.calls().length, 0);
                assert.ok(output.some((l) => l.includes("malformed event")), output.join("\n"));
            });
        }

        const badParameters: [string, unknown, RegExp][] = [
            ["missing", "", /UserParameters are missing/],
            ["not JSON", "inputUri=s3://raw-bucket/x", /UserParameters are not valid JSON/],
            ["without inputUri", { runId: RUN_ID }, /inputUri: /],
            ["with an unknown field", { inputUri: INPUT, output: "s3://x/y" }, /unknown field\(s\) output/],
            ["reading outside the raw bucket", { inputUri: "s3://curated-bucket/x.csv" }, /inputUri s3:\/\/curated-bucket\/x\.csv is outside the raw bucket/],
            ["with a schema outside the raw bucket", { inputUri: INPUT, schemaUri: "s3://other-bucket/s.json" }, /schemaUri .* is outside the raw bucket/],
            ["with an unresolved variable", `{"inputUri": "#{variables.inputUri}"}`, /unresolved CodePipeline variable/],
            ["with a run id that is a path", { inputUri: INPUT, runId: "../x" }, /runId: expected 1-128 characters/],
        ];
        for (const [title, userParameters, message] of badParameters) {
            it(`UserParameters ${title}: ConfigurationError, nothing started`, async () => {
                await handler()(pipelineEvent({ userParameters }));
                const f = onlyFailure();
                assert.equal(f.type, "ConfigurationError");
                assert.match(f.message, message);
                assert.equal(glue.calls().length, 0);
            });
        }

        it("a continuation token this function did not write: failure", async () => {
            await handler()(pipelineEvent({ continuationToken: "opaque" }));
            assert.match(onlyFailure().message, /continuation token is not JSON/);
            await handler()(pipelineEvent({ continuationToken: JSON.stringify({ v: 2, phase: "running" }) }));
            assert.match(failures()[1].failureDetails!.message!, /continuation token is not one this function writes/);
            assert.equal(glue.calls().length, 0);
        });

        it("a continuation token of another run id: ConfigurationError", async () => {
            await handler()(pipelineEvent({ continuationToken: runningToken({ runId: "exec-41" }) }));
            const f = onlyFailure();
            assert.equal(f.type, "ConfigurationError");
            assert.match(f.message, /token is for run exec-41 but UserParameters now give run exec-42/);
        });

        it("an invalid environment: ConfigurationError on every invocation", async () => {
            await handler({ config: new ConfigError("invalid function environment: GLUE_JOB_NAME: expected string") })(pipelineEvent());
            const f = onlyFailure();
            assert.equal(f.type, "ConfigurationError");
            assert.equal(f.message, "ETL trigger is misconfigured: invalid function environment: GLUE_JOB_NAME: expected string");
        });
    });

    describe("delivering the result", () => {
        it("throws when the failure result cannot be sent, so Lambda retries the invocation", async () => {
            codepipeline.on(PutJobFailureResultCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
            glue.on(StartJobRunCommand).rejects(sdkError(EntityNotFoundException, "Job not found"));
            await assert.rejects(handler()(pipelineEvent()), /Rate exceeded/);
            assert.equal(failures().length, 1);
            assert.ok(output.some((l) => l.includes("could not report failure")));
        });

        it("turns a success that cannot be sent into a failure result", async () => {
            codepipeline.on(PutJobSuccessResultCommand).rejects(Object.assign(new Error("Output variables rejected"), { name: "ValidationException" }));
            glue.on(StartJobRunCommand).resolves({ JobRunId: JOB_RUN_ID });
            await handler()(pipelineEvent());
            assert.equal(successes().length, 1);
            assert.equal(failures().length, 1);
            assert.match(failures()[0].failureDetails!.message!, /could not report its result \(Started Glue job .*\): ValidationException: Output variables rejected/);
            assert.equal(failures()[0].failureDetails!.externalExecutionId, JOB_RUN_ID);
        });

        it("throws when neither result can be sent", async () => {
            codepipeline.on(PutJobSuccessResultCommand).rejects(new Error("network down"));
            codepipeline.on(PutJobFailureResultCommand).rejects(new Error("network still down"));
            glue.on(StartJobRunCommand).resolves({ JobRunId: JOB_RUN_ID });
            await assert.rejects(handler()(pipelineEvent()), /network still down/);
        });
    });

    describe("logging", () => {
        it("logs a summary of the job, never the event or its credentials", async () => {
            glue.on(StartJobRunCommand).rejects(sdkError(InternalServiceException, "Internal failure"));
            await handler()(pipelineEvent());
            const invoked = output.map((l) => JSON.parse(l)).find((l) => l.message === "invoked");
            assert.deepEqual(invoked, {
                level: "info",
                message: "invoked",
                function: "etl-trigger",
                jobId: "11111111-2222-3333-4444-555555555555",
                accountId: "123456789012",
                functionName: "mlops-dev-etl-trigger",
                continuation: false,
                inputArtifacts: ["SourceOutput"],
            });
            assert.ok(!output.join("\n").includes("artifactCredentials"));
        });
    });
});
