/**
 * The two registry readers (the stacks' at deploy time, the steps' SageMakerRegistry) see one version the same way:
 * both build the one ModelVersion type from SageMaker's answer with the mapping in contracts/registry.ts.
 */
import { strict as assert } from "assert";
import { DescribeModelPackageCommand, DescribeModelPackageCommandOutput, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { REGISTRY_METADATA } from "../../contracts/registry";
import { resolveModelVersion } from "../../infra/model-version";
import { SageMakerRegistry } from "../../steps/lib/aws";

const GROUP = "mlops-dev-churn";
const ARN = `arn:aws:sagemaker:us-east-1:123456789012:model-package/${GROUP}/7`;
const DESCRIBED: DescribeModelPackageCommandOutput = {
    $metadata: {},
    ModelPackageName: GROUP,
    ModelPackageStatusDetails: { ValidationStatuses: [], ImageScanStatuses: [] },
    ModelPackageArn: ARN,
    ModelPackageGroupName: GROUP,
    ModelPackageVersion: 7,
    ModelPackageStatus: "Completed",
    ModelApprovalStatus: "PendingManualApproval",
    ModelPackageDescription: "trained by train-7",
    ApprovalDescription: "awaiting evaluation",
    MetadataProperties: { CommitId: "0123abc" },
    CreationTime: new Date(Date.UTC(2026, 10, 7, 12)),
    InferenceSpecification: {
        Containers: [{ Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-model@sha256:" + "ab".repeat(32), ModelDataUrl: "s3://models/v7/model.tar.gz" }],
        SupportedContentTypes: ["text/csv"],
        SupportedResponseMIMETypes: ["application/json"],
    },
    CustomerMetadataProperties: { [REGISTRY_METADATA.manifestUri]: "s3://curated/run-7/manifest.json", "train.validation_auc": "0.84" },
};

describe("registry readers", () => {
    // Mocked in before(), not at load time: other files mock the same client class and restore it after their suites.
    let sagemaker: ReturnType<typeof mockClient>;
    const client = new SageMakerClient({ region: "us-east-1" });
    before(() => (sagemaker = mockClient(client)));
    afterEach(() => sagemaker.reset());
    after(() => sagemaker.restore());

    it("the stacks and the steps read one answer into the same ModelVersion", async () => {
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: ARN }).resolves(DESCRIBED);
        const forStack = await resolveModelVersion({ client, groupName: GROUP, policy: "latest-candidate", pinnedArn: ARN });
        const forSteps = await new SageMakerRegistry(client).describeVersion(ARN);
        assert.deepEqual(forStack, forSteps);
        assert.deepEqual(forSteps, {
            arn: ARN, groupName: GROUP, version: 7, approvalStatus: "PendingManualApproval", createdAt: new Date(Date.UTC(2026, 10, 7, 12)),
            imageUri: DESCRIBED.InferenceSpecification!.Containers![0].Image, modelDataUri: "s3://models/v7/model.tar.gz",
            description: "trained by train-7", approvalDescription: "awaiting evaluation", commitId: "0123abc",
            properties: DESCRIBED.CustomerMetadataProperties,
        });
    });

    it("only the stacks refuse a version that cannot serve, naming every reason", async () => {
        const broken = { ...DESCRIBED, ModelPackageStatus: "InProgress" as const, InferenceSpecification: { Containers: [{ Image: "img" }] } };
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: ARN }).resolves(broken as DescribeModelPackageCommandOutput);
        await assert.rejects(resolveModelVersion({ client, groupName: GROUP, policy: "latest-candidate", pinnedArn: ARN }),
            /cannot serve: its status is InProgress, not Completed; InferenceSpecification.Containers\[0\].ModelDataUrl is missing$/);
        // The steps read it as it is (a train step waits for its own version to complete).
        assert.equal((await new SageMakerRegistry(client).describeVersion(ARN)).modelDataUri, "");
    });
});
