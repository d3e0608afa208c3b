/**
 * The model registry as every part sees it: the train step writes versions, evaluate approves them, the deploy
 * step pins them, the stacks (infra/model-version.ts) serve them, the local pipeline reads them. SageMaker's model
 * package groups on AWS; steps/lib/local/registry.ts keeps the same shape in JSON (docs/contracts.md §7).
 *
 * The mapping from SageMaker's DescribeModelPackage / ListModelPackages answers to {@link ModelVersion} is here,
 * pure (the SDK's output types only), and used by both readers: infra/model-version.ts (deploy time, chooses the
 * version a stack serves) and steps/lib/aws (the steps' registry). The calls themselves stay with each reader:
 * each has its own error model (ModelVersionError at `pulumi up`, StepError with retry kinds in the steps).
 */
import type { DescribeModelPackageCommandOutput, ModelPackageSummary } from "@aws-sdk/client-sagemaker";
import { Namer } from "./resource-names";

/**
 * The keys a model version carries in the registry's free-form properties (SageMaker
 * CustomerMetadataProperties; the local registry stores the same): docs/contracts.md §7. The train step writes
 * them; evaluate, deploy, the stacks and the drift monitor read them.
 */
export const REGISTRY_METADATA = {
    /** The ETL run's manifest.json. */
    manifestUri: "ManifestUri",
    /** The ETL run prefix `<curated>/<runId>/` the model was trained on. */
    dataPrefix: "DataPrefix",
    /** Model Monitor data-quality baseline of the training split. */
    baselineStatisticsUri: "BaselineStatisticsUri",
    baselineConstraintsUri: "BaselineConstraintsUri",
    trainingJobName: "TrainingJobName",
    pipelineExecutionId: "PipelineExecutionId",
    gitCommit: "GitCommit",
    /** The train reuse key (contracts/reuse-key.ts): a later run with the same inputs reuses this version. */
    reuseKey: "ReuseKey",
} as const;

/** Training metrics are recorded as `train.<name>`, the evaluation's as `eval.<name>`. */
export const TRAIN_METRIC_PREFIX = "train.";
export const EVAL_METRIC_PREFIX = "eval.";
/** What steps/evaluate records on the version it judged, besides its metrics; the local pipeline reads the report. */
export const EVALUATION_PROPERTIES = {
    decision: `${EVAL_METRIC_PREFIX}decision`,
    /** The report's evaluation.json (report.html sits beside it). */
    report: `${EVAL_METRIC_PREFIX}report`,
    championVersion: `${EVAL_METRIC_PREFIX}championVersion`,
} as const;

/**
 * Where a promotion's pin lives: a tag on the model package group, `mlops:pin:<environment>` = the version's ARN.
 * The deploy step (steps/deploy/pin.ts) writes it, the stacks read it (infra/model-version.ts) and the deploy
 * role may tag only this key (infra/lib/stack-deploy-policy.ts).
 */
export const PIN_TAG_PREFIX = "mlops:pin:";
export function pinTagKey(environment: string): string {
    return `${PIN_TAG_PREFIX}${environment}`;
}

export type ApprovalStatus = "PendingManualApproval" | "Approved" | "Rejected";
export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ["PendingManualApproval", "Approved", "Rejected"];

export interface ModelVersionSummary {
    readonly arn: string;
    readonly groupName: string;
    /** `ModelPackageVersion`: 1, 2, … within the group. */
    readonly version: number;
    readonly approvalStatus: ApprovalStatus;
    readonly createdAt: Date;
}

/** One version of the registry. Plain data, so tests can write fixtures. */
export interface ModelVersion extends ModelVersionSummary {
    /** The inference image (InferenceSpecification.Containers[0].Image). */
    readonly imageUri: string;
    /** The `model.tar.gz` URI (InferenceSpecification.Containers[0].ModelDataUrl). */
    readonly modelDataUri: string;
    readonly description?: string;
    readonly approvalDescription?: string;
    readonly commitId?: string;
    /**
     * Every `CustomerMetadataProperties` entry: the {@link REGISTRY_METADATA} keys, `train.<metric>` and, after
     * evaluation, `eval.<metric>`.
     */
    readonly properties: Readonly<Record<string, string>>;
}

/** The registry cannot say which version serves, or a name that should lead to it is malformed. */
export class ModelVersionError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ModelVersionError";
    }
}

/**
 * The model package group a stack serves from: the host's registry (infra/components/model-registry.ts names it
 * `<project>-<hostEnvironment>-<modelName>`). A consumer's host is `org/project/stack`; the host stack's name is
 * taken as its environment, which is how this project names stacks (`Pulumi.<environment>.yaml`). A mismatch is
 * caught at deploy time: the program compares this name with the group the host exports.
 */
export function modelPackageGroupName(config: {
    readonly project: string;
    readonly environment: string;
    readonly modelName: string;
    readonly hostStack?: string;
}): string {
    if (!config.hostStack) return new Namer(config.project, config.environment).name("sagemaker", config.modelName);
    const [, project, stack] = config.hostStack.split("/");
    if (!project || !stack) {
        throw new ModelVersionError(`mlops:hostStack ${JSON.stringify(config.hostStack)} is not org/project/stack`);
    }
    return new Namer(project, stack).name("sagemaker", config.modelName);
}

/**
 * How a stack addresses its registry in API calls: the group's name, or, when the stack runs in another account
 * than the host (config `hostAccount`), the group's ARN in the host's account. The partition follows the region
 * (AWS General Reference, "Amazon Resource Names": `aws-cn` in China, `aws-us-gov` in GovCloud, `aws` elsewhere).
 */
export function modelPackageGroupRef(config: {
    readonly project: string;
    readonly environment: string;
    readonly modelName: string;
    readonly hostStack?: string;
    readonly hostAccount?: string;
    readonly region?: string;
}): string {
    const name = modelPackageGroupName(config);
    if (!config.hostStack || !config.hostAccount) return name;
    if (!config.region) throw new ModelVersionError("mlops:hostAccount is set but aws:region is not: the registry's ARN needs the region");
    const partition = config.region.startsWith("cn-") ? "aws-cn" : config.region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
    return `arn:${partition}:sagemaker:${config.region}:${config.hostAccount}:model-package-group/${name}`;
}

/** A ListModelPackages entry. Missing fields read as empty (the steps' registry checks what it uses). */
export function modelVersionSummary(s: ModelPackageSummary): ModelVersionSummary {
    return {
        arn: s.ModelPackageArn ?? "",
        groupName: s.ModelPackageGroupName ?? "",
        version: s.ModelPackageVersion ?? 0,
        approvalStatus: (s.ModelApprovalStatus ?? "PendingManualApproval") as ApprovalStatus,
        createdAt: s.CreationTime ?? new Date(0),
    };
}

/**
 * A DescribeModelPackage answer as a version. `arn` is used when the answer lacks ModelPackageArn. Lenient:
 * {@link servingProblems} says what would stop the version from serving.
 */
export function modelVersion(d: DescribeModelPackageCommandOutput, arn = ""): ModelVersion {
    const container = d.InferenceSpecification?.Containers?.[0];
    return {
        arn: d.ModelPackageArn ?? arn,
        groupName: d.ModelPackageGroupName ?? "",
        version: d.ModelPackageVersion ?? 0,
        approvalStatus: (d.ModelApprovalStatus ?? "PendingManualApproval") as ApprovalStatus,
        createdAt: d.CreationTime ?? new Date(0),
        imageUri: container?.Image ?? "",
        modelDataUri: container?.ModelDataUrl ?? "",
        description: d.ModelPackageDescription,
        approvalDescription: d.ApprovalDescription,
        commitId: d.MetadataProperties?.CommitId,
        properties: { ...(d.CustomerMetadataProperties ?? {}) },
    };
}

/** Why a described model package cannot serve (empty when it can). */
export function servingProblems(d: DescribeModelPackageCommandOutput): string[] {
    const container = d.InferenceSpecification?.Containers?.[0];
    const problems: string[] = [];
    if (!d.ModelPackageGroupName || d.ModelPackageVersion === undefined) problems.push("it is not a versioned model package (no group or version)");
    if (d.ModelPackageStatus !== "Completed") problems.push(`its status is ${d.ModelPackageStatus ?? "unknown"}, not Completed`);
    if (!container?.Image) problems.push("InferenceSpecification.Containers[0].Image is missing");
    if (!container?.ModelDataUrl) problems.push("InferenceSpecification.Containers[0].ModelDataUrl is missing");
    const approval = d.ModelApprovalStatus ?? "PendingManualApproval";
    if (!(APPROVAL_STATUSES as readonly string[]).includes(approval)) problems.push(`approval status ${approval} is unknown`);
    return problems;
}
