/**
 * Composes one environment from its validated config. Kept apart from `index.ts` so tests can evaluate any
 * stack in-process (`createStack(parseConfig(...))`) without re-importing modules.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, ENVIRONMENTS, StackConfig } from "./config";
import { DELIVERY_PIPELINE_TYPE, DeliveryPipeline } from "./components/delivery-pipeline";
import { DeployProjects } from "./components/deploy-projects";
import { DeliveryTriggers } from "./components/delivery-triggers";
import { DeliveryMetrics } from "./components/delivery-metrics";
import { Deployments, deploySessionSeconds } from "./components/deployments";
import { DriftMonitor } from "./components/drift-monitor";
import { EtlJob } from "./components/etl-job";
import { ImageBuild } from "./components/image-build";
import { ModelImage } from "./components/model-image";
import { ModelRegistry } from "./components/model-registry";
import { boundaryEnvironments, PermissionsBoundaries, permissionsBoundaryArn, permissionsBoundaryTransformation } from "./components/permissions-boundary";
import { PipelineFunction } from "./components/pipeline-function";
import { createReviewStackResources } from "./components/review-stacks";
import { SecurityBaseline } from "./components/security-baseline";
import { TrainingSteps } from "./components/training-steps";
import { SharedResources, sharedFromHost, sharedOutput } from "./lib/shared";
import { hostCrossAccountGrants } from "./lib/cross-account";
import { StackContext } from "./lib/context";
import { Namer } from "../contracts/resource-names";
import { endpointNameFor, LiveEndpoint } from "./deploy-inputs";
import { ModelVersion } from "../contracts/registry";
import { createServing, EndpointOutputs, endpointOutputs, Serving } from "./serving";

/**
 * The environments the platform's pipeline promotes through, in order: a candidate is deployed to and evaluated on
 * the first, then promoted to the second. Stack name = environment name. The platform knows them only by name: it
 * derives their resource names (the candidate's endpoint) from the naming rules, never from their stack files.
 */
export const PROMOTION = { candidate: "dev", production: "prod" } as const;

export interface CreateStackOptions {
    /**
     * Extra legacy transformations given to every top-level component (they reach all children). Tests use
     * this to observe resource options such as `protect`, which the mock monitor does not report.
     */
    readonly transformations?: pulumi.ResourceTransformation[];
    /**
     * The model version to serve, resolved at deploy time (infra/deploy-inputs.ts): null = the registry has none
     * yet (no endpoint); undefined = not resolved, treated as none and logged.
     */
    readonly modelVersion?: ModelVersion | null;
    /** The serving endpoint as it runs now (deploy time): its autoscaled instance count survives an update. */
    readonly liveEndpoint?: LiveEndpoint | null;
}

/** The stack's outputs (`pulumi stack output`). */
export interface StackOutputs {
    readonly environment: string;
    /** Host only: what other stacks read through a stack reference (see infra/lib/shared.ts). */
    readonly shared?: pulumi.Output<Record<string, string>>;
    readonly kmsKeyArn: pulumi.Output<string>;
    readonly alertsTopicArn: pulumi.Output<string>;
    readonly buckets: Record<string, pulumi.Output<string>>;
    /** Host only: the ETL Glue job and the Lambda a CodePipeline action invokes to run it. */
    readonly etlJobName?: pulumi.Output<string>;
    readonly etlTriggerFunctionName?: pulumi.Output<string>;
    readonly etlTriggerFunctionArn?: pulumi.Output<string>;
    /** Host only: CodeBuild projects running steps/train and steps/evaluate, the training role. */
    readonly trainProjectName?: pulumi.Output<string>;
    readonly evaluateProjectName?: pulumi.Output<string>;
    readonly trainingRoleArn?: pulumi.Output<string>;
    readonly evaluationReportGroupArn?: pulumi.Output<string>;
    /** The serving model package version's ARN, or "none"; absent on the platform, which serves nothing. */
    readonly servingModelVersion?: pulumi.Output<string>;
    /** The endpoint's stable physical name, whether or not it exists yet; absent on the platform. */
    readonly endpointName?: string;
    /** The serving endpoint: config name, capture prefix, baseline URIs, alarms; absent while nothing serves. */
    readonly endpoint?: pulumi.Output<EndpointOutputs>;
    /** Model Monitor schedule, the alarms that start a retrain and the retrain trigger; absent when off. */
    readonly driftMonitor?: pulumi.Output<{ scheduleName: string; retrainAlarmNames: string[]; retrainFunctionName: string }>;
    /** Host only: the delivery pipeline, its deploy projects and the secret their Pulumi token is set in (out of band). */
    readonly delivery?: pulumi.Output<{ pipelineArn: string; accessTokenSecretArn: string; deployProjects: Record<"dev" | "prod", string> }>;
    /** The role Pulumi Deployments assumes (OIDC) for this stack; absent when deployments are off. */
    readonly deploymentsRoleArn?: pulumi.Output<string>;
    /** The role every review stack's deployments assume; only on the stack that owns the review stack template. */
    readonly reviewDeploymentsRoleArn?: pulumi.Output<string>;
    /** Review stacks: when their TTL schedule destroys them (ISO 8601, UTC). */
    readonly reviewStackDestroyAt?: string;
}

/** The stack's provider (every AWS resource goes through it, so its default tags reach everything taggable). */
export function createContext(config: StackConfig): { provider: aws.Provider; context: StackContext } {
    const provider = new aws.Provider(`${config.project}-${config.environment}`, {
        region: config.region as aws.Region,
        defaultTags: { tags: { ...config.tags } },
    });
    const invokeOpts = { provider };
    const context: StackContext = {
        stack: config.stack,
        environment: config.environment,
        region: config.region,
        accountId: aws.getCallerIdentityOutput({}, invokeOpts).accountId,
        partition: aws.getPartitionOutput({}, invokeOpts).partition,
        // A review stack's names come from its stack name (config nameSegment), so review stacks never share one.
        namer: new Namer(config.project, config.nameSegment),
        logRetentionDays: config.logRetentionDays,
        protectData: config.protectData,
        reserveLambdaConcurrency: config.lambdaReservedConcurrency,
    };
    return { provider, context };
}

export function createStack(config: StackConfig, options: CreateStackOptions = {}): StackOutputs {
    if (config.isHost && (Object.values(PROMOTION) as string[]).includes(config.stack)) {
        // Its own deploy project would then deploy the platform, with the host's permissions.
        throw new ConfigError([`stack ${config.stack}: the platform (host) stack has the name of a stage its pipeline deploys ` +
            `(${Object.values(PROMOTION).join(", ")}); give the platform stack its own name, e.g. platform`]);
    }
    const { provider, context } = createContext(config);
    // Every role of the stack carries its environment's permissions boundary; the host creates the boundaries.
    const boundaries = config.isHost ? new PermissionsBoundaries("permissions-boundaries", {
        context,
        environments: boundaryEnvironments(config.permissionsBoundaries.environments ?? ENVIRONMENTS, config.environment),
        // The evaluate step (a host role) scores the candidate's endpoint before it promotes.
        candidateEnvironment: PROMOTION.candidate,
    }, { providers: { aws: provider } }) : undefined;
    const componentOpts: pulumi.ComponentResourceOptions = {
        providers: { aws: provider },
        transformations: [
            permissionsBoundaryTransformation(permissionsBoundaryArn(context, config.environment), Object.values(boundaries?.policies ?? {})),
            ...(options.transformations ?? []),
        ],
    };

    // Host only, with consumerAccounts: its key and buckets admit the consuming environments' roles (cross-account).
    const grants = hostCrossAccountGrants(config, context.partition);
    const baseline = new SecurityBaseline("baseline", {
        context,
        alertEmail: config.alertEmail,
        keyPolicyStatements: grants && ((arns) => grants.key({ models: arns.models, curated: arns.curated })),
        bucketPolicyStatements: grants && { models: grants.modelsBucket, curated: grants.curatedBucket },
    }, componentOpts);
    // The platform (host) stack creates what exists once per project and serves nothing; every environment serves
    // and reads the platform from its outputs. Whoever deploys an environment therefore deploys none of the
    // pipeline, its deploy projects or their roles (docs/delivery.md, "Who may deploy what").
    const shared = config.isHost
        ? createSharedResources(config, context, baseline, componentOpts)
        // No provider here: a stack reference is read by the engine itself, not by the AWS provider.
        : sharedFromHost(config.hostStack!);
    const parts: StackParts = { config, context, baseline, shared, opts: componentOpts };

    const etl = config.isHost ? createEtl(parts) : undefined;
    const trainingSteps = config.isHost ? createTrainingSteps(parts) : undefined;
    const serving = config.isHost ? undefined : createServing(config, context, baseline, shared, options, componentOpts);
    const driftMonitor = serving && config.monitoring.enabled ? createDriftMonitor(parts, serving) : undefined;
    const delivery = etl && trainingSteps ? createDelivery(parts, etl.trigger, trainingSteps) : undefined;
    if (delivery) createDeliveryMetrics(parts, delivery);
    const deployments = config.deployments.enabled ? createDeployments(parts) : undefined;
    // The review stack template (its owner: config deployments.reviewStacks) or, on a review stack, its TTL.
    const review = createReviewStackResources(config, context, shared, componentOpts);

    return {
        environment: config.environment,
        ...(config.isHost ? { shared: sharedOutput(shared) } : {}),
        kmsKeyArn: baseline.kmsKeyArn,
        alertsTopicArn: baseline.alertsTopicArn,
        buckets: {
            accessLogs: baseline.accessLogBucket.name,
            ...Object.fromEntries(Object.entries(baseline.buckets).map(([k, b]) => [k, b.name])),
        },
        ...(etl ? { etlJobName: etl.job.jobName, etlTriggerFunctionName: etl.trigger.functionName, etlTriggerFunctionArn: etl.trigger.functionArn } : {}),
        ...(trainingSteps ? {
            trainProjectName: trainingSteps.trainProject.name,
            evaluateProjectName: trainingSteps.evaluateProject.name,
            trainingRoleArn: trainingSteps.trainingRoleArn,
            evaluationReportGroupArn: trainingSteps.reportGroup.arn,
        } : {}),
        ...(serving ? {
            servingModelVersion: serving.servingModelVersion,
            endpointName: serving.endpointName,
            ...(serving.endpoint ? { endpoint: endpointOutputs(serving) } : {}),
        } : {}),
        ...(delivery ? {
            delivery: pulumi.output({
                pipelineArn: delivery.pipeline.pipelineArn,
                accessTokenSecretArn: delivery.deploy.accessTokenSecret.arn,
                deployProjects: { dev: delivery.deploy.projects.dev.name, prod: delivery.deploy.projects.prod.name },
            }),
        } : {}),
        ...(deployments ? { deploymentsRoleArn: deployments.roleArn } : {}),
        ...(review.template ? { reviewDeploymentsRoleArn: review.template.roleArn } : {}),
        ...(review.ttl ? { reviewStackDestroyAt: review.ttl.timestamp } : {}),
        ...(driftMonitor ? {
            driftMonitor: pulumi.output({
                scheduleName: driftMonitor.scheduleName,
                retrainAlarmNames: [...driftMonitor.retrainAlarmNames],
                retrainFunctionName: driftMonitor.retrainTrigger.functionName,
            }),
        } : {}),
    };
}

/** What every part of the stack is built from. */
interface StackParts {
    readonly config: StackConfig;
    readonly context: StackContext;
    readonly baseline: SecurityBaseline;
    readonly shared: SharedResources;
    readonly opts: pulumi.ComponentResourceOptions;
}

/** Host only: the Glue job and the Lambda a CodePipeline action invokes to run it. */
function createEtl({ config, context, baseline, opts }: StackParts): { job: EtlJob; trigger: PipelineFunction } {
    const job = new EtlJob("etl", {
        context,
        etl: config.etl,
        kmsKeyArn: baseline.kmsKeyArn,
        buckets: { raw: baseline.buckets.raw, curated: baseline.buckets.curated, artifacts: baseline.buckets.artifacts },
        alertsTopicArn: baseline.alertsTopicArn,
    }, opts);
    const trigger = new PipelineFunction("etl-trigger", {
        context,
        handler: "etl-trigger",
        description: "CodePipeline job worker: runs the ETL Glue job and reports its curated dataset",
        kmsKeyArn: baseline.kmsKeyArn,
        alertsTopicArn: baseline.alertsTopicArn,
        environment: job.triggerEnvironment,
        policyStatements: job.triggerPolicyStatements,
        codePipelineJobWorker: true,
    }, opts);
    return { job, trigger };
}

/** Host only: CodeBuild projects running steps/train and steps/evaluate, and the training role. */
function createTrainingSteps({ config, context, baseline, shared, opts }: StackParts): TrainingSteps {
    return new TrainingSteps("training-steps", {
        context,
        modelName: config.modelName,
        training: config.training,
        evaluation: config.evaluation,
        kmsKeyArn: baseline.kmsKeyArn,
        buckets: { curated: baseline.buckets.curated, models: baseline.buckets.models, artifacts: baseline.buckets.artifacts },
        imageRepositoryArn: shared.imageRepositoryArn,
        modelPackageGroupName: shared.modelPackageGroupName,
        modelPackageGroupArn: shared.modelPackageGroupArn,
        // The candidate environment's endpoint, by the naming rules (the platform reads no environment's stack
        // file): the challenger is deployed there before it is evaluated. The endpoint kind is left at its
        // default, serverless, whose request payload limit is the smaller one: the scorer's batches then fit
        // either kind.
        endpointName: endpointNameFor({ project: config.project, environment: PROMOTION.candidate, modelName: config.modelName }),
        createTrainingLogGroup: config.accountResources.trainingJobsLogGroup,
    }, opts);
}

/** Model Monitor on the serving endpoint and the retrain trigger; needs a version that records its baseline. */
function createDriftMonitor({ config, context, baseline, shared, opts }: StackParts, serving: Serving): DriftMonitor | undefined {
    const { captureS3Uri, baselineStatisticsUri, baselineConstraintsUri } = serving;
    if (!serving.endpoint || !captureS3Uri || !baselineStatisticsUri || !baselineConstraintsUri) {
        void pulumi.log.warn(`drift monitor skipped: ${!serving.endpoint ? "no endpoint serves yet" : "the serving version records no " +
            "data-quality baseline (BaselineStatisticsUri / BaselineConstraintsUri) or the endpoint captures no traffic"}`);
        return undefined;
    }
    return new DriftMonitor("drift-monitor", {
        context,
        monitoring: config.monitoring,
        endpointName: serving.endpoint.endpointName,
        captureS3Uri,
        baselineStatisticsUri,
        baselineConstraintsUri,
        baselineKmsKeyArn: shared.kmsKeyArn,
        kmsKeyArn: baseline.kmsKeyArn,
        alertsTopicArn: baseline.alertsTopicArn,
        reportsBucket: { name: baseline.buckets.artifacts.name, arn: baseline.buckets.artifacts.arn },
        // The monitoring job runs the serving version's image (it carries the drift checker) and reads that version's
        // features and their types from its own baseline: nothing here depends on one dataset's schema.
        imageUri: serving.modelVersion!.imageUri,
        imageRepositoryArn: shared.imageRepositoryArn,
        pipelineName: shared.pipelineName,
        pipelineArn: shared.pipelineArn,
        groundTruthS3Uri: config.monitoring.modelQuality.enabled
            ? pulumi.interpolate`s3://${baseline.buckets.capture.name}/${config.monitoring.modelQuality.labelsPrefix}`
            : undefined,
        decisionThreshold: config.evaluation.decisionThreshold,
        createProcessingLogGroup: config.accountResources.processingJobsLogGroup,
    }, opts);
}

/** Host only: lead time of every execution, recorded by the prod deploy: its permissions, dashboard, failure alarm. */
function createDeliveryMetrics({ context, baseline, shared, opts }: StackParts, delivery: Delivery): DeliveryMetrics {
    return new DeliveryMetrics("delivery-metrics", {
        context,
        pipelineName: shared.pipelineName,
        // IAM's format for a pipeline (arn:<partition>:codepipeline:<region>:<account>:<name>), built from the name.
        pipelineArn: shared.pipelineArn,
        artifactsBucket: { name: baseline.buckets.artifacts.name, arn: baseline.buckets.artifacts.arn },
        kmsKeyArn: baseline.kmsKeyArn,
        alertsTopicArn: baseline.alertsTopicArn,
        recorder: { roleName: delivery.deploy.roles.prod.name, logGroupName: delivery.deploy.logGroupNames.prod },
    }, opts);
}

/** The delivery components of the host stack. */
interface Delivery {
    readonly deploy: DeployProjects;
    readonly pipeline: DeliveryPipeline;
    readonly triggers: DeliveryTriggers;
}

/** Host only: CodePipeline V2 from data or code to the gated prod update. */
function createDelivery({ config, context, baseline, shared, opts }: StackParts, etlTrigger: PipelineFunction, trainingSteps: TrainingSteps): Delivery {
    // The pipeline builds the model image (its Image action); the train action trains with that image.
    const imageBuild = new ImageBuild("image-build", {
        context,
        kmsKeyArn: baseline.kmsKeyArn,
        repository: { arn: shared.imageRepositoryArn, url: shared.imageRepositoryUrl },
        artifactsBucketArn: baseline.buckets.artifacts.arn,
        failOnSeverity: config.imageScanFailOnSeverity,
    }, opts);
    // The deploy projects and the triggers were children of the pipeline component until each got its own.
    const formerParent = pulumi.createUrn("delivery", DELIVERY_PIPELINE_TYPE);
    const artifactsBucket = { name: baseline.buckets.artifacts.name, arn: baseline.buckets.artifacts.arn };
    const deploy = new DeployProjects("delivery", {
        context,
        kmsKeyArn: baseline.kmsKeyArn,
        artifactsBucket,
        pipelineName: shared.pipelineName,
        modelPackageGroupArn: shared.modelPackageGroupArn,
        connectionArn: config.source?.connectionArn,
        pulumiOrganization: config.deployments.organization,
        stacks: { dev: PROMOTION.candidate, prod: PROMOTION.production },
        formerParent,
    }, opts);
    const dataObjectKey = `incoming/${config.modelName}.csv`;
    const pipeline = new DeliveryPipeline("delivery", {
        context,
        kmsKeyArn: baseline.kmsKeyArn,
        alertsTopicArn: baseline.alertsTopicArn,
        pipelineName: shared.pipelineName,
        artifactsBucket,
        rawBucket: { name: baseline.buckets.raw.name, arn: baseline.buckets.raw.arn },
        dataObjectKey,
        gitSource: config.source?.connectionArn
            ? { repository: config.source.repository, branch: config.source.branch, connectionArn: config.source.connectionArn }
            : undefined,
        etlFunction: { name: etlTrigger.functionName, arn: etlTrigger.functionArn },
        imageProject: { name: imageBuild.projectName, arn: imageBuild.projectArn },
        trainProject: { name: trainingSteps.trainProject.name, arn: trainingSteps.trainProject.arn },
        evaluateProject: { name: trainingSteps.evaluateProject.name, arn: trainingSteps.evaluateProject.arn },
        deployTargets: deploy.targets,
    }, opts);
    const triggers = new DeliveryTriggers("delivery", {
        context,
        kmsKeyArn: baseline.kmsKeyArn,
        alertsTopicArn: baseline.alertsTopicArn,
        pipelineName: shared.pipelineName,
        pipelineArn: pipeline.pipelineArn,
        rawBucketName: baseline.buckets.raw.name,
        dataObjectKey,
        formerParent,
    }, opts);
    return { deploy, pipeline, triggers };
}

/** Pulumi Deployments for this stack: PR previews, deploys on push (dev), the OIDC role it assumes. */
function createDeployments({ config, context, shared, opts }: StackParts): Deployments {
    return new Deployments("deployments", {
        context,
        organization: config.deployments.organization!,
        project: config.project,
        stack: config.stack,
        repository: config.deployments.repository!,
        branch: config.deployments.branch,
        previewPullRequests: config.deployments.previewPullRequests,
        deployCommits: config.deployments.deployCommits,
        driftScheduleCron: config.deployments.driftScheduleCron,
        // One OIDC provider per account, set up once for the account (docs/delivery.md) unless the host opts in.
        createOidcProvider: config.isHost && config.accountResources.pulumiOidcProvider,
        deployScope: {
            environment: config.environment,
            isHost: config.isHost,
            modelPackageGroupArn: shared.modelPackageGroupArn,
            connectionArn: config.isHost ? config.source?.connectionArn : undefined,
            accountResources: config.accountResources,
        },
        // The platform serves nothing: its session needs no blue/green allowance.
        sessionDurationSeconds: deploySessionSeconds(config.endpoint),
    }, opts);
}

/** The host's image repository, registry and pipeline identity, plus its own buckets and key. */
function createSharedResources(
    config: StackConfig,
    context: StackContext,
    baseline: SecurityBaseline,
    opts: pulumi.ComponentResourceOptions,
): SharedResources {
    // The repository only: the pipeline's image build pushes the images (no stack needs Docker).
    const image = new ModelImage("model-image", {
        context,
        kmsKeyArn: baseline.kmsKeyArn,
        keepTaggedImages: config.ecrKeepTaggedImages,
        repositoryPolicyStatements: hostCrossAccountGrants(config, context.partition)?.repository(),
    }, opts);
    const registry = new ModelRegistry("model-registry", {
        context,
        modelName: config.modelName,
        resourcePolicyStatements: hostCrossAccountGrants(config, context.partition)?.registry,
    }, opts);
    // The pipeline's name is fixed here so that stacks and Lambdas can refer to it before it exists.
    const pipelineName = context.namer.name("codepipeline", config.modelName);
    return {
        modelPackageGroupName: registry.groupName,
        modelPackageGroupArn: registry.groupArn,
        imageRepositoryArn: image.repositoryArn,
        imageRepositoryUrl: image.repositoryUrl,
        modelsBucketName: baseline.buckets.models.name,
        modelsBucketArn: baseline.buckets.models.arn,
        curatedBucketName: baseline.buckets.curated.name,
        curatedBucketArn: baseline.buckets.curated.arn,
        kmsKeyArn: baseline.kmsKeyArn,
        pipelineName: pulumi.output(pipelineName),
        pipelineArn: pulumi.interpolate`arn:${context.partition}:codepipeline:${context.region}:${context.accountId}:${pipelineName}`,
    };
}
