/**
 * The first contact with a real account, as scenarios in the bootstrap order: the first platform `up` (it creates
 * the registry), the first dev `up` against an empty registry, the first prod `up` with nothing approved, the first
 * promotion done by the pipeline's prod deployer (simulated IAM), and a second `up` with nothing changed (no diff). Each runs the real deploy-time resolution
 * (infra/deploy-inputs.ts) against a mocked SageMaker and the real program under the Pulumi mocks.
 *
 * Also the model-quality CloudFormation template, checked by cfn-lint (the CloudFormation resource specification).
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    DescribeEndpointCommand,
    DescribeModelPackageGroupCommand,
    ListModelPackagesCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { loadStackFile } from "../../infra/stack-files";
import { resolveDeployInputs } from "../../infra/deploy-inputs";
import { createStack } from "../../infra/program";
import { loadConfig } from "../../infra/config";
import { ModelVersion } from "../../contracts/registry";
import { deployRequests } from "../harness/deploy-requests";
import { notAllowed, policiesOfRole, rolesNamed } from "../harness/iam-oracle";
import { evaluate, evaluateStackOk, modelVersionFixture, REPO_ROOT, StackGraph } from "../harness/pulumi-harness";
import { engineViolations } from "../harness/engine-invariants";

/* eslint-disable @typescript-eslint/no-explicit-any */
const notFound = (what: string) => Object.assign(new Error(`${what} does not exist.`), { name: "ValidationException" });

/** The real resolution for a stack file, against SageMaker as the mock answers it. */
async function resolveFor(stack: "dev" | "prod") {
    const config = loadStackFile(stack);
    return resolveDeployInputs(config, { client: new SageMakerClient({ region: config.region }) });
}

/** Evaluates the stack as `infra/index.ts` does, with the resolved inputs. */
function up(stack: "dev" | "prod", inputs: { modelVersion: ModelVersion | null; liveEndpoint: any }, config: Record<string, unknown> = {}) {
    return evaluate(stack, () => createStack(loadConfig(), inputs), { config });
}

describe("first run in a fresh account (scenarios)", function () {
    this.timeout(300_000);
    const sagemaker = mockClient(SageMakerClient);
    beforeEach(() => sagemaker.reset());
    after(() => sagemaker.restore());

    it("empty account, first platform up: it asks SageMaker nothing and creates the registry, the pipeline and no endpoint", async () => {
        sagemaker.onAnyCommand().rejects(new Error("the platform serves nothing and must not look up a version or an endpoint"));
        const platform = loadStackFile("platform");
        const inputs = await resolveDeployInputs(platform, { client: new SageMakerClient({ region: platform.region }) });
        assert.deepEqual(inputs, { modelVersion: null, liveEndpoint: null });
        assert.equal(sagemaker.calls().length, 0);
        const { graph, error } = await evaluate("platform", () => createStack(loadConfig(), inputs));
        assert.equal(error, undefined);
        assert.equal(graph.ofType("aws:sagemaker/endpoint:Endpoint").length, 0);
        assert.equal(graph.ofType("aws:sagemaker/modelPackageGroup:ModelPackageGroup").length, 1, "the first platform up creates the registry");
        assert.equal(graph.ofType("aws:codepipeline/pipeline:Pipeline").length, 1);
        assert.deepEqual(engineViolations(graph), [], "nothing the engine or a used account would refuse");
    });

    it("first dev up, the registry still empty: dev deploys without an endpoint and creates no registry", async () => {
        sagemaker.on(DescribeModelPackageGroupCommand).rejects(notFound("ModelPackageGroup mlops-platform-churn"));
        sagemaker.on(ListModelPackagesCommand).rejects(new Error("a missing group must not be listed"));
        sagemaker.on(DescribeEndpointCommand).rejects(Object.assign(new Error("Could not find endpoint \"mlops-dev-churn\"."), { name: "ValidationException" }));
        const inputs = await resolveFor("dev");
        assert.deepEqual(inputs, { modelVersion: null, liveEndpoint: null });
        const { graph, error } = await up("dev", inputs);
        assert.equal(error, undefined);
        assert.equal(graph.ofType("aws:sagemaker/endpoint:Endpoint").length, 0);
        assert.equal(graph.ofType("aws:sagemaker/modelPackageGroup:ModelPackageGroup").length, 0, "the registry is the platform's");
        assert.equal(graph.one("pulumi:pulumi:StackReference").inputs.name, "example-org/mlops/platform");
        assert.deepEqual(engineViolations(graph), [], "nothing the engine or a used account would refuse");
    });

    it("first prod up with nothing approved: no endpoint, no drift monitor, the host read without a provider", async () => {
        sagemaker.on(DescribeModelPackageGroupCommand).resolves({
            ModelPackageGroupName: "mlops-platform-churn", ModelPackageGroupArn: "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/mlops-platform-churn",
            CreationTime: new Date(), CreatedBy: {}, ModelPackageGroupStatus: "Completed",
        });
        sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
        sagemaker.on(DescribeEndpointCommand).rejects(Object.assign(new Error("Could not find endpoint \"mlops-prod-churn\"."), { name: "ValidationException" }));
        const inputs = await resolveFor("prod");
        assert.equal(inputs.modelVersion, null);
        const { graph, error } = await up("prod", inputs);
        assert.equal(error, undefined);
        assert.equal(graph.ofType("aws:sagemaker/endpoint:Endpoint").length, 0);
        assert.equal(graph.ofType("mlops:monitoring:DriftMonitor").length, 0);
        assert.deepEqual(engineViolations(graph), []);
    });

    it("first promotion, done by the pipeline's prod deployer: everything it adds to prod is Allowed (simulated IAM)", async () => {
        const before = (await up("prod", { modelVersion: null, liveEndpoint: null })).graph;
        const after = (await up("prod", { modelVersion: modelVersionFixture(), liveEndpoint: null })).graph;
        const existed = new Set(before.resources.map((r) => r.urn));
        const added = after.resources.filter((r) => !existed.has(r.urn));
        assert.ok(added.some((r) => r.type === "aws:sagemaker/endpoint:Endpoint") && added.some((r) => r.type === "mlops:monitoring:DriftMonitor"),
            "the promotion creates the endpoint and the drift monitor");
        // What the promotion's update asks of AWS: the requests of the promoted graph that the first up did not make.
        const key = (r: { action: string; resource: string }) => `${r.action} ${r.resource}`;
        const earlier = new Set(deployRequests(before, "prod").requests.map(key));
        const promotion = deployRequests(after, "prod").requests.filter((r) => !earlier.has(key(r)));
        const platform = (await evaluateStackOk("platform")).graph;
        const [deployer] = rolesNamed(platform, /^mlops-platform-deploy-prod$/);
        const refused = await notAllowed(policiesOfRole(platform, deployer), deployer.state.arn, promotion);
        assert.ok(promotion.length > 50, `only ${promotion.length} requests`);
        assert.deepEqual(refused, []);
    });

    it("a second up with nothing changed has no diff: every resource's inputs are the same", async () => {
        const version = modelVersionFixture();
        const first = (await up("prod", { modelVersion: version, liveEndpoint: null })).graph;
        const endpoint = first.one("aws:sagemaker/endpoint:Endpoint");
        const config = first.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration");
        // What SageMaker reports after the first up: the endpoint InService on the first up's configuration.
        const live = {
            name: endpoint.state.name, status: "InService", configName: config.state.name,
            desiredInstanceCount: config.inputs.productionVariants[0].initialInstanceCount,
            configInstanceCount: config.inputs.productionVariants[0].initialInstanceCount, modelPackageArn: version.arn,
        };
        const second = (await up("prod", { modelVersion: version, liveEndpoint: live })).graph;
        // Custom resources only: a component's arguments (the live endpoint it was told about) reach no provider.
        const inputs = (g: StackGraph) => new Map(g.resources.filter((r) => r.custom).map((r) => [r.urn, JSON.stringify(r.inputs)]));
        const a = inputs(first);
        const b = inputs(second);
        assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), "the same resources");
        const changed = [...a].filter(([urn, v]) => b.get(urn) !== v).map(([urn]) => urn);
        assert.deepEqual(changed, []);
    });
});

describe("monitoring CloudFormation templates (oracle: cfn-lint)", function () {
    this.timeout(120_000);
    for (const name of ["drift-monitor-model-quality", "drift-monitor-data-quality"]) it(`${name} passes cfn-lint against the CloudFormation resource specification`, async () => {
        const { graph } = await evaluateStackOk("prod", { config: { monitoring: { enabled: true, modelQuality: { enabled: true } } } });
        const stack = graph.one("aws:cloudformation/stack:Stack", name);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cfn-"));
        const file = path.join(dir, `${name}.json`);
        fs.writeFileSync(file, JSON.stringify(JSON.parse(stack.inputs.templateBody), null, 2));
        const cfnLint = path.join(REPO_ROOT, ".venv", "bin", "cfn-lint");
        try {
            execFileSync(cfnLint, ["--regions", "us-east-1", "--", file], { encoding: "utf8", stdio: "pipe" });
        } catch (e) {
            const err = e as { status?: number; stdout?: string; stderr?: string };
            assert.fail(`cfn-lint exit ${err.status}:\n${err.stdout}${err.stderr}`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the check can fail: cfn-lint rejects a template with an unknown property", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cfn-"));
        const file = path.join(dir, "bad.json");
        fs.writeFileSync(file, JSON.stringify({
            AWSTemplateFormatVersion: "2010-09-09",
            Resources: { Schedule: { Type: "AWS::SageMaker::MonitoringSchedule", Properties: { MonitoringScheduleName: "x", Bogus: 1 } } },
        }));
        try {
            assert.throws(() => execFileSync(path.join(REPO_ROOT, ".venv", "bin", "cfn-lint"), ["--", file], { stdio: "pipe" }));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
