/**
 * Runs the policy pack's stack policies over a recorded graph, the way `pulumi preview --policy-pack` would
 * hand them the resources (inputs as props, parents linked), without starting a PolicyPack server.
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { RecordedResource } from "./pulumi-harness";

export interface Violation {
    readonly policy: string;
    readonly message: string;
    readonly urn?: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export function toPolicyResources(recorded: readonly Pick<RecordedResource, "urn" | "type" | "name" | "inputs" | "parentUrn" | "protect">[]): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    const resources = recorded.map((r) => {
        const resource = {
            type: r.type,
            name: r.name,
            urn: r.urn,
            props: r.inputs,
            opts: { protect: r.protect, ignoreChanges: [], aliases: [], customTimeouts: {}, additionalSecretOutputs: [] },
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
            stackTags: new Map(),
        } as unknown as PolicyResource;
        byUrn.set(r.urn, resource);
        return resource;
    });
    recorded.forEach((r, i) => {
        (resources[i] as any).parent = r.parentUrn ? byUrn.get(r.parentUrn) : undefined;
    });
    return resources;
}

export async function runPolicies(policies: readonly StackValidationPolicy[], resources: PolicyResource[]): Promise<Violation[]> {
    const violations: Violation[] = [];
    for (const policy of policies) {
        const validate = policy.validateStack as (args: any, report: (message: string, urn?: string) => void) => void | Promise<void>;
        await validate({ resources, stackTags: new Map(), getConfig: () => ({}) }, (message, urn) => violations.push({ policy: policy.name, message, urn }));
    }
    return violations;
}
