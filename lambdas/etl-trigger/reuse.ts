/**
 * Reuse of an unchanged ETL run on AWS, with the key defined once in contracts/reuse-key.ts (bundled into this
 * function). The key's inputs here:
 *
 *   dataset version  the input object's S3 VersionId (HeadObject; the raw bucket is versioned). A prefix, or an
 *                    object without a version, is never reused: nothing would tell two uploads apart.
 *   ETL code         ETL_CODE_SHA256, computed by the stack from the script and package it deploys to Glue
 *   schema           a per-run schemaUri's VersionId, else ETL_SCHEMA_SHA256 (the job's default schema)
 *   settings         ETL_SETTINGS: the quality limits the job is deployed with
 *
 * The index `<curated>/<prefix>/_reuse/<key>.json` is written after a run's manifest was read and checked. Reuse is
 * an optimisation: any error while looking it up or recording it is logged and the ETL simply runs (or the run's
 * result is reported anyway); it never fails the action.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describeError, errorName } from "../shared/aws-errors";
import { Logger } from "../shared/log";
import {
    EtlReuseInputs, etlReuseIndexKey, etlReuseKey, EtlReuseRecord, parseEtlReuseRecord, REUSE_KEY_SCHEME,
} from "../../contracts/reuse-key";
import { TriggerConfig } from "./config";
import { UserParameters } from "./parameters";

export interface ReusePlan {
    readonly key: string;
    /** The versions the key was computed from (carried in the continuation token, max 256 characters each). */
    readonly datasetVersionId: string;
    readonly schemaVersionId?: string;
}

function location(uri: string): { Bucket: string; Key: string } {
    const rest = uri.slice("s3://".length);
    const slash = rest.indexOf("/");
    return { Bucket: rest.slice(0, slash), Key: rest.slice(slash + 1) };
}

/** The object's VersionId, or why there is none usable. */
async function objectVersion(s3: S3Client, uri: string): Promise<{ version: string } | { reason: string }> {
    try {
        const head = await s3.send(new HeadObjectCommand(location(uri)));
        if (!head.VersionId || head.VersionId === "null") return { reason: `${uri} has no object version (unversioned bucket or written before versioning)` };
        if (head.VersionId.length > 256) return { reason: `${uri} has a version id longer than 256 characters` };
        return { version: head.VersionId };
    } catch (e) {
        const name = errorName(e);
        if (name === "NotFound" || name === "NoSuchKey") return { reason: `${uri} is not a single object (a prefix): only a versioned object is reused` };
        return { reason: `could not read the version of ${uri}: ${describeError(e)}` };
    }
}

/** The key's inputs for this execution's parameters and the given object versions. */
export function reuseInputs(code: NonNullable<TriggerConfig["reuse"]>, params: UserParameters, datasetVersionId: string, schemaVersionId?: string): EtlReuseInputs {
    return {
        datasetVersion: `s3-version:${params.inputUri}?versionId=${datasetVersionId}`,
        etlCodeSha256: code.etlCodeSha256,
        schema: params.schemaUri !== undefined ? `s3-version:${params.schemaUri}?versionId=${schemaVersionId}` : `sha256:${code.schemaSha256}`,
        settings: code.settings,
    };
}

/** The reuse key of this execution's inputs, or why it cannot have one (then the ETL runs). */
export async function planReuse(s3: S3Client, config: TriggerConfig, params: UserParameters): Promise<ReusePlan | { reason: string }> {
    const code = config.reuse;
    if (!code) return { reason: "reuse inputs are not configured (ETL_CODE_SHA256, ETL_SCHEMA_SHA256, ETL_SETTINGS)" };
    const dataset = await objectVersion(s3, params.inputUri);
    if ("reason" in dataset) return dataset;
    let schemaVersionId: string | undefined;
    if (params.schemaUri !== undefined) {
        const v = await objectVersion(s3, params.schemaUri);
        if ("reason" in v) return v;
        schemaVersionId = v.version;
    }
    return { key: etlReuseKey(reuseInputs(code, params, dataset.version, schemaVersionId)), datasetVersionId: dataset.version, schemaVersionId };
}

/** The run recorded for `key` whose manifest text could be read, or undefined (a miss). */
export async function findRecordedRun(s3: S3Client, config: TriggerConfig, key: string, log: Logger): Promise<{ record: EtlReuseRecord; manifest: string } | undefined> {
    let record: EtlReuseRecord;
    try {
        const out = await s3.send(new GetObjectCommand({ Bucket: config.curatedBucket, Key: etlReuseIndexKey(config.curatedPrefix, key) }));
        record = parseEtlReuseRecord(await out.Body!.transformToString("utf-8"), key);
        const manifest = await s3.send(new GetObjectCommand({ Bucket: config.curatedBucket, Key: `${config.curatedPrefix}/${record.runId}/manifest.json` }));
        return { record, manifest: await manifest.Body!.transformToString("utf-8") };
    } catch (e) {
        if (errorName(e) !== "NoSuchKey") log.warn("reuse lookup failed; running the ETL", { key, error: describeError(e) });
        return undefined;
    }
}

/** Records which run `plan.key` produced. Never throws: a lost record only costs a later run its reuse. */
export async function recordRun(s3: S3Client, config: TriggerConfig, params: UserParameters, plan: ReusePlan,
    run: { runId: string; runPrefix: string; glueJobRunId: string }, now: Date, log: Logger): Promise<void> {
    if (!config.reuse) return;
    // Recomputed from the same versions: differs only if the function was redeployed with other code or settings
    // while the run was going; then the run's inputs are not known for sure and it is not recorded.
    const inputs = reuseInputs(config.reuse, params, plan.datasetVersionId, plan.schemaVersionId);
    if (etlReuseKey(inputs) !== plan.key) {
        log.warn("reuse inputs changed while the run was going (function redeployed); the run is not recorded for reuse", { key: plan.key });
        return;
    }
    const record: EtlReuseRecord = { scheme: REUSE_KEY_SCHEME, key: plan.key, inputs, ...run, recordedAt: now.toISOString() };
    try {
        // The bucket's default encryption (SSE-KMS with the stack key) applies.
        await s3.send(new PutObjectCommand({
            Bucket: config.curatedBucket, Key: etlReuseIndexKey(config.curatedPrefix, plan.key),
            Body: `${JSON.stringify(record, null, 2)}\n`, ContentType: "application/json",
        }));
        log.info("recorded the run for reuse", { key: plan.key, runId: run.runId });
    } catch (e) {
        log.warn("could not record the run for reuse; a later identical run will recompute it", { key: plan.key, error: describeError(e) });
    }
}
