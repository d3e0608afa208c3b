/**
 * Resources the host stack (the platform) creates and every environment uses: the model image repository, the model
 * registry, the bucket holding model artifacts and data baselines, the key that encrypts them, and the pipeline. The
 * environments (dev, prod, any other) read them from the platform's `shared` stack output (`mlops:hostStack`), so
 * there is one registry and one image per project, and no environment's deployer owns any of them.
 */
import * as pulumi from "@pulumi/pulumi";

export interface SharedResources {
    readonly modelPackageGroupName: pulumi.Output<string>;
    readonly modelPackageGroupArn: pulumi.Output<string>;
    /** The model image's repository; the pipeline pushes images there, versions record them by digest. */
    readonly imageRepositoryArn: pulumi.Output<string>;
    readonly imageRepositoryUrl: pulumi.Output<string>;
    /** Where training writes model artifacts. */
    readonly modelsBucketName: pulumi.Output<string>;
    readonly modelsBucketArn: pulumi.Output<string>;
    /** Where the ETL writes curated splits, manifests and data baselines. */
    readonly curatedBucketName: pulumi.Output<string>;
    readonly curatedBucketArn: pulumi.Output<string>;
    /** The host's key: artifacts and baselines are encrypted with it. */
    readonly kmsKeyArn: pulumi.Output<string>;
    /** The CodePipeline that retrains and promotes models. */
    readonly pipelineName: pulumi.Output<string>;
    readonly pipelineArn: pulumi.Output<string>;
}

const FIELDS: readonly (keyof SharedResources)[] = [
    "modelPackageGroupName", "modelPackageGroupArn", "imageRepositoryArn", "imageRepositoryUrl", "modelsBucketName",
    "modelsBucketArn", "curatedBucketName", "curatedBucketArn", "kmsKeyArn", "pipelineName", "pipelineArn",
];

/** What the host exports as its `shared` stack output. */
export function sharedOutput(shared: SharedResources): pulumi.Output<Record<string, string>> {
    return pulumi.output(Object.fromEntries(FIELDS.map((f) => [f, shared[f]]))) as pulumi.Output<Record<string, string>>;
}

/**
 * Options a stack reference may take. Never a provider: the Node SDK sends an explicit provider for every custom
 * resource (`sendProvider = custom` in @pulumi/pulumi runtime/resource.js), and the engine would then ask that
 * provider (AWS) to Read `pulumi:pulumi:StackReference`, which fails with "unrecognized resource type (Read)".
 * Stack references are served by the engine's builtin provider, which is what omitting the option selects.
 */
export type StackReferenceOptions = Omit<pulumi.CustomResourceOptions, "provider">;

/** Reads the host's `shared` output; a host that lacks a field fails the deployment with the field's name. */
export function sharedFromHost(hostStack: string, opts: StackReferenceOptions = {}): SharedResources {
    const { provider, ...safe } = opts as pulumi.CustomResourceOptions;
    if (provider !== undefined) {
        throw new Error("sharedFromHost: a stack reference must not be given a provider (the engine reads it through its builtin provider)");
    }
    const ref = new pulumi.StackReference(`host-${hostStack.replace(/\//g, "-")}`, { name: hostStack }, safe);
    const shared = ref.requireOutput("shared") as pulumi.Output<Record<string, string | undefined>>;
    const field = (f: keyof SharedResources) => shared.apply((s) => {
        const value = s?.[f];
        if (typeof value !== "string" || value.length === 0) {
            throw new Error(`host stack ${hostStack} exports no shared.${f}; deploy the host stack first`);
        }
        return value;
    });
    return Object.fromEntries(FIELDS.map((f) => [f, field(f)])) as unknown as SharedResources;
}
