/**
 * The program's serving section: the stack's endpoint for the version the registry says serves, or, before any
 * version exists, nothing but a log line saying so. Kept out of program.ts so the section there stays one call.
 */
import * as pulumi from "@pulumi/pulumi";
import { HOST_ENVIRONMENT, StackConfig } from "./config";
import { ModelEndpoint } from "./components/model-endpoint";
import { SecurityBaseline } from "./components/security-baseline";
import { endpointNameFor, LiveEndpoint } from "./deploy-inputs";
import { StackContext } from "./lib/context";
import { checkHostAccount } from "./lib/cross-account";
import { SharedResources } from "./lib/shared";
import { modelPackageGroupName, ModelVersion, REGISTRY_METADATA } from "../contracts/registry";
import { describeVersion } from "./model-version";

export interface ServingInputs {
    /** Resolved at deploy time; null = the registry has none to serve yet; undefined = not resolved (none). */
    readonly modelVersion?: ModelVersion | null;
    /** The endpoint as it runs now (deploy time), so its autoscaled instance count survives an update. */
    readonly liveEndpoint?: LiveEndpoint | null;
}

/** What later sections (the drift monitor) and the stack outputs use. */
export interface Serving {
    /** The endpoint's stable physical name, known before the endpoint exists. */
    readonly endpointName: string;
    /** The endpoint component; undefined while there is no version to serve. */
    readonly endpoint?: ModelEndpoint;
    readonly modelVersion: ModelVersion | null;
    /** `s3://<capture bucket>/endpoints/<endpoint>/`: captured traffic, one folder per variant; undefined when off. */
    readonly captureS3Uri?: pulumi.Output<string>;
    /** The serving version's data-quality baseline and ETL manifest (registry metadata), when it recorded them. */
    readonly baselineStatisticsUri?: string;
    readonly baselineConstraintsUri?: string;
    readonly manifestUri?: string;
    /** The serving version's ARN or "none"; fails the deployment when the version is not from the host's group. */
    readonly servingModelVersion: pulumi.Output<string>;
}

/** Stack output `endpoint` (absent while nothing serves). */
export interface EndpointOutputs {
    readonly name: string;
    readonly configName: string;
    readonly variantName: string;
    readonly modelVersion: number;
    readonly approvalStatus: string;
    readonly captureS3Uri?: string;
    readonly baselineStatisticsUri?: string;
    readonly baselineConstraintsUri?: string;
    readonly manifestUri?: string;
    readonly dashboardName: string;
    readonly rollbackAlarms: string[];
    readonly securityExceptions: string[];
}

export function createServing(
    config: StackConfig,
    context: StackContext,
    baseline: SecurityBaseline,
    shared: SharedResources,
    inputs: ServingInputs,
    opts: pulumi.ComponentResourceOptions,
): Serving {
    const endpointConfig = config.endpoint;
    if (!endpointConfig) {
        // parseConfig requires endpoint in every environment but the platform, which never reaches here.
        throw new Error(`stack ${config.stack}: no mlops:endpoint to serve with; only the ${HOST_ENVIRONMENT} stack has none`);
    }
    const endpointName = endpointNameFor(config);
    const groupName = modelPackageGroupName(config);
    const version = inputs.modelVersion ?? null;
    void pulumi.log.info(describeVersion(inputs.modelVersion, groupName, config.modelVersionPolicy, config.modelPackageArn));
    if (!version) {
        void pulumi.log.info(`endpoint ${endpointName} skipped: no model version to serve (model, endpoint configuration, ` +
            "endpoint, autoscaling, alarms and dashboard are created with the first version)");
    }
    const servingModelVersion = pulumi.all([shared.modelPackageGroupName, shared.modelPackageGroupArn, context.accountId]).apply(([hostGroup, groupArn, account]) => {
        checkHostAccount(groupArn, account, config.hostAccount);
        if (version && version.groupName !== hostGroup) {
            throw new Error(`model version ${version.arn} is from group ${version.groupName}, but the host's registry is ` +
                `${hostGroup}; check mlops:hostStack and mlops:modelPackageArn`);
        }
        return version?.arn ?? "none";
    });
    if (!version) return { endpointName, modelVersion: null, servingModelVersion };

    const endpoint = new ModelEndpoint("model-endpoint", {
        context,
        modelName: config.modelName,
        version,
        endpoint: endpointConfig,
        vpc: config.vpc,
        kmsKeyArn: baseline.kmsKeyArn,
        artifactsKmsKeyArn: shared.kmsKeyArn,
        modelsBucketArn: shared.modelsBucketArn,
        imageRepositoryArn: shared.imageRepositoryArn,
        captureBucketName: baseline.buckets.capture.name,
        captureBucketArn: baseline.buckets.capture.arn,
        alertsTopicArn: baseline.alertsTopicArn,
        liveEndpoint: inputs.liveEndpoint,
    }, opts);
    return {
        endpointName,
        endpoint,
        modelVersion: version,
        captureS3Uri: endpoint.captureS3Uri,
        baselineStatisticsUri: version.properties[REGISTRY_METADATA.baselineStatisticsUri],
        baselineConstraintsUri: version.properties[REGISTRY_METADATA.baselineConstraintsUri],
        manifestUri: version.properties[REGISTRY_METADATA.manifestUri],
        servingModelVersion,
    };
}

/** The `endpoint` stack output. */
export function endpointOutputs(serving: Serving): pulumi.Output<EndpointOutputs> | undefined {
    const { endpoint, modelVersion } = serving;
    if (!endpoint || !modelVersion) return undefined;
    return pulumi.output({
        name: endpoint.endpointName,
        configName: endpoint.endpointConfigName,
        variantName: endpoint.variantName,
        modelVersion: modelVersion.version,
        approvalStatus: modelVersion.approvalStatus,
        captureS3Uri: serving.captureS3Uri,
        baselineStatisticsUri: serving.baselineStatisticsUri,
        baselineConstraintsUri: serving.baselineConstraintsUri,
        manifestUri: serving.manifestUri,
        dashboardName: endpoint.dashboardName,
        rollbackAlarms: [endpoint.alarmNames.serverErrors, endpoint.alarmNames.modelLatency],
        securityExceptions: [...endpoint.securityExceptions],
    }) as pulumi.Output<EndpointOutputs>;
}
