/**
 * One deployment of a stack: pin (or unpin) the model version, preview, update, then verify on SageMaker that the
 * endpoint really serves what the update says. The Pulumi side goes through a {@link StackDriver}, the SageMaker
 * side through an {@link EndpointInspector}, so the whole sequence is tested with fakes and mocked clients.
 */
import { Io } from "../lib/cli";
import { backoffDelay, Clock } from "../lib/retry";
import { formatChanges, StackBusyError, StackDriver } from "./stack-driver";
import { DeployError, EndpointInspector, EndpointState, verifyEndpoint } from "./verify";

export const MODEL_PACKAGE_ARN_KEY = "mlops:modelPackageArn";

export interface DeployRequest {
    /** Pin this version (`mlops:modelPackageArn`) before updating. */
    readonly modelPackageArn?: string;
    /** Remove the pin, so the stack follows the registry again. */
    readonly unpin?: boolean;
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
    deps: { readonly driver: StackDriver; readonly inspector: EndpointInspector; readonly io: Io; readonly clock: Clock },
): Promise<DeployResult> {
    const { driver, inspector, io, clock } = deps;
    const print = (text: string) => {
        for (const line of text.replace(/\n$/, "").split("\n")) io.out(line);
    };

    if (request.modelPackageArn) {
        await driver.setConfig(MODEL_PACKAGE_ARN_KEY, request.modelPackageArn);
        io.out(`${driver.stackName}: ${MODEL_PACKAGE_ARN_KEY} = ${request.modelPackageArn}`);
    } else if (request.unpin) {
        await driver.removeConfig(MODEL_PACKAGE_ARN_KEY);
        io.out(`${driver.stackName}: ${MODEL_PACKAGE_ARN_KEY} removed; the stack follows the model registry`);
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
            `requested ${request.modelPackageArn}; check ${MODEL_PACKAGE_ARN_KEY} in the stack's config`);
    }
    if (servingModelVersion === "none") {
        io.out(`${driver.stackName}: no model version to serve yet; the endpoint is not deployed and there is nothing to verify`);
        return { servingModelVersion, endpointName };
    }
    const endpointOutput = (up.outputs.endpoint ?? {}) as EndpointOutput;
    if (!endpointName || !endpointOutput.configName) {
        throw new Error(`${driver.stackName} serves ${servingModelVersion} but exports no endpointName or endpoint.configName; is the program up to date?`);
    }
    const variantName = endpointOutput.variantName ?? "primary";
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
