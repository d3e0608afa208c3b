import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { contentTag } from "../../infra/components/model-image";
import { MODEL_CONTAINER_DIR } from "../../infra/program";
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

    it("dev owns the ECR repository, the image and the model registry; prod has none and references dev", () => {
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

    it("builds the image from model-container for linux/amd64, tagged by content", () => {
        const image = dev.graph.one("awsx:ecr:Image");
        assert.equal(image.inputs.platform, "linux/amd64");
        assert.equal(image.inputs.context, MODEL_CONTAINER_DIR);
        assert.equal(image.inputs.imageTag, contentTag(MODEL_CONTAINER_DIR));
        assert.match(dev.outputs.shared.imageUri, /:src-[0-9a-f]{16}$/);
    });
});

describe("contentTag", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM python:3.11-slim\n");
        fs.mkdirSync(path.join(dir, "src"));
        fs.writeFileSync(path.join(dir, "src", "serve.py"), "print('x')\n");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is stable for the same content and changes with a one-line change", () => {
        const before = contentTag(dir);
        assert.equal(contentTag(dir), before);
        fs.writeFileSync(path.join(dir, "src", "serve.py"), "print('y')\n");
        assert.notEqual(contentTag(dir), before);
    });

    it("ignores caches and tests, which are not part of the image", () => {
        const before = contentTag(dir);
        fs.mkdirSync(path.join(dir, "src", "__pycache__"));
        fs.writeFileSync(path.join(dir, "src", "__pycache__", "serve.cpython-311.pyc"), "bytes");
        fs.mkdirSync(path.join(dir, "tests"));
        fs.writeFileSync(path.join(dir, "tests", "test_x.py"), "");
        assert.equal(contentTag(dir), before);
    });
});
