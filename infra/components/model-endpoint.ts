import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EndpointConfig, StackConfig } from "../config";
import { LiveEndpoint } from "../deploy-inputs";
import { StackContext } from "../lib/context";
import { policyDocument, PolicyStatement, serviceTrustPolicy } from "../lib/policy";
import { ModelVersion } from "../../contracts/registry";
import { MODEL_PACKAGE_ENV, SERVING_VARIANT } from "../../contracts/serving";
import {
    dashboardBody,
    INSTANCE_NAMESPACE,
    INVOCATION_NAMESPACE,
    millisecondsToMicroseconds,
    vcpuCount,
} from "./endpoint-monitoring";

export type VpcConfig = NonNullable<StackConfig["vpc"]>;

/**
 * One model version served from a SageMaker endpoint: model, endpoint configuration, endpoint with blue/green
 * deployments that roll back on alarms, autoscaling, data capture, alarms and a dashboard.
 *
 * Instance endpoints (prod) get everything. Serverless endpoints (dev: nothing to pay while idle) get neither
 * network isolation, a VPC, data capture nor an endpoint KMS key (AWS lists all four as Serverless Inference
 * feature exclusions), nor autoscaling or canary/linear traffic shifting (both act on instances). Asking for any
 * of these fails validation; the protections left out are listed in {@link ModelEndpoint.securityExceptions}.
 *
 * Changing the instance type of an autoscaled variant fails while its scalable target is registered (SageMaker
 * refuses the update): disable autoscaling, deploy, change the type, then enable it again.
 */
export interface ModelEndpointArgs {
    readonly context: StackContext;
    /** The model's short name (config `modelName`); the endpoint is named `<project>-<environment>-<modelName>`. */
    readonly modelName: string;
    /** The registry version to serve (infra/model-version.ts). */
    readonly version: ModelVersion;
    /** Config `endpoint`: kind, capacity, data capture, autoscaling, deployment strategy, alarm thresholds. */
    readonly endpoint: EndpointConfig;
    /**
     * Subnets and security groups the model's containers run in.
     * @default undefined (SageMaker's network; the container is still network-isolated)
     */
    readonly vpc?: VpcConfig;
    /** The stack's key: endpoint storage, data capture and the log group. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** The key that encrypts the model artifacts (the host's key; the same as `kmsKeyArn` on the host). */
    readonly artifactsKmsKeyArn: pulumi.Input<string>;
    /** The bucket holding `model.tar.gz` (the host's models bucket). */
    readonly modelsBucketArn: pulumi.Input<string>;
    /** The ECR repository of the inference image. */
    readonly imageRepositoryArn: pulumi.Input<string>;
    /** The stack's capture bucket: captured requests and responses go under `endpoints/<endpoint>/`. */
    readonly captureBucketName: pulumi.Input<string>;
    readonly captureBucketArn: pulumi.Input<string>;
    /** Alarm and OK actions. */
    readonly alertsTopicArn: pulumi.Input<string>;
    /**
     * The endpoint as it runs now, read at deploy time: its autoscaled instance count survives a new version.
     * @default undefined (the configured instance count)
     */
    readonly liveEndpoint?: LiveEndpoint | null;
    /**
     * Accept an instance type with local NVMe storage. SageMaker refuses an endpoint KMS key for those (their
     * storage is encrypted in hardware), so the configuration is created without one and the exception is recorded.
     * @default false (such instance types fail validation)
     */
    readonly allowInstanceStorage?: boolean;
    /**
     * Notify when more than this share (%) of invocations fail with a client error (4XX).
     * @default 5
     */
    readonly clientErrorRatePercent?: number;
    /**
     * Notify when the average CPU utilization per vCPU exceeds this (%).
     * @default 80
     */
    readonly cpuUtilizationPercent?: number;
    /**
     * Notify when the average memory utilization exceeds this (%).
     * @default 85
     */
    readonly memoryUtilizationPercent?: number;
}

/** Where the data capture files of an endpoint land: `<captureS3Uri><variant>/yyyy/mm/dd/hh/*.jsonl`. */
export const CAPTURE_PREFIX = "endpoints";

/**
 * Instance families with local NVMe instance storage (EC2 instance-store table). Families whose name marks it with
 * a `d` (m5d, c5d, r5d, g4dn, p3dn, p4d, m6id, …) are matched by pattern; these have it without the mark.
 */
const INSTANCE_STORAGE_FAMILIES: ReadonlySet<string> = new Set(["g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"]);

/** True when `instanceType` (ml.<family>.<size>) has local NVMe instance storage. */
export function hasInstanceStorage(instanceType: string): boolean {
    const family = instanceType.split(".")[1] ?? "";
    const parts = /^([a-z]+)(\d+)([a-z-]*)$/.exec(family);
    if (!parts) return false;
    return INSTANCE_STORAGE_FAMILIES.has(family) || parts[3].includes("d");
}

/** An EBS-only instance type close to `instanceType`, for error messages. */
function ebsOnlyAlternative(instanceType: string): string {
    const [, family = "", size = "large"] = instanceType.split(".");
    const plain = /^([mcr]\d+[a-z]*?)d$/.exec(family);
    return plain ? `ml.${plain[1]}.${size}` : "ml.m5.large";
}

/**
 * Every reason the endpoint config cannot be deployed as given, each naming the key, the value and what is
 * allowed. Empty when valid. (Prod-only rules such as "prod serves from ≥ 2 instances" live in infra/config.ts.)
 */
export function endpointProblems(endpoint: EndpointConfig, opts: { vpc?: VpcConfig; allowInstanceStorage?: boolean } = {}): string[] {
    const problems: string[] = [];
    if (endpoint.kind === "serverless") {
        const serverless = "serverless endpoints";
        if (endpoint.autoscaling.enabled) {
            problems.push(`endpoint.autoscaling.enabled: ${serverless} scale by themselves up to serverlessMaxConcurrency; ` +
                "autoscaling needs endpoint.kind \"instances\" (or set autoscaling.enabled to false)");
        }
        if (endpoint.deployment.strategy !== "all-at-once") {
            problems.push(`endpoint.deployment.strategy: got "${endpoint.deployment.strategy}"; ${serverless} have no instance ` +
                "capacity to shift in canary or linear steps: use \"all-at-once\" or endpoint.kind \"instances\"");
        }
        if (endpoint.dataCapture.enabled) {
            problems.push(`endpoint.dataCapture.enabled: ${serverless} do not support data capture; ` +
                "use endpoint.kind \"instances\" or set dataCapture.enabled to false");
        }
        if (opts.vpc) {
            problems.push(`vpc: ${serverless} cannot run in a VPC; use endpoint.kind "instances" or remove mlops:vpc`);
        }
    } else if (hasInstanceStorage(endpoint.instanceType) && !opts.allowInstanceStorage) {
        problems.push(`endpoint.instanceType: ${endpoint.instanceType} has local NVMe instance storage, for which SageMaker ` +
            "refuses an endpoint KMS key, and this stack encrypts endpoint storage with its own key: use an EBS-backed " +
            `instance type such as ${ebsOnlyAlternative(endpoint.instanceType)}`);
    }
    return problems;
}

/**
 * The variant's initial instance count. An endpoint update resets the variant to its new configuration's count
 * (SageMaker's RetainAllVariantProperties, which would keep it, is not exposed by the provider: upstream trap, see
 * terraform-provider-aws PR #49069). So with autoscaling on:
 * - a new version (the live endpoint runs another one) gets a new configuration anyway: it starts at the live
 *   desired count, so a deployment during a traffic peak does not scale the endpoint in;
 * - the same version keeps the count the live configuration declares, so an autoscaler move alone does not
 *   replace the configuration and redeploy.
 * The result always lies within [minCapacity, maxCapacity].
 */
export function initialInstanceCount(endpoint: EndpointConfig, version: ModelVersion, live?: LiveEndpoint | null): number {
    const { autoscaling } = endpoint;
    if (endpoint.kind !== "instances" || !autoscaling.enabled || !live) return endpoint.instanceCount;
    const clamp = (n: number) => Math.min(autoscaling.maxCapacity, Math.max(autoscaling.minCapacity, n));
    const carried = live.modelPackageArn === version.arn ? live.configInstanceCount : live.desiredInstanceCount;
    return carried === undefined ? endpoint.instanceCount : clamp(carried);
}

export interface EndpointAlarmNames {
    /** Rolls a deployment back. */
    readonly serverErrors: string;
    /** Rolls a deployment back. */
    readonly modelLatency: string;
    readonly clientErrorRate: string;
    /** Instance endpoints only. */
    readonly cpuUtilization?: string;
    /** Instance endpoints only. */
    readonly memoryUtilization?: string;
}

export class ModelEndpoint extends pulumi.ComponentResource {
    readonly role: aws.iam.Role;
    readonly model: aws.sagemaker.Model;
    readonly endpointConfiguration: aws.sagemaker.EndpointConfiguration;
    readonly endpoint: aws.sagemaker.Endpoint;
    /** The endpoint's stable physical name. */
    readonly endpointName: pulumi.Output<string>;
    /** The (autonamed) endpoint configuration this deployment puts in service. */
    readonly endpointConfigName: pulumi.Output<string>;
    readonly variantName: string;
    readonly initialInstanceCount?: number;
    readonly modelVersion: ModelVersion;
    /** `s3://<capture bucket>/endpoints/<endpoint>/`, the prefix of this endpoint's captured traffic; undefined when off. */
    readonly captureS3Uri?: pulumi.Output<string>;
    readonly alarmNames: EndpointAlarmNames;
    readonly dashboardName: string;
    /** Controls of the security checklist this endpoint cannot meet, and why. */
    readonly securityExceptions: readonly string[];

    constructor(name: string, args: ModelEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:serving:ModelEndpoint", name, args, opts);
        const parent = this;
        const { context, endpoint: cfg, version } = args;
        const serverless = cfg.kind === "serverless";
        const physicalName = context.namer.name("sagemaker", args.modelName);

        const problems = endpointProblems(cfg, { vpc: args.vpc, allowInstanceStorage: args.allowInstanceStorage });
        if (problems.length > 0) {
            throw new pulumi.ResourceError(`ModelEndpoint ${name}: invalid endpoint configuration:\n  - ${problems.join("\n  - ")}`, parent);
        }
        const storageKey = !serverless && !hasInstanceStorage(cfg.instanceType);
        this.securityExceptions = [
            ...(serverless ? [
                "network isolation off: serverless endpoints do not support network isolation (SageMaker Serverless Inference feature exclusions)",
                "no endpoint KMS key: serverless endpoints take none (feature exclusions: KMS keys); they have no instance storage volume",
            ] : []),
            ...(!serverless && !storageKey ? [
                `no endpoint KMS key: ${cfg.instanceType} has local NVMe storage, which SageMaker encrypts in hardware and for which it refuses a KMS key`,
            ] : []),
        ];
        this.variantName = SERVING_VARIANT;
        this.modelVersion = version;
        this.dashboardName = context.namer.name("dashboard", args.modelName, "endpoint");
        const captureDestination = cfg.dataCapture.enabled
            ? pulumi.interpolate`s3://${args.captureBucketName}/${CAPTURE_PREFIX}`
            : undefined;
        this.captureS3Uri = captureDestination && pulumi.interpolate`${captureDestination}/${physicalName}/`;

        const logGroup = createLogGroup();
        this.role = createRole();
        const rolePolicy = createRolePolicy(logGroup);
        this.model = createModel(rolePolicy);
        this.initialInstanceCount = serverless ? undefined : initialInstanceCount(cfg, version, args.liveEndpoint);
        this.endpointConfiguration = createEndpointConfiguration();
        const alarmName = (suffix: string) => context.namer.name("alarm", args.modelName, "endpoint", suffix);
        this.alarmNames = {
            serverErrors: alarmName("5xx-errors"),
            modelLatency: alarmName("model-latency-p99"),
            clientErrorRate: alarmName("4xx-error-rate"),
            ...(serverless ? {} : { cpuUtilization: alarmName("cpu-utilization"), memoryUtilization: alarmName("memory-utilization") }),
        };
        const alarms = createAlarms();
        this.endpoint = createEndpoint(alarms);
        this.endpointName = this.endpoint.name;
        this.endpointConfigName = this.endpointConfiguration.name;
        if (!serverless && cfg.autoscaling.enabled) createAutoscaling();
        createDashboard();

        this.registerOutputs({
            endpointName: this.endpointName,
            endpointConfigName: this.endpointConfigName,
            modelVersionArn: version.arn,
            captureS3Uri: this.captureS3Uri,
            dashboardName: this.dashboardName,
            securityExceptions: this.securityExceptions,
        });

        function createLogGroup() {
            // SageMaker writes the containers' logs here; created up front so it has our key and retention.
            return new aws.cloudwatch.LogGroup(`${name}-logs`, {
                name: `/aws/sagemaker/Endpoints/${physicalName}`,
                kmsKeyId: args.kmsKeyArn,
                retentionInDays: context.logRetentionDays,
            }, { parent });
        }

        function createRole() {
            return new aws.iam.Role(`${name}-role`, {
                name: context.namer.name("iamRole", args.modelName, "endpoint"),
                description: `Runs ${physicalName}: reads its model and image, writes its logs, metrics and captured traffic`,
                assumeRolePolicy: serviceTrustPolicy("sagemaker.amazonaws.com", context.accountId),
            }, { parent });
        }

        function createRolePolicy(logs: aws.cloudwatch.LogGroup) {
            const { partition, region, accountId } = context;
            const statements: PolicyStatement[] = [
                {
                    Sid: "ReadModelArtifacts",
                    Effect: "Allow",
                    Action: "s3:GetObject",
                    Resource: pulumi.interpolate`${args.modelsBucketArn}/*`,
                },
                {
                    Sid: "DecryptModelArtifacts",
                    Effect: "Allow",
                    Action: "kms:Decrypt",
                    // The host's key encrypts the artifacts (on the host it is the stack's own key as well).
                    Resource: [args.artifactsKmsKeyArn, args.kmsKeyArn],
                },
                {
                    Sid: "PullInferenceImage",
                    Effect: "Allow",
                    Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    Resource: args.imageRepositoryArn,
                },
                {
                    // GetAuthorizationToken is account-wide: IAM defines no resource type for it, so "*" is the only
                    // valid resource. The token alone grants nothing; pulls are confined by the statement above.
                    Sid: "AuthenticateToEcr",
                    Effect: "Allow",
                    Action: "ecr:GetAuthorizationToken",
                    Resource: "*",
                },
                {
                    Sid: "WriteEndpointLogs",
                    Effect: "Allow",
                    Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    Resource: [logs.arn, pulumi.interpolate`${logs.arn}:log-stream:*`],
                },
                {
                    // PutMetricData has no resource type either; the namespace condition confines it to SageMaker's.
                    Sid: "PublishEndpointMetrics",
                    Effect: "Allow",
                    Action: "cloudwatch:PutMetricData",
                    Resource: "*",
                    Condition: { StringEquals: { "cloudwatch:namespace": [INVOCATION_NAMESPACE, INSTANCE_NAMESPACE] } },
                },
            ];
            if (cfg.dataCapture.enabled) {
                statements.push(
                    {
                        Sid: "WriteCapturedTraffic",
                        Effect: "Allow",
                        Action: "s3:PutObject",
                        Resource: pulumi.interpolate`${args.captureBucketArn}/${CAPTURE_PREFIX}/${physicalName}/*`,
                    },
                    {
                        Sid: "EncryptCapturedTraffic",
                        Effect: "Allow",
                        Action: ["kms:GenerateDataKey", "kms:Encrypt"],
                        Resource: args.kmsKeyArn,
                    },
                );
            }
            if (args.vpc && !serverless) {
                const vpc = args.vpc;
                const ec2Arn = (resource: string) => pulumi.interpolate`arn:${partition}:ec2:${region}:${accountId}:${resource}`;
                statements.push(
                    {
                        // Describe* calls have no resource-level permissions in IAM: "*" is the only valid resource.
                        Sid: "DescribeNetwork",
                        Effect: "Allow",
                        Action: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
                        Resource: "*",
                    },
                    {
                        // The interfaces SageMaker creates do not exist yet, so they can only be named by wildcard; the
                        // subnets and security groups they may use are the configured ones.
                        Sid: "ManageEndpointNetworkInterfaces",
                        Effect: "Allow",
                        Action: ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
                        Resource: [
                            ec2Arn("network-interface/*"),
                            ...vpc.subnetIds.map((s) => ec2Arn(`subnet/${s}`)),
                            ...vpc.securityGroupIds.map((g) => ec2Arn(`security-group/${g}`)),
                        ],
                    },
                );
            }
            return new aws.iam.RolePolicy(`${name}-role-policy`, {
                role: parent.role.id,
                policy: policyDocument(statements),
            }, { parent });
        }

        function createModel(rolePolicy: aws.iam.RolePolicy) {
            // Image and artifact come from the resolved registry version rather than `modelPackageName`, so a
            // dev candidate that is not yet Approved serves too; the version's ARN rides along in the environment,
            // where a deploy reads it back (DescribeModel) to prove which version serves.
            return new aws.sagemaker.Model(`${name}-model`, {
                executionRoleArn: parent.role.arn,
                enableNetworkIsolation: !serverless,
                primaryContainer: {
                    image: version.imageUri,
                    modelDataUrl: version.modelDataUri,
                    environment: { [MODEL_PACKAGE_ENV]: version.arn },
                },
                vpcConfig: args.vpc && !serverless
                    ? { subnets: args.vpc.subnetIds, securityGroupIds: args.vpc.securityGroupIds }
                    : undefined,
            }, { parent, dependsOn: [rolePolicy] });
        }

        function createEndpointConfiguration() {
            // No `name`: every change creates a new, autonamed configuration before the old one is deleted, which is
            // what a blue/green endpoint update needs (a fixed name fails with "already existing").
            return new aws.sagemaker.EndpointConfiguration(`${name}-config`, {
                productionVariants: [serverless
                    ? {
                        variantName: SERVING_VARIANT,
                        modelName: parent.model.name,
                        serverlessConfig: { memorySizeInMb: cfg.serverlessMemoryMb, maxConcurrency: cfg.serverlessMaxConcurrency },
                    }
                    : {
                        variantName: SERVING_VARIANT,
                        modelName: parent.model.name,
                        instanceType: cfg.instanceType,
                        initialInstanceCount: parent.initialInstanceCount,
                        initialVariantWeight: 1,
                    }],
                kmsKeyArn: storageKey ? args.kmsKeyArn : undefined,
                dataCaptureConfig: captureDestination && {
                    enableCapture: true,
                    initialSamplingPercentage: cfg.dataCapture.samplingPercentage,
                    destinationS3Uri: captureDestination,
                    kmsKeyId: args.kmsKeyArn,
                    captureOptions: [{ captureMode: "Input" }, { captureMode: "Output" }],
                    captureContentTypeHeader: {
                        csvContentTypes: cfg.dataCapture.csvContentTypes,
                        jsonContentTypes: cfg.dataCapture.jsonContentTypes,
                    },
                },
            }, { parent });
        }

        function createAlarms(): Record<keyof EndpointAlarmNames, aws.cloudwatch.MetricAlarm> {
            const dimensions = { EndpointName: physicalName, VariantName: SERVING_VARIANT };
            const { alarms } = cfg;
            const common = {
                alarmActions: [args.alertsTopicArn],
                okActions: [args.alertsTopicArn],
                evaluationPeriods: alarms.evaluationPeriods,
                datapointsToAlarm: alarms.evaluationPeriods,
                comparisonOperator: "GreaterThanThreshold",
                // No traffic is no evidence of a bad deployment.
                treatMissingData: "notBreaching",
            };
            const alarm = (key: keyof EndpointAlarmNames, alarmArgs: aws.cloudwatch.MetricAlarmArgs) => {
                const alarmName = parent.alarmNames[key]!;
                const suffix = alarmName.slice(alarmName.lastIndexOf("-endpoint-") + "-endpoint-".length);
                return new aws.cloudwatch.MetricAlarm(`${name}-${suffix}`, { name: alarmName, ...common, ...alarmArgs }, { parent });
            };
            const result: Record<string, aws.cloudwatch.MetricAlarm> = {
                serverErrors: alarm("serverErrors", {
                    alarmDescription: `${physicalName}: more than ${alarms.invocation5xxErrors} 5XX errors a minute; rolls a deployment back`,
                    namespace: INVOCATION_NAMESPACE,
                    metricName: "Invocation5XXErrors",
                    period: 60,
                    dimensions,
                    statistic: "Sum",
                    threshold: alarms.invocation5xxErrors,
                }),
                modelLatency: alarm("modelLatency", {
                    alarmDescription: `${physicalName}: p99 model latency above ${alarms.modelLatencyP99Ms} ms; rolls a deployment back`,
                    namespace: INVOCATION_NAMESPACE,
                    metricName: "ModelLatency",
                    period: 60,
                    dimensions,
                    extendedStatistic: "p99",
                    threshold: millisecondsToMicroseconds(alarms.modelLatencyP99Ms),
                    unit: "Microseconds",
                }),
                clientErrorRate: alarm("clientErrorRate", {
                    alarmDescription: `${physicalName}: more than ${args.clientErrorRatePercent ?? 5}% of invocations are client errors (4XX)`,
                    threshold: args.clientErrorRatePercent ?? 5,
                    metricQueries: [
                        { id: "errors", metric: { namespace: INVOCATION_NAMESPACE, metricName: "Invocation4XXErrors", dimensions, period: 60, stat: "Sum" } },
                        { id: "invocations", metric: { namespace: INVOCATION_NAMESPACE, metricName: "Invocations", dimensions, period: 60, stat: "Sum" } },
                        { id: "rate", expression: "IF(invocations > 0, 100 * errors / invocations, 0)", label: "4XX error rate (%)", returnData: true },
                    ],
                }),
            };
            if (!serverless) {
                const cpuPercent = args.cpuUtilizationPercent ?? 80;
                result.cpuUtilization = alarm("cpuUtilization", {
                    alarmDescription: `${physicalName}: average CPU above ${cpuPercent}% per vCPU (${vcpuCount(cfg.instanceType)} vCPUs)`,
                    namespace: INSTANCE_NAMESPACE,
                    metricName: "CPUUtilization",
                    period: 60,
                    dimensions,
                    statistic: "Average",
                    threshold: cpuPercent * vcpuCount(cfg.instanceType),
                });
                result.memoryUtilization = alarm("memoryUtilization", {
                    alarmDescription: `${physicalName}: average memory above ${args.memoryUtilizationPercent ?? 85}%`,
                    namespace: INSTANCE_NAMESPACE,
                    metricName: "MemoryUtilization",
                    period: 60,
                    dimensions,
                    statistic: "Average",
                    threshold: args.memoryUtilizationPercent ?? 85,
                });
            }
            return result as Record<keyof EndpointAlarmNames, aws.cloudwatch.MetricAlarm>;
        }

        function trafficRouting(): aws.types.input.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfiguration {
            const d = cfg.deployment;
            const common = { waitIntervalInSeconds: d.waitIntervalSeconds };
            switch (d.strategy) {
                case "canary":
                    return { ...common, type: "CANARY", canarySize: { type: "CAPACITY_PERCENT", value: d.canarySizePercent } };
                case "linear":
                    return { ...common, type: "LINEAR", linearStepSize: { type: "CAPACITY_PERCENT", value: d.linearStepPercent } };
                case "all-at-once":
                    return { ...common, type: "ALL_AT_ONCE" };
            }
        }

        function createEndpoint(alarms: Record<keyof EndpointAlarmNames, aws.cloudwatch.MetricAlarm>) {
            return new aws.sagemaker.Endpoint(`${name}-endpoint`, {
                name: physicalName,
                endpointConfigName: parent.endpointConfiguration.name,
                deploymentConfig: {
                    blueGreenUpdatePolicy: {
                        trafficRoutingConfiguration: trafficRouting(),
                        terminationWaitInSeconds: cfg.deployment.terminationWaitSeconds,
                        maximumExecutionTimeoutInSeconds: cfg.deployment.maximumExecutionTimeoutSeconds,
                    },
                    // These alarms watch this endpoint's variant, which the new fleet serves under during a deployment.
                    autoRollbackConfiguration: {
                        alarms: [{ alarmName: alarms.serverErrors.name }, { alarmName: alarms.modelLatency.name }],
                    },
                },
            }, {
                parent,
                // SageMaker cannot update an instance endpoint to serverless: switching kinds replaces the endpoint,
                // and its fixed name means the old one must go first.
                replacementTrigger: cfg.kind,
                deleteBeforeReplace: true,
            });
        }

        function createAutoscaling() {
            const { autoscaling } = cfg;
            const target = new aws.appautoscaling.Target(`${name}-scaling-target`, {
                serviceNamespace: "sagemaker",
                resourceId: pulumi.interpolate`endpoint/${parent.endpoint.name}/variant/${SERVING_VARIANT}`,
                scalableDimension: "sagemaker:variant:DesiredInstanceCount",
                minCapacity: autoscaling.minCapacity,
                maxCapacity: autoscaling.maxCapacity,
                // Explicit as well as through resourceId: `pulumi destroy` deletes dependents first, so the policy and
                // the target are deregistered before the endpoint goes. Deleting an endpoint deregisters its targets
                // only when the caller may DeregisterScalableTarget, otherwise it fails (SageMaker developer guide,
                // "Delete endpoints configured for auto scaling"); the deploy policies allow it (stack-deploy-policy.ts).
            }, { parent, dependsOn: [parent.endpoint] });
            return new aws.appautoscaling.Policy(`${name}-scaling-policy`, {
                name: context.namer.name("scalingPolicy", args.modelName, "endpoint-invocations-per-instance"),
                policyType: "TargetTrackingScaling",
                serviceNamespace: target.serviceNamespace,
                resourceId: target.resourceId,
                scalableDimension: target.scalableDimension,
                targetTrackingScalingPolicyConfiguration: {
                    predefinedMetricSpecification: { predefinedMetricType: "SageMakerVariantInvocationsPerInstance" },
                    targetValue: autoscaling.targetInvocationsPerInstance,
                    scaleInCooldown: autoscaling.scaleInCooldownSeconds,
                    scaleOutCooldown: autoscaling.scaleOutCooldownSeconds,
                },
            }, { parent });
        }

        function createDashboard() {
            return new aws.cloudwatch.Dashboard(`${name}-dashboard`, {
                dashboardName: parent.dashboardName,
                dashboardBody: dashboardBody({
                    region: context.region,
                    endpointName: physicalName,
                    variantName: SERVING_VARIANT,
                    serverless,
                    modelLatencyP99Ms: cfg.alarms.modelLatencyP99Ms,
                    invocation5xxErrors: cfg.alarms.invocation5xxErrors,
                }),
            }, { parent });
        }
    }
}
