/**
 * What the Pulumi engine and AWS would refuse although our mocks accept it, checked on the recorded graph of every
 * stack (and of the opt-in variants):
 *
 * - no `pulumi:pulumi:*` resource (stack references) carries a provider: the Node SDK sends an explicit provider
 *   for every custom resource, and the engine then asks that provider to Read the resource; an AWS provider answers
 *   "unrecognized resource type (Read)" (FIELD-NOTES, "Pulumi engine facts the mocks do not show");
 * - no stack creates an account-wide resource with a fixed name (SageMaker's job log groups, Pulumi's OIDC
 *   provider) unless its `accountResources` key opts in: creating one fails where it exists, destroying the stack
 *   would delete the account's.
 */
import { strict as assert } from "assert";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { sharedFromHost } from "../../infra/lib/shared";
import { ACCOUNT_SINGLETONS, engineViolations } from "../harness/engine-invariants";
import { definedStacks, evaluate, evaluateStack, evaluateStackOk, stackGraph } from "../harness/pulumi-harness";

describe("engine invariants (what the mocks do not refuse)", () => {
    for (const stack of definedStacks()) {
        it(`${stack}: no stack reference has a provider, no account-wide resource is owned by default`, async () => {
            const { graph } = await stackGraph(stack);
            assert.deepEqual(engineViolations(graph), []);
        });
    }

    for (const stack of ["dev", "prod"]) {
        it(`${stack} reads the platform through a stack reference that has no provider (the engine's builtin one reads it)`, async () => {
            const { graph } = await stackGraph(stack);
            const ref = graph.one("pulumi:pulumi:StackReference");
            assert.equal(ref.providerRef, undefined);
            assert.equal(ref.inputs.name, "example-org/mlops/platform");
        });
    }

    it("the check itself sees a provider given to a stack reference, and sharedFromHost refuses one", async () => {
        const { graph } = await evaluate("prod", () => {
            const provider = new aws.Provider("p", { region: "us-east-1" });
            new pulumi.StackReference("host", { name: "example-org/mlops/platform" }, { provider });
            return {};
        });
        assert.match(engineViolations(graph).join("\n"), /pulumi:pulumi:StackReference host is given the provider/);
        assert.throws(() => sharedFromHost("o/p/s", { provider: {} } as never), /must not be given a provider/);
    });

    it("each account-wide resource appears only with its opt-in key, in the stack allowed to own it", async () => {
        const platform = await evaluateStackOk("platform", { config: { accountResources: { trainingJobsLogGroup: true, pulumiOidcProvider: true } } });
        const opted = { trainingJobsLogGroup: true, pulumiOidcProvider: true };
        assert.deepEqual(engineViolations(platform.graph, opted), []);
        assert.equal(platform.graph.resources.filter(ACCOUNT_SINGLETONS[0].match).length, 1);
        assert.equal(platform.graph.resources.filter(ACCOUNT_SINGLETONS[2].match).length, 1);
        // Without the opt-in the same graph is a violation: the check can fail.
        assert.equal(engineViolations(platform.graph).length, 2);
        // An environment may not own what only the host owns: refused before anything is registered.
        const dev = await evaluateStack("dev", { config: { accountResources: { trainingJobsLogGroup: true, pulumiOidcProvider: true } } });
        assert.match(String(dev.error), /accountResources\.trainingJobsLogGroup: got true; only the host stack/);
        assert.equal(dev.graph.resources.length, 0);

        const prod = await evaluateStackOk("prod", { config: { accountResources: { processingJobsLogGroup: true } } });
        assert.deepEqual(engineViolations(prod.graph, { processingJobsLogGroup: true }), []);
        assert.equal(prod.graph.resources.filter(ACCOUNT_SINGLETONS[1].match).length, 1);
    });
});
