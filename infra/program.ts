/**
 * Composes one environment from its validated config. Kept apart from `index.ts` so tests can evaluate any
 * stack in-process (`createStack(parseConfig(...))`) without re-importing modules.
 */
import * as path from "path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "./config";
import { ModelImage } from "./components/model-image";
import { ModelRegistry } from "./components/model-registry";
import { SecurityBaseline } from "./components/security-baseline";
import { SharedResources, sharedFromHost, sharedOutput } from "./lib/shared";
import { StackContext } from "./lib/context";
import { Namer } from "./naming";

export interface CreateStackOptions {
    /**
     * Extra legacy transformations given to every top-level component (they reach all children). Tests use
     * this to observe resource options such as `protect`, which the mock monitor does not report.
     */
    readonly transformations?: pulumi.ResourceTransformation[];
}

/** The stack's outputs (`pulumi stack output`). */
export interface StackOutputs {
    readonly environment: string;
    /** Host only: what other stacks read through a stack reference (see infra/lib/shared.ts). */
    readonly shared?: pulumi.Output<Record<string, string>>;
    readonly kmsKeyArn: pulumi.Output<string>;
    readonly alertsTopicArn: pulumi.Output<string>;
    readonly buckets: Record<string, pulumi.Output<string>>;
}

/** The stack's provider (every AWS resource goes through it, so its default tags reach everything taggable). */
export function createContext(config: StackConfig): { provider: aws.Provider; context: StackContext } {
    const provider = new aws.Provider(`${config.project}-${config.environment}`, {
        region: config.region as aws.Region,
        defaultTags: { tags: { ...config.tags } },
    });
    const invokeOpts = { provider };
    const context: StackContext = {
        environment: config.environment,
        region: config.region,
        accountId: aws.getCallerIdentityOutput({}, invokeOpts).accountId,
        partition: aws.getPartitionOutput({}, invokeOpts).partition,
        namer: new Namer(config.project, config.environment),
        logRetentionDays: config.logRetentionDays,
        protectData: config.protectData,
    };
    return { provider, context };
}

export function createStack(config: StackConfig, options: CreateStackOptions = {}): StackOutputs {
    const { provider, context } = createContext(config);
    const componentOpts: pulumi.ComponentResourceOptions = {
        providers: { aws: provider },
        transformations: options.transformations,
    };

    const baseline = new SecurityBaseline("baseline", { context, alertEmail: config.alertEmail }, componentOpts);

    // ── shared resources: the host stack creates them, the others read them from the host's outputs ──
    const shared = config.isHost
        ? createSharedResources(config, context, baseline, componentOpts)
        : sharedFromHost(config.hostStack!, { provider });

    // ── ETL: Glue job + CodePipeline trigger Lambda (host only) — issue 3 ──

    // ── training and evaluation steps: CodeBuild projects, training role (host only) — issue 5 ──

    // ── model endpoint — issue 6 ──

    // ── drift monitor and retrain trigger — issue 7 ──

    // ── CodePipeline and Pulumi Deployments ──

    return {
        environment: config.environment,
        ...(config.isHost ? { shared: sharedOutput(shared) } : {}),
        kmsKeyArn: baseline.kmsKeyArn,
        alertsTopicArn: baseline.alertsTopicArn,
        buckets: {
            accessLogs: baseline.accessLogBucket.name,
            ...Object.fromEntries(Object.entries(baseline.buckets).map(([k, b]) => [k, b.name])),
        },
    };
}

/** The model container's build context. */
export const MODEL_CONTAINER_DIR = path.resolve(__dirname, "..", "model-container");

/** The host's image, registry and pipeline identity, plus its own buckets and key. */
function createSharedResources(
    config: StackConfig,
    context: StackContext,
    baseline: SecurityBaseline,
    opts: pulumi.ComponentResourceOptions,
): SharedResources {
    const image = new ModelImage("model-image", {
        context,
        kmsKeyArn: baseline.kmsKeyArn,
        sourceDir: MODEL_CONTAINER_DIR,
        keepTaggedImages: config.ecrKeepTaggedImages,
    }, opts);
    const registry = new ModelRegistry("model-registry", { context, modelName: config.modelName }, opts);
    // The pipeline's name is fixed here so that stacks and Lambdas can refer to it before it exists.
    const pipelineName = context.namer.name("codepipeline", config.modelName);
    return {
        modelPackageGroupName: registry.groupName,
        modelPackageGroupArn: registry.groupArn,
        imageRepositoryArn: image.repositoryArn,
        imageUri: image.imageUri,
        modelsBucketName: baseline.buckets.models.name,
        modelsBucketArn: baseline.buckets.models.arn,
        curatedBucketName: baseline.buckets.curated.name,
        curatedBucketArn: baseline.buckets.curated.arn,
        kmsKeyArn: baseline.kmsKeyArn,
        pipelineName: pulumi.output(pipelineName),
        pipelineArn: pulumi.interpolate`arn:${context.partition}:codepipeline:${context.region}:${context.accountId}:${pipelineName}`,
    };
}
