/**
 * The ETL run prefix (contracts §2): its `manifest.json` is the commit marker, so a prefix without one is
 * refused rather than trained or evaluated on.
 */
import { ObjectStore } from "./backend";
import { isStepError, StepError } from "./errors";
import { asPrefix, joinUri } from "./uri";

export interface EtlManifest {
    readonly runId?: string;
    readonly label?: string;
    readonly features: readonly string[];
    readonly splits?: Readonly<Record<string, number>>;
    readonly baseline?: { readonly statistics?: string; readonly constraints?: string };
    readonly [key: string]: unknown;
}

export interface EtlRun {
    /** The run prefix, ending in `/`. */
    readonly prefix: string;
    readonly manifestUri: string;
    readonly manifest: EtlManifest;
    readonly baseline: { readonly statisticsUri: string; readonly constraintsUri: string };
    splitUri(split: "train" | "validation" | "test"): string;
}

export async function readEtlRun(objects: ObjectStore, dataPrefix: string): Promise<EtlRun> {
    const prefix = asPrefix(dataPrefix);
    const manifestUri = joinUri(prefix, "manifest.json");
    let text: string;
    try {
        text = (await objects.get(manifestUri)).toString("utf8");
    } catch (e) {
        if (isStepError(e, "not-found")) {
            throw new StepError("invalid", `${manifestUri} not found: ${prefix} is not a finished ETL run (manifest.json is written last)`);
        }
        throw e;
    }
    let manifest: EtlManifest;
    try {
        manifest = JSON.parse(text) as EtlManifest;
    } catch (e) {
        throw new StepError("invalid", `${manifestUri} is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(manifest.features) || manifest.features.length === 0 || !manifest.features.every((f) => typeof f === "string")) {
        throw new StepError("invalid", `${manifestUri}: "features" must be a non-empty list of names (contracts §2)`);
    }
    const baseline = {
        statisticsUri: joinUri(prefix, manifest.baseline?.statistics ?? "baseline/statistics.json"),
        constraintsUri: joinUri(prefix, manifest.baseline?.constraints ?? "baseline/constraints.json"),
    };
    return { prefix, manifestUri, manifest, baseline, splitUri: (split) => asPrefix(joinUri(prefix, split)) };
}
