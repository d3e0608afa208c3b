/**
 * Which model version serves. The SageMaker model registry is the source of truth: a stack serves the newest
 * version its policy allows (prod: the newest `Approved`; dev: the newest candidate that is not `Rejected`), unless
 * `mlops:modelPackageArn` pins one. Resolution runs once, at deploy time, before the program registers anything;
 * `createStack` then receives the result as plain data and stays synchronous and pure.
 */
import {
    DescribeModelPackageCommand,
    DescribeModelPackageCommandOutput,
    DescribeModelPackageGroupCommand,
    ListModelPackagesCommand,
    ListTagsCommand,
    ModelPackageSummary,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import {
    ModelVersion, modelVersion, ModelVersionError, pinTagKey, servingProblems,
} from "../contracts/registry";

export type ModelVersionPolicy = "latest-approved" | "latest-candidate";

export interface ResolveModelVersionArgs {
    readonly client: Pick<SageMakerClient, "send">;
    readonly groupName: string;
    readonly policy: ModelVersionPolicy;
    /** `mlops:modelPackageArn`: serves exactly this version (it must belong to the group and not be Rejected). */
    readonly pinnedArn?: string;
    /**
     * The stack's environment: its registry pin (the group's tag {@link pinTagKey}) is read when no
     * `mlops:modelPackageArn` is set.
     * @default undefined — no registry pin is read
     */
    readonly environment?: string;
    /**
     * How API calls address the group: its ARN when the registry lives in another account (SageMaker resolves a bare
     * name in the caller's account; DescribeModelPackageGroup and ListModelPackages take a name or an ARN, botocore
     * sagemaker service-2.json `ArnOrName`). See {@link modelPackageGroupRef}.
     * @default groupName
     */
    readonly groupRef?: string;
}

/*
 * Where a promotion's pin lives: a tag on the model package group (contracts/registry.ts `pinTagKey`). The registry
 * is what every path that runs the program reads (a manual `pulumi up`, Pulumi Deployments, the pipeline's deploy
 * step), so a pin set by the pipeline survives the build that set it; a config value set by the Automation API
 * would live only in that build's copy of the stack file. `mlops:modelPackageArn` in the stack file still wins (an
 * override committed for everyone to see, e.g. a rollback by pull request).
 */

export interface RegistryPin {
    /** False when the group does not exist yet (a first dev `up`, before the registry is created). */
    readonly groupExists: boolean;
    readonly groupArn?: string;
    /** The pinned version's ARN, if the group carries a pin for the environment. */
    readonly pinnedArn?: string;
}

function isNotFound(e: unknown): boolean {
    const err = e as { name?: string; message?: string };
    return (err?.name === "ValidationException" || err?.name === "ResourceNotFound") &&
        /could not find|not found|does not exist/i.test(err.message ?? "");
}

/** Whether the group exists, and the environment's pin on it. */
export async function readRegistryPin(client: ResolveModelVersionArgs["client"], groupName: string, environment: string): Promise<RegistryPin> {
    let group;
    try {
        group = await client.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: groupName }));
    } catch (e) {
        if (isNotFound(e)) return { groupExists: false };
        throw e;
    }
    const groupArn = group?.ModelPackageGroupArn;
    if (!groupArn) return { groupExists: true };
    const tags = await client.send(new ListTagsCommand({ ResourceArn: groupArn, MaxResults: 100 }));
    const pinnedArn = tags?.Tags?.find((t) => t.Key === pinTagKey(environment))?.Value;
    return { groupExists: true, groupArn, pinnedArn: pinnedArn || undefined };
}

/**
 * The version the stack should serve, or null when the group has none its policy allows yet (first deploy).
 * Versions still being registered (status other than `Completed`) are never chosen: their artifacts may be missing.
 */
export async function resolveModelVersion(args: ResolveModelVersionArgs): Promise<ModelVersion | null> {
    let pinnedArn = args.pinnedArn;
    if (!pinnedArn && args.environment !== undefined) {
        const pin = await readRegistryPin(args.client, args.groupRef ?? args.groupName, args.environment);
        // No group yet (the host's first `up` creates it): nothing can serve, and listing it would fail.
        if (!pin.groupExists) return null;
        pinnedArn = pin.pinnedArn;
    }
    if (pinnedArn) {
        const version = toModelVersion(await describe(args.client, pinnedArn), pinnedArn);
        if (version.groupName !== args.groupName) {
            throw new ModelVersionError(
                `mlops:modelPackageArn ${pinnedArn} belongs to model package group ${version.groupName}; ` +
                `this stack serves group ${args.groupName}: pin a version of ${args.groupName}`);
        }
        if (version.approvalStatus === "Rejected") {
            throw new ModelVersionError(
                `mlops:modelPackageArn pins version ${version.version} of ${args.groupName}, which is Rejected; ` +
                "pin a version that is Approved or PendingManualApproval, or remove the pin to follow the registry");
        }
        return version;
    }
    let summaries: ModelPackageSummary[];
    try {
        summaries = await listVersions(args.client, args.groupRef ?? args.groupName);
    } catch (e) {
        // AWS does not document ListModelPackages on a group that does not exist; read "not found" as "no versions".
        if (isNotFound(e)) return null;
        throw e;
    }
    const eligible = summaries
        .filter((s) => s.ModelPackageStatus === "Completed")
        .filter((s) => (args.policy === "latest-approved"
            ? s.ModelApprovalStatus === "Approved"
            : s.ModelApprovalStatus !== "Rejected"))
        .sort((a, b) => (b.CreationTime?.getTime() ?? 0) - (a.CreationTime?.getTime() ?? 0));
    const newest = eligible[0];
    if (!newest?.ModelPackageArn) return null;
    return toModelVersion(await describe(args.client, newest.ModelPackageArn), newest.ModelPackageArn);
}

/** One line for logs and `pulumi preview`: which version serves and why. */
export function describeVersion(version: ModelVersion | null | undefined, groupName: string, policy: ModelVersionPolicy, pinnedArn?: string): string {
    if (version === undefined) return `model version not resolved: no endpoint is created (group ${groupName})`;
    if (version === null) {
        const wanted = policy === "latest-approved" ? "Approved version" : "version that is not Rejected";
        return `no model version to serve yet: group ${groupName} has no ${wanted}; the endpoint is skipped until one is registered`;
    }
    const why = pinnedArn ? "pinned by mlops:modelPackageArn" : `${policy} of group ${version.groupName}`;
    return `serving model version ${version.version} (${version.approvalStatus}, ${why}): ${version.arn}`;
}

async function listVersions(client: ResolveModelVersionArgs["client"], groupName: string): Promise<ModelPackageSummary[]> {
    const all: ModelPackageSummary[] = [];
    let nextToken: string | undefined;
    do {
        const page = await client.send(new ListModelPackagesCommand({
            ModelPackageGroupName: groupName,
            ModelPackageType: "Versioned",
            SortBy: "CreationTime",
            SortOrder: "Descending",
            MaxResults: 100,
            NextToken: nextToken,
        }));
        all.push(...(page.ModelPackageSummaryList ?? []));
        nextToken = page.NextToken;
    } while (nextToken);
    return all;
}

async function describe(client: ResolveModelVersionArgs["client"], arn: string): Promise<DescribeModelPackageCommandOutput> {
    return client.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
}

/** The described version, or ModelVersionError naming everything that stops it from serving. */
function toModelVersion(out: DescribeModelPackageCommandOutput, arn: string): ModelVersion {
    const problems = servingProblems(out);
    if (problems.length > 0) {
        throw new ModelVersionError(`model package ${arn} cannot serve: ${problems.join("; ")}`);
    }
    return modelVersion(out, arn);
}
