import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { EndpointConfig, loadConfig } from "../../infra/config";
import {
    endpointProblems,
    hasInstanceStorage,
    initialInstanceCount,
    ModelEndpoint,
} from "../../infra/components/model-endpoint";
import { dashboardBody, millisecondsToMicroseconds, vcpuCount } from "../../infra/components/endpoint-monitoring";
import { LiveEndpoint } from "../../infra/deploy-inputs";
import { REGISTRY_METADATA } from "../../contracts/registry";
import { MODEL_PACKAGE_ENV } from "../../contracts/serving";
import { NAME_LIMITS } from "../../contracts/resource-names";
import { createStack } from "../../infra/program";
import { validateRequest } from "../harness/api-models";
import { testBed } from "../harness/fixtures";
import {
    ACCOUNT_ID,
    evaluate,
    evaluateStack,
    hostSharedFixture,
    modelVersionFixture,
    readStackConfig,
    RecordedResource,
    stackGraph,
    StackGraph,
} from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource?: any; Condition?: any };
const statements = (policy: string): Statement[] => JSON.parse(policy).Statement;
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resources = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The stack file's `mlops:endpoint` with changes, for config overrides. */
function endpointConfig(stack: string, change: (e: any) => void): any {
    const endpoint = JSON.parse(readStackConfig(stack)["mlops:endpoint"]);
    change(endpoint);
    return endpoint;
}

/** The stack file's `mlops:endpoint` as written: the expected values of the resources it configures. */
const stackEndpoint = (stack: string): any => endpointConfig(stack, () => undefined);

const TYPES = {
    model: "aws:sagemaker/model:Model",
    config: "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    endpoint: "aws:sagemaker/endpoint:Endpoint",
    target: "aws:appautoscaling/target:Target",
    policy: "aws:appautoscaling/policy:Policy",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    dashboard: "aws:cloudwatch/dashboard:Dashboard",
};

/**
 * The recorded inputs as the requests the AWS provider sends (the API's member names: the provider's camelCase with
 * a capital, plus the renames below), so AWS's published API model can judge them.
 */
const API_RENAMES: Readonly<Record<string, string>> = { memorySizeInMb: "MemorySizeInMB", kmsKeyArn: "KmsKeyId", subnets: "Subnets" };
function apiShape(value: any): any {
    if (Array.isArray(value)) return value.map(apiShape);
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
        if (member === undefined) continue;
        // A container's environment is a map of the image's variable names: its keys are data, not members.
        out[API_RENAMES[key] ?? key[0].toUpperCase() + key.slice(1)] = key === "environment" ? member : apiShape(member);
    }
    return out;
}
function pick(inputs: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
    return Object.fromEntries(keys.filter((k) => inputs[k] !== undefined).map((k) => [k, inputs[k]]));
}

/** The create requests for the endpoint's resources in one stack's graph: [service, operation, input]. */
function endpointRequests(graph: StackGraph): [string, string, unknown][] {
    const model = graph.one(TYPES.model);
    const config = graph.one(TYPES.config);
    const endpoint = graph.one(TYPES.endpoint);
    const requests: [string, string, unknown][] = [
        ["sagemaker", "CreateModel", { ModelName: model.state.name, ...apiShape(pick(model.inputs, ["primaryContainer", "executionRoleArn", "enableNetworkIsolation", "vpcConfig"])) }],
        ["sagemaker", "CreateEndpointConfig", { EndpointConfigName: config.state.name, ...apiShape(pick(config.inputs, ["productionVariants", "dataCaptureConfig", "kmsKeyArn"])) }],
        ["sagemaker", "CreateEndpoint", { EndpointName: endpoint.inputs.name, ...apiShape(pick(endpoint.inputs, ["endpointConfigName", "deploymentConfig"])) }],
    ];
    for (const target of graph.ofType(TYPES.target)) {
        requests.push(["application-autoscaling", "RegisterScalableTarget", apiShape(pick(target.inputs, ["serviceNamespace", "resourceId", "scalableDimension", "minCapacity", "maxCapacity"]))]);
    }
    for (const policy of graph.ofType(TYPES.policy)) {
        requests.push(["application-autoscaling", "PutScalingPolicy", {
            PolicyName: policy.inputs.name,
            ...apiShape(pick(policy.inputs, ["serviceNamespace", "resourceId", "scalableDimension", "policyType", "targetTrackingScalingPolicyConfiguration"])),
        }]);
    }
    return requests;
}

function endpointResources(graph: StackGraph): RecordedResource[] {
    return graph.descendantsOf(graph.one("mlops:serving:ModelEndpoint"));
}

describe("ModelEndpoint in both stacks", () => {
    let dev: { graph: StackGraph; outputs: Record<string, any> };
    let prod: { graph: StackGraph; outputs: Record<string, any> };
    before(async () => {
        dev = await stackGraph("dev");
        prod = await stackGraph("prod");
    });

    it("asks AWS only for what its API accepts (botocore's SageMaker and Application Auto Scaling models)", () => {
        for (const { graph } of [dev, prod]) {
            const requests = endpointRequests(graph);
            assert.deepEqual(requests.map(([, operation]) => operation).slice(0, 3), ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]);
            for (const [service, operation, input] of requests) {
                assert.deepEqual(validateRequest(service, operation, input).problems, [], `${graph.stack} ${operation}`);
            }
        }
        assert.deepEqual(endpointRequests(prod.graph).slice(3).map(([, operation]) => operation), ["RegisterScalableTarget", "PutScalingPolicy"]);
        // The oracle is live: a variant name with an underscore, or a canary of 0 %, is what AWS would refuse.
        const [, , config] = endpointRequests(prod.graph)[1] as [string, string, any];
        config.ProductionVariants[0].VariantName = "primary_variant";
        assert.match(validateRequest("sagemaker", "CreateEndpointConfig", config).problems.join("\n"), /VariantName.*does not match/);
        const [, , endpoint] = endpointRequests(prod.graph)[2] as [string, string, any];
        endpoint.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.CanarySize.Value = 0;
        assert.match(validateRequest("sagemaker", "CreateEndpoint", endpoint).problems.join("\n"), /CanarySize\.Value: 0 is below/);
    });

    it("dev serves from a serverless variant with no autoscaling, capture, VPC or instance count", () => {
        const variant = dev.graph.one(TYPES.config).inputs.productionVariants[0];
        const file = stackEndpoint("dev");
        assert.deepEqual(variant.serverlessConfig, { memorySizeInMb: file.serverlessMemoryMb, maxConcurrency: file.serverlessMaxConcurrency });
        assert.equal(variant.variantName, "primary");
        assert.equal(variant.initialInstanceCount, undefined);
        assert.equal(variant.instanceType, undefined);
        assert.equal(dev.graph.ofType(TYPES.target).length, 0);
        assert.equal(dev.graph.ofType(TYPES.policy).length, 0);
        assert.equal(dev.graph.one(TYPES.config).inputs.dataCaptureConfig, undefined);
        assert.equal(dev.graph.one(TYPES.model).inputs.vpcConfig, undefined);
        assert.equal(dev.outputs.endpoint.captureS3Uri, undefined);
    });

    it("dev records what serverless cannot have instead of silently dropping it", () => {
        const config = dev.graph.one(TYPES.config).inputs;
        const model = dev.graph.one(TYPES.model).inputs;
        assert.equal(config.kmsKeyArn, undefined);
        assert.equal(model.enableNetworkIsolation, false);
        const exceptions: string[] = dev.outputs.endpoint.securityExceptions;
        assert.equal(exceptions.length, 2);
        assert.match(exceptions.join("\n"), /network isolation off: serverless/);
        assert.match(exceptions.join("\n"), /no endpoint KMS key: serverless/);
        assert.deepEqual(prod.outputs.endpoint.securityExceptions, []);
    });

    it("prod serves from the instances its stack file declares, encrypted with its own key, network-isolated", () => {
        const config = prod.graph.one(TYPES.config).inputs;
        const variant = config.productionVariants[0];
        const file = stackEndpoint("prod");
        assert.deepEqual([variant.variantName, variant.instanceType, variant.initialInstanceCount, variant.initialVariantWeight],
            ["primary", file.instanceType, file.instanceCount, 1]);
        assert.equal(variant.serverlessConfig, undefined);
        assert.equal(config.kmsKeyArn, prod.outputs.kmsKeyArn);
        assert.equal(prod.graph.one(TYPES.model).inputs.enableNetworkIsolation, true);
    });

    it("prod autoscales the variant between min and max on invocations per instance, with explicit cooldowns", () => {
        const target = prod.graph.one(TYPES.target).inputs;
        const { autoscaling } = stackEndpoint("prod");
        // Application Auto Scaling finds the variant by this id: the endpoint's name and the variant's (not literals).
        const variantName = prod.graph.one(TYPES.config).inputs.productionVariants[0].variantName;
        assert.equal(target.resourceId, `endpoint/${prod.graph.one(TYPES.endpoint).inputs.name}/variant/${variantName}`);
        assert.deepEqual([target.serviceNamespace, target.scalableDimension, target.minCapacity, target.maxCapacity],
            ["sagemaker", "sagemaker:variant:DesiredInstanceCount", autoscaling.minCapacity, autoscaling.maxCapacity]);
        const policy = prod.graph.one(TYPES.policy).inputs;
        assert.equal(policy.policyType, "TargetTrackingScaling");
        assert.equal(policy.resourceId, target.resourceId);
        const tracking = policy.targetTrackingScalingPolicyConfiguration;
        assert.equal(tracking.predefinedMetricSpecification.predefinedMetricType, "SageMakerVariantInvocationsPerInstance");
        assert.deepEqual([tracking.targetValue, tracking.scaleInCooldown, tracking.scaleOutCooldown],
            [autoscaling.targetInvocationsPerInstance, autoscaling.scaleInCooldownSeconds, autoscaling.scaleOutCooldownSeconds]);
        assert.ok(policy.name.length <= NAME_LIMITS.scalingPolicy);
    });

    it("prod captures inputs and outputs with its key, at the configured rate and content types, under the endpoint's prefix", () => {
        const capture = prod.graph.one(TYPES.config).inputs.dataCaptureConfig;
        const bucket = `mlops-prod-capture-${ACCOUNT_ID}-us-east-1`;
        assert.equal(capture.enableCapture, true);
        assert.equal(capture.initialSamplingPercentage, stackEndpoint("prod").dataCapture.samplingPercentage);
        assert.equal(capture.kmsKeyId, prod.outputs.kmsKeyArn);
        assert.equal(capture.destinationS3Uri, `s3://${bucket}/endpoints`);
        assert.deepEqual(capture.captureOptions, [{ captureMode: "Input" }, { captureMode: "Output" }]);
        assert.deepEqual(capture.captureContentTypeHeader, { csvContentTypes: ["text/csv"], jsonContentTypes: ["application/json"] });
        // SageMaker appends <endpoint>/<variant>/yyyy/mm/dd/hh to the destination (docs/contracts.md §5).
        assert.equal(prod.outputs.endpoint.captureS3Uri, `s3://${bucket}/endpoints/mlops-prod-churn/`);
    });

    it("prod deploys blue/green with canary traffic shifting and rolls back on alarms that exist in the stack", () => {
        const deployment = prod.graph.one(TYPES.endpoint).inputs.deploymentConfig;
        const policy = deployment.blueGreenUpdatePolicy;
        const file = stackEndpoint("prod").deployment;
        assert.equal(file.strategy, "canary");
        assert.deepEqual(policy.trafficRoutingConfiguration, {
            type: "CANARY", canarySize: { type: "CAPACITY_PERCENT", value: file.canarySizePercent }, waitIntervalInSeconds: file.waitIntervalSeconds,
        });
        assert.deepEqual([policy.terminationWaitInSeconds, policy.maximumExecutionTimeoutInSeconds], [file.terminationWaitSeconds, file.maximumExecutionTimeoutSeconds]);
        const rollbackAlarms = deployment.autoRollbackConfiguration.alarms.map((a: any) => a.alarmName);
        assert.deepEqual(rollbackAlarms, ["mlops-prod-churn-endpoint-5xx-errors", "mlops-prod-churn-endpoint-model-latency-p99"]);
        const alarmsInStack = new Map(prod.graph.ofType(TYPES.alarm).map((a) => [a.inputs.name, a]));
        for (const name of rollbackAlarms) {
            const alarm = alarmsInStack.get(name);
            assert.ok(alarm, `rollback alarm ${name} is not in the stack`);
            assert.deepEqual(alarm.inputs.dimensions, { EndpointName: "mlops-prod-churn", VariantName: "primary" });
        }
        assert.deepEqual(prod.outputs.endpoint.rollbackAlarms, rollbackAlarms);
    });

    it("dev deploys blue/green all at once, still guarded by its rollback alarms", () => {
        const deployment = dev.graph.one(TYPES.endpoint).inputs.deploymentConfig;
        assert.equal(deployment.blueGreenUpdatePolicy.trafficRoutingConfiguration.type, "ALL_AT_ONCE");
        assert.equal(deployment.autoRollbackConfiguration.alarms.length, 2);
    });

    it("alarms: 5XX count, p99 model latency in microseconds, 4XX rate; CPU scaled by vCPUs and memory on instances only", () => {
        const byName = (graph: StackGraph, suffix: string) => graph.ofType(TYPES.alarm).find((a) => a.inputs.name.endsWith(suffix))?.inputs;
        const topic = prod.outputs.alertsTopicArn;
        const { alarms } = stackEndpoint("prod");
        const errors = byName(prod.graph, "endpoint-5xx-errors")!;
        assert.deepEqual([errors.namespace, errors.metricName, errors.statistic, errors.period, errors.threshold, errors.comparisonOperator, errors.evaluationPeriods],
            ["AWS/SageMaker", "Invocation5XXErrors", "Sum", 60, alarms.invocation5xxErrors, "GreaterThanThreshold", alarms.evaluationPeriods]);
        // SageMaker reports ModelLatency in microseconds; the stack file states milliseconds.
        const latency = byName(prod.graph, "endpoint-model-latency-p99")!;
        assert.deepEqual([latency.metricName, latency.extendedStatistic, latency.threshold], ["ModelLatency", "p99", alarms.modelLatencyP99Ms * 1000]);
        const clientErrors = byName(prod.graph, "endpoint-4xx-error-rate")!;
        assert.equal(clientErrors.threshold, 5);
        assert.deepEqual(clientErrors.metricQueries.map((q: any) => q.metric?.metricName ?? q.expression),
            ["Invocation4XXErrors", "Invocations", "IF(invocations > 0, 100 * errors / invocations, 0)"]);
        const cpu = byName(prod.graph, "endpoint-cpu-utilization")!;
        assert.deepEqual([cpu.namespace, cpu.metricName, cpu.threshold], ["/aws/sagemaker/Endpoints", "CPUUtilization", 160]);
        assert.equal(byName(prod.graph, "endpoint-memory-utilization")!.threshold, 85);
        for (const alarm of endpointResources(prod.graph).filter((r) => r.type === TYPES.alarm)) {
            assert.deepEqual(alarm.inputs.alarmActions, [topic], alarm.name);
            assert.deepEqual(alarm.inputs.okActions, [topic], alarm.name);
            assert.equal(alarm.inputs.treatMissingData, "notBreaching");
        }
        assert.equal(byName(dev.graph, "endpoint-cpu-utilization"), undefined);
        assert.equal(byName(dev.graph, "endpoint-memory-utilization"), undefined);
        assert.ok(byName(dev.graph, "endpoint-5xx-errors"));
    });

    it("has a dashboard with invocations, errors, latency, CPU/memory and instance count", () => {
        const body = JSON.parse(prod.graph.one(TYPES.dashboard).inputs.dashboardBody);
        const titles = body.widgets.map((w: any) => w.properties.title);
        assert.deepEqual(titles, ["Invocations", "Errors (4XX, 5XX)", "Model latency (µs)", "CPU and memory utilization (%)", "Instance count"]);
        for (const widget of body.widgets) {
            assert.equal(widget.properties.region, "us-east-1");
            for (const metric of widget.properties.metrics) assert.deepEqual(metric.slice(2, 6), ["EndpointName", "mlops-prod-churn", "VariantName", "primary"]);
        }
        const devTitles = JSON.parse(dev.graph.one(TYPES.dashboard, /^model-endpoint-dashboard$/).inputs.dashboardBody).widgets.map((w: any) => w.properties.title);
        assert.ok(!devTitles.includes("Instance count"));
        assert.ok(devTitles.includes("Cold starts: model setup time (µs)"));
    });

    it("serves the registry version's image and artifact, and records its ARN in the model's environment", () => {
        const version = modelVersionFixture();
        for (const { graph, outputs } of [dev, prod]) {
            const container = graph.one(TYPES.model).inputs.primaryContainer;
            assert.deepEqual(container, { image: version.imageUri, modelDataUrl: version.modelDataUri, environment: { [MODEL_PACKAGE_ENV]: version.arn } });
            assert.equal(outputs.servingModelVersion, version.arn);
            assert.equal(outputs.endpoint.modelVersion, 3);
            assert.equal(outputs.endpoint.baselineStatisticsUri, version.properties[REGISTRY_METADATA.baselineStatisticsUri]);
            assert.equal(outputs.endpoint.baselineConstraintsUri, version.properties[REGISTRY_METADATA.baselineConstraintsUri]);
            assert.equal(outputs.endpoint.manifestUri, version.properties[REGISTRY_METADATA.manifestUri]);
        }
    });

    it("names the endpoint stably and leaves model and endpoint configuration autonamed (create before delete)", () => {
        for (const { graph, outputs } of [dev, prod]) {
            const endpoint = graph.one(TYPES.endpoint);
            assert.equal(endpoint.inputs.name, `mlops-${graph.stack}-churn`);
            assert.equal(outputs.endpointName, endpoint.inputs.name);
            assert.equal(graph.one(TYPES.model).inputs.name, undefined);
            assert.equal(graph.one(TYPES.config).inputs.name, undefined);
            assert.equal(endpoint.inputs.endpointConfigName, graph.one(TYPES.config).state.name);
            assert.equal(outputs.endpoint.configName, graph.one(TYPES.config).state.name);
            assert.equal(graph.one(TYPES.config).inputs.productionVariants[0].modelName, graph.one(TYPES.model).state.name);
        }
    });

    it("runs the model under a least-privilege role: artifacts, both keys, image pull, its own log group, SageMaker metrics", () => {
        const shared = hostSharedFixture();
        const role = prod.graph.one("aws:iam/role:Role", "model-endpoint-role");
        const trust = statements(role.inputs.assumeRolePolicy)[0];
        assert.deepEqual(trust.Condition, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } });
        const policy = statements(prod.graph.one("aws:iam/rolePolicy:RolePolicy", "model-endpoint-role-policy").inputs.policy);
        const bySid = Object.fromEntries(policy.map((s) => [s.Sid, s]));
        assert.deepEqual(resources(bySid.ReadModelArtifacts), [`${shared.modelsBucketArn}/*`]);
        assert.deepEqual(resources(bySid.DecryptModelArtifacts).sort(), [shared.kmsKeyArn, prod.outputs.kmsKeyArn].sort());
        assert.deepEqual(resources(bySid.PullInferenceImage), [shared.imageRepositoryArn]);
        const logGroup = prod.graph.one("aws:cloudwatch/logGroup:LogGroup", "model-endpoint-logs");
        assert.equal(logGroup.inputs.name, "/aws/sagemaker/Endpoints/mlops-prod-churn");
        assert.equal(logGroup.inputs.kmsKeyId, prod.outputs.kmsKeyArn);
        assert.equal(logGroup.inputs.retentionInDays, 365);
        assert.deepEqual(resources(bySid.WriteEndpointLogs), [logGroup.state.arn, `${logGroup.state.arn}:log-stream:*`]);
        assert.deepEqual(resources(bySid.WriteCapturedTraffic), [`arn:aws:s3:::mlops-prod-capture-${ACCOUNT_ID}-us-east-1/endpoints/mlops-prod-churn/*`]);
        assert.deepEqual(bySid.PublishEndpointMetrics.Condition, { StringEquals: { "cloudwatch:namespace": ["AWS/SageMaker", "/aws/sagemaker/Endpoints"] } });
        for (const s of policy) {
            for (const a of actions(s)) assert.ok(a !== "*" && !a.endsWith(":*"), `${s.Sid} grants ${a}`);
            if (resources(s).includes("*")) assert.ok(["AuthenticateToEcr", "PublishEndpointMetrics"].includes(s.Sid!), `${s.Sid} has Resource "*"`);
        }
        // Dev captures nothing, so its role may not write to the capture bucket.
        const devPolicy = statements(dev.graph.one("aws:iam/rolePolicy:RolePolicy", "model-endpoint-role-policy").inputs.policy);
        assert.ok(!devPolicy.some((s) => s.Sid === "WriteCapturedTraffic"));
    });

    it("keeps every SageMaker name within 63 characters, also for the longest model name the config allows", async () => {
        const { graph, error } = await evaluateStack("prod", { config: { modelName: "customer-churn-predictor" } });
        assert.equal(error, undefined);
        const names = [TYPES.model, TYPES.config, TYPES.endpoint].map((t) => graph.one(t).state.name as string);
        assert.equal(names[2], "mlops-prod-customer-churn-predictor");
        for (const name of names) assert.ok(name.length <= NAME_LIMITS.sagemaker, `${name} (${name.length})`);
        assert.match(graph.one(TYPES.target).inputs.resourceId, /^endpoint\/mlops-prod-customer-churn-predictor\/variant\/primary$/);
    });
});

describe("ModelEndpoint without a model version", () => {
    let logged: string[];
    let original: typeof pulumi.log.info;
    beforeEach(() => {
        logged = [];
        original = pulumi.log.info;
        (pulumi.log as any).info = async (message: string) => {
            logged.push(message);
        };
    });
    afterEach(() => {
        (pulumi.log as any).info = original;
    });

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: creates everything but the endpoint, and says so`, async () => {
            const { graph, outputs, error } = await evaluateStack(stack, { modelVersion: null });
            assert.equal(error, undefined);
            for (const type of [TYPES.model, TYPES.config, TYPES.endpoint, TYPES.target, TYPES.policy]) assert.equal(graph.ofType(type).length, 0, type);
            // Other components have alarms and dashboards of their own; the endpoint's are all named after it.
            const endpointNamed = graph.resources.filter((r) => [TYPES.alarm, TYPES.dashboard].includes(r.type) &&
                /-churn-endpoint/.test(r.inputs.name ?? r.inputs.dashboardName ?? ""));
            assert.deepEqual(endpointNamed.map((r) => r.name), []);
            assert.equal(graph.ofType("mlops:serving:ModelEndpoint").length, 0);
            assert.ok(graph.ofType("aws:kms/key:Key").length === 1, "the rest of the stack is there");
            assert.equal(outputs!.servingModelVersion, "none");
            assert.equal(outputs!.endpointName, `mlops-${stack}-churn`);
            assert.equal(outputs!.endpoint, undefined);
            assert.match(logged.join("\n"), /no model version to serve yet: group mlops-platform-churn has no (Approved version|version that is not Rejected)/);
            assert.match(logged.join("\n"), new RegExp(`endpoint mlops-${stack}-churn skipped`));
        });
    }

    it("treats a version that was never resolved as none, and logs that", async () => {
        const { graph, outputs, error } = await evaluate("prod", () => createStack(loadConfig(), {}));
        assert.equal(error, undefined);
        assert.equal(graph.ofType(TYPES.endpoint).length, 0);
        assert.equal(outputs!.servingModelVersion, "none");
        assert.match(logged.join("\n"), /model version not resolved/);
    });

    it("fails the deployment when the version is not from the host's registry", async () => {
        const { error } = await evaluateStack("prod", { modelVersion: modelVersionFixture({ groupName: "someone-elses-group" }) });
        assert.match(String(error?.message), /is from group someone-elses-group, but the host's registry is mlops-platform-churn/);
    });
});

describe("ModelEndpoint rejects invalid combinations with a clear message", () => {
    async function errorFor(stack: string, config: Record<string, unknown>): Promise<string> {
        const { error } = await evaluateStack(stack, { config });
        assert.ok(error, "evaluation should fail");
        return error.message;
    }

    it("autoscaling on a serverless variant", async () => {
        const message = await errorFor("dev", { endpoint: endpointConfig("dev", (e) => { e.autoscaling = { enabled: true, minCapacity: 1, maxCapacity: 2 }; }) });
        assert.match(message, /endpoint\.autoscaling\.enabled: serverless endpoints scale by themselves up to serverlessMaxConcurrency; autoscaling needs endpoint\.kind "instances"/);
    });

    it("canary or linear blue/green on a serverless variant", async () => {
        const message = await errorFor("dev", { endpoint: endpointConfig("dev", (e) => { e.deployment = { strategy: "canary" }; }) });
        assert.match(message, /endpoint\.deployment\.strategy: got "canary"; serverless endpoints have no instance capacity to shift in canary or linear steps: use "all-at-once"/);
        const dev = { ...JSON.parse(readStackConfig("dev")["mlops:endpoint"]), autoscaling: { enabled: false }, dataCapture: { enabled: false } };
        assert.deepEqual(endpointProblems({ ...dev, deployment: { strategy: "linear" } } as EndpointConfig),
            ["endpoint.deployment.strategy: got \"linear\"; serverless endpoints have no instance capacity to shift in canary or linear steps: use \"all-at-once\" or endpoint.kind \"instances\""]);
        assert.deepEqual(endpointProblems({ ...dev, deployment: { strategy: "all-at-once" } } as EndpointConfig), []);
    });

    it("data capture or a VPC on a serverless variant", async () => {
        assert.match(await errorFor("dev", { endpoint: endpointConfig("dev", (e) => { e.dataCapture = { enabled: true }; }) }),
            /endpoint\.dataCapture\.enabled: serverless endpoints do not support data capture/);
        assert.match(await errorFor("dev", { vpc: { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] } }),
            /vpc: serverless endpoints cannot run in a VPC; use endpoint\.kind "instances" or remove mlops:vpc/);
    });

    it("an instance type with local NVMe storage (the stack always encrypts endpoint storage with its key)", async () => {
        const message = await errorFor("prod", { endpoint: endpointConfig("prod", (e) => { e.instanceType = "ml.m5d.large"; }) });
        assert.match(message, /endpoint\.instanceType: ml\.m5d\.large has local NVMe instance storage, for which SageMaker refuses an endpoint KMS key.*use an EBS-backed instance type such as ml\.m5\.large/);
        const gpu = await errorFor("prod", { endpoint: endpointConfig("prod", (e) => { e.instanceType = "ml.g4dn.xlarge"; }) });
        assert.match(gpu, /ml\.g4dn\.xlarge has local NVMe instance storage.*such as ml\.m5\.large/);
    });

    it("lists every problem at once", () => {
        const dev = JSON.parse(readStackConfig("dev")["mlops:endpoint"]);
        const problems = endpointProblems({
            ...dev, instanceType: "ml.m5.large", instanceCount: 1,
            autoscaling: { enabled: true, minCapacity: 1, maxCapacity: 2, targetInvocationsPerInstance: 1, scaleInCooldownSeconds: 1, scaleOutCooldownSeconds: 1 },
            deployment: { strategy: "linear", canarySizePercent: 10, linearStepPercent: 20, waitIntervalSeconds: 1, terminationWaitSeconds: 1, maximumExecutionTimeoutSeconds: 600 },
            dataCapture: { enabled: true, samplingPercentage: 1, csvContentTypes: [], jsonContentTypes: [] },
            alarms: { modelLatencyP99Ms: 1, invocation5xxErrors: 1, evaluationPeriods: 1 },
        } as EndpointConfig, { vpc: { subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] } });
        assert.equal(problems.length, 4);
    });
});

describe("ModelEndpoint options", () => {
    it("an explicit exception admits an NVMe instance type: no endpoint key, and the exception is recorded", async () => {
        const { graph, error } = await evaluate("prod", () => {
            const bed = testBed();
            const endpoint = new ModelEndpoint("model-endpoint", {
                context: bed.context,
                modelName: "churn",
                version: modelVersionFixture(),
                endpoint: { ...bed.config.endpoint!, instanceType: "ml.g4dn.xlarge" },
                kmsKeyArn: bed.baseline.kmsKeyArn,
                artifactsKmsKeyArn: bed.baseline.kmsKeyArn,
                modelsBucketArn: bed.baseline.buckets.models.arn,
                imageRepositoryArn: "arn:aws:ecr:us-east-1:123456789012:repository/mlops-dev-model",
                captureBucketName: bed.baseline.buckets.capture.name,
                captureBucketArn: bed.baseline.buckets.capture.arn,
                alertsTopicArn: bed.baseline.alertsTopicArn,
                allowInstanceStorage: true,
            }, bed.opts);
            return { exceptions: endpoint.securityExceptions };
        });
        assert.equal(error, undefined);
        const config = graph.one(TYPES.config).inputs;
        assert.equal(config.kmsKeyArn, undefined);
        assert.equal(config.dataCaptureConfig.kmsKeyId !== undefined, true, "captured data is still encrypted with our key");
        assert.equal(graph.one(TYPES.alarm, /cpu-utilization$/).inputs.threshold, 320, "g4dn.xlarge has 4 vCPUs");
    });

    it("runs the model in the configured VPC, with network interface rights confined to its subnets and groups", async () => {
        const vpc = { subnetIds: ["subnet-0a1b2c3d", "subnet-0e0f0a0b"], securityGroupIds: ["sg-0a1b2c3d"] };
        const { graph, error } = await evaluateStack("prod", { config: { vpc } });
        assert.equal(error, undefined);
        assert.deepEqual(graph.one(TYPES.model).inputs.vpcConfig, { subnets: vpc.subnetIds, securityGroupIds: vpc.securityGroupIds });
        assert.equal(graph.one(TYPES.model).inputs.enableNetworkIsolation, true);
        const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", "model-endpoint-role-policy").inputs.policy);
        const eni = policy.find((s) => s.Sid === "ManageEndpointNetworkInterfaces")!;
        assert.deepEqual(resources(eni).sort(), [
            `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:network-interface/*`,
            `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:security-group/sg-0a1b2c3d`,
            `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:subnet/subnet-0a1b2c3d`,
            `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:subnet/subnet-0e0f0a0b`,
        ]);
    });

    it("replaces the endpoint (old one first: its name is fixed) only when switching between serverless and instances", async () => {
        const seen: Record<string, unknown>[] = [];
        const record: pulumi.ResourceTransformation = (args) => {
            if (args.type === TYPES.endpoint) seen.push({ ...args.opts });
            return undefined;
        };
        for (const stack of ["dev", "prod"]) {
            const { error } = await evaluate(stack, () => createStack(loadConfig(), { modelVersion: modelVersionFixture(), transformations: [record] }));
            assert.equal(error, undefined);
        }
        assert.deepEqual(seen.map((o) => [o.replacementTrigger, o.deleteBeforeReplace]), [["serverless", true], ["instances", true]]);
    });

    it("evaluates under preview (unknown computed values) without failing", async () => {
        const { error, graph } = await evaluateStack("prod", { preview: true });
        assert.equal(error, undefined);
        assert.equal(graph.ofType(TYPES.endpoint).length, 1);
    });
});

describe("autoscaled instance counts survive an update", () => {
    const fixture = modelVersionFixture();
    const live = (overrides: Partial<LiveEndpoint>): LiveEndpoint => ({
        name: "mlops-prod-churn", status: "InService", configName: "old", desiredInstanceCount: 5, configInstanceCount: 2,
        modelPackageArn: fixture.arn.replace(/\/3$/, "/2"), ...overrides,
    });
    let prodEndpoint: EndpointConfig;
    before(async () => {
        await evaluate("prod", () => {
            prodEndpoint = loadConfig().endpoint!;
        });
    });

    it("a new version starts at the live desired count, clamped to [min, max]", () => {
        assert.equal(initialInstanceCount(prodEndpoint, fixture, live({ desiredInstanceCount: 5 })), 5);
        assert.equal(initialInstanceCount(prodEndpoint, fixture, live({ desiredInstanceCount: 9 })), 6);
        assert.equal(initialInstanceCount(prodEndpoint, fixture, live({ desiredInstanceCount: 1 })), 2);
    });

    it("the same version keeps the count its live configuration declares, so an autoscaler move alone redeploys nothing", () => {
        assert.equal(initialInstanceCount(prodEndpoint, fixture, live({ modelPackageArn: fixture.arn, desiredInstanceCount: 5, configInstanceCount: 3 })), 3);
    });

    it("without a live endpoint, or without autoscaling, the configured count applies", () => {
        assert.equal(initialInstanceCount(prodEndpoint, fixture, null), 2);
        assert.equal(initialInstanceCount({ ...prodEndpoint, autoscaling: { ...prodEndpoint.autoscaling, enabled: false } }, fixture, live({})), 2);
    });

    it("the program puts the carried count into the new endpoint configuration", async () => {
        const { graph, error } = await evaluate("prod", () => createStack(loadConfig(), { modelVersion: fixture, liveEndpoint: live({ desiredInstanceCount: 4 }) }));
        assert.equal(error, undefined);
        assert.equal(graph.one(TYPES.config).inputs.productionVariants[0].initialInstanceCount, 4);
    });
});

describe("endpoint helpers", () => {
    it("knows which instance types have local NVMe storage", () => {
        for (const t of ["ml.m5d.large", "ml.c5d.xlarge", "ml.r5d.2xlarge", "ml.g4dn.xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.g5.xlarge", "ml.m6id.large", "ml.trn1.2xlarge"]) {
            assert.equal(hasInstanceStorage(t), true, t);
        }
        for (const t of ["ml.m5.large", "ml.c5.xlarge", "ml.r5.large", "ml.t2.medium", "ml.c5n.xlarge", "ml.inf1.xlarge", "ml.m6i.large"]) {
            assert.equal(hasInstanceStorage(t), false, t);
        }
    });

    it("converts latency to microseconds and counts vCPUs from the size", () => {
        assert.equal(millisecondsToMicroseconds(100), 100_000);
        assert.equal(millisecondsToMicroseconds(0.5), 500);
        assert.deepEqual(["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.m5.4xlarge", "ml.c5.18xlarge"].map(vcpuCount), [2, 2, 4, 16, 72]);
        assert.throws(() => vcpuCount("ml.m5.metal"), /cannot tell the vCPU count of instance type ml\.m5\.metal/);
    });

    it("draws the rollback thresholds on the dashboard", () => {
        const body = JSON.parse(dashboardBody({ region: "eu-west-1", endpointName: "e", variantName: "v", serverless: false, modelLatencyP99Ms: 250, invocation5xxErrors: 7 }));
        const annotations = body.widgets.flatMap((w: any) => w.properties.annotations?.horizontal ?? []).map((a: any) => a.value);
        assert.deepEqual(annotations, [7, 250_000]);
    });
});
