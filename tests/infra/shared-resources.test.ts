import { strict as assert } from "assert";
import { hostSharedFixture, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
describe("shared resources: dev hosts, prod reads", () => {
    let dev: { graph: StackGraph; outputs: Record<string, any> };
    let prod: { graph: StackGraph; outputs: Record<string, any> };
    before(async () => {
        dev = await stackGraph("dev");
        prod = await stackGraph("prod");
    });

    it("dev exports every shared field prod reads (the prod fixture matches the real export)", () => {
        assert.deepEqual(Object.keys(dev.outputs.shared).sort(), Object.keys(hostSharedFixture()).sort());
        for (const [key, value] of Object.entries(dev.outputs.shared)) assert.ok(typeof value === "string" && value.length > 0, key);
        assert.equal(dev.outputs.shared.modelsBucketName, dev.outputs.buckets.models);
        assert.equal(dev.outputs.shared.kmsKeyArn, dev.outputs.kmsKeyArn);
    });

    it("dev owns the ECR repository and the model registry; prod has none and references dev", () => {
        assert.equal(dev.graph.ofType("aws:ecr/repository:Repository").length, 1);
        assert.equal(dev.graph.ofType("aws:sagemaker/modelPackageGroup:ModelPackageGroup").length, 1);
        assert.equal(dev.graph.ofType("pulumi:pulumi:StackReference").length, 0);
        assert.equal(prod.graph.ofType("aws:ecr/repository:Repository").length, 0);
        assert.equal(prod.graph.ofType("aws:sagemaker/modelPackageGroup:ModelPackageGroup").length, 0);
        assert.equal(prod.graph.one("pulumi:pulumi:StackReference").inputs.name, "example-org/mlops/dev");
        assert.equal(prod.outputs.shared, undefined, "only the host exports shared resources");
    });

    it("the ECR repository is immutable, scanned on push, KMS-encrypted and has a lifecycle policy", () => {
        const repo = dev.graph.one("aws:ecr/repository:Repository");
        assert.equal(repo.inputs.imageTagMutability, "IMMUTABLE");
        assert.equal(repo.inputs.imageScanningConfiguration.scanOnPush, true);
        assert.deepEqual(repo.inputs.encryptionConfigurations, [{ encryptionType: "KMS", kmsKey: dev.outputs.kmsKeyArn }]);
        const rules = JSON.parse(dev.graph.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs.policy).rules;
        const untagged = rules.find((r: any) => r.selection.tagStatus === "untagged");
        const tagged = rules.find((r: any) => r.selection.tagStatus === "tagged");
        assert.equal(untagged.selection.countType, "sinceImagePushed");
        assert.deepEqual([tagged.selection.countType, tagged.selection.countNumber], ["imageCountMoreThan", 20]);
    });
});
