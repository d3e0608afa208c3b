/**
 * The train step: curated data in, a registered model version out.
 *
 * 1. Refuses an ETL prefix without its manifest.
 * 2. Names the job after the pipeline execution, so a rerun finds the job (and the version) its first run made
 *    instead of training again.
 * 3. Follows the job with backoff, one line per status change; throttled polls are retried.
 * 4. Completed: registers a `PendingManualApproval` version with the training metrics, the dataset manifest and
 *    the data baseline; prints its ARN. Failed/Stopped: prints the reason and where the logs are; exit 1.
 *
 * Reuse (on unless `reuse: false`): before any job, the step computes the train reuse key (contracts/reuse-key.ts: the
 * manifest's bytes, the image, the hyperparameters) and looks for a version recorded with that key. A hit is
 * used as it is — no job, no new version — and said so; a miss trains and records the key on the new version.
 */
import { Backend, MetricDefinition, ModelVersion, TrainingJobDescription, TrainingJobRequest, TERMINAL_TRAINING_STATUSES } from "../lib/backend";
import { EXIT_FAILED, EXIT_OK, formatDuration, Io } from "../lib/cli";
import { TrainingSettings } from "../../contracts/config-sections";
import { hyperparameterStrings } from "../lib/config";
import { isStepError, StepError } from "../lib/errors";
import { EtlManifest, readEtlRun } from "../lib/manifest";
import { trainingJobName } from "../lib/naming";
import { backoffDelay, Clock, withRetry } from "../lib/retry";
import { asPrefix, joinUri } from "../lib/uri";
import { REGISTRY_METADATA } from "../../contracts/registry";
import { sha256Hex, TrainReuseInputs, trainReuseKey } from "../../contracts/reuse-key";

/** The metrics the container prints (contracts §3), in the MetricDefinitions regex form. */
export const CONTAINER_METRICS = [
    "train_auc", "validation_auc", "validation_logloss", "best_iteration", "train_rows", "validation_rows", "training_seconds",
] as const;

export function metricDefinitions(names: readonly string[] = CONTAINER_METRICS): MetricDefinition[] {
    return names.map((name) => ({ name, regex: `METRIC ${name}=([-+0-9.eE]+)` }));
}

export interface TrainOptions {
    readonly modelName: string;
    /** Prefix of the training job's name (IAM scopes the job permissions to it), e.g. `mlops-platform-churn`. */
    readonly jobPrefix: string;
    readonly executionId: string;
    readonly commitId?: string;
    /** ETL run prefix `<curated>/<runId>/`. */
    readonly dataPrefix: string;
    /** Jobs write to `<outputPrefix>/<job>/output/…`. */
    readonly outputPrefix: string;
    readonly imageUri: string;
    readonly roleArn?: string;
    readonly kmsKeyId?: string;
    readonly modelPackageGroup: string;
    readonly training: TrainingSettings;
    /**
     * First poll interval; grows with backoff to `pollCapMs` while nothing changes.
     * @default 15000
     */
    readonly pollMs?: number;
    /** @default 60000 */
    readonly pollCapMs?: number;
    /**
     * Consecutive throttled polls tolerated before giving up.
     * @default 10
     */
    readonly maxThrottledPolls?: number;
    /**
     * Reuse a version registered earlier from the same inputs instead of training (false: train regardless, for
     * audits; the key is still recorded).
     * @default true
     */
    readonly reuse?: boolean;
}

export interface TrainResult {
    readonly exitCode: number;
    readonly jobName: string;
    readonly job?: TrainingJobDescription;
    readonly version?: ModelVersion;
    /** The train reuse key of this step's inputs (set once the manifest was read). */
    readonly reuseKey?: string;
    /** True when an earlier version with the same reuse key was used instead of training. */
    readonly reused?: boolean;
}

/** Newest versions searched for a reuse key (each costs a DescribeModelPackage call on AWS). */
export const REUSE_SEARCH_DEPTH = 50;
/** Versions a reuse may return: a rejected model (by the gate or by a person rolling back) is never revived. */
const REUSABLE_STATUSES = new Set(["PendingManualApproval", "Approved"]);

export async function runTrain(options: TrainOptions, backend: Backend, io: Io, clock: Clock): Promise<TrainResult> {
    const jobName = trainingJobName(options.jobPrefix, options.executionId);
    const retry = <T>(fn: () => Promise<T>) => withRetry(fn, clock, {
        baseMs: 1000, capMs: 20_000, retries: 6,
        onRetry: (e, attempt, delay) => io.out(`throttled (${(e as Error).message}); retry ${attempt} in ${formatDuration(delay)}`),
    });

    const run = await retry(() => readEtlRun(backend.objects, options.dataPrefix));
    const manifestBytes = await retry(() => backend.objects.get(run.manifestUri));
    const reuseInputs: TrainReuseInputs = {
        manifestSha256: sha256Hex(manifestBytes),
        image: options.imageUri,
        hyperparameters: hyperparameterStrings(options.training.hyperparameters),
    };
    const reuseKey = trainReuseKey(reuseInputs);
    io.out(`reuse key ${reuseKey} (manifest sha256 ${reuseInputs.manifestSha256.slice(0, 12)}…, image ${options.imageUri}, ${Object.keys(reuseInputs.hyperparameters).length} hyperparameters)`);
    if (options.reuse ?? true) {
        const hit = await findByReuseKey(backend, options.modelPackageGroup, reuseKey, retry);
        if (hit) {
            const trainedBy = hit.properties[REGISTRY_METADATA.trainingJobName] ?? "an earlier job";
            io.out(`reused: version ${hit.version} (${hit.approvalStatus}) was trained by ${trainedBy} from the same data, image and hyperparameters; no training job started (reuse=false retrains)`);
            io.out(`model package version: ${hit.arn}`);
            return { exitCode: EXIT_OK, jobName: trainedBy, version: hit, reuseKey, reused: true };
        }
        io.out(`reuse: no version with this key among the newest ${REUSE_SEARCH_DEPTH} of ${options.modelPackageGroup}: training`);
    } else {
        io.out("reuse off for this execution (reuse=false): training regardless");
    }
    io.out(`training job ${jobName} for pipeline execution ${options.executionId} on ${run.prefix}`);

    let job = await describeOrUndefined(backend, jobName, retry);
    if (job === undefined) {
        const started = await retry(() => backend.training.start(trainingRequest(options, jobName, run)));
        io.out(started.created
            ? `started training job ${jobName}`
            : `training job ${jobName} already exists (a concurrent run started it); following it instead of starting another`);
    } else {
        io.out(`training job ${jobName} already exists (status ${job.status}); this rerun follows it instead of starting another`);
        if (job.status === "Completed") {
            const version = await findRegisteredVersion(backend, options.modelPackageGroup, job, retry);
            if (version) {
                io.out(`already registered as version ${version.version} (${version.approvalStatus})`);
                io.out(`model package version: ${version.arn}`);
                return { exitCode: EXIT_OK, jobName, job, version, reuseKey, reused: false };
            }
        }
    }

    job = await follow(backend, jobName, options, io, clock);
    if (job.status === "Failed") {
        io.err(`training job ${jobName} failed: ${job.failureReason ?? "no FailureReason given"}`);
        io.err(`logs: ${job.logLocation}`);
        return { exitCode: EXIT_FAILED, jobName, job };
    }
    if (job.status === "Stopped") {
        io.err(`training job ${jobName} was stopped (${job.secondaryStatus ?? "Stopped"})${job.statusMessage ? `: ${job.statusMessage}` : ""}`);
        io.err(`logs: ${job.logLocation}`);
        return { exitCode: EXIT_FAILED, jobName, job };
    }
    if (!job.modelArtifactUri) {
        throw new StepError("failed", `training job ${jobName} completed without model artifacts`);
    }
    const completed = job;
    io.out(`training metrics: ${formatMetrics(completed.finalMetrics)}`);

    const metricsUri = joinUri(options.outputPrefix, jobName, "training-metrics.json");
    await retry(() => backend.objects.put(metricsUri, JSON.stringify({
        trainingJobName: jobName, pipelineExecutionId: options.executionId, metrics: completed.finalMetrics,
        modelArtifactUri: completed.modelArtifactUri, datasetManifest: run.manifestUri,
        reuse: { key: reuseKey, inputs: reuseInputs },
    }, null, 2), { contentType: "application/json" }));

    const properties: Record<string, string> = {
        [REGISTRY_METADATA.trainingJobName]: jobName,
        [REGISTRY_METADATA.pipelineExecutionId]: options.executionId,
        [REGISTRY_METADATA.dataPrefix]: run.prefix,
        [REGISTRY_METADATA.manifestUri]: run.manifestUri,
        [REGISTRY_METADATA.reuseKey]: reuseKey,
        ...(run.baseline ? {
            [REGISTRY_METADATA.baselineStatisticsUri]: run.baseline.statisticsUri,
            [REGISTRY_METADATA.baselineConstraintsUri]: run.baseline.constraintsUri,
        } : {}),
    };
    if (options.commitId) properties[REGISTRY_METADATA.gitCommit] = options.commitId;
    const version = await retry(() => backend.registry.createVersion({
        groupName: options.modelPackageGroup,
        imageUri: options.imageUri,
        modelDataUri: completed.modelArtifactUri!,
        description: `${options.modelName} trained by ${jobName} (pipeline execution ${options.executionId}` +
            `${options.commitId ? `, commit ${options.commitId.slice(0, 12)}` : ""}) on ${run.prefix}`,
        metrics: completed.finalMetrics,
        metricsSource: { uri: metricsUri, contentType: "application/json" },
        datasetManifestUri: run.manifestUri,
        baseline: run.baseline,
        commitId: options.commitId,
        properties,
        idempotencyToken: jobName,
    }));
    io.out(`registered version ${version.version} in ${options.modelPackageGroup} (${version.approvalStatus})`);
    io.out(`model package version: ${version.arn}`);
    return { exitCode: EXIT_OK, jobName, job: completed, version, reuseKey, reused: false };
}

/** The newest reusable version recorded with `key`, if any among the newest {@link REUSE_SEARCH_DEPTH}. */
async function findByReuseKey(backend: Backend, group: string, key: string,
    retry: <T>(fn: () => Promise<T>) => Promise<T>): Promise<ModelVersion | undefined> {
    let summaries;
    try {
        summaries = await retry(() => backend.registry.listVersions(group));
    } catch (e) {
        // A group that does not exist yet has nothing to reuse (the local registry creates groups on first use).
        if (isStepError(e, "not-found")) return undefined;
        throw e;
    }
    for (const summary of summaries.slice(0, REUSE_SEARCH_DEPTH)) {
        if (!REUSABLE_STATUSES.has(summary.approvalStatus)) continue;
        const version = await retry(() => backend.registry.describeVersion(summary.arn));
        if (version.properties[REGISTRY_METADATA.reuseKey] === key) return version;
    }
    return undefined;
}

/**
 * Train part files of an ETL run: its manifest's `trainShards` (contracts §2); runs written before the ETL
 * could shard wrote one file.
 */
export function trainShards(run: { manifestUri: string; manifest?: EtlManifest }): number {
    const value = run.manifest?.trainShards ?? 1;
    if (!Number.isInteger(value) || (value as number) < 1) {
        throw new StepError("invalid", `${run.manifestUri}: "trainShards" must be a whole number >= 1, got ${JSON.stringify(value)}`);
    }
    return value as number;
}

export function trainingRequest(options: TrainOptions, jobName: string,
    run: { splitUri(s: "train" | "validation"): string; manifestUri: string; manifest?: EtlManifest }): TrainingJobRequest {
    const t = options.training;
    const jobOutput = joinUri(options.outputPrefix, jobName);
    const shards = trainShards(run);
    if (t.instanceCount > shards) {
        // ShardedByS3Key hands out whole objects: with fewer files than instances some instances get no data.
        throw new StepError("invalid", `training.instanceCount is ${t.instanceCount} but the ETL run ${run.manifestUri} ` +
            `wrote the train split as ${shards} file(s) (trainShards): each instance trains on its own files, so use at most ` +
            `${shards} instance(s), or rerun the ETL with --train-shards ${t.instanceCount} (etl.trainShards) or more`);
    }
    return {
        jobName,
        imageUri: options.imageUri,
        roleArn: options.roleArn,
        hyperparameters: hyperparameterStrings(t.hyperparameters),
        channels: [
            // More than one instance: each trains on its share of the train files; every instance validates
            // on the whole validation set (the container's metrics are the full set's, contracts §3).
            { name: "train", uri: run.splitUri("train"), contentType: "text/csv",
                distribution: t.instanceCount > 1 ? "ShardedByS3Key" : "FullyReplicated" },
            { name: "validation", uri: run.splitUri("validation"), contentType: "text/csv", distribution: "FullyReplicated" },
            // A folder holding manifest.json: the container names features from it (contracts §3).
            { name: "manifest", uri: run.manifestUri, contentType: "application/json", distribution: "FullyReplicated" },
        ],
        outputUri: options.outputPrefix,
        instanceType: t.instanceType,
        instanceCount: t.instanceCount,
        volumeSizeGb: t.volumeSizeGb,
        maxRuntimeSeconds: t.maxRuntimeSeconds,
        spot: t.spot.enabled ? { maxWaitSeconds: t.spot.maxWaitSeconds, checkpointUri: asPrefix(joinUri(jobOutput, "checkpoints")) } : undefined,
        kmsKeyId: options.kmsKeyId,
        metricDefinitions: metricDefinitions(),
        tags: {
            "mlops:model": options.modelName,
            "mlops:pipeline-execution-id": options.executionId,
            ...(options.commitId ? { "mlops:commit": options.commitId } : {}),
        },
    };
}

async function describeOrUndefined(backend: Backend, jobName: string, retry: <T>(fn: () => Promise<T>) => Promise<T>) {
    try {
        return await retry(() => backend.training.describe(jobName));
    } catch (e) {
        if (isStepError(e, "not-found")) return undefined;
        throw e;
    }
}

/** The version an earlier run registered for this job, if any (versions created since the job started). */
async function findRegisteredVersion(backend: Backend, group: string, job: TrainingJobDescription,
    retry: <T>(fn: () => Promise<T>) => Promise<T>): Promise<ModelVersion | undefined> {
    const candidates = await retry(() => backend.registry.listVersions(group, { createdAfter: job.createdAt }));
    for (const summary of candidates) {
        const version = await retry(() => backend.registry.describeVersion(summary.arn));
        if (version.properties[REGISTRY_METADATA.trainingJobName] === job.jobName) return version;
    }
    return undefined;
}

/** Polls until the job ends; one line per (status, secondary status) change. */
async function follow(backend: Backend, jobName: string, options: TrainOptions, io: Io, clock: Clock): Promise<TrainingJobDescription> {
    const started = clock.now();
    const pollMs = options.pollMs ?? 15_000;
    const capMs = options.pollCapMs ?? 60_000;
    const maxThrottled = options.maxThrottledPolls ?? 10;
    let last = "";
    let unchanged = 0;
    let throttled = 0;
    for (;;) {
        let job: TrainingJobDescription;
        try {
            job = await backend.training.describe(jobName);
            throttled = 0;
        } catch (e) {
            if (isStepError(e, "throttled") && throttled < maxThrottled) {
                const delay = backoffDelay(throttled++, clock, { baseMs: pollMs, capMs });
                io.out(`throttled while polling ${jobName}; next poll in ${formatDuration(delay)}`);
                await clock.sleep(delay);
                continue;
            }
            throw e;
        }
        const state = `${job.status}${job.secondaryStatus ? ` / ${job.secondaryStatus}` : ""}`;
        if (state !== last) {
            io.out(`[${formatDuration(clock.now() - started)}] ${jobName}: ${state}${job.statusMessage ? ` — ${job.statusMessage}` : ""}`);
            last = state;
            unchanged = 0;
        }
        if (TERMINAL_TRAINING_STATUSES.includes(job.status)) return job;
        await clock.sleep(backoffDelay(unchanged++, clock, { baseMs: pollMs, capMs }));
    }
}

function formatMetrics(metrics: Readonly<Record<string, number>>): string {
    const entries = Object.entries(metrics);
    return entries.length === 0 ? "none reported" : entries.map(([k, v]) => `${k}=${v}`).join(" ");
}
