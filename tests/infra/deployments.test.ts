/**
 * Pulumi Deployments per stack: the settings each stack registers, the OIDC role only that stack's deployments can
 * assume, its permissions (the same deploy policy as the pipeline's deploy project), and the schedules.
 */
import { strict as assert } from "assert";
import { DeployProjects } from "../../infra/components/deploy-projects";
import { deploymentPaths, Deployments, DeploymentsArgs, deploySessionSeconds, goDuration, PULUMI_OIDC_THUMBPRINT } from "../../infra/components/deployments";
import { parseConfig } from "../../infra/config";
import { testBed } from "../harness/fixtures";
import { ACCOUNT_ID, evaluate, evaluateStack, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const SETTINGS = "pulumiservice:index:DeploymentSettings";
const DRIFT = "pulumiservice:index:DriftSchedule";
const TTL = "pulumiservice:index:TtlSchedule";
const OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider";
const GROUP_ARN = `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package-group/mlops-platform-churn`;

const trustOf = (role: RecordedResource) => JSON.parse(role.inputs.assumeRolePolicy).Statement;
const deploymentsRole = (graph: StackGraph) => graph.one("aws:iam/role:Role", "deployments-role");
const policiesUnder = (graph: StackGraph, prefix: string) =>
    graph.ofType("aws:iam/policy:Policy").filter((p) => p.name.startsWith(prefix)).sort((a, b) => a.name.localeCompare(b.name));

/** The component alone in a stack's real context, with overrides of the args the program would pass. */
function deploymentsProgram(overrides: Partial<DeploymentsArgs> = {}) {
    return () => {
        const { config, context, opts } = testBed();
        const deployments = new Deployments("deployments", {
            context,
            organization: "example-org",
            project: config.project,
            stack: config.stack,
            repository: "example-org/sagemaker-mlops",
            branch: "main",
            previewPullRequests: true,
            deployCommits: false,
            createOidcProvider: config.isHost,
            deployScope: { environment: config.environment, isHost: config.isHost, modelPackageGroupArn: GROUP_ARN },
            ...overrides,
        }, opts);
        return { roleArn: deployments.roleArn };
    };
}

describe("deployments: dev stack", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    before(async () => {
        ({ graph, outputs } = await stackGraph("dev"));
    });

    it("registers deployment settings for its own stack: PR previews on, commits deployed, GitHub, not itself a review stack template", () => {
        const settings = graph.one(SETTINGS, "deployments-settings").inputs;
        assert.deepEqual([settings.organization, settings.project, settings.stack], ["example-org", "mlops", "dev"]);
        assert.deepEqual({ ...settings.vcs, paths: undefined }, {
            provider: "github",
            repository: "example-org/sagemaker-mlops",
            deployCommits: true,
            previewPullRequests: true,
            pullRequestTemplate: false,
            paths: undefined,
        });
        assert.deepEqual(settings.vcs.paths, deploymentPaths("dev", false));
        assert.ok(!settings.vcs.paths.includes("etl/**"), "the ETL is the platform's");
        assert.ok(settings.vcs.paths.includes("Pulumi.dev.yaml") && !settings.vcs.paths.includes("Pulumi.prod.yaml"));
        assert.deepEqual(settings.sourceContext, { git: { branch: "refs/heads/main" } });
        assert.equal(settings.github, undefined, "the deprecated github block is not used");
    });

    it("runs with the lockfile's dependencies and OIDC credentials of its own role", () => {
        const context = graph.one(SETTINGS, "deployments-settings").inputs.operationContext;
        assert.deepEqual(context.preRunCommands, ["npm ci --no-audit --no-fund"]);
        assert.equal(context.options.skipInstallDependencies, true);
        assert.deepEqual(context.oidc.aws, { roleARN: outputs.deploymentsRoleArn, sessionName: "pulumi-deployments-dev", duration: "1h0m0s" });
        assert.equal(context.environmentVariables.AWS_REGION, "us-east-1");
        assert.ok(!Object.keys(context.environmentVariables).some((k) => /TOKEN|SECRET|PASSWORD/.test(k)), "no secret in plaintext");
    });

    it("refers to the account's Pulumi OIDC provider by default (set up once per account, docs/delivery.md)", () => {
        assert.equal(graph.ofType(OIDC_PROVIDER).length, 0);
    });

    it("with accountResources.pulumiOidcProvider (the platform only), registers the provider with both audiences and a thumbprint", async () => {
        const { graph: owning } = await evaluateStack("platform", { config: { accountResources: { pulumiOidcProvider: true } } });
        const provider = owning.one(OIDC_PROVIDER).inputs;
        assert.deepEqual(trustOf(deploymentsRole(owning))[0].Principal, { Federated: owning.one(OIDC_PROVIDER).state.arn });
        assert.equal(provider.url, "https://api.pulumi.com/oidc");
        assert.deepEqual(provider.clientIdLists, ["example-org", "aws:example-org"]);
        assert.deepEqual(provider.thumbprintLists, [PULUMI_OIDC_THUMBPRINT]);
        assert.match(PULUMI_OIDC_THUMBPRINT, /^[0-9a-f]{40}$/);
    });

    it("lets only this stack's deployment tokens assume the role", () => {
        const [statement, ...rest] = trustOf(deploymentsRole(graph));
        assert.equal(rest.length, 0);
        assert.equal(statement.Action, "sts:AssumeRoleWithWebIdentity");
        assert.deepEqual(statement.Principal, { Federated: `arn:aws:iam::${ACCOUNT_ID}:oidc-provider/api.pulumi.com/oidc` });
        assert.deepEqual(statement.Condition, {
            StringEquals: { "api.pulumi.com/oidc:aud": "example-org" },
            StringLike: { "api.pulumi.com/oidc:sub": "pulumi:deploy:org:example-org:project:mlops:stack:dev:*" },
        });
    });

    it("gives the role exactly the pipeline's dev deploy policy, as managed policies of our own", async () => {
        const role = deploymentsRole(graph);
        const mine = policiesUnder(graph, "deployments-role-");
        const pipelines = policiesUnder((await stackGraph("platform")).graph, "delivery-deploy-dev-stack-");
        assert.equal(mine.length, 3, "storage, identity, serving: no host part, dev deploys none of the platform");
        assert.deepEqual(mine.map((p) => JSON.parse(p.inputs.policy)), pipelines.map((p) => JSON.parse(p.inputs.policy)));
        const attached = graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => a.inputs.role === role.inputs.name);
        assert.deepEqual(attached.map((a) => a.inputs.policyArn).sort(), mine.map((p) => p.state.arn).sort());
        assert.equal(graph.ofType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.name.startsWith("deployments")).length, 0);
        assert.equal(role.inputs.maxSessionDuration, 3600);
    });

    it("registers the settings after the role can act, and no schedules unless configured", () => {
        const settings = graph.one(SETTINGS, "deployments-settings");
        const attachments = graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => a.name.startsWith("deployments-"));
        for (const a of attachments) assert.ok(settings.dependencies.includes(a.urn), `settings wait for ${a.name}`);
        assert.equal(graph.ofType(DRIFT).length, 0);
        assert.equal(graph.ofType(TTL).length, 0);
    });
});

describe("deployments: platform stack", () => {
    let graph: StackGraph;
    before(async () => {
        ({ graph } = await stackGraph("platform"));
    });

    it("previews pull requests but never deploys commits: platform administrators deploy it", () => {
        const settings = graph.one(SETTINGS, "deployments-settings").inputs;
        assert.deepEqual([settings.stack, settings.vcs.previewPullRequests, settings.vcs.deployCommits], ["platform", true, false]);
        assert.deepEqual(settings.vcs.paths, deploymentPaths("platform", true));
        assert.ok(settings.vcs.paths.includes("etl/**") && settings.vcs.paths.includes("Pulumi.platform.yaml"));
    });

    it("lets only the platform's deployment tokens assume its role, which alone holds the host part of the deploy policy", () => {
        const [statement] = trustOf(deploymentsRole(graph));
        assert.equal(statement.Condition.StringLike["api.pulumi.com/oidc:sub"], "pulumi:deploy:org:example-org:project:mlops:stack:platform:*");
        assert.deepEqual(policiesUnder(graph, "deployments-role-").map((p) => p.inputs.name),
            ["host", "identity", "serving", "storage"].map((part) => `mlops-platform-pulumi-deployments-${part}`));
        assert.equal(deploymentsRole(graph).inputs.maxSessionDuration, 3600, "it serves nothing: no rollout to outlast");
    });
});

describe("deployments: prod stack", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    before(async () => {
        ({ graph, outputs } = await stackGraph("prod"));
    });

    it("previews pull requests but never deploys commits", () => {
        const settings = graph.one(SETTINGS, "deployments-settings").inputs;
        assert.deepEqual([settings.stack, settings.vcs.previewPullRequests, settings.vcs.deployCommits], ["prod", true, false]);
        assert.deepEqual(settings.vcs.paths, deploymentPaths("prod", false));
        assert.ok(!settings.vcs.paths.includes("model-container/**"), "no stack builds an image");
    });

    it("uses the host's OIDC provider by its fixed ARN and its own subject", () => {
        assert.equal(graph.ofType(OIDC_PROVIDER).length, 0, "one provider per account, registered by the host");
        const [statement] = trustOf(deploymentsRole(graph));
        assert.deepEqual(statement.Principal, { Federated: `arn:aws:iam::${ACCOUNT_ID}:oidc-provider/api.pulumi.com/oidc` });
        assert.equal(statement.Condition.StringLike["api.pulumi.com/oidc:sub"], "pulumi:deploy:org:example-org:project:mlops:stack:prod:*");
        assert.equal(statement.Condition.StringEquals["api.pulumi.com/oidc:aud"], "example-org");
    });

    it("outlasts a canary rollout: session and role allow the program's hour plus the endpoint's rollout", () => {
        const seconds = 3600 + 3600;
        assert.equal(deploymentsRole(graph).inputs.maxSessionDuration, seconds);
        assert.equal(graph.one(SETTINGS, "deployments-settings").inputs.operationContext.oidc.aws.duration, "2h0m0s");
        assert.equal(graph.one(SETTINGS, "deployments-settings").inputs.operationContext.oidc.aws.roleARN, outputs.deploymentsRoleArn);
    });

    it("may change prod's resources only, without the host's services", () => {
        const statements = policiesUnder(graph, "deployments-role-").flatMap((p) => JSON.parse(p.inputs.policy).Statement);
        assert.deepEqual(policiesUnder(graph, "deployments-role-").map((p) => p.inputs.name),
            ["mlops-prod-pulumi-deployments-identity", "mlops-prod-pulumi-deployments-serving", "mlops-prod-pulumi-deployments-storage"]);
        const resources = statements.flatMap((s: any) => [s.Resource].flat()) as string[];
        assert.ok(resources.some((r) => r.includes("mlops-prod-")));
        assert.deepEqual(resources.filter((r) => r.includes("mlops-platform-")).sort(),
            [GROUP_ARN, GROUP_ARN, `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-platform-churn/*`],
            "only the shared registry: read it, and set prod's pin on it");
        assert.deepEqual(resources.filter((r) => r.includes("mlops-dev-")), []);
        const actions = new Set(statements.flatMap((s: any) => [s.Action].flat()));
        assert.ok(!actions.has("codepipeline:UpdatePipeline") && !actions.has("iam:CreateOpenIDConnectProvider"));
    });
});

describe("deployments: configuration", () => {
    it("registers nothing for Pulumi Deployments when they are off", async () => {
        const { graph, error, outputs } = await evaluateStack("prod", { config: { deployments: { enabled: false } } });
        assert.equal(error, undefined);
        for (const type of [SETTINGS, DRIFT, TTL, OIDC_PROVIDER]) assert.equal(graph.ofType(type).length, 0, type);
        assert.equal(graph.ofType("aws:iam/role:Role").filter((r) => r.name.startsWith("deployments")).length, 0);
        assert.equal(outputs?.deploymentsRoleArn, undefined);
    });

    it("schedules drift detection after the settings exist, reporting only", async () => {
        const deployments = { enabled: true, organization: "example-org", repository: "example-org/sagemaker-mlops", deployCommits: false, driftScheduleCron: "0 6 * * *" };
        const { graph, error } = await evaluateStack("prod", { config: { deployments } });
        assert.equal(error, undefined);
        const drift = graph.one(DRIFT);
        assert.deepEqual([drift.inputs.stack, drift.inputs.scheduleCron, drift.inputs.autoRemediate], ["prod", "0 6 * * *", false]);
        assert.ok(drift.dependencies.includes(graph.one(SETTINGS, "deployments-settings").urn), "a schedule needs its stack's settings first");
    });

    it("refuses a drift schedule that is not a five-field cron", async () => {
        const result = await evaluate("dev", deploymentsProgram({ driftScheduleCron: "cron(0 6 * * ? *)" }));
        assert.match(String(result.error?.message), /driftScheduleCron "cron\(0 6 \* \* \? \*\)" is not a five-field cron expression; e\.g\. "0 6 \* \* \*"/);
        assert.equal(result.graph.ofType(DRIFT).length, 0);
    });

    it("refuses a TTL on the long-lived dev and prod stacks", async () => {
        for (const stack of ["dev", "prod"]) {
            const result = await evaluate(stack, deploymentsProgram({ ttlTimestamp: "2030-01-31T18:00:00Z" }));
            assert.match(String(result.error?.message), new RegExp(`ttlTimestamp is set on the ${stack} stack; a TTL destroys the stack`));
            assert.equal(result.graph.ofType(TTL).length, 0);
        }
    });

    it("schedules the destruction of a short-lived stack after its settings exist", async () => {
        // A staging environment hosted by the dev stack file's values, as a short-lived stack would be.
        const { graph, error } = await evaluate("dev", deploymentsProgram({ ttlTimestamp: "2030-01-31T18:00:00Z" }), {
            config: { environment: "staging" },
        });
        assert.equal(error, undefined);
        const ttl = graph.one(TTL);
        assert.deepEqual([ttl.inputs.timestamp, ttl.inputs.deleteAfterDestroy], ["2030-01-31T18:00:00Z", false]);
        assert.ok(ttl.dependencies.includes(graph.one(SETTINGS, "deployments-settings").urn));
        assert.equal(deploymentsRole(graph).inputs.name, "mlops-staging-pulumi-deployments");
    });

    it("refuses a TTL that is not an ISO-8601 UTC time, and a session IAM cannot grant", async () => {
        const staging = { config: { environment: "staging" } };
        const ttl = await evaluate("dev", deploymentsProgram({ ttlTimestamp: "next friday" }), staging);
        assert.match(String(ttl.error?.message), /ttlTimestamp "next friday" is not an ISO-8601 UTC time; e\.g\. 2030-01-31T18:00:00Z/);
        const session = await evaluate("dev", deploymentsProgram({ sessionDurationSeconds: 50_000 }));
        assert.match(String(session.error?.message), /sessionDurationSeconds 50000 is out of range; IAM allows whole seconds from 900 to 43200/);
    });

    it("is the same deploy policy as the pipeline's deploy project in a component-level graph too", async () => {
        const { graph, error } = await evaluate("dev", () => {
            const { config, context, baseline, opts } = testBed();
            const scope = { environment: config.environment, isHost: true, modelPackageGroupArn: GROUP_ARN };
            new Deployments("deployments", {
                context, organization: "example-org", project: config.project, stack: config.stack,
                repository: "example-org/sagemaker-mlops", branch: "main", previewPullRequests: true, deployCommits: true,
                createOidcProvider: true, deployScope: scope,
            }, opts);
            new DeployProjects("delivery", {
                context, kmsKeyArn: baseline.kmsKeyArn, pipelineName: "mlops-dev-churn",
                artifactsBucket: baseline.buckets.artifacts, modelPackageGroupArn: GROUP_ARN,
            }, opts);
        });
        assert.equal(error, undefined);
        const documents = (prefix: string) => policiesUnder(graph, prefix).map((p) => p.inputs.policy);
        assert.deepEqual(documents("deployments-role-"), documents("delivery-deploy-dev-stack-"));
    });
});

describe("deployments: helpers", () => {
    it("formats durations the way Pulumi Deployments reads them", () => {
        assert.deepEqual([3600, 5400, 10_861, 43_200].map(goDuration), ["1h0m0s", "1h30m0s", "3h1m1s", "12h0m0s"]);
    });

    it("sizes the session from the endpoint's rollout, within IAM's 12 hours", () => {
        const config = (endpoint: unknown) => parseConfig({
            environment: "dev", owner: "o", alertEmail: "a@example.com", hostStack: "o/mlops/platform", endpoint,
        }, { stack: "dev", region: "us-east-1" }).endpoint;
        assert.equal(deploySessionSeconds(undefined), 3600, "a stack that serves nothing (the platform)");
        assert.equal(deploySessionSeconds(config({ kind: "serverless" })), 3600);
        assert.equal(deploySessionSeconds(config({ kind: "instances", deployment: { maximumExecutionTimeoutSeconds: 1800 } })), 5400);
        // The longest rollout config allows is what the provider waits for InService (3600 s): well within 12 hours.
        assert.equal(deploySessionSeconds(config({ kind: "instances", deployment: { maximumExecutionTimeoutSeconds: 3600 } })), 7200);
    });

    it("lists the paths that change a stack's deployment, the host's ETL included and the model image in neither", () => {
        assert.ok(deploymentPaths("platform", true).includes("etl/**"));
        assert.ok(!deploymentPaths("dev", false).includes("etl/**"));
        for (const [stack, isHost] of [["platform", true], ["dev", false], ["prod", false]] as const) {
            // The pipeline builds the image: a container change deploying dev too would race the pipeline's DeployDev.
            assert.ok(!deploymentPaths(stack, isHost).some((p) => p.startsWith("model-container")), stack);
            assert.ok(deploymentPaths(stack, isHost).includes("!monitor/drift_checker/**"), `${stack}: the image's drift checker is excluded`);
        }
        assert.ok(!deploymentPaths("prod", false).includes("etl/**"));
        assert.equal(deploymentPaths("prod", false).at(-1), "Pulumi.prod.yaml");
    });
});
