/**
 * One deployment of a stack: pin (or unpin) the model version, preview, update, then verify on SageMaker that the
 * endpoint really serves what the update says. The Pulumi side goes through a {@link StackDriver}, the SageMaker
 * side through an {@link EndpointInspector}, so the whole sequence is tested with fakes and mocked clients.
 */
import { pinTagKey } from "../../contracts/registry";
import { SERVING_VARIANT } from "../../contracts/serving";
import { Io } from "../lib/cli";
import { UsageError } from "../lib/errors";
import { PinStore } from "./pin";
import { backoffDelay, Clock } from "../lib/retry";
import { formatChanges, StackBusyError, StackDriver } from "./stack-driver";
import { DeployError, EndpointInspector, EndpointState, verifyEndpoint } from "./verify";

export const MODEL_PACKAGE_ARN_KEY = "mlops:modelPackageArn";

export interface DeployRequest {
    /** Pin this version (in the registry, for the stack's environment) before updating. */
    readonly modelPackageArn?: string;
    /** Remove the pin, so the stack follows the registry's policy again. */
    readonly unpin?: boolean;
    /** The model package group the stack serves from, and the stack's environment (the pin's tag). */
    readonly registry: { readonly groupName: string; readonly environment: string };
    /** How long to wait for an endpoint still updating after `pulumi up` returns. */
    readonly verifyTimeoutMs: number;
    /** @default 15000 */
    readonly pollMs?: number;
    /**
     * How long to wait for another update of the stack to finish when its lock is held.
     * @default 2700000 (45 min: a prod canary deployment with its wait intervals)
     */
    readonly lockWaitMs?: number;
}

export interface DeployResult {
    /** The serving version's ARN, or "none" when the stack has nothing to serve yet. */
    readonly servingModelVersion: string;
    readonly endpointName?: string;
    readonly endpoint?: EndpointState;
    /** Desired instance count of the variant before and after; equal unless the update reset an autoscaled count. */
    readonly instancesBefore?: number;
    readonly instancesAfter?: number;
}

interface EndpointOutput {
    readonly configName?: string;
    readonly variantName?: string;
}

function desiredCount(endpoint: EndpointState | null | undefined, variantName: string): number | undefined {
    return endpoint?.variants.find((v) => v.name === variantName)?.desiredInstanceCount;
}

export async function runDeploy(
    request: DeployRequest,
    deps: { readonly driver: StackDriver; readonly inspector: EndpointInspector; readonly pins: PinStore; readonly io: Io; readonly clock: Clock },
): Promise<DeployResult> {
    const { driver, inspector, io, clock } = deps;
    const print = (text: string) => {
        for (const line of text.replace(/\n$/, "").split("\n")) io.out(line);
    };

    // The pin lives in the registry, which every run of the program reads; a value in the stack file wins over it.
    const { groupName, environment } = request.registry;
    const tag = pinTagKey(environment);
    const override = await driver.getConfig(MODEL_PACKAGE_ARN_KEY);
    if (request.modelPackageArn) {
        const group = /:model-package\/([^/]+)\/\d+$/.exec(request.modelPackageArn)?.[1];
        if (group !== groupName) {
            throw new UsageError(`${request.modelPackageArn} is a version of ${group ?? "no group"}; ${driver.stackName} serves from ${groupName}`);
        }
        if (override && override !== request.modelPackageArn) {
            throw new UsageError(`${driver.stackName}'s stack file sets ${MODEL_PACKAGE_ARN_KEY} = ${override}, which wins over the ` +
                `registry pin; remove it from Pulumi.${driver.stackName.split("/").pop()}.yaml to promote ${request.modelPackageArn}`);
        }
        await deps.pins.pin(groupName, environment, request.modelPackageArn);
        io.out(`${driver.stackName}: pinned ${request.modelPackageArn} (tag ${tag} on ${groupName})`);
    } else if (request.unpin) {
        await deps.pins.unpin(groupName, environment);
        io.out(`${driver.stackName}: tag ${tag} removed from ${groupName}; the stack follows the model registry's policy`);
        if (override) io.err(`warning: the stack file still pins ${override} (${MODEL_PACKAGE_ARN_KEY}); it wins until removed`);
    }

    const previous = await driver.outputs();
    const previousEndpoint = typeof previous.endpointName === "string" ? await inspector.describeEndpoint(previous.endpointName) : null;

    // Another update holding the lock is not a failure of this deployment: wait for it, within a deadline.
    const deadline = clock.now() + (request.lockWaitMs ?? 45 * 60_000);
    const whenFree = async <T>(what: string, operation: () => Promise<T>): Promise<T> => {
        for (let attempt = 0; ; attempt++) {
            try {
                return await operation();
            } catch (e) {
                if (!(e instanceof StackBusyError)) throw e;
                const wait = backoffDelay(attempt, clock, { baseMs: 15_000, capMs: 120_000 });
                if (clock.now() + wait > deadline) {
                    throw new Error(`${e.message}; gave up on ${what} after waiting ${Math.round((request.lockWaitMs ?? 45 * 60_000) / 60_000)} min`);
                }
                io.out(`${driver.stackName}: ${e.message}; ${what} again in ${Math.round(wait / 1000)} s`);
                await clock.sleep(wait);
            }
        }
    };

    io.out(`${driver.stackName}: preview`);
    const planned = await whenFree("preview", () => driver.preview(print));
    io.out(`${driver.stackName}: preview: ${formatChanges(planned)}`);

    io.out(`${driver.stackName}: update`);
    const up = await whenFree("update", () => driver.up(print));
    io.out(`${driver.stackName}: update ${up.result}: ${formatChanges(up.resourceChanges)}`);
    if (up.result !== "succeeded") throw new Error(`pulumi up on ${driver.stackName} ended ${up.result}`);

    const servingModelVersion = String(up.outputs.servingModelVersion ?? "none");
    const endpointName = typeof up.outputs.endpointName === "string" ? up.outputs.endpointName : undefined;
    if (request.modelPackageArn && servingModelVersion !== request.modelPackageArn) {
        throw new DeployError("wrong-version", `${driver.stackName} serves ${servingModelVersion} after the update, not the ` +
            `requested ${request.modelPackageArn}; check the tag ${tag} on ${groupName} and ${MODEL_PACKAGE_ARN_KEY} in the stack file`);
    }
    if (servingModelVersion === "none") {
        io.out(`${driver.stackName}: no model version to serve yet; the endpoint is not deployed and there is nothing to verify`);
        return { servingModelVersion, endpointName };
    }
    const endpointOutput = (up.outputs.endpoint ?? {}) as EndpointOutput;
    if (!endpointName || !endpointOutput.configName) {
        throw new Error(`${driver.stackName} serves ${servingModelVersion} but exports no endpointName or endpoint.configName; is the program up to date?`);
    }
    const variantName = endpointOutput.variantName ?? SERVING_VARIANT;
    const verified = await verifyEndpoint(inspector, {
        endpointName,
        configName: endpointOutput.configName,
        modelPackageArn: servingModelVersion,
        variantName,
    }, { clock, timeoutMs: request.verifyTimeoutMs, pollMs: request.pollMs, onProgress: (line) => io.out(line) });

    const instancesBefore = desiredCount(previousEndpoint, variantName);
    const instancesAfter = desiredCount(verified.endpoint, variantName);
    if (instancesBefore !== undefined && instancesAfter !== undefined && instancesAfter < instancesBefore) {
        io.err(`warning: ${endpointName} had ${instancesBefore} instances before the update and has ${instancesAfter} now; ` +
            "autoscaling will scale out again if the traffic needs it");
    }
    io.out(`${driver.stackName}: ${endpointName} is InService on ${verified.endpoint.configName}, serving ${servingModelVersion}` +
        (instancesAfter !== undefined ? ` on ${instancesAfter} instance(s)` : ""));
    return { servingModelVersion, endpointName, endpoint: verified.endpoint, instancesBefore, instancesAfter };
}
