/**
 * Proves that a deployment took: `pulumi up` can report success while SageMaker has silently rolled the endpoint
 * back to its previous configuration (terraform-provider-aws #46663, #39099). The endpoint must be InService, on
 * the endpoint configuration the update created, whose model runs the requested model package version.
 */
import {
    DescribeEndpointCommand,
    DescribeEndpointConfigCommand,
    DescribeModelCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { MODEL_PACKAGE_ENV, SERVING_VARIANT } from "../../contracts/serving";
import { fromAwsError, isStepError } from "../lib/errors";
import { backoffDelay, Clock, withRetry } from "../lib/retry";

/** What DescribeEndpoint says, reduced to what the verification needs. */
export interface EndpointState {
    readonly name: string;
    /** InService, Creating, Updating, SystemUpdating, RollingBack, OutOfService, Deleting, Failed, UpdateRollbackFailed. */
    readonly status: string;
    readonly configName?: string;
    readonly failureReason?: string;
    readonly variants: readonly { readonly name: string; readonly desiredInstanceCount?: number; readonly currentInstanceCount?: number }[];
}

/** The SageMaker reads of a verification; the AWS implementation is {@link awsEndpointInspector}. */
export interface EndpointInspector {
    /** null when the endpoint does not exist. */
    describeEndpoint(name: string): Promise<EndpointState | null>;
    /** The model package version the configuration's variant runs; undefined when its model does not say. */
    modelPackageOf(configName: string, variantName: string): Promise<string | undefined>;
}

export type DeployFailure = "rolled-back" | "failed" | "timeout" | "wrong-version";

/** A deployment that did not take; `kind` picks the exit code (steps/deploy/main.ts). */
export class DeployError extends Error {
    constructor(readonly kind: DeployFailure, message: string) {
        super(message);
        this.name = "DeployError";
    }
}

const IN_PROGRESS = new Set(["Creating", "Updating", "SystemUpdating", "RollingBack"]);

export interface VerifyRequest {
    readonly endpointName: string;
    /** The endpoint configuration the update put in service (stack output `endpoint.configName`). */
    readonly configName: string;
    /** The model package version that must serve. */
    readonly modelPackageArn: string;
    /** @default SERVING_VARIANT */
    readonly variantName?: string;
}

export interface VerifyOptions {
    readonly clock: Clock;
    /** Give up waiting for an endpoint still being updated after this long. */
    readonly timeoutMs: number;
    /**
     * First wait between polls; later waits back off up to a minute.
     * @default 15000
     */
    readonly pollMs?: number;
    readonly onProgress?: (line: string) => void;
}

export interface VerifiedEndpoint {
    readonly endpoint: EndpointState;
    readonly modelPackageArn: string;
    /** Polls it took (1 when the endpoint was already settled). */
    readonly polls: number;
}

/**
 * Waits for the endpoint to settle, then checks configuration and model version. Throws {@link DeployError}:
 * `failed` (Failed, UpdateRollbackFailed, OutOfService, gone), `rolled-back` (InService on another
 * configuration), `wrong-version` (the configuration runs another model package), `timeout` (still updating).
 */
export async function verifyEndpoint(inspector: EndpointInspector, request: VerifyRequest, options: VerifyOptions): Promise<VerifiedEndpoint> {
    const { clock } = options;
    const variantName = request.variantName ?? SERVING_VARIANT;
    const deadline = clock.now() + options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
        const endpoint = await inspector.describeEndpoint(request.endpointName);
        if (!endpoint) {
            throw new DeployError("failed", `endpoint ${request.endpointName} does not exist after the update`);
        }
        const reason = endpoint.failureReason ? `: ${endpoint.failureReason}` : "";
        if (endpoint.status === "InService") {
            if (endpoint.configName !== request.configName) {
                throw new DeployError("rolled-back",
                    `SageMaker rolled back ${request.endpointName} to ${endpoint.configName ?? "an unknown configuration"}` +
                    `${reason || " (DescribeEndpoint gives no FailureReason; see the rollback alarms and the endpoint's events)"}; ` +
                    `the update's configuration ${request.configName} is not in service`);
            }
            const serving = await inspector.modelPackageOf(endpoint.configName, variantName);
            if (serving !== request.modelPackageArn) {
                throw new DeployError("wrong-version",
                    `${request.endpointName} is InService on ${endpoint.configName}, but its variant ${variantName} runs ` +
                    `${serving ?? "a model that records no model package version"}, not ${request.modelPackageArn}`);
            }
            return { endpoint, modelPackageArn: serving, polls: attempt + 1 };
        }
        if (!IN_PROGRESS.has(endpoint.status)) {
            throw new DeployError("failed", `endpoint ${request.endpointName} is ${endpoint.status}${reason || " (no FailureReason given)"}`);
        }
        const left = deadline - clock.now();
        if (left <= 0) {
            throw new DeployError("timeout", `endpoint ${request.endpointName} is still ${endpoint.status} after ` +
                `${Math.round(options.timeoutMs / 1000)} s; the deployment may still finish or roll back: check it again with this step`);
        }
        const wait = Math.min(left, backoffDelay(attempt, clock, { baseMs: options.pollMs ?? 15_000, capMs: 60_000 }));
        options.onProgress?.(`endpoint ${request.endpointName} is ${endpoint.status}; checking again in ${Math.round(wait / 1000)} s`);
        await clock.sleep(wait);
    }
}

/** {@link EndpointInspector} over the SageMaker API; throttled calls are retried with backoff. */
export function awsEndpointInspector(client: Pick<SageMakerClient, "send">, clock: Clock): EndpointInspector {
    const call = <T>(operation: string, fn: () => Promise<T>) =>
        withRetry(async () => {
            try {
                return await fn();
            } catch (e) {
                throw fromAwsError(e, operation);
            }
        }, clock);
    return {
        async describeEndpoint(name) {
            try {
                const out = await call("DescribeEndpoint", () => client.send(new DescribeEndpointCommand({ EndpointName: name })));
                return {
                    name,
                    status: out.EndpointStatus ?? "unknown",
                    configName: out.EndpointConfigName,
                    failureReason: out.FailureReason,
                    variants: (out.ProductionVariants ?? []).map((v) => ({
                        name: v.VariantName ?? "",
                        desiredInstanceCount: v.DesiredInstanceCount,
                        currentInstanceCount: v.CurrentInstanceCount,
                    })),
                };
            } catch (e) {
                // SageMaker answers a missing endpoint with ValidationException "Could not find endpoint …".
                if (isStepError(e, "not-found") || (isStepError(e, "invalid") && /could not find endpoint/i.test(e.message))) return null;
                throw e;
            }
        },
        async modelPackageOf(configName, variantName) {
            const config = await call("DescribeEndpointConfig", () => client.send(new DescribeEndpointConfigCommand({ EndpointConfigName: configName })));
            const variant = config.ProductionVariants?.find((v) => v.VariantName === variantName);
            if (!variant?.ModelName) return undefined;
            const model = await call("DescribeModel", () => client.send(new DescribeModelCommand({ ModelName: variant.ModelName })));
            return model.PrimaryContainer?.Environment?.[MODEL_PACKAGE_ENV] ?? model.PrimaryContainer?.ModelPackageName;
        },
    };
}
