/**
 * The local pipeline's side of stage reuse (contracts/reuse-key.ts defines the keys): the local identities of
 * the inputs, and the ETL reuse index kept through the local object store, outliving runs as the registry does.
 *
 *   dataset version  the input file's SHA-256 (S3 gives a VersionId; a local file has none, its content is stronger)
 *   ETL code         SHA-256 over etl/glue_job.py and every file of etl/mlops_etl/ (path and bytes, sorted)
 *   schema           the schema file's SHA-256
 *   image            `local/model-container@sha256:<hash of model-container/>`: what an image digest is on AWS
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ObjectStore } from "../../steps/lib/backend";
import { isStepError } from "../../steps/lib/errors";
import { EtlReuseInputs, EtlReuseRecord, parseEtlReuseRecord, REUSE_KEY_SCHEME, ReuseKeyError, sha256Hex } from "../../contracts/reuse-key";
import { joinUri } from "../../steps/lib/uri";

/** Every file under `dir` (recursively; caches and bytecode left out), as paths relative to `root`, sorted. */
function filesUnder(root: string, dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            if (e.name === "__pycache__" || e.name.endsWith(".pyc") || e.name === ".pytest_cache") continue;
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.isFile()) out.push(path.relative(root, p));
        }
    };
    walk(path.join(root, dir));
    return out.sort();
}

/** SHA-256 over the files' relative paths and contents: a rename, an edit, an added or removed file changes it. */
export function treeSha256(root: string, entries: readonly string[]): string {
    const hash = createHash("sha256");
    const files = entries.flatMap((e) => (fs.statSync(path.join(root, e)).isDirectory() ? filesUnder(root, e) : [e])).sort();
    for (const f of files) {
        const bytes = fs.readFileSync(path.join(root, f));
        hash.update(`${f}\0${bytes.length}\0`).update(bytes);
    }
    return hash.digest("hex");
}

export function fileSha256(file: string): string {
    return sha256Hex(fs.readFileSync(file));
}

export function localEtlReuseInputs(repoRoot: string, dataset: { csv: string; schema: string },
    settings: EtlReuseInputs["settings"]): EtlReuseInputs {
    return {
        datasetVersion: `sha256:${fileSha256(dataset.csv)}`,
        etlCodeSha256: treeSha256(repoRoot, ["etl/glue_job.py", "etl/mlops_etl"]),
        schema: `sha256:${fileSha256(dataset.schema)}`,
        settings,
    };
}

export function localImageUri(repoRoot: string): string {
    return `local/model-container@sha256:${treeSha256(repoRoot, ["model-container"])}`;
}

/** The finished ETL run recorded for `key` under `indexPrefix`, or undefined (no record, a corrupt one, or its manifest is gone). */
export async function findEtlRun(objects: ObjectStore, indexPrefix: string, key: string): Promise<EtlReuseRecord | undefined> {
    let record: EtlReuseRecord;
    try {
        record = parseEtlReuseRecord((await objects.get(joinUri(indexPrefix, `${key}.json`))).toString("utf8"), key);
    } catch (e) {
        if (isStepError(e, "not-found") || e instanceof ReuseKeyError) return undefined;
        throw e;
    }
    return (await objects.exists(joinUri(record.runPrefix, "manifest.json"))) ? record : undefined;
}

export async function recordEtlRun(objects: ObjectStore, indexPrefix: string, key: string, inputs: EtlReuseInputs,
    run: { runId: string; runPrefix: string }): Promise<void> {
    const record: EtlReuseRecord = { scheme: REUSE_KEY_SCHEME, key, inputs, runId: run.runId, runPrefix: run.runPrefix, recordedAt: new Date().toISOString() };
    await objects.put(joinUri(indexPrefix, `${key}.json`), `${JSON.stringify(record, null, 2)}\n`, { contentType: "application/json" });
}
