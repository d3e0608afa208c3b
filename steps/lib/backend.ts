/**
 * The one interface the pipeline's steps run against. `aws` (./aws) talks to S3, SageMaker and SageMaker
 * Runtime; `local` (./local) uses folders, child processes and HTTP so the whole pipeline runs on one machine.
 * Steps never import an SDK: they take a {@link Backend}, which tests build from mocked clients.
 *
 * Every method throws {@link StepError} (./errors) with a kind a step can act on: "throttled" (retry),
 * "access-denied" (fail, naming the permission), "not-found", "conflict" (already exists), "invalid", "failed".
 *
 * Stable API: steps/deploy and the local pipeline (pipeline/local.ts) build on it, so a change here changes
 * both. See steps/README.md.
 */
import type { ApprovalStatus, ModelVersion, ModelVersionSummary } from "../../contracts/registry";

// ── objects ────────────────────────────────────────────────────────────────────────────────────────────────

export interface PutOptions {
    /** @default "application/octet-stream" */
    readonly contentType?: string;
}

/** Blobs by URI: `s3://bucket/key` on AWS; `file://` URIs or paths locally. */
export interface ObjectStore {
    /** The object's bytes; StepError "not-found" when absent. */
    get(uri: string): Promise<Buffer>;
    /** Writes (replaces) an object. AWS: SSE-KMS with the stack's key. Local: atomic rename. */
    put(uri: string, body: Buffer | string, options?: PutOptions): Promise<void>;
    /** URIs of every object under `prefixUri` (recursively), sorted; [] when there are none. */
    list(prefixUri: string): Promise<string[]>;
    exists(uri: string): Promise<boolean>;
}

// ── training ───────────────────────────────────────────────────────────────────────────────────────────────

export interface TrainingChannel {
    /** `train`, `validation`, `manifest` (contracts §3). */
    readonly name: string;
    /** A prefix; every object under it is the channel's data. */
    readonly uri: string;
    /** @default undefined (the container does not check it) */
    readonly contentType?: string;
    /**
     * SageMaker's S3DataDistributionType: every instance gets all objects, or each gets its share of them
     * (multi-instance training's train channel).
     * @default "FullyReplicated"
     */
    readonly distribution?: "FullyReplicated" | "ShardedByS3Key";
}

export interface MetricDefinition {
    readonly name: string;
    /** A regex over the container's log lines whose first group is the value. */
    readonly regex: string;
}

/** A training job request; names follow SageMaker's CreateTrainingJob. */
export interface TrainingJobRequest {
    /** ≤ 63 chars `[a-zA-Z0-9-]`, derived from the pipeline execution (see ./naming). */
    readonly jobName: string;
    readonly imageUri: string;
    /** The SageMaker execution role (AWS only). */
    readonly roleArn?: string;
    /** All values strings (SageMaker's contract). */
    readonly hyperparameters: Readonly<Record<string, string>>;
    readonly channels: readonly TrainingChannel[];
    /** Model artifacts go to `<outputUri>/<jobName>/output/…`. */
    readonly outputUri: string;
    readonly instanceType: string;
    readonly instanceCount: number;
    readonly volumeSizeGb: number;
    readonly maxRuntimeSeconds: number;
    /** Managed spot training (AWS only); checkpoints let an interrupted job resume. */
    readonly spot?: { readonly maxWaitSeconds: number; readonly checkpointUri: string };
    /** KMS key for the volume and the output (AWS only). */
    readonly kmsKeyId?: string;
    readonly metricDefinitions: readonly MetricDefinition[];
    readonly tags: Readonly<Record<string, string>>;
}

export type TrainingJobStatus = "InProgress" | "Completed" | "Failed" | "Stopping" | "Stopped";
export const TERMINAL_TRAINING_STATUSES: readonly TrainingJobStatus[] = ["Completed", "Failed", "Stopped"];

export interface TrainingJobDescription {
    readonly jobName: string;
    readonly arn?: string;
    readonly status: TrainingJobStatus;
    /** SageMaker's finer status: Starting, Downloading, Training, Uploading, Completed, Failed, … */
    readonly secondaryStatus?: string;
    /** The latest secondary status' message, if any. */
    readonly statusMessage?: string;
    readonly failureReason?: string;
    /** Set once Completed: `…/model.tar.gz` on AWS, a folder URI ending in `/` locally. */
    readonly modelArtifactUri?: string;
    /** Last value of each MetricDefinition. */
    readonly finalMetrics: Readonly<Record<string, number>>;
    readonly tags?: Readonly<Record<string, string>>;
    readonly createdAt?: Date;
    /** Where the job's logs are, for people. */
    readonly logLocation: string;
}

export interface StartedJob {
    readonly jobName: string;
    /** False when a job of that name already existed and was left as it was. */
    readonly created: boolean;
}

export interface TrainingService {
    /** Starts a job; a second start with the same name returns `{created: false}` and starts nothing. */
    start(request: TrainingJobRequest): Promise<StartedJob>;
    /** StepError "not-found" when there is no such job. */
    describe(jobName: string): Promise<TrainingJobDescription>;
    /** Asks a running job to stop (no-op when it has ended). */
    stop(jobName: string): Promise<void>;
}

// ── model registry ─────────────────────────────────────────────────────────────────────────────────────────

// The registry's data types are the contract every part shares (contracts/registry.ts).
export type { ApprovalStatus, ModelVersion, ModelVersionSummary };

/** A metrics file referenced from the version (SageMaker ModelMetrics' MetricsSource). */
export interface MetricsSource {
    readonly uri: string;
    /** @default "application/json" */
    readonly contentType?: string;
}

export interface NewModelVersion {
    readonly groupName: string;
    readonly imageUri: string;
    readonly modelDataUri: string;
    readonly description: string;
    /** Training metrics (container `METRIC` lines), also stored as `train.<name>` properties. */
    readonly metrics: Readonly<Record<string, number>>;
    /** The training metrics as a file (ModelMetrics.ModelQuality.Statistics). */
    readonly metricsSource?: MetricsSource;
    /** The ETL manifest the model was trained from. */
    readonly datasetManifestUri: string;
    /** Model Monitor data-quality baseline of the training data (ModelMetrics.ModelDataQuality). */
    readonly baseline?: { readonly statisticsUri: string; readonly constraintsUri: string };
    readonly commitId?: string;
    /** Free-form string properties (SageMaker CustomerMetadataProperties: ≤ 50, keys ≤ 128, values ≤ 256 chars). */
    readonly properties: Readonly<Record<string, string>>;
    /** Makes a retried create return the same version instead of a second one. */
    readonly idempotencyToken?: string;
}

export interface ListVersionsOptions {
    readonly approvalStatus?: ApprovalStatus;
    /** Only versions created at or after this time. */
    readonly createdAfter?: Date;
}

export interface ApprovalUpdate {
    readonly status: ApprovalStatus;
    /** Why (SageMaker ApprovalDescription, ≤ 1024 chars; longer text is cut). */
    readonly description: string;
    /** Properties to add or replace, e.g. the evaluation's metrics (`eval.<name>`) and report location. */
    readonly properties?: Readonly<Record<string, string>>;
}

export interface ModelRegistry {
    createVersion(input: NewModelVersion): Promise<ModelVersion>;
    /** Newest first. */
    listVersions(groupName: string, options?: ListVersionsOptions): Promise<ModelVersionSummary[]>;
    /** StepError "not-found" when there is no such version. */
    describeVersion(arn: string): Promise<ModelVersion>;
    updateApproval(arn: string, update: ApprovalUpdate): Promise<void>;
}

// ── inference ──────────────────────────────────────────────────────────────────────────────────────────────

export interface InvokeRequest {
    /** AWS: the endpoint's name. Local: an `http(s)://` base URL, or any name for the backend's default URL. */
    readonly endpoint: string;
    readonly body: Buffer | string;
    readonly contentType: string;
    /** @default "application/json" */
    readonly accept?: string;
}

export interface InvokeResponse {
    readonly body: Buffer;
    readonly contentType?: string;
}

/**
 * Calls a model endpoint (contracts §4). Throttling (AWS ThrottlingException, HTTP 429/503) is a StepError
 * "throttled"; a model's 4xx/424 is "invalid".
 */
export interface EndpointInvoker {
    invoke(request: InvokeRequest): Promise<InvokeResponse>;
}

// ── all together ───────────────────────────────────────────────────────────────────────────────────────────

export interface Backend {
    readonly kind: "aws" | "local";
    readonly objects: ObjectStore;
    readonly training: TrainingService;
    readonly registry: ModelRegistry;
    readonly invoker: EndpointInvoker;
}
