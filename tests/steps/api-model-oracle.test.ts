/**
 * The AWS API model oracle itself (tests/harness/api-models.ts, hooked into every aws-sdk-client-mock stub by
 * tests/harness/api-model-hooks.ts): it must refuse what AWS refuses, and it must see every mocked call.
 */
import { strict as assert } from "assert";
import { CreateModelPackageCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { apiModelOracleReport } from "../harness/api-model-hooks";
import { validateRequest } from "../harness/api-models";
import { trainingJobName } from "../../steps/lib/naming";

describe("AWS API model oracle", () => {
    const valid = { ModelPackageGroupName: "mlops-dev-churn", ModelApprovalStatus: "PendingManualApproval" as const };

    it("accepts a request within the model", () => {
        assert.deepEqual(validateRequest("sagemaker", "CreateModelPackage", valid).problems, []);
    });

    it("refuses a ClientToken longer than 36 characters (what a training job name as token sent)", () => {
        const job = trainingJobName(`mlops-staging-${"m".repeat(24)}`, "exec");
        const { problems } = validateRequest("sagemaker", "CreateModelPackage", { ...valid, ClientToken: job });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /ClientToken: \d+ characters, more than ClientToken's maximum 36/);
    });

    it("refuses a missing required member, a wrong enum, a number out of range, an unknown member, a short list", () => {
        const problems = (op: string, input: unknown) => validateRequest("sagemaker", op, input).problems.join("\n");
        assert.match(problems("DescribeModelPackage", {}), /ModelPackageName: required by DescribeModelPackageInput but missing/);
        assert.match(problems("CreateModelPackage", { ...valid, ModelApprovalStatus: "Approve" }), /"Approve" is not one of ModelApprovalStatus's values/);
        assert.match(problems("ListModelPackages", { MaxResults: 1000 }), /1000 is above MaxResults's maximum 100/);
        assert.match(problems("CreateModelPackage", { ...valid, ModelPackageGroup: "x" }), /ModelPackageGroup: not a member of CreateModelPackageInput/);
        assert.match(problems("CreateModelPackage", { ...valid, Tags: [{ Key: "", Value: "v" }] }), /Tags\[0\]\.Key: 0 characters, fewer than TagKey's minimum 1/);
        assert.match(problems("CreateModelPackage", { ...valid, ModelPackageGroupName: "no spaces allowed" }), /does not match ArnOrName's pattern/);
        // The whole value must match, as AWS validates: one bad character is enough.
        assert.match(problems("CreateModelPackage", { ...valid, ClientToken: "abc_def" }), /"abc_def" does not match ClientToken's pattern/);
        assert.match(validateRequest("sagemaker", "CreateModelPackages", {}).problems[0], /has no operation CreateModelPackages/);
    });

    it("sees every call made through any mocked client, whoever created the mock", async () => {
        const before = apiModelOracleReport().checked;
        const sagemaker = mockClient(SageMakerClient);
        sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: "arn" });
        await new SageMakerClient({ region: "us-east-1" }).send(new CreateModelPackageCommand(valid));
        await new SageMakerClient({ region: "us-east-1" }).send(new CreateModelPackageCommand(valid));
        sagemaker.reset();
        assert.equal(apiModelOracleReport().checked - before, 2);
        sagemaker.restore();
    });
});
