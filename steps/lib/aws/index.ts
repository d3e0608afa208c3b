/**
 * The AWS backend: S3, SageMaker and SageMaker Runtime behind the interfaces of ../backend. Thin on purpose:
 * every SDK error becomes a StepError (../errors) and retrying is the caller's choice (../retry).
 */
import {
    GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import {
    CreateModelPackageCommand, CreateModelPackageCommandInput, CreateTrainingJobCommand, CreateTrainingJobCommandInput,
    DescribeModelPackageCommand, DescribeTrainingJobCommand, ListModelPackagesCommand,
    SageMakerClient, StopTrainingJobCommand, UpdateModelPackageCommand,
} from "@aws-sdk/client-sagemaker";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import {
    ApprovalUpdate, Backend, EndpointInvoker, InvokeRequest, InvokeResponse, ListVersionsOptions,
    ModelRegistry, ModelVersion, ModelVersionSummary, NewModelVersion, ObjectStore, PutOptions, StartedJob,
    TrainingJobDescription, TrainingJobRequest, TrainingJobStatus, TrainingService,
} from "../backend";
import { fromAwsError, isStepError, StepError } from "../errors";
import { parseS3Uri, s3Uri } from "../uri";
import { modelVersion, modelVersionSummary } from "../../../contracts/registry";
import { modelPackageClientToken } from "../naming";
import { checkProperties, cutApprovalDescription, versionProperties } from "../registry-limits";

async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (e) {
        throw fromAwsError(e, operation);
    }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
async function bodyBytes(body: any): Promise<Buffer> {
    if (body === undefined || body === null) return Buffer.alloc(0);
    if (typeof body.transformToByteArray === "function") return Buffer.from(await body.transformToByteArray());
    if (typeof body === "string" || body instanceof Uint8Array) return Buffer.from(body);
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface S3ObjectStoreOptions {
    /** Every put is SSE-KMS with this key (the bucket default would apply too; being explicit survives a misconfigured bucket). */
    readonly kmsKeyId?: string;
}

export class S3ObjectStore implements ObjectStore {
    constructor(private readonly s3: S3Client, private readonly options: S3ObjectStoreOptions = {}) {}

    async get(uri: string): Promise<Buffer> {
        const { bucket, key } = parseS3Uri(uri);
        const out = await call(`s3:GetObject ${uri}`, () => this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
        return bodyBytes(out.Body);
    }

    async put(uri: string, body: Buffer | string, options: PutOptions = {}): Promise<void> {
        const { bucket, key } = parseS3Uri(uri);
        await call(`s3:PutObject ${uri}`, () => this.s3.send(new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentType: options.contentType ?? "application/octet-stream",
            ServerSideEncryption: "aws:kms",
            SSEKMSKeyId: this.options.kmsKeyId,
        })));
    }

    async list(prefixUri: string): Promise<string[]> {
        const { bucket, key } = parseS3Uri(prefixUri);
        const uris: string[] = [];
        let token: string | undefined;
        do {
            const out = await call(`s3:ListObjectsV2 ${prefixUri}`, () => this.s3.send(new ListObjectsV2Command({
                Bucket: bucket, Prefix: key, ContinuationToken: token,
            })));
            for (const obj of out.Contents ?? []) {
                // "Folder" placeholder objects (key ending in /) are not data.
                if (obj.Key !== undefined && !obj.Key.endsWith("/")) uris.push(s3Uri(bucket, obj.Key));
            }
            token = out.IsTruncated ? out.NextContinuationToken : undefined;
        } while (token);
        return uris.sort();
    }

    async exists(uri: string): Promise<boolean> {
        const { bucket, key } = parseS3Uri(uri);
        try {
            await call(`s3:HeadObject ${uri}`, () => this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
            return true;
        } catch (e) {
            if (isStepError(e, "not-found")) return false;
            throw e;
        }
    }
}

const TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs";

export class SageMakerTraining implements TrainingService {
    constructor(private readonly sagemaker: SageMakerClient, private readonly region: string) {}

    /** CreateTrainingJob input for a request; exported through the class for tests and dry runs. */
    static createInput(req: TrainingJobRequest): CreateTrainingJobCommandInput {
        if (!req.roleArn) throw new StepError("usage", `training job ${req.jobName}: a SageMaker execution role ARN is required on AWS (--role-arn)`);
        return {
            TrainingJobName: req.jobName,
            RoleArn: req.roleArn,
            AlgorithmSpecification: {
                TrainingImage: req.imageUri,
                TrainingInputMode: "File",
                MetricDefinitions: req.metricDefinitions.map((m) => ({ Name: m.name, Regex: m.regex })),
            },
            HyperParameters: { ...req.hyperparameters },
            InputDataConfig: req.channels.map((c) => ({
                ChannelName: c.name,
                ContentType: c.contentType,
                CompressionType: "None",
                InputMode: "File",
                DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: c.uri, S3DataDistributionType: c.distribution ?? "FullyReplicated" } },
            })),
            OutputDataConfig: { S3OutputPath: req.outputUri, KmsKeyId: req.kmsKeyId },
            ResourceConfig: {
                InstanceType: req.instanceType as never,
                InstanceCount: req.instanceCount,
                VolumeSizeInGB: req.volumeSizeGb,
                VolumeKmsKeyId: req.kmsKeyId,
            },
            StoppingCondition: {
                MaxRuntimeInSeconds: req.maxRuntimeSeconds,
                MaxWaitTimeInSeconds: req.spot ? req.spot.maxWaitSeconds : undefined,
            },
            EnableManagedSpotTraining: req.spot !== undefined,
            CheckpointConfig: req.spot ? { S3Uri: req.spot.checkpointUri } : undefined,
            // The container needs no network: data comes through channels, the model leaves through /opt/ml/model.
            // Multi-instance jobs still reach each other: isolation blocks all calls "except for calls between
            // peers within a training cluster for distributed training" (CreateTrainingJob API reference).
            EnableNetworkIsolation: true,
            EnableInterContainerTrafficEncryption: true,
            Tags: Object.entries(req.tags).map(([Key, Value]) => ({ Key, Value })),
        };
    }

    async start(req: TrainingJobRequest): Promise<StartedJob> {
        const input = SageMakerTraining.createInput(req);
        try {
            await call(`sagemaker:CreateTrainingJob ${req.jobName}`, () => this.sagemaker.send(new CreateTrainingJobCommand(input)));
            return { jobName: req.jobName, created: true };
        } catch (e) {
            if (isStepError(e, "conflict")) return { jobName: req.jobName, created: false };
            throw e;
        }
    }

    async describe(jobName: string): Promise<TrainingJobDescription> {
        const out = await call(`sagemaker:DescribeTrainingJob ${jobName}`, () =>
            this.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName })));
        const transitions = out.SecondaryStatusTransitions ?? [];
        const metrics: Record<string, number> = {};
        for (const m of out.FinalMetricDataList ?? []) {
            if (m.MetricName !== undefined && m.Value !== undefined) metrics[m.MetricName] = m.Value;
        }
        return {
            jobName,
            arn: out.TrainingJobArn,
            status: (out.TrainingJobStatus ?? "InProgress") as TrainingJobStatus,
            secondaryStatus: out.SecondaryStatus,
            statusMessage: transitions.length > 0 ? transitions[transitions.length - 1].StatusMessage : undefined,
            failureReason: out.FailureReason,
            modelArtifactUri: out.ModelArtifacts?.S3ModelArtifacts,
            finalMetrics: metrics,
            createdAt: out.CreationTime,
            logLocation: this.logLocation(jobName),
        };
    }

    async stop(jobName: string): Promise<void> {
        try {
            await call(`sagemaker:StopTrainingJob ${jobName}`, () => this.sagemaker.send(new StopTrainingJobCommand({ TrainingJobName: jobName })));
        } catch (e) {
            // SageMaker refuses to stop a job that has already ended; that is the state we wanted.
            if (isStepError(e, "invalid")) return;
            throw e;
        }
    }

    logLocation(jobName: string): string {
        const group = encodeURIComponent(encodeURIComponent(TRAINING_LOG_GROUP)).replace(/%/g, "$");
        return `CloudWatch Logs group ${TRAINING_LOG_GROUP}, streams ${jobName}/algo-*: ` +
            `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#logsV2:log-groups/log-group/${group}` +
            `$3FlogStreamNameFilter$3D${jobName}`;
    }
}

export class SageMakerRegistry implements ModelRegistry {
    constructor(private readonly sagemaker: SageMakerClient) {}

    static createInput(input: NewModelVersion): CreateModelPackageCommandInput {
        const properties = versionProperties(input);
        return {
            ModelPackageGroupName: input.groupName,
            ModelPackageDescription: input.description.slice(0, 1024),
            InferenceSpecification: {
                Containers: [{ Image: input.imageUri, ModelDataUrl: input.modelDataUri }],
                SupportedContentTypes: ["text/csv", "application/json"],
                SupportedResponseMIMETypes: ["application/json", "text/csv"],
            },
            ModelApprovalStatus: "PendingManualApproval",
            MetadataProperties: input.commitId ? { CommitId: input.commitId } : undefined,
            ModelMetrics: {
                ModelQuality: input.metricsSource
                    ? { Statistics: { ContentType: input.metricsSource.contentType ?? "application/json", S3Uri: input.metricsSource.uri } }
                    : undefined,
                ModelDataQuality: input.baseline
                    ? {
                        Statistics: { ContentType: "application/json", S3Uri: input.baseline.statisticsUri },
                        Constraints: { ContentType: "application/json", S3Uri: input.baseline.constraintsUri },
                    }
                    : undefined,
            },
            CustomerMetadataProperties: properties,
            // AWS caps ClientToken at 36 characters of [a-zA-Z0-9-]: a derived token, never the raw seed.
            ClientToken: input.idempotencyToken === undefined ? undefined : modelPackageClientToken(input.idempotencyToken),
        };
    }

    async createVersion(input: NewModelVersion): Promise<ModelVersion> {
        const request = SageMakerRegistry.createInput(input);
        const out = await call(`sagemaker:CreateModelPackage ${input.groupName}`, () =>
            this.sagemaker.send(new CreateModelPackageCommand(request)));
        if (!out.ModelPackageArn) throw new StepError("failed", `sagemaker:CreateModelPackage ${input.groupName}: no ModelPackageArn in the response`);
        return this.describeVersion(out.ModelPackageArn);
    }

    async listVersions(groupName: string, options: ListVersionsOptions = {}): Promise<ModelVersionSummary[]> {
        const versions: ModelVersionSummary[] = [];
        let token: string | undefined;
        do {
            const out = await call(`sagemaker:ListModelPackages ${groupName}`, () => this.sagemaker.send(new ListModelPackagesCommand({
                ModelPackageGroupName: groupName,
                ModelApprovalStatus: options.approvalStatus,
                CreationTimeAfter: options.createdAfter,
                SortBy: "CreationTime",
                SortOrder: "Descending",
                MaxResults: 100,
                NextToken: token,
            })));
            versions.push(...(out.ModelPackageSummaryList ?? []).map(modelVersionSummary));
            token = out.NextToken;
        } while (token);
        // Newest first by version number, which is what "latest" means in the registry.
        return versions.sort((a, b) => b.version - a.version);
    }

    async describeVersion(arn: string): Promise<ModelVersion> {
        const out = await call(`sagemaker:DescribeModelPackage ${arn}`, () =>
            this.sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: arn })));
        return modelVersion(out);
    }

    async updateApproval(arn: string, update: ApprovalUpdate): Promise<void> {
        if (update.properties) checkProperties(update.properties);
        await call(`sagemaker:UpdateModelPackage ${arn}`, () => this.sagemaker.send(new UpdateModelPackageCommand({
            ModelPackageArn: arn,
            ModelApprovalStatus: update.status,
            ApprovalDescription: cutApprovalDescription(update.description),
            CustomerMetadataProperties: update.properties ? { ...update.properties } : undefined,
        })));
    }
}

export class SageMakerRuntimeInvoker implements EndpointInvoker {
    constructor(private readonly runtime: SageMakerRuntimeClient) {}

    async invoke(request: InvokeRequest): Promise<InvokeResponse> {
        const out = await call(`sagemaker:InvokeEndpoint ${request.endpoint}`, () => this.runtime.send(new InvokeEndpointCommand({
            EndpointName: request.endpoint,
            Body: typeof request.body === "string" ? Buffer.from(request.body) : request.body,
            ContentType: request.contentType,
            Accept: request.accept ?? "application/json",
        })));
        return { body: await bodyBytes(out.Body), contentType: out.ContentType };
    }
}

export interface AwsBackendOptions {
    readonly region: string;
    /** The stack's KMS key (ARN or id) for S3 puts and training volumes/outputs. */
    readonly kmsKeyId?: string;
    /** Injected clients (tests); created for `region` otherwise. */
    readonly clients?: { s3?: S3Client; sagemaker?: SageMakerClient; runtime?: SageMakerRuntimeClient };
}

export function createAwsBackend(options: AwsBackendOptions): Backend {
    const s3 = options.clients?.s3 ?? new S3Client({ region: options.region });
    const sagemaker = options.clients?.sagemaker ?? new SageMakerClient({ region: options.region });
    const runtime = options.clients?.runtime ?? new SageMakerRuntimeClient({ region: options.region });
    return {
        kind: "aws",
        objects: new S3ObjectStore(s3, { kmsKeyId: options.kmsKeyId }),
        training: new SageMakerTraining(sagemaker, options.region),
        registry: new SageMakerRegistry(sagemaker),
        invoker: new SageMakerRuntimeInvoker(runtime),
    };
}
