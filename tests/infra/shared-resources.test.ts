import { strict as assert } from "assert";
import { hostSharedFixture, stackGraph, StackGraph } from "../harness/pulumi-harness";

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
