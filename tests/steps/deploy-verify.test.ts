import { strict as assert } from "assert";
import {
    DescribeEndpointCommand,
    DescribeEndpointCommandOutput,
    DescribeEndpointConfigCommand,
    DescribeModelCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { MODEL_PACKAGE_ENV } from "../../contracts/serving";
import { awsEndpointInspector, DeployError, verifyEndpoint } from "../../steps/deploy/verify";
import { awsError, FakeClock } from "./helpers";
import { ENDPOINT, NEW_CONFIG, OLD_CONFIG, OLD_VERSION, VERSION } from "./deploy-fixture";

function endpoint(status: string, configName: string, extra: Partial<DescribeEndpointCommandOutput> = {}): Partial<DescribeEndpointCommandOutput> {
    return {
        EndpointName: ENDPOINT,
        EndpointArn: `arn:aws:sagemaker:us-east-1:123456789012:endpoint/${ENDPOINT}`,
        EndpointStatus: status as DescribeEndpointCommandOutput["EndpointStatus"],
        EndpointConfigName: configName,
        CreationTime: new Date(),
        LastModifiedTime: new Date(),
        ProductionVariants: [{ VariantName: "primary", DesiredInstanceCount: 3, CurrentInstanceCount: 3 }],
        ...extra,
    };
}

describe("steps/deploy: endpoint verification (SageMaker mocked)", () => {
    const sagemaker = mockClient(SageMakerClient);
    let clock: FakeClock;
    let progress: string[];
    const verify = (timeoutMs = 600_000) => verifyEndpoint(
        awsEndpointInspector(new SageMakerClient({ region: "us-east-1" }), clock),
        { endpointName: ENDPOINT, configName: NEW_CONFIG, modelPackageArn: VERSION },
        { clock, timeoutMs, pollMs: 10_000, onProgress: (l) => progress.push(l) });

    beforeEach(() => {
        sagemaker.reset();
        clock = new FakeClock();
        progress = [];
        for (const [config, model, version] of [[NEW_CONFIG, "model-new", VERSION], [OLD_CONFIG, "model-old", OLD_VERSION]]) {
            sagemaker.on(DescribeEndpointConfigCommand, { EndpointConfigName: config }).resolves({
                EndpointConfigName: config, EndpointConfigArn: "arn", CreationTime: new Date(),
                ProductionVariants: [{ VariantName: "primary", ModelName: model, InitialInstanceCount: 2, InstanceType: "ml.m5.large" }],
            });
            sagemaker.on(DescribeModelCommand, { ModelName: model }).resolves({
                ModelName: model, ModelArn: "arn", CreationTime: new Date(),
                PrimaryContainer: { Image: "img", ModelDataUrl: "s3://m/model.tar.gz", Environment: { [MODEL_PACKAGE_ENV]: version } },
            });
        }
    });
    after(() => sagemaker.restore());

    it("InService on the update's configuration, running the requested version: verified at once", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG));
        const result = await verify();
        assert.equal(result.modelPackageArn, VERSION);
        assert.equal(result.polls, 1);
        assert.equal(result.endpoint.configName, NEW_CONFIG);
        assert.equal(result.endpoint.variants[0].desiredInstanceCount, 3);
        assert.deepEqual(clock.sleeps, []);
        assert.equal(sagemaker.commandCalls(DescribeModelCommand)[0].args[0].input.ModelName, "model-new");
    });

    it("InService on the previous configuration (silent rollback): fails with the configuration and SageMaker's reason", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", OLD_CONFIG, {
            FailureReason: "Deployment was rolled back because alarm mlops-prod-churn-endpoint-5xx-errors was triggered",
        }));
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "rolled-back" &&
            e.message.includes(`SageMaker rolled back ${ENDPOINT} to ${OLD_CONFIG}: Deployment was rolled back because alarm mlops-prod-churn-endpoint-5xx-errors was triggered`) &&
            e.message.includes(`the update's configuration ${NEW_CONFIG} is not in service`));
    });

    it("a rollback without a FailureReason still fails, and says where to look", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", OLD_CONFIG));
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "rolled-back" &&
            /gives no FailureReason; see the rollback alarms/.test(e.message));
    });

    it("RollingBack, then InService on the old configuration: waits, then reports the rollback", async () => {
        sagemaker.on(DescribeEndpointCommand)
            .resolvesOnce(endpoint("RollingBack", NEW_CONFIG))
            .resolves(endpoint("InService", OLD_CONFIG, { FailureReason: "alarm model-latency-p99 in ALARM" }));
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "rolled-back" && /alarm model-latency-p99 in ALARM/.test(e.message));
        assert.equal(clock.sleeps.length, 1);
    });

    it("Failed: fails with SageMaker's FailureReason", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("Failed", NEW_CONFIG, { FailureReason: "The primary container for production variant primary did not pass the ping health check." }));
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "failed" &&
            e.message === `endpoint ${ENDPOINT} is Failed: The primary container for production variant primary did not pass the ping health check.`);
    });

    it("UpdateRollbackFailed and OutOfService are failures too; a missing endpoint as well", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("UpdateRollbackFailed", NEW_CONFIG, { FailureReason: "rollback failed" }));
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "failed" && /is UpdateRollbackFailed: rollback failed/.test(e.message));
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("OutOfService", NEW_CONFIG));
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "failed" && /is OutOfService \(no FailureReason given\)/.test(e.message));
        sagemaker.on(DescribeEndpointCommand).rejects(awsError("ValidationException", `Could not find endpoint "${ENDPOINT}".`));
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "failed" && /does not exist after the update/.test(e.message));
    });

    it("Updating, then InService: polls with backoff until the update completes", async () => {
        sagemaker.on(DescribeEndpointCommand)
            .resolvesOnce(endpoint("Updating", OLD_CONFIG))
            .resolvesOnce(endpoint("Updating", OLD_CONFIG))
            .resolvesOnce(endpoint("Updating", NEW_CONFIG))
            .resolves(endpoint("InService", NEW_CONFIG));
        const result = await verify();
        assert.equal(result.polls, 4);
        // Equal jitter with random() = 0.5: 3/4 of 10 s, 20 s, 40 s.
        assert.deepEqual(clock.sleeps, [7_500, 15_000, 30_000]);
        assert.equal(progress.length, 3);
        assert.match(progress[0], /mlops-prod-churn is Updating; checking again in 8 s/);
    });

    it("still Updating at the deadline: times out without sleeping past it", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("Updating", NEW_CONFIG));
        await assert.rejects(verify(60_000), (e: Error) => e instanceof DeployError && e.kind === "timeout" &&
            /is still Updating after 60 s/.test(e.message));
        assert.equal(clock.time, 60_000);
        assert.ok(clock.sleeps.every((s) => s > 0));
    });

    it("InService on the update's configuration but running another version: fails (wrong version)", async () => {
        sagemaker.on(DescribeEndpointCommand).resolves(endpoint("InService", NEW_CONFIG));
        sagemaker.on(DescribeModelCommand, { ModelName: "model-new" }).resolves({
            ModelName: "model-new", ModelArn: "arn", CreationTime: new Date(),
            PrimaryContainer: { Image: "img", Environment: { [MODEL_PACKAGE_ENV]: OLD_VERSION } },
        });
        await assert.rejects(verify(), (e: Error) => e instanceof DeployError && e.kind === "wrong-version" &&
            e.message.includes(`runs ${OLD_VERSION}, not ${VERSION}`));
    });

    it("retries throttled DescribeEndpoint calls, and passes access errors through", async () => {
        sagemaker.on(DescribeEndpointCommand)
            .rejectsOnce(awsError("ThrottlingException", "Rate exceeded"))
            .resolves(endpoint("InService", NEW_CONFIG));
        assert.equal((await verify()).modelPackageArn, VERSION);
        assert.equal(clock.sleeps.length, 1);

        sagemaker.on(DescribeEndpointCommand).rejects(awsError("AccessDeniedException", "not authorized to perform: sagemaker:DescribeEndpoint"));
        await assert.rejects(verify(), /DescribeEndpoint: AccessDeniedException: not authorized/);
    });
});
