/**
 * What the program must know about the world before it registers anything: which model version serves (the
 * registry) and how the serving endpoint runs right now (its live instance count and version). `infra/index.ts`
 * reads both at deploy time, and `pulumi preview` prints the result; `createStack` receives it as plain data.
 */
import {
    DescribeEndpointCommand,
    DescribeEndpointConfigCommand,
    DescribeModelCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import type { StackConfig } from "./config";
import { Namer } from "../contracts/resource-names";
import { modelPackageGroupName, modelPackageGroupRef, ModelVersion, ModelVersionError } from "../contracts/registry";
import { MODEL_PACKAGE_ENV, SERVING_VARIANT } from "../contracts/serving";
import { resolveModelVersion } from "./model-version";

/** The serving endpoint as SageMaker reports it now. */
export interface LiveEndpoint {
    readonly name: string;
    /** EndpointStatus: InService, Updating, Failed, … */
    readonly status: string;
    readonly configName?: string;
    /** The variant's DesiredInstanceCount: where autoscaling has put it (instance endpoints only). */
    readonly desiredInstanceCount?: number;
    /** The InitialInstanceCount the live endpoint configuration declares. */
    readonly configInstanceCount?: number;
    /** The model package version the live configuration's model runs (its {@link MODEL_PACKAGE_ENV}). */
    readonly modelPackageArn?: string;
}

export interface DeployInputs {
    readonly modelVersion: ModelVersion | null;
    readonly liveEndpoint: LiveEndpoint | null;
}

type Client = Pick<SageMakerClient, "send">;

/** The stable physical name of a stack's endpoint (the ModelEndpoint component uses the same). */
export function endpointNameFor(config: Pick<StackConfig, "project" | "environment" | "modelName"> & { readonly nameSegment?: string }): string {
    return new Namer(config.project, config.nameSegment ?? config.environment).name("sagemaker", config.modelName);
}

function isNotFound(e: unknown): boolean {
    const err = e as { name?: string; message?: string };
    return err?.name === "ValidationException" && /could not find|not found|does not exist/i.test(err.message ?? "");
}

/** DescribeEndpoint and, for the variant, the live configuration's count and model version; null when absent. */
export async function readLiveEndpoint(client: Client, endpointName: string, variantName = SERVING_VARIANT): Promise<LiveEndpoint | null> {
    let endpoint;
    try {
        endpoint = await client.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
    } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
    }
    const variant = endpoint.ProductionVariants?.find((v) => v.VariantName === variantName);
    const live = {
        name: endpointName,
        status: endpoint.EndpointStatus ?? "unknown",
        configName: endpoint.EndpointConfigName,
        desiredInstanceCount: variant?.DesiredInstanceCount,
    };
    if (!endpoint.EndpointConfigName) return live;
    const config = await client.send(new DescribeEndpointConfigCommand({ EndpointConfigName: endpoint.EndpointConfigName }));
    const configVariant = config.ProductionVariants?.find((v) => v.VariantName === variantName);
    if (!configVariant?.ModelName) return { ...live, configInstanceCount: configVariant?.InitialInstanceCount };
    const model = await client.send(new DescribeModelCommand({ ModelName: configVariant.ModelName }));
    return {
        ...live,
        configInstanceCount: configVariant.InitialInstanceCount,
        modelPackageArn: model.PrimaryContainer?.Environment?.[MODEL_PACKAGE_ENV] ?? model.PrimaryContainer?.ModelPackageName,
    };
}

/**
 * Resolves the version to serve and reads the live endpoint. Refuses to go on when the registry offers no version
 * but an endpoint is serving: the program would delete the endpoint, which is never what "nothing approved" means.
 */
export async function resolveDeployInputs(
    config: Pick<StackConfig, "project" | "environment" | "modelName" | "hostStack" | "modelPackageArn" | "modelVersionPolicy"> &
        Partial<Pick<StackConfig, "hostAccount" | "region">>,
    deps: { readonly client: Client; readonly log?: (message: string) => void },
): Promise<DeployInputs> {
    // The host (no hostStack: the platform) serves nothing: no version to resolve, no endpoint to look at.
    if (config.hostStack === undefined) return { modelVersion: null, liveEndpoint: null };
    const groupName = modelPackageGroupName(config);
    const modelVersion = await resolveModelVersion({
        client: deps.client,
        groupName,
        // The host's registry by ARN when this stack runs in another account (config hostAccount).
        groupRef: modelPackageGroupRef(config),
        policy: config.modelVersionPolicy,
        pinnedArn: config.modelPackageArn,
        environment: config.environment,
    });
    const liveEndpoint = await readLiveEndpoint(deps.client, endpointNameFor(config));
    if (modelVersion === null && liveEndpoint !== null) {
        throw new ModelVersionError(
            `endpoint ${liveEndpoint.name} is serving${liveEndpoint.modelPackageArn ? ` ${liveEndpoint.modelPackageArn}` : ""}, ` +
            `but group ${groupName} has no version the policy ${config.modelVersionPolicy} allows; refusing to delete ` +
            "the endpoint: pin a version with mlops:modelPackageArn, or approve one");
    }
    // Which version serves is logged by the program itself (infra/serving.ts), also when nothing was resolved.
    if (liveEndpoint) {
        deps.log?.(`live endpoint ${liveEndpoint.name}: ${liveEndpoint.status}, config ${liveEndpoint.configName ?? "none"}, ` +
            `desired instances ${liveEndpoint.desiredInstanceCount ?? "n/a"}, serving ${liveEndpoint.modelPackageArn ?? "unknown version"}`);
    }
    return { modelVersion, liveEndpoint };
}
