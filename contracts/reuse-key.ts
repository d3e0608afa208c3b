/**
 * Content-addressed reuse of unchanged stages. A stage's reuse key is the SHA-256 of exactly the inputs that
 * determine its output, and nothing else (not the pipeline execution, the commit, the time or the run id):
 *
 *   ETL:   the dataset object's version, the ETL code, the dataset schema and the ETL settings that change the
 *          output (quality limits, the number of train part files a multi-instance training job shards). A new upload, an edit under etl/, a schema change or a new limit is a miss.
 *   train: the curated data manifest (its bytes: each ETL run writes its own, so a re-run ETL is new data), the
 *          model image (by digest or immutable tag) and the hyperparameters.
 *
 * A hit means the earlier output is used as it is: the ETL's run prefix, the training job's registered version.
 * Defined once, here; the ETL trigger Lambda imports this module (it is bundled into the Lambda), the train step
 * and the local pipeline call it too, so the three cannot compute different keys for the same inputs.
 *
 * The key is stored with what it names (the ETL reuse index object, the version's `ReuseKey` property) together
 * with its inputs, so an audit can recompute it.
 */
import { createHash } from "crypto";

/** Bumped when the key's definition changes: old keys then simply miss. */
export const REUSE_KEY_SCHEME = 1;

export class ReuseKeyError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ReuseKeyError";
    }
}

/** What the ETL's output depends on. */
export interface EtlReuseInputs {
    /** The input object's version: S3 `VersionId` on AWS, the file's SHA-256 locally (`sha256:<hex>`). */
    readonly datasetVersion: string;
    /** SHA-256 of the ETL code (the Glue script and the package shipped with it). */
    readonly etlCodeSha256: string;
    /** The schema's identity: its SHA-256 or, for a per-run schema object, its S3 version. */
    readonly schema: string;
    /** The job settings that change its output: the quality gate's limits and the number of train part files. */
    readonly settings: { readonly maxQuarantineShare: number; readonly minRows: number; readonly trainShards: number };
}

/** What a trained model depends on. */
export interface TrainReuseInputs {
    /** SHA-256 of the ETL run's manifest.json bytes. */
    readonly manifestSha256: string;
    /** The model image: `<repo>@sha256:<digest>`, or a tag of a repository with immutable tags. */
    readonly image: string;
    /** SageMaker's hyperparameters (all values strings). */
    readonly hyperparameters: Readonly<Record<string, string>>;
}

/** JSON with object keys sorted at every level, so equal values always serialise to equal text. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (value !== null && typeof value === "object") {
        const entries = Object.keys(value as object).sort()
            .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
            .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
        return `{${entries.join(",")}}`;
    }
    if (typeof value === "number" && !Number.isFinite(value)) throw new ReuseKeyError(`reuse key input ${value} is not a finite number`);
    return JSON.stringify(value);
}

export function sha256Hex(data: string | Buffer): string {
    return createHash("sha256").update(data).digest("hex");
}

function text(stage: string, field: string, value: unknown): string {
    if (typeof value !== "string" || value.trim() === "") {
        throw new ReuseKeyError(`${stage} reuse key: ${field} is missing or empty (got ${JSON.stringify(value)}); it must identify the input exactly`);
    }
    return value;
}

/** `etl-<64 hex>`. Throws {@link ReuseKeyError} naming a missing input. */
export function etlReuseKey(inputs: EtlReuseInputs): string {
    const s = inputs.settings;
    for (const [k, v] of [["settings.maxQuarantineShare", s?.maxQuarantineShare], ["settings.minRows", s?.minRows], ["settings.trainShards", s?.trainShards]] as const) {
        if (typeof v !== "number" || !Number.isFinite(v)) throw new ReuseKeyError(`etl reuse key: ${k} must be a number (got ${JSON.stringify(v)})`);
    }
    const payload = {
        scheme: REUSE_KEY_SCHEME,
        stage: "etl",
        datasetVersion: text("etl", "datasetVersion", inputs.datasetVersion),
        etlCodeSha256: text("etl", "etlCodeSha256", inputs.etlCodeSha256),
        schema: text("etl", "schema", inputs.schema),
        settings: { maxQuarantineShare: s.maxQuarantineShare, minRows: s.minRows, trainShards: s.trainShards },
    };
    return `etl-${sha256Hex(canonicalJson(payload))}`;
}

/** `train-<64 hex>`. Throws {@link ReuseKeyError} naming a missing input. */
export function trainReuseKey(inputs: TrainReuseInputs): string {
    const hp = inputs.hyperparameters;
    if (hp === null || typeof hp !== "object") throw new ReuseKeyError("train reuse key: hyperparameters must be an object of strings");
    for (const [k, v] of Object.entries(hp)) {
        if (typeof v !== "string") throw new ReuseKeyError(`train reuse key: hyperparameter ${k} must be a string (SageMaker's contract), got ${JSON.stringify(v)}`);
    }
    const payload = {
        scheme: REUSE_KEY_SCHEME,
        stage: "train",
        manifestSha256: text("train", "manifestSha256", inputs.manifestSha256),
        image: text("train", "image", inputs.image),
        hyperparameters: hp,
    };
    return `train-${sha256Hex(canonicalJson(payload))}`;
}

/** "true"/"false" (any case, surrounding blanks ignored), as a pipeline variable or an environment variable gives it. */
export function parseReuseSwitch(value: string | undefined, where: string): boolean {
    if (value === undefined || value.trim() === "") return true;
    const v = value.trim().toLowerCase();
    if (v === "true") return true;
    if (v === "false") return false;
    throw new ReuseKeyError(`${where} is ${JSON.stringify(value)}: expected "true" (reuse unchanged stages, the default) or "false" (recompute everything, for audits)`);
}

// ── the ETL reuse index ────────────────────────────────────────────────────────────────────────────────────

/**
 * Where the ETL records which run its key produced: `<curated prefix>/_reuse/<key>.json` (a `_` prefix is never
 * a run, docs/contracts.md §2). Written only after the run's manifest exists, so a record always names a finished
 * run; a reader still checks the manifest is there before reusing it.
 */
export function etlReuseIndexKey(curatedPrefix: string, key: string): string {
    return `${curatedPrefix.replace(/\/+$/, "")}/_reuse/${key}.json`;
}

export interface EtlReuseRecord {
    readonly scheme: number;
    readonly key: string;
    /** What the key was computed from, so an audit can recompute it. */
    readonly inputs: EtlReuseInputs;
    readonly runId: string;
    /** The run's prefix URI, ending in `/`. */
    readonly runPrefix: string;
    /** The Glue job run that produced it (AWS). */
    readonly glueJobRunId?: string;
    readonly recordedAt: string;
}

/** Parses an index record; throws {@link ReuseKeyError} when it is not one for `key` (a corrupt record is a miss). */
export function parseEtlReuseRecord(text: string, key: string): EtlReuseRecord {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        throw new ReuseKeyError(`reuse record for ${key} is not valid JSON`);
    }
    const r = json as Partial<EtlReuseRecord>;
    if (r === null || typeof r !== "object" || r.key !== key || typeof r.runId !== "string" || typeof r.runPrefix !== "string" || !r.runPrefix.endsWith("/")) {
        throw new ReuseKeyError(`reuse record for ${key} does not name a run (expected key, runId and runPrefix ending in "/")`);
    }
    if (r.scheme !== REUSE_KEY_SCHEME) throw new ReuseKeyError(`reuse record for ${key} has scheme ${r.scheme}, not ${REUSE_KEY_SCHEME}`);
    return r as EtlReuseRecord;
}
