/**
 * The model registry as one JSON file. Every change takes an exclusive lock file (`<file>.lock`, created with
 * O_EXCL) and replaces the file by atomic rename, so concurrent steps never lose a version or read half a file.
 * Groups are created on first use (on AWS the stack creates the group).
 */
import { promises as fs } from "fs";
import * as path from "path";
import {
    ApprovalUpdate, ListVersionsOptions, MetricsSource, ModelRegistry, ModelVersion, ModelVersionSummary, NewModelVersion,
    ApprovalStatus,
} from "../backend";
import { StepError } from "../errors";
import { checkProperties, cutApprovalDescription, versionProperties } from "../registry-limits";

interface StoredVersion {
    arn: string;
    groupName: string;
    version: number;
    approvalStatus: ApprovalStatus;
    createdAt: string;
    imageUri: string;
    modelDataUri: string;
    description?: string;
    approvalDescription?: string;
    commitId?: string;
    properties: Record<string, string>;
    metricsSource?: MetricsSource;
    baseline?: { statisticsUri: string; constraintsUri: string };
    idempotencyToken?: string;
}

interface RegistryFile {
    groups: Record<string, { versions: StoredVersion[] }>;
}

export interface LocalRegistryOptions {
    /** The registry's JSON file. */
    readonly file: string;
    /**
     * Give up waiting for the lock after this long.
     * @default 10000
     */
    readonly lockTimeoutMs?: number;
    /**
     * A lock older than this is left over from a crashed writer and is removed.
     * @default 30000
     */
    readonly staleLockMs?: number;
    /** @default () => new Date() */
    readonly now?: () => Date;
}

/** Same shape as SageMaker's, in a region no AWS call will ever accept. */
export function localModelPackageArn(groupName: string, version: number): string {
    return `arn:aws:sagemaker:local:000000000000:model-package/${groupName}/${version}`;
}

const ARN = /^arn:aws:sagemaker:[^:]+:\d{12}:model-package\/([^/]+)\/(\d+)$/;

function toVersion(v: StoredVersion): ModelVersion {
    return {
        arn: v.arn, groupName: v.groupName, version: v.version, approvalStatus: v.approvalStatus,
        createdAt: new Date(v.createdAt), imageUri: v.imageUri, modelDataUri: v.modelDataUri,
        description: v.description, approvalDescription: v.approvalDescription, commitId: v.commitId,
        properties: { ...v.properties },
    };
}

export class LocalRegistry implements ModelRegistry {
    constructor(private readonly options: LocalRegistryOptions) {}

    private async read(): Promise<RegistryFile> {
        try {
            const parsed = JSON.parse(await fs.readFile(this.options.file, "utf8")) as RegistryFile;
            return { groups: parsed.groups ?? {} };
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return { groups: {} };
            throw new StepError("failed", `local registry ${this.options.file} is unreadable: ${(e as Error).message}`, "read", { cause: e });
        }
    }

    /** Runs `change` on the registry under the lock and writes the result atomically. */
    private async locked<T>(change: (registry: RegistryFile) => T): Promise<T> {
        const lock = `${this.options.file}.lock`;
        await fs.mkdir(path.dirname(this.options.file), { recursive: true });
        const deadline = Date.now() + (this.options.lockTimeoutMs ?? 10_000);
        for (;;) {
            try {
                const handle = await fs.open(lock, "wx");
                await handle.writeFile(String(process.pid));
                await handle.close();
                break;
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
                const age = await fs.stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
                if (age > (this.options.staleLockMs ?? 30_000)) {
                    await fs.rm(lock, { force: true });
                    continue;
                }
                if (Date.now() > deadline) {
                    throw new StepError("throttled", `local registry ${this.options.file} stayed locked (${lock}); another step is writing it`, "lock");
                }
                await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
            }
        }
        try {
            const registry = await this.read();
            const result = change(registry);
            const tmp = `${this.options.file}.${process.pid}.tmp`;
            await fs.writeFile(tmp, JSON.stringify(registry, null, 2));
            await fs.rename(tmp, this.options.file);
            return result;
        } finally {
            await fs.rm(lock, { force: true });
        }
    }

    async createVersion(input: NewModelVersion): Promise<ModelVersion> {
        const properties = versionProperties(input);
        const now = (this.options.now ?? (() => new Date()))();
        const stored = await this.locked((registry) => {
            const group = (registry.groups[input.groupName] ??= { versions: [] });
            const existing = input.idempotencyToken === undefined
                ? undefined
                : group.versions.find((v) => v.idempotencyToken === input.idempotencyToken);
            if (existing) return existing;
            const version = group.versions.reduce((max, v) => Math.max(max, v.version), 0) + 1;
            const v: StoredVersion = {
                arn: localModelPackageArn(input.groupName, version),
                groupName: input.groupName,
                version,
                approvalStatus: "PendingManualApproval",
                createdAt: now.toISOString(),
                imageUri: input.imageUri,
                modelDataUri: input.modelDataUri,
                description: input.description.slice(0, 1024),
                commitId: input.commitId,
                properties,
                metricsSource: input.metricsSource,
                baseline: input.baseline,
                idempotencyToken: input.idempotencyToken,
            };
            group.versions.push(v);
            return v;
        });
        return toVersion(stored);
    }

    async listVersions(groupName: string, options: ListVersionsOptions = {}): Promise<ModelVersionSummary[]> {
        const registry = await this.read();
        return (registry.groups[groupName]?.versions ?? [])
            .filter((v) => options.approvalStatus === undefined || v.approvalStatus === options.approvalStatus)
            .filter((v) => options.createdAfter === undefined || new Date(v.createdAt) >= options.createdAfter)
            .sort((a, b) => b.version - a.version)
            .map((v) => ({ arn: v.arn, groupName: v.groupName, version: v.version, approvalStatus: v.approvalStatus, createdAt: new Date(v.createdAt) }));
    }

    async describeVersion(arn: string): Promise<ModelVersion> {
        const found = findVersion(await this.read(), arn);
        return toVersion(found);
    }

    async updateApproval(arn: string, update: ApprovalUpdate): Promise<void> {
        if (update.properties) checkProperties(update.properties);
        await this.locked((registry) => {
            const v = findVersion(registry, arn);
            const properties = { ...v.properties, ...(update.properties ?? {}) };
            checkProperties(properties);
            v.approvalStatus = update.status;
            v.approvalDescription = cutApprovalDescription(update.description);
            v.properties = properties;
        });
    }
}

function findVersion(registry: RegistryFile, arn: string): StoredVersion {
    const m = ARN.exec(arn);
    const found = m ? registry.groups[m[1]]?.versions.find((v) => v.version === Number(m[2])) : undefined;
    if (!found) throw new StepError("not-found", `model package ${arn} not found in the local registry`, "describe");
    return found;
}
