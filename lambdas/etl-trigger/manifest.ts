/**
 * Turns a run's `manifest.json` (docs/contracts.md §2) into the action's output variables. The manifest is the
 * run's commit marker: a run without a readable, consistent manifest is not a usable dataset.
 */
import { z } from "zod";
import { ETL_OUTPUT_VARIABLES } from "../../contracts/delivery";

const count = z.number().int().min(0);

/** Only what this function relies on; the rest of the manifest is the downstream stages' business. */
const manifestSchema = z.looseObject({
    runId: z.string().min(1),
    rowsIn: count,
    rowsOut: count,
    rowsQuarantined: count,
    splits: z.looseObject({ train: count, validation: count, test: count }),
});

export class ManifestError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ManifestError";
    }
}

/** `s3://bucket/prefix/<runId>/`: the run's folder, always with a trailing slash. */
export function runPrefix(bucket: string, prefix: string, runId: string): string {
    return `s3://${bucket}/${prefix}/${runId}/`;
}

export function manifestKey(prefix: string, runId: string): string {
    return `${prefix}/${runId}/manifest.json`;
}

/** Validates the manifest text of run `runId` stored under `curatedPrefix`; returns the output variables. */
export function outputVariables(text: string, runId: string, curatedPrefix: string, glueJobRunId: string): Record<string, string> {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        throw new ManifestError(`manifest ${curatedPrefix}manifest.json is not valid JSON`);
    }
    const result = manifestSchema.safeParse(json);
    if (!result.success) {
        const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
        throw new ManifestError(`manifest ${curatedPrefix}manifest.json does not follow the ETL contract: ${problems}`);
    }
    const m = result.data;
    if (m.runId !== runId) {
        throw new ManifestError(`manifest ${curatedPrefix}manifest.json belongs to run ${JSON.stringify(m.runId)}, not ${JSON.stringify(runId)}`);
    }
    if (m.rowsIn !== m.rowsOut + m.rowsQuarantined) {
        throw new ManifestError(`manifest ${curatedPrefix}manifest.json is inconsistent: rowsIn ${m.rowsIn} != rowsOut ${m.rowsOut} + rowsQuarantined ${m.rowsQuarantined}`);
    }
    const names = ETL_OUTPUT_VARIABLES;
    return {
        [names.runId]: runId,
        [names.glueJobRunId]: glueJobRunId,
        [names.curatedPrefix]: curatedPrefix,
        [names.trainPrefix]: `${curatedPrefix}train/`,
        [names.validationPrefix]: `${curatedPrefix}validation/`,
        [names.testPrefix]: `${curatedPrefix}test/`,
        [names.manifestUri]: `${curatedPrefix}manifest.json`,
        [names.rowsIn]: String(m.rowsIn),
        [names.rowsOut]: String(m.rowsOut),
        [names.rowsQuarantined]: String(m.rowsQuarantined),
    };
}
