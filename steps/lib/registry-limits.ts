/**
 * SageMaker's limits on model package metadata, enforced by both backends so a version that registers locally
 * also registers on AWS.
 */
import { NewModelVersion } from "./backend";
import { StepError } from "./errors";
import { REGISTRY_METADATA, TRAIN_METRIC_PREFIX } from "../../contracts/registry";

export const MAX_PROPERTIES = 50;
export const MAX_PROPERTY_KEY = 128;
export const MAX_PROPERTY_VALUE = 256;
export const MAX_APPROVAL_DESCRIPTION = 1024;
const PROPERTY_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Throws StepError "invalid" naming every property SageMaker's CustomerMetadataProperties would refuse. */
export function checkProperties(properties: Readonly<Record<string, string>>): void {
    const problems: string[] = [];
    const entries = Object.entries(properties);
    if (entries.length > MAX_PROPERTIES) problems.push(`${entries.length} properties; at most ${MAX_PROPERTIES} are allowed`);
    for (const [key, value] of entries) {
        if (key.length === 0 || key.length > MAX_PROPERTY_KEY) problems.push(`key ${JSON.stringify(key)}: length must be 1-${MAX_PROPERTY_KEY}`);
        if (!PROPERTY_CHARS.test(key)) problems.push(`key ${JSON.stringify(key)}: only letters, digits, spaces and _.:/=+-@ are allowed`);
        if (value.length > MAX_PROPERTY_VALUE) problems.push(`value of ${key}: ${value.length} characters; at most ${MAX_PROPERTY_VALUE}`);
    }
    if (problems.length > 0) throw new StepError("invalid", `model package properties rejected: ${problems.join("; ")}`);
}

/** SageMaker refuses a longer ApprovalDescription; the full reasons are in the evaluation report. */
export function cutApprovalDescription(text: string): string {
    if (text.length <= MAX_APPROVAL_DESCRIPTION) return text;
    const marker = " …(see the evaluation report)";
    return text.slice(0, MAX_APPROVAL_DESCRIPTION - marker.length) + marker;
}

/**
 * The properties a new version is registered with: the caller's, the training metrics as `train.<name>`
 * (readable in the console and by deploy without S3) and the dataset manifest (contracts §7). Checked against the limits.
 */
export function versionProperties(input: NewModelVersion): Record<string, string> {
    const properties: Record<string, string> = { ...input.properties, [REGISTRY_METADATA.manifestUri]: input.datasetManifestUri };
    for (const [name, value] of Object.entries(input.metrics)) properties[`${TRAIN_METRIC_PREFIX}${name}`] = String(value);
    checkProperties(properties);
    return properties;
}
