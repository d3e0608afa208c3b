import { strict as assert } from "assert";
import * as path from "path";
import {
    AddTagsCommand,
    DeleteTagsCommand,
    DescribeEndpointCommand,
    DescribeEndpointCommandOutput,
    DescribeEndpointConfigCommand,
    DescribeModelCommand,
    DescribeModelPackageCommand,
    DescribeModelPackageGroupCommand,
    ListTagsCommand,
    SageMakerClient,
    Tag,
} from "@aws-sdk/client-sagemaker";
import { resolveDeployInputs } from "../../infra/deploy-inputs";
import { registryPinStore } from "../../steps/deploy/pin";
import { mockClient } from "aws-sdk-client-mock";
import { pinTagKey } from "../../contracts/registry";
import { MODEL_PACKAGE_ENV } from "../../contracts/serving";
import { PROJECT_DIR } from "../../contracts/project";
import { EXIT_CODES, main } from "../../steps/deploy/main";
import { ChangeSummary, formatChanges, StackBusyError, StackDriver, UpSummary } from "../../steps/deploy/stack-driver";
import { awsEndpointInspector } from "../../steps/deploy/verify";
import { CapturedIo, FakeClock } from "./helpers";
import { ENDPOINT, NEW_CONFIG, OLD_CONFIG, VERSION } from "./deploy-fixture";

/** Records what the step asks of Pulumi, and answers like a stack whose update serves `serves`. */
class FakeStack implements StackDriver {
    readonly calls: string[] = [];
    readonly config: Record<string, string> = {
        "aws:region": "eu-west-1", "mlops:environment": "prod", "mlops:modelName": "churn", "mlops:hostStack": "example-org/mlops/dev",
    };
    upResult: Partial<UpSummary> = {};
    serves = VERSION;
    previewError?: Error;
    /** How many updates fail with "the stack is being updated by someone else" before one goes through. */
    busyUpdates = 0;
    constructor(readonly stackName: string) {}
    async getConfig(key: string) {
        return this.config[key];
    }
    async setConfig(key: string, value: string) {
        this.calls.push(`set ${key}=${value}`);
        this.config[key] = value;
    }
    async removeConfig(key: string) {
        this.calls.push(`remove ${key}`);
        delete this.config[key];
    }
    async outputs() {
        this.calls.push("outputs");
        return { endpointName: ENDPOINT, servingModelVersion: "arn:previous" };
    }
    async preview(onOutput: (text: string) => void): Promise<ChangeSummary> {
        this.calls.push("preview");
        if (this.previewError) throw this.previewError;
        onOutput("Previewing update (prod):\n  ~ model-endpoint-config replace\n");
        return { same: 40, replace: 2, create: 1 };
    }
    async up(onOutput: (text: string) => void): Promise<UpSummary> {
        this.calls.push("up");
        if (this.busyUpdates > 0) {
            this.busyUpdates--;
            throw new StackBusyError(this.stackName, "[409] Conflict: Another update is currently in progress.");
        }
        onOutput("Updating (prod):\n");
        return {
            result: "succeeded",
            resourceChanges: { same: 40, replace: 2, create: 1 },
            outputs: this.serves === "none"
                ? { servingModelVersion: "none", endpointName: ENDPOINT }
                : { servingModelVersion: this.serves, endpointName: ENDPOINT, endpoint: { configName: NEW_CONFIG, variantName: "primary" } },
            ...this.upResult,
        };
    }
}

function endpoint(status: string, configName: string, desired: number, extra: Partial<DescribeEndpointCommandOutput> = {}) {
    return {
        EndpointName: ENDPOINT, EndpointArn: "arn", EndpointStatus: status as DescribeEndpointCommandOutput["EndpointStatus"],
        EndpointConfigName: configName, CreationTime: new Date(), LastModifiedTime: new Date(),
        ProductionVariants: [{ VariantName: "primary", DesiredInstanceCount: desired, CurrentInstanceCount: desired }],
        ...extra,
    };
}

describe("steps/deploy main", () => {
    const sagemaker = mockClient(SageMakerClient);
    let stack: FakeStack;
    let io: CapturedIo;
    let clock: FakeClock;
    let regions: string[];
    const run = (...argv: string[]) => main(argv, {
        io,
        clock,
        driver: async (name, workDir) => {
            stack.calls.push(`select ${name} in ${path.relative(PROJECT_DIR, workDir) || "the project"}`);
            return stack;
        },
        inspector: (region, c) => {
            regions.push(region);
            return awsEndpointInspector(new SageMakerClient({ region }), c);
        },
        pins: (region) => registryPinStore(new SageMakerClient({ region })),
    });
    const GROUP_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/mlops-dev-churn";
    /** The group's tags as SageMaker keeps them (AddTags, DeleteTags and ListTags act on this). */
    let groupTags: Tag[];

    beforeEach(() => {
        sagemaker.reset();
        stack = new FakeStack("prod");
        io = new CapturedIo();
        clock = new FakeClock();
        regions = [];
        groupTags = [];
        sagemaker.on(DescribeModelPackageGroupCommand, { ModelPackageGroupName: "mlops-dev-churn" }).resolves({
            ModelPackageGroupName: "mlops-dev-churn", ModelPackageGroupArn: GROUP_ARN, CreationTime: new Date(),
            CreatedBy: {}, ModelPackageGroupStatus: "Completed",
        });
        sagemaker.on(AddTagsCommand).callsFake((input: { ResourceArn: string; Tags: Tag[] }) => {
            assert.equal(input.ResourceArn, GROUP_ARN);
            groupTags = [...groupTags.filter((t) => !input.Tags.some((n) => n.Key === t.Key)), ...input.Tags];
            return { Tags: input.Tags };
        });
        sagemaker.on(DeleteTagsCommand).callsFake((input: { ResourceArn: string; TagKeys: string[] }) => {
            groupTags = groupTags.filter((t) => !input.TagKeys.includes(t.Key!));
            return {};
        });
        sagemaker.on(ListTagsCommand, { ResourceArn: GROUP_ARN }).callsFake(() => ({ Tags: groupTags }));
        sagemaker.on(DescribeEndpointConfigCommand, { EndpointConfigName: NEW_CONFIG }).resolves({
            EndpointConfigName: NEW_CONFIG, EndpointConfigArn: "arn", CreationTime: new Date(),
            ProductionVariants: [{ VariantName: "primary", ModelName: "model-new", InitialInstanceCount: 3 }],
        });
        sagemaker.on(DescribeModelCommand, { ModelName: "model-new" }).resolves({
            ModelName: "model-new", ModelArn: "arn", CreationTime: new Date(),
            PrimaryContainer: { Image: "img", Environment: { [MODEL_PACKAGE_ENV]: VERSION } },
        });
    });
    after(() => sagemaker.restore());

    it("pins the version, previews, updates, prints the summary and verifies the endpoint", async () => {
        sagemaker.on(DescribeEndpointCommand)
            .resolvesOnce(endpoint("InService", OLD_CONFIG, 3))
            .resolves(endpoint("InService", NEW_CONFIG, 3));
        const code = await run("--stack", "prod", "--model-package-arn", VERSION);
        assert.equal(code, 0, io.all);
        // The pin goes to the registry (the group's tag), not to this build's copy of the stack file.
        assert.deepEqual(stack.calls, ["select prod in the project", "outputs", "preview", "up"]);
        assert.deepEqual(groupTags, [{ Key: "mlops:pin:prod", Value: VERSION }]);
        assert.deepEqual(regions, ["eu-west-1"]);
        const out = io.stdout.join("\n");
        assert.match(out, /prod: preview: create 1, replace 2, same 40/);
        assert.match(out, /~ model-endpoint-config replace/);
        assert.match(out, /prod: update succeeded: create 1, replace 2, same 40/);
        assert.match(out, new RegExp(`prod: ${ENDPOINT} is InService on ${NEW_CONFIG}, serving ${VERSION} on 3 instance\\(s\\)`));
        assert.deepEqual(io.stderr, []);
        assert.ok(out.indexOf("preview:") < out.indexOf("update succeeded"));
    });

    it("the pipeline's prod deploy records the lead time after verification; a recording failure does not fail the release", async () => {
        sagemaker.on(DescribeEndpointCommand).resolvesOnce(endpoint("InService", OLD_CONFIG, 3)).resolves(endpoint("InService", NEW_CONFIG, 3));
        const recorded: string[] = [];
        const failing = () => ({
            codepipeline: { send: async () => { recorded.push(stack.calls.join(",")); throw Object.assign(new Error("denied"), { name: "AccessDeniedException" }); } },
            cloudwatch: { send: async () => ({}) }, s3: { send: async () => ({}) },
        }) as never;
        io = new CapturedIo({ PIPELINE_NAME: "mlops-dev-churn", PIPELINE_EXECUTION_ID: "exec-1", EXECUTION_SUMMARY_PREFIX: "s3://a/executions/" });
        const code = await main(["--stack", "prod", "--model-package-arn", VERSION], {
            io, clock, driver: async () => stack, inspector: (region, c) => awsEndpointInspector(new SageMakerClient({ region }), c), recorder: failing,
        });
        assert.equal(code, 0, io.all);
        assert.equal(recorded.length, 1);
        assert.ok(recorded[0].endsWith("up"), "recorded only after the update (and its verification)");
        assert.match(io.stderr.join("\n"), /DELIVERY_METRICS_FAILED: .*exec-1 were not recorded \(the release is not affected\): AccessDeniedException: denied/);
        // Without the pipeline's variables (a deploy by hand, or dev), nothing is recorded.
        const quiet = new CapturedIo();
        sagemaker.on(DescribeEndpointCommand).resolvesOnce(endpoint("InService", OLD_CONFIG, 3)).resolves(endpoint("InService", NEW_CONFIG, 3));
        stack = new FakeStack("prod");
        assert.equal(await main(["--stack", "prod", "--model-package-arn", VERSION], {
            io: quiet, clock, driver: async () => stack, inspector: (region, c) => awsEndpointInspector(new SageMakerClient({ region }), c), recorder: failing,
        }), 0, quiet.all);
        assert.equal(recorded.length, 1);
    });

    it("a silent SageMaker rollback fails the step with the reason (exit 3)", async () => {
        sagemaker.on(DescribeEndpointCommand)
            .resolvesOnce(endpoint("InService", OLD_CONFIG, 2))
            .resolves(endpoint("InService", OLD_CONFIG, 2, { FailureReason: "alarm mlops-prod-churn-endpoint-5xx-errors in ALARM" }));
        const code = await run("--stack", "prod", "--model-package-arn", VERSION);
        assert.equal(code, EXIT_CODES["rolled-back"]);
        assert.equal(code, 3);
        assert.match(io.stderr.join("\n"), new RegExp(`SageMaker rolled back ${ENDPOINT} to ${OLD_CONFIG}: alarm mlops-prod-churn-endpoint-5xx-errors in ALARM`));
    });

    it("a Failed endpoint exits 4, an update still running at the deadline exits 5", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("Failed", NEW_CONFIG, 0, { FailureReason: "ping health check failed" }));
        assert.equal(await run("--stack", "prod"), 4);
        assert.match(io.stderr.join("\n"), /is Failed: ping health check failed/);

        io = new CapturedIo();
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("Updating", NEW_CONFIG, 2));
        assert.equal(await run("--stack", "prod", "--verify-timeout-seconds", "120"), 5);
        assert.match(io.stderr.join("\n"), /still Updating after 120 s/);
        assert.ok(clock.time >= 120_000);
    });

    it("exits 6 when the stack serves another version than the one requested", async () => {
        stack.serves = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-churn/3";
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG, 2));
        assert.equal(await run("--stack", "prod", "--model-package-arn", VERSION), 6);
        assert.match(io.stderr.join("\n"), /serves .*mlops-dev-churn\/3 after the update, not the requested .*mlops-dev-churn\/4/);
    });

    it("with no version to serve yet, updates and verifies nothing", async () => {
        stack.serves = "none";
        sagemaker.on(DescribeEndpointCommand).rejects(Object.assign(new Error(`Could not find endpoint "${ENDPOINT}".`), { name: "ValidationException" }));
        assert.equal(await run("--stack", "prod"), 0, io.all);
        assert.match(io.stdout.join("\n"), /no model version to serve yet; the endpoint is not deployed and there is nothing to verify/);
        assert.equal(sagemaker.commandCalls(DescribeEndpointCommand).length, 1, "only the look at the endpoint before the update");
    });

    it("--unpin removes the registry pin so the stack follows the registry, warning about a stack-file pin", async () => {
        groupTags = [{ Key: "mlops:pin:prod", Value: VERSION }, { Key: "mlops:pin:dev", Value: VERSION }];
        stack.config["mlops:modelPackageArn"] = "arn:old";
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG, 2));
        assert.equal(await run("--stack", "prod", "--unpin"), 0, io.all);
        assert.deepEqual(groupTags, [{ Key: "mlops:pin:dev", Value: VERSION }], "only this environment's pin is removed");
        assert.match(io.stderr.join("\n"), /warning: the stack file still pins arn:old/);
    });

    it("the pin outlives the build: the program's next run (any path) resolves the pinned version from the registry", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG, 3));
        assert.equal(await run("--stack", "prod", "--model-package-arn", VERSION), 0, io.all);
        // A later `pulumi up` (Pulumi Deployments, a person, the next pipeline run) starts from the committed stack
        // file, which has no mlops:modelPackageArn, and reads the registry.
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: VERSION }).resolves({
            ModelPackageArn: VERSION, ModelPackageGroupName: "mlops-dev-churn", ModelPackageVersion: 4, ModelPackageStatus: "Completed",
            ModelApprovalStatus: "Approved", CreationTime: new Date(), ModelPackageName: "mlops-dev-churn",
            InferenceSpecification: { Containers: [{ Image: "img", ModelDataUrl: "s3://m/model.tar.gz" }], SupportedContentTypes: [], SupportedResponseMIMETypes: [] },
        });
        const inputs = await resolveDeployInputs({
            project: "mlops", environment: "prod", modelName: "churn", hostStack: "example-org/mlops/dev",
            modelPackageArn: undefined, modelVersionPolicy: "latest-approved",
        }, { client: new SageMakerClient({ region: "eu-west-1" }) });
        assert.equal(inputs.modelVersion?.arn, VERSION);
        assert.equal(pinTagKey("prod"), "mlops:pin:prod");
    });

    it("refuses to pin a version of another group, or one the stack file overrides (exit 2)", async () => {
        assert.equal(await run("--stack", "prod", "--model-package-arn", "arn:aws:sagemaker:us-east-1:123456789012:model-package/other-group/4"), 2);
        assert.match(io.stderr.join("\n"), /is a version of other-group; prod serves from mlops-dev-churn/);
        io = new CapturedIo();
        stack.config["mlops:modelPackageArn"] = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-churn/2";
        assert.equal(await run("--stack", "prod", "--model-package-arn", VERSION), 2);
        assert.match(io.stderr.join("\n"), /stack file sets mlops:modelPackageArn = .*mlops-dev-churn\/2, which wins over the registry pin/);
        assert.deepEqual(groupTags, []);
        assert.ok(!stack.calls.includes("up"));
    });

    it("selects <organization>/<project>/<stack> when PULUMI_ORGANIZATION is set", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG, 2));
        io = new CapturedIo({ PULUMI_ORGANIZATION: "example-org" });
        assert.equal(await run("--stack", "prod"), 0, io.all);
        assert.equal(stack.calls[0], "select example-org/mlops/prod in the project");
        io = new CapturedIo({ PULUMI_ORGANIZATION: "example-org" });
        stack.calls.length = 0;
        assert.equal(await run("--stack", "other-org/mlops/prod"), 0, io.all);
        assert.equal(stack.calls[0], "select other-org/mlops/prod in the project", "an explicit qualified name is kept");
    });

    it("warns when the update reset an autoscaled instance count", async () => {
        sagemaker.on(DescribeEndpointCommand)
            .resolvesOnce(endpoint("InService", OLD_CONFIG, 5))
            .resolves(endpoint("InService", NEW_CONFIG, 2));
        assert.equal(await run("--stack", "prod"), 0, io.all);
        assert.match(io.stderr.join("\n"), /warning: mlops-prod-churn had 5 instances before the update and has 2 now/);
    });

    it("a failed pulumi operation exits 1 with its message", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", OLD_CONFIG, 2));
        stack.previewError = new Error("error: preview failed: aws:sagemaker/endpoint:Endpoint ... AccessDenied");
        assert.equal(await run("--stack", "prod"), 1);
        assert.match(io.stderr.join("\n"), /preview failed/);
        assert.ok(!stack.calls.includes("up"), "no update after a failed preview");

        io = new CapturedIo();
        stack = new FakeStack("prod");
        stack.upResult = { result: "failed" };
        assert.equal(await run("--stack", "prod"), 1);
        assert.match(io.stderr.join("\n"), /pulumi up on prod ended failed/);
    });

    it("waits for another update that holds the stack's lock, then deploys", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG, 2));
        stack.busyUpdates = 2;
        assert.equal(await run("--stack", "prod", "--model-package-arn", VERSION), 0, io.all);
        assert.deepEqual(stack.calls.filter((c) => c === "up"), ["up", "up", "up"]);
        assert.equal(io.stdout.filter((l) => /being updated by someone else.*update again in \d+ s/.test(l)).length, 2);
        assert.deepEqual(clock.sleeps.slice(0, 2), [11250, 22500], "backs off between attempts");
    });

    it("gives up on a stack that stays locked past the wait, with exit 1 and the reason", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", OLD_CONFIG, 2));
        stack.busyUpdates = 1000;
        assert.equal(await run("--stack", "prod"), 1);
        assert.match(io.stderr.join("\n"), /stack prod is being updated by someone else .*; gave up on update after waiting 45 min/);
        assert.ok(clock.now() <= 45 * 60_000, "never waits past the deadline");
    });

    it("rejects bad arguments with exit 2 and says what is allowed", async () => {
        assert.equal(await run(), 2);
        assert.match(io.stderr.join("\n"), /missing --stack/);
        io = new CapturedIo();
        assert.equal(await run("--stack", "qa"), 2);
        assert.match(io.stderr.join("\n"), /no Pulumi\.qa\.yaml in .*; known stacks: dev, platform, pr, prod/);
        io = new CapturedIo();
        assert.equal(await run("--stack", "prod", "--model-package-arn", "arn:aws:s3:::bucket"), 2);
        assert.match(io.stderr.join("\n"), /is not a model package version ARN/);
        io = new CapturedIo();
        assert.equal(await run("--stack", "prod", "--model-package-arn", VERSION, "--unpin"), 2);
        assert.match(io.stderr.join("\n"), /contradict each other/);
        assert.deepEqual(stack.calls, [], "nothing touched the stack");
    });

    it("accepts org/stack names and reads the stack from PULUMI_STACK", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG, 2));
        assert.equal(await run("--stack", "example-org/prod"), 0, io.all);
        io = new CapturedIo({ PULUMI_STACK: "prod" });
        assert.equal(await run(), 0, io.all);
    });

    it("formats change summaries in a stable order", () => {
        assert.equal(formatChanges({ same: 3, update: 1, create: 2, delete: 0 }), "create 2, update 1, same 3");
        assert.equal(formatChanges({ same: 7 }), "no changes (7 unchanged)");
    });
});
