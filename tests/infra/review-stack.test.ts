/**
 * Review stacks for pull requests: Pulumi Deployments copies the template's stack file (`Pulumi.pr.yaml`) into every
 * review stack it creates, under a stack name of its own. These tests evaluate review stacks exactly so — the
 * template's file under realistic review stack names, no code change, no config override — and check what makes
 * them safe and cheap: their own physical names within AWS's limits, cheap settings applied by the program, a TTL,
 * the template the platform stack registers, and (IAM simulation) a deployer that may create and destroy a review stack's
 * resources, autoscaling deregistration included, and is denied dev's and prod's.
 */
import { strict as assert } from "assert";
import { ConfigError, loadConfig, parseConfig, reviewNameSegment } from "../../infra/config";
import { ReviewStackTtl, ttlTimestamp } from "../../infra/components/review-stacks";
import { NAME_LIMITS } from "../../contracts/resource-names";
import { createStack } from "../../infra/program";
import { readStackConfig } from "../../infra/stack-files";
import { boundaryPolicies, decide, keyPolicies, NamedPolicy, notAllowed, policiesOfRole, Request, rolesNamed } from "../harness/iam-oracle";
import { deployRequests } from "../harness/deploy-requests";
import { ACCOUNT_ID, evaluate, evaluateStack, evaluateStackOk, modelVersionFixture, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const TEMPLATE = "pr";
const SETTINGS = "pulumiservice:index:DeploymentSettings";
const TTL = "pulumiservice:index:TtlSchedule";
/** The template and the role its review stacks deploy with are the platform's (deployed by administrators only). */
const OWNER = "platform";
const REVIEW_ROLE = `mlops-${OWNER}-review-deployments`;

/**
 * Review stack names as Pulumi Cloud could give them: the prefix observed on its review stacks
 * (`pr-pulumi-<org>-<project or repository>-<pull request>`), a six-digit pull request, a long organization and
 * repository, and a name without a number (the program must not depend on the format).
 */
const REVIEW_STACKS = [
    "pr-pulumi-example-org-sagemaker-mlops-1234",
    "pr-pulumi-example-org-mlops-7",
    "pr-pulumi-example-org-sagemaker-mlops-987654",
    "pr-pulumi-example-org-a-very-long-repository-name-for-the-churn-model-platform-team-42",
    "review-of-feature.branch_x",
];

/** Physical names AWS limits, by resource type (the limits of infra/naming.ts, as tests/infra/stack-invariants.test.ts). */
const LIMITED: Record<string, { field: string; limit: number }> = {
    "aws:s3/bucket:Bucket": { field: "bucket", limit: NAME_LIMITS.s3Bucket },
    "aws:sagemaker/endpoint:Endpoint": { field: "name", limit: NAME_LIMITS.sagemaker },
    "aws:iam/role:Role": { field: "name", limit: NAME_LIMITS.iamRole },
    "aws:iam/policy:Policy": { field: "name", limit: NAME_LIMITS.iamPolicy },
    "aws:sns/topic:Topic": { field: "name", limit: NAME_LIMITS.snsTopic },
    "aws:cloudwatch/metricAlarm:MetricAlarm": { field: "name", limit: NAME_LIMITS.alarm },
    "aws:cloudwatch/dashboard:Dashboard": { field: "dashboardName", limit: NAME_LIMITS.dashboard },
    "aws:cloudwatch/logGroup:LogGroup": { field: "name", limit: NAME_LIMITS.logGroup },
    "aws:kms/alias:Alias": { field: "name", limit: NAME_LIMITS.kmsAlias },
    "aws:appautoscaling/policy:Policy": { field: "name", limit: NAME_LIMITS.scalingPolicy },
};

/** Every explicitly set physical name of a graph (autonamed models and configurations have none). */
function physicalNames(graph: StackGraph): { type: string; value: string }[] {
    return graph.resources.flatMap((r) => {
        const rule = LIMITED[r.type];
        const value = rule && (r.inputs[rule.field] ?? (r.type === "aws:s3/bucket:Bucket" ? r.state.bucket : undefined));
        return typeof value === "string" ? [{ type: r.type, value }] : [];
    });
}

/** IAM's StringLike: `*` any run of characters, `?` one, everything else literal (IAM User Guide, condition operators). */
function iamStringLike(pattern: string, value: string): boolean {
    const regex = pattern.split("").map((c) => c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")).join("");
    return new RegExp(`^${regex}$`, "s").test(value);
}

/** The subject Pulumi Deployments puts in a run's OIDC token (pulumi.com/docs/deployments/deployments/oidc). */
const subjectOf = (stack: string, operation = "update", org = "example-org") =>
    `pulumi:deploy:org:${org}:project:mlops:stack:${stack}:operation:${operation}:scope:write`;

/** A review stack evaluated from the template's stack file only. */
const reviewStack = (stack: string, config?: Record<string, unknown>) =>
    evaluateStackOk(stack, { stackFile: TEMPLATE, ...(config ? { config } : {}) });

describe("review stacks: evaluated from the template's stack file only", function () {
    this.timeout(300_000);
    const graphs = new Map<string, StackGraph>();
    let startedAt: number;
    let finishedAt: number;
    before(async () => {
        startedAt = Date.now();
        for (const stack of REVIEW_STACKS) graphs.set(stack, (await reviewStack(stack)).graph);
        finishedAt = Date.now();
    });
    const first = () => graphs.get(REVIEW_STACKS[0])!;

    it("the template's stack file carries the review stack's identity only: the cheap settings come from the program", () => {
        const keys = Object.keys(readStackConfig(TEMPLATE)).sort();
        assert.deepEqual(keys, ["aws:region", "mlops:alertEmail", "mlops:environment", "mlops:hostStack", "mlops:modelName",
            "mlops:modelVersionPolicy", "mlops:owner", "mlops:review"]);
        assert.equal(readStackConfig(TEMPLATE)["mlops:environment"], "review");
    });

    it("serves from the smallest serverless endpoint, with no monitoring schedule, Glue job, queue or instance fleet", () => {
        for (const [stack, graph] of graphs) {
            const [variant] = graph.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs.productionVariants;
            // 1024 MB is the smallest serverless memory size and 1 the smallest concurrency (CreateEndpointConfig).
            assert.deepEqual(variant.serverlessConfig, { memorySizeInMb: 1024, maxConcurrency: 1 }, stack);
            assert.equal(variant.instanceType, undefined, stack);
            for (const type of ["aws:sagemaker/monitoringSchedule:MonitoringSchedule", "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition",
                "aws:cloudformation/stack:Stack", "aws:glue/job:Job", "aws:appautoscaling/target:Target", SETTINGS]) {
                assert.equal(graph.ofType(type).length, 0, `${stack}: ${type}`);
            }
        }
    });

    it("gets the smallest Glue capacity and no monitoring in its config, from the template's file alone", () => {
        const config = parseConfig(
            Object.fromEntries(Object.entries(readStackConfig(TEMPLATE)).filter(([k]) => k.startsWith("mlops:"))
                .map(([k, v]) => [k.slice("mlops:".length), k === "mlops:review" ? JSON.parse(v) : v])),
            { stack: REVIEW_STACKS[0], region: "us-east-1" },
        );
        // G.1X is the smallest worker type of Spark jobs and 2 the fewest workers Glue accepts for it.
        assert.deepEqual([config.etl.workerType, config.etl.numberOfWorkers], ["G.1X", 2]);
        assert.equal(config.monitoring.enabled, false);
        assert.equal(config.protectData, false);
        assert.equal(config.logRetentionDays, 1);
        assert.equal(config.deployments.enabled, false);
    });

    it("keeps logs the shortest time CloudWatch allows and protects nothing, so it can be destroyed", async () => {
        let groups = 0;
        for (const group of first().ofType("aws:cloudwatch/logGroup:LogGroup")) {
            groups += 1;
            assert.equal(group.inputs.retentionInDays, 1, group.name);
        }
        assert.ok(groups > 0);
        for (const bucket of first().ofType("aws:s3/bucket:Bucket")) assert.equal(bucket.inputs.forceDestroy, true, bucket.name);
        assert.equal(first().one("aws:kms/key:Key").inputs.deletionWindowInDays, 7);
        // `protect` is a resource option the mock monitor does not report per type: observe it with a transformation.
        const protectedNames: string[] = [];
        const result = await evaluate(REVIEW_STACKS[0], () => createStack(loadConfig(), {
            modelVersion: modelVersionFixture(),
            transformations: [(args) => { if (args.opts.protect) protectedNames.push(args.name); return undefined; }],
        }), { stackFile: TEMPLATE });
        assert.equal(result.error, undefined);
        assert.deepEqual(protectedNames, []);
    });

    it("has physical names of its own, distinct from dev's, prod's and every other review stack's", async () => {
        const dev = (await stackGraph("dev")).graph;
        const prod = (await stackGraph("prod")).graph;
        const owner = new Map<string, string>();
        for (const [stack, graph] of [["dev", dev], ["prod", prod], ...graphs] as [string, StackGraph][]) {
            for (const { value } of physicalNames(graph)) {
                if (value.startsWith("TargetTracking")) continue;
                const other = owner.get(value);
                assert.ok(other === undefined || other === stack, `${value} is both ${other}'s and ${stack}'s`);
                owner.set(value, stack);
            }
        }
        for (const [stack, graph] of graphs) {
            const segment = reviewNameSegment(stack);
            const names = physicalNames(graph);
            assert.ok(names.length >= 15, `${stack}: ${names.length} names`);
            for (const { type, value } of names) {
                // Every name carries the review prefix the review deployer is scoped to (`mlops-pr-…`).
                assert.ok(value.includes(`mlops-${segment}`) && segment.startsWith("pr-"), `${stack}: ${type} ${value}`);
            }
        }
    });

    it("keeps every physical name within its AWS limit for realistic review stack names", () => {
        const tooLong: string[] = [];
        let checked = 0;
        for (const [stack, graph] of graphs) {
            for (const { type, value } of physicalNames(graph)) {
                checked += 1;
                const { limit } = LIMITED[type];
                if (value.length > limit) tooLong.push(`${stack}: ${type} ${value} (${value.length} > ${limit})`);
            }
        }
        assert.ok(checked >= 15 * REVIEW_STACKS.length);
        assert.deepEqual(tooLong, []);
        // The longest derived segment: a six-digit pull request plus the hash.
        assert.equal(reviewNameSegment(REVIEW_STACKS[2]).length, "pr-987654-abcd".length);
    });

    it("names a review stack after its pull request, and tells two stacks of one pull request number apart", () => {
        assert.match(reviewNameSegment("pr-pulumi-example-org-sagemaker-mlops-1234"), /^pr-1234-[0-9a-f]{4}$/);
        assert.match(reviewNameSegment("review-of-feature.branch_x"), /^pr-[0-9a-f]{6}$/);
        assert.notEqual(reviewNameSegment("pr-pulumi-example-org-mlops-7"), reviewNameSegment("pr-pulumi-other-org-mlops-7"));
        assert.equal(reviewNameSegment("pr-pulumi-example-org-mlops-7"), reviewNameSegment("pr-pulumi-example-org-mlops-7"));
    });

    it("tags its resources with the review environment and its stack", () => {
        for (const [stack, graph] of graphs) {
            const tags = JSON.parse(graph.one("pulumi:providers:aws").inputs.defaultTags).tags;
            assert.equal(tags.environment, "review");
            assert.equal(tags["pulumi-stack"], stack);
        }
    });

    it("registers a TTL schedule that destroys the stack ttlHours after its first deployment", () => {
        for (const [stack, graph] of graphs) {
            const ttl = graph.one(TTL).inputs;
            assert.deepEqual([ttl.organization, ttl.project, ttl.stack, ttl.deleteAfterDestroy], ["example-org", "mlops", stack, false]);
            assert.match(ttl.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
            // Evaluations ran between startedAt and finishedAt; the timestamp has whole seconds.
            const at = Date.parse(ttl.timestamp);
            assert.ok(at >= startedAt - 1000 + 48 * 3_600_000 && at <= finishedAt + 48 * 3_600_000, `${stack}: ${ttl.timestamp}`);
        }
    });

    it("takes the TTL from the template's review.ttlHours, and keeps the first timestamp on later deployments", async () => {
        const before = Date.now();
        const { graph } = await reviewStack(REVIEW_STACKS[0], { review: { ttlHours: 2 } });
        const at = Date.parse(graph.one(TTL).inputs.timestamp);
        assert.ok(at >= before - 1000 + 2 * 3_600_000 && at <= Date.now() + 2 * 3_600_000);
        const ignored: string[][] = [];
        await evaluate(REVIEW_STACKS[0], () => new ReviewStackTtl("ttl", { organization: "example-org", project: "mlops", stack: "s", ttlHours: 1 }, {
            transformations: [(args) => { if (args.type === TTL) ignored.push([...(args.opts.ignoreChanges ?? [])]); return undefined; }],
        }), { stackFile: TEMPLATE });
        assert.deepEqual(ignored, [["timestamp"]]);
        // 0: no schedule (a CI job that creates review stacks destroys them itself, scripts/review-stack.ts).
        assert.equal((await reviewStack(REVIEW_STACKS[0], { review: { ttlHours: 0 } })).graph.ofType(TTL).length, 0);
        assert.equal(ttlTimestamp(new Date("2030-01-31T18:00:00.750Z"), 30), "2030-02-02T00:00:00Z");
    });

    it("refuses a review stack that protects data, has no host, or registers deployment settings of its own", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ protectData: true }, /mlops:protectData: got true; a review stack must be destroyable/],
            [{ hostStack: undefined }, /mlops:hostStack: .*a review stack serves from a host's registry/],
            [{ deployments: { enabled: true, organization: "example-org", repository: "example-org/sagemaker-mlops" } },
                /mlops:deployments.enabled: got true; a review stack's deployment settings are the template's/],
            [{ review: { ttlHours: 721 } }, /mlops:review.ttlHours: got 721/],
        ];
        for (const [config, message] of cases) {
            const result = await evaluateStack(REVIEW_STACKS[0], { stackFile: TEMPLATE, config });
            assert.ok(result.error instanceof ConfigError, `${JSON.stringify(config)}: ${result.error}`);
            assert.match(result.error.message, message);
            assert.equal(result.graph.resources.filter((r) => r.type.startsWith("aws:")).length, 0);
        }
        const dev = await evaluateStack("dev", { config: { review: { ttlHours: 4 } } });
        assert.match(String(dev.error?.message), /mlops:review: .*only a review stack \(environment: review\) has a review section/);
    });
});

describe("review stacks: the template the platform stack registers", function () {
    this.timeout(120_000);
    let owner: StackGraph;
    let outputs: Record<string, any>;
    before(async () => {
        ({ graph: owner, outputs } = await stackGraph(OWNER));
    });

    it("sets the template flag on the settings of the template stack, not on the platform's own", () => {
        const template = owner.one(SETTINGS, "review-stacks-settings").inputs;
        assert.deepEqual([template.organization, template.project, template.stack], ["example-org", "mlops", TEMPLATE]);
        assert.equal(template.vcs.pullRequestTemplate, true);
        // The template is never deployed itself.
        assert.deepEqual([template.vcs.deployCommits, template.vcs.previewPullRequests], [false, false]);
        assert.equal(template.sourceContext.git.branch, "refs/heads/main");
        assert.ok(template.vcs.paths.includes("Pulumi.pr.yaml") && !template.vcs.paths.includes(`Pulumi.${OWNER}.yaml`));
        assert.equal(template.operationContext.oidc.aws.roleARN, outputs.reviewDeploymentsRoleArn);
        const own = owner.one(SETTINGS, "deployments-settings").inputs;
        assert.equal(own.vcs.pullRequestTemplate, false);
        assert.notEqual(own.operationContext.oidc.aws.roleARN, template.operationContext.oidc.aws.roleARN);
    });

    it("registers no template when deployments.reviewStacks is not set", async () => {
        const { graph } = await evaluateStackOk(OWNER, { config: { deployments: { ...JSON.parse(readStackConfig(OWNER)["mlops:deployments"]), reviewStacks: undefined } } });
        assert.equal(graph.ofType(SETTINGS).length, 1);
        assert.equal(rolesNamed(graph, new RegExp(`^${REVIEW_ROLE}$`)).length, 0);
    });

    it("lets only review stacks' deployment tokens assume the review role, never dev's, prod's or another organization's", () => {
        const [role] = rolesNamed(owner, new RegExp(`^${REVIEW_ROLE}$`));
        const [statement] = JSON.parse(role.inputs.assumeRolePolicy).Statement;
        assert.equal(statement.Action, "sts:AssumeRoleWithWebIdentity");
        assert.equal(statement.Condition.StringEquals["api.pulumi.com/oidc:aud"], "example-org");
        const pattern: string = statement.Condition.StringLike["api.pulumi.com/oidc:sub"];
        for (const stack of REVIEW_STACKS.slice(0, 4)) {
            for (const op of ["preview", "update", "destroy"]) assert.ok(iamStringLike(pattern, subjectOf(stack, op)), `${stack} ${op}`);
        }
        for (const subject of [subjectOf("dev"), subjectOf("prod"), subjectOf(TEMPLATE), subjectOf("pr-pulumi-example-org-mlops-7", "update", "other-org"),
            "pulumi:deploy:org:example-org:project:other-project:stack:pr-pulumi-example-org-mlops-7:operation:update:scope:write"]) {
            assert.equal(iamStringLike(pattern, subject), false, subject);
        }
    });

    it("(the matcher can fail) the platform's own role trusts its own subject and not a review stack's", () => {
        const [statement] = JSON.parse(owner.one("aws:iam/role:Role", "deployments-role").inputs.assumeRolePolicy).Statement;
        const pattern: string = statement.Condition.StringLike["api.pulumi.com/oidc:sub"];
        assert.ok(iamStringLike(pattern, subjectOf(OWNER)));
        assert.equal(iamStringLike(pattern, subjectOf(REVIEW_STACKS[0])), false);
    });

    it("attaches the review deployer's policy as managed policies within IAM's 6,144-character limit", () => {
        const [role] = rolesNamed(owner, new RegExp(`^${REVIEW_ROLE}$`));
        const policies = policiesOfRole(owner, role);
        assert.deepEqual(policies.map((p) => p.name).sort(), ["review-stacks-role-identity", "review-stacks-role-serving", "review-stacks-role-storage"]);
        for (const p of policies) {
            const size = JSON.stringify(p.policy).length;
            assert.ok(size > 500 && size <= 6144, `${p.name}: ${size} characters`);
        }
        // The review deployer manages no host resources (no registry, pipeline, Glue job, image repository).
        const actions = new Set(policies.flatMap((p) => p.policy.Statement.flatMap((st: any) => [st.Action].flat())));
        for (const hostOnly of ["sagemaker:CreateModelPackageGroup", "codepipeline:CreatePipeline", "glue:CreateJob", "ecr:CreateRepository"]) {
            assert.equal(actions.has(hostOnly), false, hostOnly);
        }
    });

    it("refuses a review stack name pattern that would trust nearly any stack", async () => {
        const deployments = { ...JSON.parse(readStackConfig(OWNER)["mlops:deployments"]), reviewStacks: { stackNamePattern: "*" } };
        const result = await evaluateStack(OWNER, { config: { deployments } });
        assert.match(String(result.error?.message), /stackNamePattern "\*" would match nearly any stack/);
    });
});

describe("review stacks: teardown order of an autoscaled endpoint", function () {
    this.timeout(120_000);

    it("deletes the scaling policy, then deregisters the target, then deletes the endpoint", async () => {
        const { graph } = await stackGraph("prod");
        const endpoint = graph.one("aws:sagemaker/endpoint:Endpoint");
        const target = graph.one("aws:appautoscaling/target:Target");
        const policy = graph.one("aws:appautoscaling/policy:Policy");
        // `pulumi destroy` deletes a resource before the resources it depends on.
        assert.ok(target.dependencies.includes(endpoint.urn), "the target must depend on the endpoint");
        assert.ok(policy.dependencies.includes(target.urn), "the policy must depend on the target");
        assert.equal(endpoint.dependencies.includes(target.urn), false);
    });
});

describe("review stacks: IAM simulation of the review deployer (oracle: AWS's evaluation logic)", function () {
    this.timeout(600_000);
    let dev: StackGraph;
    let prod: StackGraph;
    let review: StackGraph;
    let autoscaledReview: StackGraph;
    let deployer: { principal: string; policies: NamedPolicy[]; boundary: NamedPolicy };
    const keys = () => keyPolicies(dev, prod, review, autoscaledReview);
    const scalableTarget = `arn:aws:application-autoscaling:us-east-1:${ACCOUNT_ID}:scalable-target/0123456789abcdef0123456789abcdef`;
    const teardown = (environment: string): Request[] => ["application-autoscaling:DeleteScalingPolicy", "application-autoscaling:DeregisterScalableTarget"]
        .map((action) => ({ action, resource: scalableTarget, context: { "application-autoscaling:service-namespace": "sagemaker", "aws:ResourceTag/environment": environment } }));
    /** Requests that remove something: what `pulumi destroy` makes. */
    const isDestroy = (r: Request) => /:(Delete|Deregister|Remove|Detach|Untag|Unsubscribe|ScheduleKeyDeletion|DisassociateKmsKey)/.test(r.action);

    before(async () => {
        dev = (await stackGraph("dev")).graph;
        prod = (await stackGraph("prod")).graph;
        review = (await reviewStack(REVIEW_STACKS[0])).graph;
        // A template that asks for instances with autoscaling (allowed, not the default), so the deployer's teardown of
        // a scaling setup is part of what is simulated.
        autoscaledReview = (await reviewStack(REVIEW_STACKS[1], {
            endpoint: { kind: "instances", instanceType: "ml.m5.large", instanceCount: 1, autoscaling: { enabled: true, minCapacity: 1, maxCapacity: 2 } },
        })).graph;
        const platform = (await stackGraph(OWNER)).graph;
        const [role] = rolesNamed(platform, new RegExp(`^${REVIEW_ROLE}$`));
        // Simulated with its permissions boundary (the platform creates it), as AWS evaluates it.
        const boundary = boundaryPolicies(platform).get(role.inputs.permissionsBoundary);
        assert.ok(boundary, `no boundary policy ${role.inputs.permissionsBoundary} in the platform stack`);
        assert.match(boundary.name, /-review$/);
        deployer = { principal: role.state.arn, policies: policiesOfRole(platform, role), boundary };
        assert.ok(deployer.policies.length > 0);
    });

    for (const which of ["serverless", "autoscaled"] as const) {
        it(`may create, update and destroy every resource of a ${which} review stack`, async () => {
            const graph = which === "serverless" ? review : autoscaledReview;
            const { requests } = deployRequests(graph, "review");
            const destroys = requests.filter(isDestroy);
            const refused = await notAllowed(deployer.policies, deployer.principal, requests, keys(), deployer.boundary);
            console.log(`      ${which}: ${requests.length} requests (${destroys.length} destroy) on ${new Set(requests.map((r) => r.resource)).size} ARNs`);
            assert.ok(destroys.length >= 25);
            if (which === "autoscaled") assert.ok(requests.some((r) => r.action === "application-autoscaling:DeregisterScalableTarget"));
            assert.deepEqual(refused, []);
        });
    }

    it("may create the review stack's key only tagged as review, and retag no other environment's key", async () => {
        const create = (environment: string): Request => ({ action: "kms:CreateKey", resource: "*", context: { "aws:RequestTag/environment": environment } });
        assert.equal(await decide(deployer.policies, deployer.principal, create("review"), undefined, deployer.boundary), "Allowed");
        assert.notEqual(await decide(deployer.policies, deployer.principal, create("dev"), undefined, deployer.boundary), "Allowed");
        const devKey = dev.one("aws:kms/key:Key").state.arn;
        const retag: Request = { action: "kms:TagResource", resource: devKey, context: { "aws:ResourceTag/environment": "dev", "aws:RequestTag/environment": "review" } };
        assert.equal(await decide(deployer.policies, deployer.principal, retag, keys(), deployer.boundary), "ExplicitlyDenied");
    });

    it("may deregister and delete the scaling of review endpoints only", async () => {
        assert.deepEqual(await notAllowed(deployer.policies, deployer.principal, teardown("review"), undefined, deployer.boundary), []);
        for (const environment of ["dev", "prod"]) {
            for (const r of teardown(environment)) {
                assert.notEqual(await decide(deployer.policies, deployer.principal, r, undefined, deployer.boundary), "Allowed", `${r.action} on ${environment}`);
            }
        }
    });

    for (const target of ["dev", "prod"] as const) {
        it(`is denied every destroy request on ${target}'s resources`, async () => {
            const graph = target === "dev" ? dev : prod;
            const destroys = deployRequests(graph, target).requests.filter(isDestroy);
            const allowed: string[] = [];
            for (const r of destroys) {
                if (await decide(deployer.policies, deployer.principal, r, keys(), deployer.boundary) === "Allowed") allowed.push(`${r.action} on ${r.resource}`);
            }
            console.log(`      ${target}: ${destroys.length} destroy requests denied`);
            assert.ok(destroys.length >= 25, `only ${destroys.length} destroy requests: the simulation would prove little`);
            assert.deepEqual(allowed, []);
        });
    }

    it("(the simulation can fail) dev's own deployer is allowed the destroy of dev's resources", async () => {
        const [role] = rolesNamed(dev, /^mlops-dev-pulumi-deployments$/);
        const destroys = deployRequests(dev, "dev").requests.filter(isDestroy).slice(0, 20);
        assert.deepEqual(await notAllowed(policiesOfRole(dev, role), role.state.arn, destroys, keys()), []);
    });
});
