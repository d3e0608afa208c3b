import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
    CreateModelPackageCommand, CreateTrainingJobCommand, DescribeModelPackageCommand, DescribeTrainingJobCommand,
    DescribeTrainingJobCommandOutput, ListModelPackagesCommand,
} from "@aws-sdk/client-sagemaker";
import { main } from "../../steps/train/main";
import { SageMakerRegistry } from "../../steps/lib/aws";
import { NewModelVersion } from "../../steps/lib/backend";
import { CLIENT_TOKEN, modelPackageClientToken, trainingJobName } from "../../steps/lib/naming";
import { accessDenied, awsError, body, CapturedIo, FakeClock, mockedAwsBackend, notFound, throttled } from "./helpers";

const EXECUTION = "0b7a3c9e-1f2d-4e5a-9b8c-7d6e5f4a3b2c";
const JOB = trainingJobName("mlops-dev-churn", EXECUTION);
const GROUP = "mlops-dev-churn";
const DATA = "s3://mlops-dev-curated-123456789012-us-east-1/run-42/";
const OUTPUT = "s3://mlops-dev-models-123456789012-us-east-1/training";
const VERSION_ARN = `arn:aws:sagemaker:us-east-1:123456789012:model-package/${GROUP}/4`;
/** What the Image action exports (a placeholder digest: a fixture, not a real image). */
const IMAGE_BY_DIGEST = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-model@sha256:${"0123456789abcdef".repeat(4)}`;
const MANIFEST = {
    runId: "run-42", features: ["tenure_months", "monthly_charges", "contract"], label: "churned",
    baseline: { statistics: "baseline/statistics.json", constraints: "baseline/constraints.json" },
};
const TRAINING_CONFIG = {
    instanceType: "ml.m5.xlarge", instanceCount: 1, volumeSizeGb: 30, maxRuntimeSeconds: 3600,
    spot: { enabled: true, maxWaitSeconds: 7200 }, hyperparameters: { max_depth: 5, eta: 0.1, num_round: 400 },
};

const args = (extra: string[] = []) => [
    "--data-prefix", DATA, "--output-prefix", OUTPUT, "--image-uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-churn:abc",
    "--role-arn", "arn:aws:iam::123456789012:role/mlops-dev-training", "--model-package-group", GROUP, "--model-name", "churn",
    "--job-prefix", "mlops-dev-churn", "--execution-id", EXECUTION, "--commit", "4f2c1e9a0b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e",
    "--config", JSON.stringify(TRAINING_CONFIG), "--poll-seconds", "10", "--kms-key-id", "arn:aws:kms:us-east-1:123456789012:key/abc", ...extra,
];

function job(status: string, secondary: string, extra: Partial<DescribeTrainingJobCommandOutput> = {}): DescribeTrainingJobCommandOutput {
    return {
        $metadata: {},
        TrainingJobName: JOB,
        TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${JOB}`,
        TrainingJobStatus: status as never,
        SecondaryStatus: secondary as never,
        CreationTime: new Date("2024-06-01T10:00:00Z"),
        ModelArtifacts: undefined,
        StoppingCondition: undefined,
        ...extra,
    } as DescribeTrainingJobCommandOutput;
}

const completed = () => job("Completed", "Completed", {
    ModelArtifacts: { S3ModelArtifacts: `${OUTPUT}/${JOB}/output/model.tar.gz` },
    FinalMetricDataList: [
        { MetricName: "validation_auc", Value: 0.84123, Timestamp: new Date() },
        { MetricName: "validation_logloss", Value: 0.41, Timestamp: new Date() },
        { MetricName: "train_auc", Value: 0.9, Timestamp: new Date() },
    ],
});

function describedVersion(props: Record<string, string> = {}) {
    return {
        ModelPackageArn: VERSION_ARN, ModelPackageGroupName: GROUP, ModelPackageVersion: 4, ModelApprovalStatus: "PendingManualApproval" as const,
        CreationTime: new Date("2024-06-01T11:00:00Z"), ModelPackageName: GROUP, ModelPackageStatus: "Completed" as const,
        InferenceSpecification: { Containers: [{ Image: "img", ModelDataUrl: `${OUTPUT}/${JOB}/output/model.tar.gz` }], SupportedContentTypes: [], SupportedResponseMIMETypes: [] },
        CustomerMetadataProperties: { TrainingJobName: JOB, ...props },
    };
}

describe("steps/train against AWS (aws-sdk-client-mock)", () => {
    let mocks: ReturnType<typeof mockedAwsBackend>;
    let clock: FakeClock;
    let io: CapturedIo;
    let tmp: string;

    beforeEach(() => {
        mocks = mockedAwsBackend();
        clock = new FakeClock();
        io = new CapturedIo();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "train-test-"));
        mocks.s3.on(GetObjectCommand, { Key: "run-42/manifest.json" }).resolves({ Body: body(JSON.stringify(MANIFEST)) });
        mocks.s3.on(PutObjectCommand).resolves({});
        mocks.sagemaker.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: "arn" });
        mocks.sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: VERSION_ARN });
        mocks.sagemaker.on(DescribeModelPackageCommand).resolves(describedVersion());
        mocks.sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    });
    afterEach(() => {
        mocks.restore();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    const run = (extra: string[] = []) => main(args(extra), { backend: mocks.backend, io, clock });

    it("Completed: starts one job with the secure request, follows it line by line, registers a PendingManualApproval version", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand)
            .rejectsOnce(notFound())
            .resolvesOnce(job("InProgress", "Starting"))
            .resolvesOnce(job("InProgress", "Starting"))
            .resolvesOnce(job("InProgress", "Downloading"))
            .resolvesOnce(job("InProgress", "Training", { SecondaryStatusTransitions: [{ Status: "Training", StartTime: new Date(), StatusMessage: "Training in progress." }] }))
            .resolves(completed());
        const outFile = path.join(tmp, "out", "train.json");
        const code = await run(["--output-file", outFile]);
        assert.equal(code, 0, io.all);

        const creates = mocks.sagemaker.commandCalls(CreateTrainingJobCommand);
        assert.equal(creates.length, 1);
        const req = creates[0].args[0].input;
        assert.equal(req.TrainingJobName, JOB);
        assert.ok(JOB.length <= 63 && /^mlops-dev-churn-[0-9a-f]{16}$/.test(JOB));
        assert.equal(req.EnableNetworkIsolation, true);
        assert.equal(req.EnableInterContainerTrafficEncryption, true);
        assert.equal(req.OutputDataConfig?.KmsKeyId, "arn:aws:kms:us-east-1:123456789012:key/abc");
        assert.equal(req.ResourceConfig?.VolumeKmsKeyId, "arn:aws:kms:us-east-1:123456789012:key/abc");
        assert.deepEqual(req.StoppingCondition, { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 7200 });
        assert.equal(req.EnableManagedSpotTraining, true);
        assert.equal(req.CheckpointConfig?.S3Uri, `${OUTPUT}/${JOB}/checkpoints/`);
        assert.deepEqual(req.HyperParameters, { max_depth: "5", eta: "0.1", num_round: "400" });
        assert.deepEqual(req.InputDataConfig?.map((c) => [c.ChannelName, c.DataSource?.S3DataSource?.S3Uri]), [
            ["train", `${DATA}train/`], ["validation", `${DATA}validation/`], ["manifest", `${DATA}manifest.json`],
        ]);
        const defs = req.AlgorithmSpecification?.MetricDefinitions ?? [];
        assert.ok(defs.some((d) => d.Name === "validation_auc" && d.Regex === "METRIC validation_auc=([-+0-9.eE]+)"));
        // The regex reads the container's real log format (contracts §3) and nothing else.
        const auc = defs.find((d) => d.Name === "validation_auc")!;
        assert.equal(new RegExp(auc.Regex!).exec("METRIC validation_auc=8.4123e-01")?.[1], "8.4123e-01");
        assert.equal(new RegExp(auc.Regex!).exec("METRIC train_auc=0.9"), null);
        assert.deepEqual(Object.fromEntries((req.Tags ?? []).map((t) => [t.Key, t.Value])), {
            "mlops:model": "churn", "mlops:pipeline-execution-id": EXECUTION, "mlops:commit": "4f2c1e9a0b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e",
        });

        // One line per (status, secondary status) change: Starting, Downloading, Training, Completed.
        const statusLines = io.stdout.filter((l) => l.includes(`${JOB}: `));
        assert.deepEqual(statusLines.map((l) => l.replace(/^\[[^\]]+\] /, "")), [
            `${JOB}: InProgress / Starting`, `${JOB}: InProgress / Downloading`,
            `${JOB}: InProgress / Training — Training in progress.`, `${JOB}: Completed / Completed`,
        ]);
        // Backoff: delays grow while nothing changes and never exceed the cap.
        assert.ok(clock.sleeps.every((ms) => ms <= 60_000));

        const pkgs = mocks.sagemaker.commandCalls(CreateModelPackageCommand);
        assert.equal(pkgs.length, 1);
        const pkg = pkgs[0].args[0].input;
        assert.equal(pkg.ModelApprovalStatus, "PendingManualApproval");
        assert.equal(pkg.ModelPackageGroupName, GROUP);
        // Derived from the job name (a rerun sends the same token) and within AWS's 36-character limit.
        assert.equal(pkg.ClientToken, modelPackageClientToken(JOB));
        assert.match(pkg.ClientToken!, CLIENT_TOKEN);
        assert.equal(pkg.MetadataProperties?.CommitId, "4f2c1e9a0b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e");
        assert.deepEqual(pkg.InferenceSpecification?.Containers?.[0], {
            Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-churn:abc", ModelDataUrl: `${OUTPUT}/${JOB}/output/model.tar.gz`,
        });
        assert.equal(pkg.ModelMetrics?.ModelQuality?.Statistics?.S3Uri, `${OUTPUT}/${JOB}/training-metrics.json`);
        assert.equal(pkg.ModelMetrics?.ModelDataQuality?.Statistics?.S3Uri, `${DATA}baseline/statistics.json`);
        assert.equal(pkg.ModelMetrics?.ModelDataQuality?.Constraints?.S3Uri, `${DATA}baseline/constraints.json`);
        assert.equal(pkg.CustomerMetadataProperties?.["train.validation_auc"], "0.84123");
        assert.equal(pkg.CustomerMetadataProperties?.ManifestUri, `${DATA}manifest.json`);
        // docs/contracts.md §7: what the stacks and the drift monitor read back (infra/model-version.ts).
        assert.equal(pkg.CustomerMetadataProperties?.PipelineExecutionId, EXECUTION);
        assert.equal(pkg.CustomerMetadataProperties?.TrainingJobName, JOB);
        assert.equal(pkg.CustomerMetadataProperties?.DataPrefix, DATA);
        assert.equal(pkg.CustomerMetadataProperties?.BaselineStatisticsUri, `${DATA}baseline/statistics.json`);
        assert.equal(pkg.CustomerMetadataProperties?.BaselineConstraintsUri, `${DATA}baseline/constraints.json`);

        // The metrics file the version points at was written, encrypted with our key.
        const put = mocks.s3.commandCalls(PutObjectCommand)[0].args[0].input;
        assert.equal(put.Key, `training/${JOB}/training-metrics.json`);
        assert.equal(put.ServerSideEncryption, "aws:kms");
        assert.equal(put.SSEKMSKeyId, "arn:aws:kms:us-east-1:123456789012:key/abc");
        assert.equal(JSON.parse(String(put.Body)).metrics.validation_auc, 0.84123);

        assert.ok(io.stdout.includes(`model package version: ${VERSION_ARN}`));
        const written = JSON.parse(fs.readFileSync(outFile, "utf8"));
        assert.match(written.reuseKey, /^train-[0-9a-f]{64}$/);
        assert.deepEqual(written, {
            modelPackageArn: VERSION_ARN, version: 4, trainingJobName: JOB, modelDataUri: `${OUTPUT}/${JOB}/output/model.tar.gz`,
            reuseKey: written.reuseKey, reused: false,
        });
        // The version records the key it was trained under, so a later run with the same inputs can reuse it.
        assert.equal(pkg.CustomerMetadataProperties?.ReuseKey, written.reuseKey);
    });

    it("Failed: prints FailureReason and where the logs are, registers nothing, exits 1", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolvesOnce(job("InProgress", "Training"))
            .resolves(job("Failed", "Failed", { FailureReason: "ClientError: invalid hyperparameters: unknown key 'etaa'" }));
        const code = await run();
        assert.equal(code, 1);
        assert.match(io.stderr.join("\n"), new RegExp(`training job ${JOB} failed: ClientError: invalid hyperparameters: unknown key 'etaa'`));
        assert.match(io.stderr.join("\n"), /logs: CloudWatch Logs group \/aws\/sagemaker\/TrainingJobs, streams mlops-dev-churn-[0-9a-f]{16}\/algo-\*/);
        assert.equal(mocks.sagemaker.commandCalls(CreateModelPackageCommand).length, 0);
    });

    it("Stopped: says so with the secondary status (e.g. MaxRuntimeExceeded), registers nothing, exits 1", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound())
            .resolves(job("Stopped", "MaxRuntimeExceeded", { SecondaryStatusTransitions: [{ Status: "MaxRuntimeExceeded", StartTime: new Date(), StatusMessage: "Training job runtime exceeded MaxRuntimeInSeconds" }] }));
        const code = await run();
        assert.equal(code, 1);
        assert.match(io.stderr.join("\n"), /was stopped \(MaxRuntimeExceeded\): Training job runtime exceeded MaxRuntimeInSeconds/);
        assert.equal(mocks.sagemaker.commandCalls(CreateModelPackageCommand).length, 0);
    });

    it("throttled: retries CreateTrainingJob and polls with backoff, still starting exactly one job", async () => {
        mocks.sagemaker.on(CreateTrainingJobCommand).rejectsOnce(throttled()).resolves({ TrainingJobArn: "arn" });
        mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound())
            .resolvesOnce(job("InProgress", "Training"))
            .rejectsOnce(throttled()).rejectsOnce(throttled()).rejectsOnce(awsError("ServiceUnavailable", "busy", 503))
            .resolves(completed());
        const code = await run();
        assert.equal(code, 0, io.all);
        assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 2);
        assert.equal(io.stdout.filter((l) => l.startsWith("throttled while polling")).length, 3);
        // Throttled polls back off exponentially: each wait at least as long as the one before.
        const pollWaits = clock.sleeps.slice(-4, -1);
        assert.ok(pollWaits[1] >= pollWaits[0] && pollWaits[2] >= pollWaits[1], `waits ${pollWaits}`);
        assert.equal(mocks.sagemaker.commandCalls(CreateModelPackageCommand).length, 1);
    });

    it("throttled for too long: gives up with exit 1 and says it was throttled", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolvesOnce(job("InProgress", "Training")).rejects(throttled());
        const code = await run();
        assert.equal(code, 1);
        assert.match(io.stderr.join("\n"), /still throttled after retries: sagemaker:DescribeTrainingJob/);
    });

    it("access denied: fails at once with the missing permission named, without retrying", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).rejects(notFound());
        mocks.sagemaker.on(CreateTrainingJobCommand).rejects(accessDenied("iam:PassRole on resource: arn:aws:iam::123456789012:role/mlops-dev-training"));
        const code = await run();
        assert.equal(code, 1);
        assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 1);
        assert.match(io.stderr[0], /access denied: sagemaker:CreateTrainingJob .*not authorized to perform: iam:PassRole/);
        assert.match(io.stderr[1], /lacks the permission/);
    });

    it("job already exists (rerun of the same execution): follows it, never starts a second one", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).resolvesOnce(job("InProgress", "Training")).resolves(completed());
        const code = await run();
        assert.equal(code, 0, io.all);
        assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 0);
        assert.match(io.all, /already exists \(status InProgress\); this rerun follows it instead of starting another/);
        assert.equal(mocks.sagemaker.commandCalls(CreateModelPackageCommand).length, 1);
    });

    it("job already exists (a concurrent run won the race): CreateTrainingJob's ResourceInUse is followed, not retried", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolves(completed());
        mocks.sagemaker.on(CreateTrainingJobCommand).rejects(awsError("ResourceInUse",
            "Training job names must be unique within an AWS account and region, and a training job with this name already exists"));
        const code = await run();
        assert.equal(code, 0, io.all);
        assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 1);
        assert.match(io.all, /a concurrent run started it/);
    });

    it("job completed and version registered by an earlier run: prints that version, registers nothing new", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).resolves(completed());
        mocks.sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [
            { ModelPackageArn: VERSION_ARN, ModelPackageGroupName: GROUP, ModelPackageVersion: 4, CreationTime: new Date(), ModelPackageStatus: "Completed", ModelPackageName: GROUP },
        ] });
        const code = await run();
        assert.equal(code, 0, io.all);
        assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 0);
        assert.equal(mocks.sagemaker.commandCalls(CreateModelPackageCommand).length, 0);
        // The first listing is the reuse lookup (nothing recorded this key); the second looks for this job's version.
        const list = mocks.sagemaker.commandCalls(ListModelPackagesCommand)[1].args[0].input;
        assert.deepEqual(list.CreationTimeAfter, new Date("2024-06-01T10:00:00Z"));
        assert.ok(io.stdout.includes(`model package version: ${VERSION_ARN}`));
    });

    describe("reuse of an unchanged stage (through the AWS backend)", () => {
        /** The key a first run of these exact inputs recorded on its version. */
        async function recordedKey(extra: string[] = []): Promise<string> {
            const first = new CapturedIo();
            mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolves(completed());
            assert.equal(await main(args(["--reuse", "false", ...extra]), { backend: mocks.backend, io: first, clock }), 0, first.all);
            const calls = mocks.sagemaker.commandCalls(CreateModelPackageCommand);
            const key = calls[calls.length - 1].args[0].input.CustomerMetadataProperties!.ReuseKey;
            mocks.sagemaker.resetHistory();
            return key;
        }
        const listed = (status: string, version = 4) => ({ ModelPackageSummaryList: [{
            ModelPackageArn: `arn:aws:sagemaker:us-east-1:123456789012:model-package/${GROUP}/${version}`, ModelPackageGroupName: GROUP,
            ModelPackageVersion: version, ModelApprovalStatus: status as never, CreationTime: new Date(), ModelPackageStatus: "Completed" as const,
        }] });

        it("hit: the version recorded with the same key is returned; no training job, no new version; says so", async () => {
            const key = await recordedKey();
            mocks.sagemaker.on(ListModelPackagesCommand).resolves(listed("Approved"));
            mocks.sagemaker.on(DescribeModelPackageCommand).resolves({ ...describedVersion({ ReuseKey: key }), ModelApprovalStatus: "Approved" });
            const outFile = path.join(tmp, "hit.json");
            const code = await main(args(["--execution-id", "another-execution", "--output-file", outFile]), { backend: mocks.backend, io, clock });
            assert.equal(code, 0, io.all);
            assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 0);
            assert.equal(mocks.sagemaker.commandCalls(DescribeTrainingJobCommand).length, 0);
            assert.equal(mocks.sagemaker.commandCalls(CreateModelPackageCommand).length, 0);
            assert.match(io.all, new RegExp(`reused: version 4 \\(Approved\\) was trained by ${JOB}`));
            assert.deepEqual(JSON.parse(fs.readFileSync(outFile, "utf8")), {
                modelPackageArn: VERSION_ARN, version: 4, trainingJobName: JOB, modelDataUri: `${OUTPUT}/${JOB}/output/model.tar.gz`, reuseKey: key, reused: true,
            });
        });

        it("miss: a changed hyperparameter, image or manifest trains a new job and records the new key", async () => {
            const key = await recordedKey();
            mocks.sagemaker.on(ListModelPackagesCommand).resolves(listed("Approved"));
            mocks.sagemaker.on(DescribeModelPackageCommand).resolves(describedVersion({ ReuseKey: key }));
            const changes: [string, () => void, string[]][] = [
                ["hyperparameter", () => undefined, ["--config", JSON.stringify({ ...TRAINING_CONFIG, hyperparameters: { ...TRAINING_CONFIG.hyperparameters, eta: 0.2 } })]],
                ["image", () => undefined, ["--image-uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-churn:def"]],
                ["manifest", () => { mocks.s3.on(GetObjectCommand, { Key: "run-42/manifest.json" }).resolves({ Body: body(JSON.stringify({ ...MANIFEST, rowsOut: 1 })) }); }, []],
            ];
            for (const [what, arrange, extra] of changes) {
                arrange();
                mocks.sagemaker.resetHistory();
                mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolves(completed());
                const runIo = new CapturedIo();
                assert.equal(await main(args(extra), { backend: mocks.backend, io: runIo, clock }), 0, runIo.all);
                assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 1, `${what}: trains`);
                assert.match(runIo.all, /reuse: no version with this key/);
                const recorded = mocks.sagemaker.commandCalls(CreateModelPackageCommand)[0].args[0].input.CustomerMetadataProperties!.ReuseKey;
                assert.match(recorded, /^train-[0-9a-f]{64}$/);
                assert.notEqual(recorded, key, `${what}: new key`);
            }
        });

        it("a Rejected version is never reused, even with the same key (the gate or a person said no)", async () => {
            const key = await recordedKey();
            mocks.sagemaker.on(ListModelPackagesCommand).resolves(listed("Rejected"));
            mocks.sagemaker.on(DescribeModelPackageCommand).resolves({ ...describedVersion({ ReuseKey: key }), ModelApprovalStatus: "Rejected" });
            mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolves(completed());
            assert.equal(await run(), 0, io.all);
            assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 1);
            assert.doesNotMatch(io.all, /reused:/);
        });

        it("reuse=false (env REUSE, the pipeline variable) trains even when the key is recorded; a bad value exits 2", async () => {
            const key = await recordedKey();
            mocks.sagemaker.on(ListModelPackagesCommand).resolves(listed("PendingManualApproval"));
            mocks.sagemaker.on(DescribeModelPackageCommand).resolves(describedVersion({ ReuseKey: key }));
            mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolves(completed());
            const envIo = new CapturedIo({ REUSE: "false" });
            assert.equal(await main(args(["--execution-id", "audit-execution"]), { backend: mocks.backend, io: envIo, clock }), 0, envIo.all);
            assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 1);
            assert.match(envIo.all, /reuse off for this execution/);
            const badIo = new CapturedIo({ REUSE: "maybe" });
            assert.equal(await main(args(), { backend: mocks.backend, io: badIo, clock }), 2);
            assert.match(badIo.all, /--reuse \(env REUSE\) is "maybe": expected "true"/);
        });
    });

    it("refuses an ETL prefix without manifest.json (exit 1) and starts nothing", async () => {
        mocks.s3.on(GetObjectCommand).rejects(awsError("NoSuchKey", "The specified key does not exist.", 404));
        const code = await run();
        assert.equal(code, 1);
        assert.match(io.stderr.join("\n"), /manifest\.json not found: .* is not a finished ETL run/);
        assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 0);
    });

    it("usage and configuration errors exit 2 with what is wrong", async () => {
        assert.equal(await main(["--bogus"], { backend: mocks.backend, io, clock }), 2);
        assert.match(io.stderr.join("\n"), /Unknown option '--bogus'/);
        const io2 = new CapturedIo();
        assert.equal(await main(args(["--config", "{\"instanceType\": \"m5.large\"}"]), { backend: mocks.backend, io: io2, clock }), 2);
        assert.match(io2.stderr.join("\n"), /training config\.instanceType: expected a SageMaker instance type/);
        const io3 = new CapturedIo();
        assert.equal(await main(args(["--job-prefix=-bad-"]), { backend: mocks.backend, io: io3, clock }), 2);
        assert.match(io3.stderr.join("\n"), /training job prefix "-bad-" is invalid/);
        const io4 = new CapturedIo();
        assert.equal(await main(args().filter((a, i, all) => a !== "--execution-id" && all[i - 1] !== "--execution-id"), { backend: mocks.backend, io: io4, clock }), 2);
        assert.match(io4.stderr.join("\n"), /missing --execution-id \(or env PIPELINE_EXECUTION_ID\)/);
        const io5 = new CapturedIo();
        assert.equal(await main(args().filter((a, i, all) => a !== "--kms-key-id" && all[i - 1] !== "--kms-key-id"), { backend: mocks.backend, io: io5, clock }), 2);
        assert.match(io5.stderr.join("\n"), /missing --kms-key-id \(or env KMS_KEY_ID\) for --backend aws/);
        assert.equal(mocks.sagemaker.commandCalls(CreateTrainingJobCommand).length, 0);
    });

    it("reads its arguments from the environment CodeBuild sets", async () => {
        mocks.sagemaker.on(DescribeTrainingJobCommand).rejectsOnce(notFound()).resolves(completed());
        const envIo = new CapturedIo({
            DATA_PREFIX: DATA, MODEL_OUTPUT_PREFIX: OUTPUT, IMAGE_URI: IMAGE_BY_DIGEST, TRAINING_ROLE_ARN: "arn:aws:iam::123456789012:role/r",
            MODEL_PACKAGE_GROUP: GROUP, MODEL_NAME: "churn", TRAINING_JOB_PREFIX: "mlops-dev-churn", PIPELINE_EXECUTION_ID: EXECUTION,
            CODEBUILD_RESOLVED_SOURCE_VERSION: "abc123", TRAINING_CONFIG: JSON.stringify(TRAINING_CONFIG),
            KMS_KEY_ID: "arn:aws:kms:us-east-1:123456789012:key/abc",
        });
        const code = await main([], { backend: mocks.backend, io: envIo, clock });
        assert.equal(code, 0, envIo.all);
        const req = mocks.sagemaker.commandCalls(CreateTrainingJobCommand)[0].args[0].input;
        assert.equal(req.TrainingJobName, JOB);
        assert.equal(req.RoleArn, "arn:aws:iam::123456789012:role/r");
        // The pipeline's Image action exports the image by digest: training runs it and the version records it.
        assert.equal(req.AlgorithmSpecification?.TrainingImage, IMAGE_BY_DIGEST);
        const pkg = mocks.sagemaker.commandCalls(CreateModelPackageCommand)[0].args[0].input;
        assert.equal(pkg.MetadataProperties?.CommitId, "abc123");
        assert.equal(pkg.InferenceSpecification?.Containers?.[0].Image, IMAGE_BY_DIGEST);
    });
});

describe("training job names", () => {
    it("are stable per execution, distinct across executions, ≤ 63 chars in SageMaker's charset", () => {
        assert.equal(trainingJobName("p", "exec-1"), trainingJobName("p", "exec-1"));
        assert.notEqual(trainingJobName("p", "exec-1"), trainingJobName("p", "exec-2"));
        const long = trainingJobName("a".repeat(46), "x");
        assert.equal(long.length, 63);
        assert.throws(() => trainingJobName("a".repeat(47), "x"), /expected 1-46 letters/);
        assert.throws(() => trainingJobName("p", " "), /execution id is empty/);
    });
});

describe("model package client tokens", () => {
    it("fit CreateModelPackage.ClientToken (≤ 36 of [a-zA-Z0-9-]) for every job name a 24-character model name gives", () => {
        // The longest prefix config allows (`mlops-dev-` + a 24-character model name) and the longest job names.
        const names = [
            trainingJobName("mlops-dev-churn", EXECUTION),
            trainingJobName(`mlops-staging-${"m".repeat(24)}`, EXECUTION),
            trainingJobName("a".repeat(46), "x"),
        ];
        assert.ok(names.slice(1).every((n) => n.length > 36), "job names longer than the token limit are covered");
        for (const name of names) {
            const token = modelPackageClientToken(name);
            assert.match(token, CLIENT_TOKEN, `${token} from ${name}`);
            assert.equal(modelPackageClientToken(name), token, "a rerun of the same job sends the same token");
        }
        assert.notEqual(modelPackageClientToken(names[0]), modelPackageClientToken(trainingJobName("mlops-dev-churn", "other")));
        assert.throws(() => modelPackageClientToken(""), /seed is empty/);
    });

    it("are what the AWS registry sends, never the raw job name", () => {
        const job = trainingJobName(`mlops-staging-${"m".repeat(24)}`, EXECUTION);
        const request = SageMakerRegistry.createInput({
            groupName: GROUP, description: "d", imageUri: "i", modelDataUri: "s3://b/k", idempotencyToken: job,
            metrics: {}, properties: {}, datasetManifestUri: "s3://b/manifest.json",
        } as NewModelVersion);
        assert.match(request.ClientToken!, CLIENT_TOKEN);
        assert.equal(request.ClientToken, modelPackageClientToken(job));
    });
});
