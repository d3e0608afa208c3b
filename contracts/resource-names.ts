/**
 * Physical names for resources whose names AWS limits in length or charset. Every such name in the program is
 * built here, so limits are enforced in one place and tests can check them.
 */
import { createHash } from "crypto";

/** Length limits (characters) of the AWS names the program sets explicitly. */
export const NAME_LIMITS = {
    s3Bucket: 63,
    sagemaker: 63,
    iamRole: 64,
    lambda: 64,
    glueJob: 255,
    codebuild: 150,
    codepipeline: 100,
    eventRule: 64,
    logGroup: 512,
    ecrRepository: 256,
    snsTopic: 256,
    alarm: 255,
    kmsAlias: 250,
    dashboard: 255,
    scalingPolicy: 256,
    sqsQueue: 80,
    glueSecurityConfiguration: 255,
    secret: 512,
    iamPolicy: 128,
} as const;
export type NameKind = keyof typeof NAME_LIMITS;

/** Bucket names and SageMaker names allow only lowercase letters, digits and hyphens. */
const LOWERCASE_KINDS: ReadonlySet<NameKind> = new Set(["s3Bucket", "sagemaker", "ecrRepository"]);

function shortHash(text: string, length = 6): string {
    return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * Joins `parts` with `-` into a name of the given kind. Too-long names are cut and end in a short hash of the
 * full name, so two long names that share a prefix stay distinct and the result is stable across runs.
 */
export function physicalName(kind: NameKind, parts: readonly string[], reserve = 0): string {
    const limit = NAME_LIMITS[kind] - reserve;
    let name = parts.filter((p) => p.length > 0).join("-");
    if (LOWERCASE_KINDS.has(kind)) {
        name = name.toLowerCase().replace(/[^a-z0-9-]/g, "-");
    }
    if (name.length <= limit) return name;
    const hash = shortHash(name);
    return `${name.slice(0, limit - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** Names every resource of one stack starts with: `<project>-<environment>`. */
export class Namer {
    constructor(readonly project: string, readonly environment: string) {}

    /** `<project>-<environment>-<parts…>`, within the limit of `kind`. */
    name(kind: NameKind, ...parts: string[]): string {
        return physicalName(kind, [this.project, this.environment, ...parts]);
    }

    /**
     * A bucket name made globally unique by the account id and region, both known only at deploy time. The
     * account id is always 12 digits, so the length is checked now rather than at `pulumi up`.
     */
    bucketName(purpose: string, region: string): (accountId: string) => string {
        const suffix = `-${region}`;
        const base = physicalName("s3Bucket", [this.project, this.environment, purpose], 13 + suffix.length);
        return (accountId: string) => `${base}-${accountId}${suffix}`;
    }
}
