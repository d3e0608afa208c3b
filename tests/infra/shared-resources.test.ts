import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { loadStackFile } from "../../infra/stack-files";
import { deployRequests } from "../harness/deploy-requests";
import { decide, policiesOfRole } from "../harness/iam-oracle";
import { evaluateStack, evaluateStackOk, hostSharedFixture, REPO_ROOT, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
describe("shared resources: the platform hosts, dev and prod read", () => {
    let platform: { graph: StackGraph; outputs: Record<string, any> };
    let dev: { graph: StackGraph; outputs: Record<string, any> };
    let prod: { graph: StackGraph; outputs: Record<string, any> };
    before(async () => {
        platform = await stackGraph("platform");
        dev = await stackGraph("dev");
        prod = await stackGraph("prod");
    });

    it("the platform exports every shared field the environments read (the fixture matches the real export)", () => {
        assert.deepEqual(Object.keys(platform.outputs.shared).sort(), Object.keys(hostSharedFixture()).sort());
        for (const [key, value] of Object.entries(platform.outputs.shared)) assert.ok(typeof value === "string" && value.length > 0, key);
        assert.equal(platform.outputs.shared.modelsBucketName, platform.outputs.buckets.models);
        assert.equal(platform.outputs.shared.kmsKeyArn, platform.outputs.kmsKeyArn);
        // Every name-derived value is what the fixture says (the key's id is random in AWS and in the mock).
        const { kmsKeyArn: _real, ...named } = platform.outputs.shared;
        const { kmsKeyArn: _fixture, ...expected } = hostSharedFixture();
        assert.deepEqual(named, expected);
    });

    it("the platform owns the ECR repository, the registry and the pipeline; dev and prod own none and reference the platform", () => {
        const once = ["aws:ecr/repository:Repository", "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:codepipeline/pipeline:Pipeline",
            "aws:glue/job:Job", "aws:codebuild/project:Project"];
        for (const type of once) assert.ok(platform.graph.ofType(type).length >= 1, `platform has no ${type}`);
        assert.equal(platform.graph.ofType("pulumi:pulumi:StackReference").length, 0);
        for (const env of [dev, prod]) {
            for (const type of once) assert.equal(env.graph.ofType(type).length, 0, `${env.graph.stack} has a ${type}`);
            assert.equal(env.graph.one("pulumi:pulumi:StackReference").inputs.name, "example-org/mlops/platform");
            assert.equal(env.outputs.shared, undefined, "only the host exports shared resources");
        }
    });

    it("the platform serves nothing; each environment serves from its own endpoint", () => {
        assert.equal(platform.graph.ofType("aws:sagemaker/endpoint:Endpoint").length, 0);
        assert.equal(platform.outputs.endpointName, undefined);
        assert.equal(dev.outputs.endpointName, "mlops-dev-churn");
        assert.equal(prod.outputs.endpointName, "mlops-prod-churn");
    });

    it("the ECR repository is immutable, scanned on push, KMS-encrypted and has a lifecycle policy", () => {
        const repo = platform.graph.one("aws:ecr/repository:Repository");
        assert.equal(repo.inputs.imageTagMutability, "IMMUTABLE");
        assert.equal(repo.inputs.imageScanningConfiguration.scanOnPush, true);
        assert.deepEqual(repo.inputs.encryptionConfigurations, [{ encryptionType: "KMS", kmsKey: platform.outputs.kmsKeyArn }]);
        const rules = JSON.parse(platform.graph.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs.policy).rules;
        const untagged = rules.find((r: any) => r.selection.tagStatus === "untagged");
        const tagged = rules.find((r: any) => r.selection.tagStatus === "tagged");
        assert.equal(untagged.selection.countType, "sinceImagePushed");
        assert.deepEqual([tagged.selection.countType, tagged.selection.countNumber], ["imageCountMoreThan", 20]);
    });
});

describe("a third environment: a stack file, no code", function () {
    this.timeout(120_000);
    let dir: string;
    let staging: { graph: StackGraph; outputs: Record<string, any> };
    let prodFull: StackGraph;
    before(async () => {
        // What an administrator would write: dev's stack file with another environment name and no commit deploys.
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "staging-stack-"));
        const file = YAML.parseDocument(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8"));
        file.setIn(["config", "mlops:environment"], "staging");
        file.setIn(["config", "mlops:deployments", "deployCommits"], false);
        file.set("environment", ["mlops/staging"]);
        fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), file.toString());
        const result = await evaluateStack("staging", { dir });
        if (result.error) throw result.error;
        staging = { graph: result.graph, outputs: result.outputs! };
        prodFull = (await evaluateStackOk("prod", { config: { monitoring: { enabled: true, modelQuality: { enabled: true } } } })).graph;
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("validates and evaluates from its own stack file, reading the platform like dev and prod", () => {
        assert.equal(loadStackFile("staging", dir).environment, "staging");
        assert.equal(staging.graph.one("pulumi:pulumi:StackReference").inputs.name, "example-org/mlops/platform");
        assert.equal(staging.outputs.endpointName, "mlops-staging-churn");
        assert.equal(staging.graph.one("aws:sagemaker/endpoint:Endpoint").inputs.name, "mlops-staging-churn");
        assert.equal(staging.graph.ofType("aws:codepipeline/pipeline:Pipeline").length, 0);
    });

    it("names every resource of its own with its own prefix, and trusts only its own deployment tokens", () => {
        const names = staging.graph.resources.filter((r) => r.custom && r.type.startsWith("aws:"))
            .map((r) => r.inputs.name ?? r.inputs.bucket ?? r.inputs.dashboardName)
            .filter((n): n is string => typeof n === "string" && n.startsWith("mlops-"));
        assert.ok(names.length > 12, `only ${names.length} named resources`);
        assert.deepEqual(names.filter((n) => !n.startsWith("mlops-staging-")), []);
        const role = staging.graph.one("aws:iam/role:Role", "deployments-role");
        assert.match(role.inputs.assumeRolePolicy, /:stack:staging:\*"/);
        assert.equal(staging.graph.one("pulumiservice:index:DeploymentSettings").inputs.stack, "staging");
    });

    it("its deployer is denied on prod's resources as dev's is (IAM simulation)", async () => {
        const role = staging.graph.one("aws:iam/role:Role", "deployments-role");
        const policies = policiesOfRole(staging.graph, role);
        const { requests } = deployRequests(prodFull, "prod");
        // Autonamed models/configs and the shared registry reads are open to every environment (iam-simulation.test.ts).
        const crossing = requests.filter((r) => !/^sagemaker:(CreateModel|DescribeModel|CreateEndpointConfig|DescribeEndpointConfig|AddTags|Describe(ModelPackageGroup|ModelPackage)|ListTags)$/.test(r.action) &&
            !r.action.startsWith("application-autoscaling:") && !/^(kms:DescribeKey|logs:DescribeLogGroups)$/.test(r.action));
        assert.ok(crossing.length > 100);
        const allowed: string[] = [];
        for (const r of crossing) if (await decide(policies, role.state.arn, r) === "Allowed") allowed.push(`${r.action} on ${r.resource}`);
        assert.deepEqual(allowed, []);
    });
});

describe("the platform stack's name", () => {
    it("may not be a stage its pipeline deploys: a platform stack named dev is refused before anything is registered", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "platform-named-dev-"));
        try {
            fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.platform.yaml"), path.join(dir, "Pulumi.dev.yaml"));
            const { error, graph } = await evaluateStack("dev", { dir });
            assert.match(String(error), /stack dev: the platform \(host\) stack has the name of a stage its pipeline deploys \(dev, prod\)/);
            assert.equal(graph.resources.length, 0);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
