import { strict as assert } from "assert";
import {
    DescribeEndpointCommand,
    DescribeEndpointConfigCommand,
    DescribeModelCommand,
    DescribeModelPackageCommand,
    DescribeModelPackageGroupCommand,
    ListModelPackagesCommand,
    ListTagsCommand,
    ModelPackageSummary,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { parseConfig } from "../../infra/config";
import { endpointNameFor, readLiveEndpoint, resolveDeployInputs } from "../../infra/deploy-inputs";
import { modelPackageGroupName, ModelVersionError, pinTagKey, REGISTRY_METADATA } from "../../contracts/registry";
import { MODEL_PACKAGE_ENV } from "../../contracts/serving";
import { describeVersion, resolveModelVersion } from "../../infra/model-version";
import { readStackConfig } from "../harness/pulumi-harness";

const GROUP = "mlops-dev-churn";
const arnOf = (v: number) => `arn:aws:sagemaker:us-east-1:123456789012:model-package/${GROUP}/${v}`;
const summary = (v: number, approval: string, day: number, status = "Completed"): ModelPackageSummary => ({
    ModelPackageArn: arnOf(v),
    ModelPackageGroupName: GROUP,
    ModelPackageVersion: v,
    CreationTime: new Date(Date.UTC(2026, 10, day)),
    ModelPackageStatus: status as ModelPackageSummary["ModelPackageStatus"],
    ModelApprovalStatus: approval as ModelPackageSummary["ModelApprovalStatus"],
});
const described = (v: number, approval: string, extra: Record<string, unknown> = {}) => ({
    ModelPackageArn: arnOf(v),
    ModelPackageGroupName: GROUP,
    ModelPackageVersion: v,
    ModelPackageStatus: "Completed" as const,
    ModelApprovalStatus: approval as "Approved",
    CreationTime: new Date(Date.UTC(2026, 10, v)),
    InferenceSpecification: {
        Containers: [{ Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-model:src-1", ModelDataUrl: `s3://models/v${v}/model.tar.gz` }],
        SupportedContentTypes: ["text/csv"],
        SupportedResponseMIMETypes: ["application/json"],
    },
    CustomerMetadataProperties: {
        [REGISTRY_METADATA.manifestUri]: `s3://curated/run-${v}/manifest.json`,
        [REGISTRY_METADATA.baselineStatisticsUri]: `s3://curated/run-${v}/baseline/statistics.json`,
        [REGISTRY_METADATA.baselineConstraintsUri]: `s3://curated/run-${v}/baseline/constraints.json`,
        [REGISTRY_METADATA.trainingJobName]: `train-${v}`,
        "metric:validation_auc": "0.84",
    },
    ...extra,
});

describe("resolveModelVersion", () => {
    const sagemaker = mockClient(SageMakerClient);
    const client = new SageMakerClient({ region: "us-east-1" });
    beforeEach(() => sagemaker.reset());
    after(() => sagemaker.restore());

    const GROUP_ARN = `arn:aws:sagemaker:us-east-1:123456789012:model-package-group/${GROUP}`;
    const groupExists = (tags: { Key: string; Value: string }[] = []) => {
        sagemaker.on(DescribeModelPackageGroupCommand, { ModelPackageGroupName: GROUP }).resolves({
            ModelPackageGroupName: GROUP, ModelPackageGroupArn: GROUP_ARN, CreationTime: new Date(), CreatedBy: {}, ModelPackageGroupStatus: "Completed",
        });
        sagemaker.on(ListTagsCommand, { ResourceArn: GROUP_ARN }).resolves({ Tags: tags });
    };

    it("first dev up: a group that does not exist yet means nothing to serve, without listing it", async () => {
        sagemaker.on(DescribeModelPackageGroupCommand).rejects(Object.assign(
            new Error(`ModelPackageGroup arn:aws:sagemaker:us-east-1:123456789012:model-package-group/${GROUP} does not exist.`), { name: "ValidationException" }));
        sagemaker.on(ListModelPackagesCommand).rejects(new Error("must not be called"));
        assert.equal(await resolveModelVersion({ client, groupName: GROUP, policy: "latest-candidate", environment: "dev" }), null);
        assert.equal(sagemaker.commandCalls(ListModelPackagesCommand).length, 0);
    });

    it("reads 'not found' from ListModelPackages as no versions (its behaviour on a missing group is undocumented)", async () => {
        sagemaker.on(ListModelPackagesCommand).rejects(Object.assign(new Error("Model package group mlops-dev-churn does not exist"), { name: "ValidationException" }));
        assert.equal(await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" }), null);
        sagemaker.on(ListModelPackagesCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
        await assert.rejects(resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" }), /Rate exceeded/);
    });

    it("serves the registry's pin for the environment over the policy; the stack file's pin wins over both", async () => {
        groupExists([{ Key: pinTagKey("prod"), Value: arnOf(2) }, { Key: pinTagKey("dev"), Value: arnOf(3) }]);
        sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [summary(3, "Approved", 3), summary(2, "Approved", 2)] });
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: arnOf(2) }).resolves(described(2, "Approved"));
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: arnOf(3) }).resolves(described(3, "Approved"));
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: arnOf(1) }).resolves(described(1, "Approved"));
        assert.equal((await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", environment: "prod" }))?.version, 2);
        assert.equal((await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", environment: "staging" }))?.version, 3, "no pin: the policy");
        assert.equal((await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", environment: "prod", pinnedArn: arnOf(1) }))?.version, 1);
    });

    /** Answers DescribeModelPackage for every version listed. */
    function registry(summaries: ModelPackageSummary[]) {
        sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: summaries });
        for (const s of summaries) {
            sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: s.ModelPackageArn })
                .resolves(described(s.ModelPackageVersion!, s.ModelApprovalStatus!));
        }
    }

    it("returns null when the group has no versions (first deploy)", async () => {
        registry([]);
        assert.equal(await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" }), null);
        assert.equal(await resolveModelVersion({ client, groupName: GROUP, policy: "latest-candidate" }), null);
        assert.equal(sagemaker.commandCalls(DescribeModelPackageCommand).length, 0);
        const list = sagemaker.commandCalls(ListModelPackagesCommand)[0].args[0].input;
        assert.equal(list.ModelPackageGroupName, GROUP);
    });

    it("latest-approved serves the newest Approved version, whatever order the API lists them in", async () => {
        registry([summary(1, "Approved", 1), summary(3, "Approved", 3), summary(4, "PendingManualApproval", 4), summary(2, "Approved", 2)]);
        const version = await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" });
        assert.equal(version?.arn, arnOf(3));
        assert.equal(version?.version, 3);
        assert.equal(version?.approvalStatus, "Approved");
        assert.equal(version?.imageUri, "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-dev-model:src-1");
        assert.equal(version?.modelDataUri, "s3://models/v3/model.tar.gz");
        assert.equal(version?.createdAt.toISOString(), "2026-11-03T00:00:00.000Z");
        const property = (key: string) => version?.properties[key];
        assert.deepEqual([REGISTRY_METADATA.manifestUri, REGISTRY_METADATA.baselineStatisticsUri, REGISTRY_METADATA.baselineConstraintsUri, REGISTRY_METADATA.trainingJobName].map(property),
            ["s3://curated/run-3/manifest.json", "s3://curated/run-3/baseline/statistics.json", "s3://curated/run-3/baseline/constraints.json", "train-3"]);
        assert.equal(property("metric:validation_auc"), "0.84");
    });

    it("skips Rejected versions: latest-candidate serves the newest that is not Rejected, latest-approved ignores them", async () => {
        registry([summary(5, "Rejected", 5), summary(4, "PendingManualApproval", 4), summary(3, "Rejected", 3), summary(2, "Approved", 2)]);
        assert.equal((await resolveModelVersion({ client, groupName: GROUP, policy: "latest-candidate" }))?.arn, arnOf(4));
        assert.equal((await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" }))?.arn, arnOf(2));
    });

    it("returns null when every version is Rejected, and latest-approved returns null with only candidates", async () => {
        registry([summary(2, "Rejected", 2), summary(1, "Rejected", 1)]);
        assert.equal(await resolveModelVersion({ client, groupName: GROUP, policy: "latest-candidate" }), null);
        sagemaker.reset();
        registry([summary(1, "PendingManualApproval", 1)]);
        assert.equal(await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" }), null);
    });

    it("never picks a version that is still being registered or failed", async () => {
        registry([summary(3, "Approved", 3, "InProgress"), summary(2, "Approved", 2, "Failed"), summary(1, "Approved", 1)]);
        assert.equal((await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" }))?.arn, arnOf(1));
    });

    it("follows NextToken through every page", async () => {
        sagemaker.on(ListModelPackagesCommand, { NextToken: undefined }).resolves({ ModelPackageSummaryList: [summary(1, "Approved", 1)], NextToken: "page-2" });
        sagemaker.on(ListModelPackagesCommand, { NextToken: "page-2" }).resolves({ ModelPackageSummaryList: [summary(7, "Approved", 7)] });
        sagemaker.on(DescribeModelPackageCommand).resolves(described(7, "Approved"));
        const version = await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved" });
        assert.equal(version?.arn, arnOf(7));
        assert.equal(sagemaker.commandCalls(ListModelPackagesCommand).length, 2);
    });

    it("a pin serves exactly that version without listing the group (rollback = pin the previous one)", async () => {
        registry([summary(3, "Approved", 3), summary(2, "Approved", 2)]);
        const version = await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", pinnedArn: arnOf(2) });
        assert.equal(version?.arn, arnOf(2));
        assert.equal(sagemaker.commandCalls(ListModelPackagesCommand).length, 0);
    });

    it("a pin may name a candidate but not a Rejected version nor one of another group", async () => {
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: arnOf(4) }).resolves(described(4, "PendingManualApproval"));
        assert.equal((await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", pinnedArn: arnOf(4) }))?.version, 4);

        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: arnOf(5) }).resolves(described(5, "Rejected"));
        await assert.rejects(resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", pinnedArn: arnOf(5) }),
            (e: Error) => e instanceof ModelVersionError && /pins version 5 of mlops-dev-churn, which is Rejected/.test(e.message));

        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: arnOf(6) }).resolves(described(6, "Approved", { ModelPackageGroupName: "other-group" }));
        await assert.rejects(resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", pinnedArn: arnOf(6) }),
            /belongs to model package group other-group; this stack serves group mlops-dev-churn/);
    });

    it("refuses a version without an image or model artifact, naming what is missing", async () => {
        sagemaker.on(DescribeModelPackageCommand).resolves(described(8, "Approved", { InferenceSpecification: { Containers: [{ Image: "img" }] } }));
        await assert.rejects(resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", pinnedArn: arnOf(8) }),
            /cannot serve: InferenceSpecification.Containers\[0\].ModelDataUrl is missing/);
    });

    it("keeps metadata keys optional: a version without them still serves", async () => {
        sagemaker.on(DescribeModelPackageCommand).resolves(described(9, "Approved", { CustomerMetadataProperties: undefined }));
        const version = await resolveModelVersion({ client, groupName: GROUP, policy: "latest-approved", pinnedArn: arnOf(9) });
        assert.equal(version?.properties[REGISTRY_METADATA.baselineStatisticsUri], undefined);
        assert.deepEqual(version?.properties, {});
    });
});

describe("model package group and endpoint names", () => {
    const config = (stack: string) => {
        const raw = readStackConfig(stack);
        const values = Object.fromEntries(Object.entries(raw).filter(([k]) => k.startsWith("mlops:"))
            .map(([k, v]) => [k.slice(6), ["environment", "owner", "alertEmail", "hostStack", "modelName", "modelVersionPolicy"].includes(k.slice(6)) ? v : JSON.parse(v)]));
        return parseConfig(values, { stack, region: raw["aws:region"] });
    };

    it("both environments serve from the platform's group, named as the registry names it", () => {
        assert.equal(modelPackageGroupName(config("platform")), "mlops-platform-churn");
        assert.equal(modelPackageGroupName(config("dev")), "mlops-platform-churn");
        assert.equal(modelPackageGroupName(config("prod")), "mlops-platform-churn");
        assert.equal(modelPackageGroupName({ project: "mlops", environment: "prod", modelName: "churn", hostStack: "acme/otherproj/staging" }), "otherproj-staging-churn");
        assert.throws(() => modelPackageGroupName({ project: "p", environment: "prod", modelName: "m", hostStack: "broken" }), /is not org\/project\/stack/);
    });

    it("each stack's endpoint has a stable name of its own within 63 characters", () => {
        assert.equal(endpointNameFor(config("dev")), "mlops-dev-churn");
        assert.equal(endpointNameFor(config("prod")), "mlops-prod-churn");
        const long = endpointNameFor({ project: "a-rather-long-project-name-for-mlops", environment: "staging", modelName: "customer-churn-predictor" });
        assert.ok(long.length <= 63, long);
    });

    it("describes what will serve, for pulumi preview", () => {
        assert.match(describeVersion(null, GROUP, "latest-approved"), /no model version to serve yet: group mlops-dev-churn has no Approved version/);
        assert.match(describeVersion(undefined, GROUP, "latest-approved"), /not resolved/);
    });
});

describe("resolveDeployInputs", () => {
    const sagemaker = mockClient(SageMakerClient);
    const client = new SageMakerClient({ region: "us-east-1" });
    const prod = { project: "mlops", environment: "prod" as const, modelName: "churn", hostStack: "example-org/mlops/dev", modelVersionPolicy: "latest-approved" as const };
    const notFound = () => Object.assign(new Error("Could not find endpoint \"mlops-prod-churn\"."), { name: "ValidationException" });
    beforeEach(() => sagemaker.reset());
    after(() => sagemaker.restore());

    function liveEndpoint(servingVersion: number, desired: number, declared: number) {
        sagemaker.on(DescribeEndpointCommand, { EndpointName: "mlops-prod-churn" }).resolves({
            EndpointName: "mlops-prod-churn", EndpointArn: "arn", EndpointStatus: "InService", EndpointConfigName: "cfg-1",
            CreationTime: new Date(), LastModifiedTime: new Date(),
            ProductionVariants: [{ VariantName: "primary", DesiredInstanceCount: desired, CurrentInstanceCount: desired }],
        });
        sagemaker.on(DescribeEndpointConfigCommand, { EndpointConfigName: "cfg-1" }).resolves({
            EndpointConfigName: "cfg-1", EndpointConfigArn: "arn", CreationTime: new Date(),
            ProductionVariants: [{ VariantName: "primary", ModelName: "model-1", InitialInstanceCount: declared }],
        });
        sagemaker.on(DescribeModelCommand, { ModelName: "model-1" }).resolves({
            ModelName: "model-1", ModelArn: "arn", CreationTime: new Date(),
            PrimaryContainer: { Image: "img", Environment: { [MODEL_PACKAGE_ENV]: arnOf(servingVersion) } },
        });
    }

    it("resolves the version from the host's group and reads the live endpoint's count and version", async () => {
        sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [summary(2, "Approved", 2)] });
        sagemaker.on(DescribeModelPackageCommand).resolves(described(2, "Approved"));
        liveEndpoint(1, 5, 2);
        const logs: string[] = [];
        const inputs = await resolveDeployInputs(prod, { client, log: (m) => logs.push(m) });
        assert.equal(inputs.modelVersion?.arn, arnOf(2));
        assert.deepEqual(inputs.liveEndpoint, {
            name: "mlops-prod-churn", status: "InService", configName: "cfg-1", desiredInstanceCount: 5, configInstanceCount: 2, modelPackageArn: arnOf(1),
        });
        assert.equal(sagemaker.commandCalls(ListModelPackagesCommand)[0].args[0].input.ModelPackageGroupName, "mlops-dev-churn");
        assert.match(logs.join("\n"), /live endpoint mlops-prod-churn: InService, config cfg-1, desired instances 5/);
    });

    it("first deploy: no version and no endpoint is fine", async () => {
        sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
        sagemaker.on(DescribeEndpointCommand).rejects(notFound());
        assert.deepEqual(await resolveDeployInputs(prod, { client }), { modelVersion: null, liveEndpoint: null });
        assert.equal(await readLiveEndpoint(client, "mlops-prod-churn"), null);
    });

    it("refuses to delete a serving endpoint because nothing is approved any more", async () => {
        sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [summary(1, "Rejected", 1)] });
        liveEndpoint(1, 2, 2);
        await assert.rejects(resolveDeployInputs(prod, { client }),
            /endpoint mlops-prod-churn is serving .*model-package\/mlops-dev-churn\/1, but group mlops-dev-churn has no version the policy latest-approved allows; refusing to delete the endpoint/);
    });

    it("passes AWS errors other than not-found through (no silent 'no endpoint')", async () => {
        sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
        sagemaker.on(DescribeEndpointCommand).rejects(Object.assign(new Error("not authorized to perform: sagemaker:DescribeEndpoint"), { name: "AccessDeniedException" }));
        await assert.rejects(resolveDeployInputs(prod, { client }), /not authorized/);
    });
});
