/**
 * Stage "etl": etl/glue_job.py on local Spark (validate, quarantine, encode, split, baseline) writes the run
 * prefix `s3://<run>/curated/datasets/<cycle id>/`, or an earlier run with the same inputs is reused
 * (lib/reuse.ts). A quality gate failure stops the run with failure.json's reason; nothing is published.
 */
import * as fs from "fs";
import * as path from "path";
import { etlReuseKey } from "../../contracts/reuse-key";
import { readJson } from "../lib/json";
import { REPO_ROOT, runPython, summaryLine } from "../lib/python";
import { findEtlRun, localEtlReuseInputs, recordEtlRun } from "../lib/reuse";
import { StageOutcome, StageStop } from "../lib/stage-runner";
import { Cycle, cycleId, stageName } from "../scenarios";
import { RunContext } from "./context";
import { Dataset } from "./data";

export const ETL_STAGE = "etl";

/** The ETL reuse index outlives runs, like the registry: `s3://reuse-index/etl/<key>.json` under the runs root. */
const ETL_REUSE_INDEX = "s3://reuse-index/etl/";

/** The fields of the ETL's manifest.json (contracts §2) the local pipeline reads. */
export interface CuratedManifest {
    readonly rowsIn: number;
    readonly rowsOut: number;
    readonly rowsQuarantined: number;
    readonly splits: Readonly<Record<string, number>>;
    readonly splitBy: string;
    /** `_cN` baseline column → feature name. */
    readonly baselineColumns?: readonly { readonly name: string; readonly feature: string }[];
}

/** failure.json, written instead of a manifest when the ETL stops. */
interface EtlFailure {
    readonly kind: string;
    readonly message: string;
    readonly rowsIn?: number;
    readonly rowsQuarantined?: number;
    readonly quarantineByReason?: Readonly<Record<string, number>>;
}

export interface EtlOutput {
    /** The run prefix `s3://…/` the steps read. */
    readonly prefix: string;
    readonly dir: string;
    readonly manifest: CuratedManifest;
}

export async function runEtl(ctx: RunContext, dataset: Dataset | undefined, cycle: Cycle): Promise<StageOutcome<EtlOutput>> {
    if (!dataset) throw new Error("no dataset");
    const { settings, options } = ctx;
    const id = cycleId(ctx.runId, cycle);
    // The shard count is part of the key: a 1-shard run cannot feed a training job of several hosts.
    const etlSettings = {
        maxQuarantineShare: settings.etl.maxQuarantineShare, minRows: settings.etl.minRows,
        trainShards: Math.max(settings.etl.trainShards, options.trainHosts),
    };
    const reuseInputs = localEtlReuseInputs(REPO_ROOT, dataset, etlSettings);
    const reuseKey = etlReuseKey(reuseInputs);
    const objects = ctx.backend.objects;
    const hit = options.reuse ? await findEtlRun(objects, ETL_REUSE_INDEX, reuseKey) : undefined;
    ctx.summary.reuse.stages[stageName(cycle, ETL_STAGE)] = { key: reuseKey, reused: hit !== undefined };
    if (hit) {
        const dir = ctx.localPath(hit.runPrefix);
        const manifest = readJson<CuratedManifest>(path.join(dir, "manifest.json"));
        ctx.summary.etl = { ...manifestCounts(manifest), reusedRun: hit.runPrefix };
        return {
            value: { prefix: hit.runPrefix, dir, manifest },
            detail: `reused run ${hit.runId} (same data, ETL code, schema, settings; key ${reuseKey.slice(0, 16)}…): rows in=${manifest.rowsIn} out=${manifest.rowsOut}`,
        };
    }
    const output = ctx.localPath(ctx.s3("curated/datasets"));
    const result = await runPython("etl/glue_job.py", [
        "--input", dataset.csv, "--schema", dataset.schema, "--output", output, "--run-id", id,
        // Platform limits from stack config (the schema may only tighten them); --rows never changes them.
        "--max-quarantine-share", String(etlSettings.maxQuarantineShare), "--min-rows", String(etlSettings.minRows),
        "--train-shards", String(etlSettings.trainShards),
    ], ctx.logFile("etl"));
    const line = summaryLine(result.output, "etl:") ?? result.output.trim().split("\n").pop() ?? "";
    if (result.code !== 0) {
        const failure = path.join(output, `_failed-${id}`, "failure.json");
        if (!fs.existsSync(failure)) throw new Error(`ETL failed (exit ${result.code}): ${line}; see ${ctx.logFile("etl")}`);
        const report = readJson<EtlFailure>(failure);
        // The ETL read a copy of the schema in the run folder: name the file the user edits.
        const message = options.schema ? String(report.message).split(dataset.schema).join(path.resolve(options.schema)) : report.message;
        ctx.summary.etl = {
            rowsIn: report.rowsIn, rowsOut: 0, rowsQuarantined: report.rowsQuarantined, quarantineByReason: report.quarantineByReason,
            failure, kind: report.kind, message,
        };
        throw new StageStop(`${report.kind === "gate" ? "quality gate" : `ETL (${report.kind})`}: ${message}; nothing published (report: ${failure})`);
    }
    const manifest = readJson<CuratedManifest>(path.join(output, id, "manifest.json"));
    ctx.summary.etl = manifestCounts(manifest);
    const prefix = ctx.s3(`curated/datasets/${id}/`);
    await recordEtlRun(objects, ETL_REUSE_INDEX, reuseKey, reuseInputs, { runId: id, runPrefix: prefix });
    return { value: { prefix, dir: path.join(output, id), manifest }, detail: line.replace(/^etl: /, "") };
}

function manifestCounts(manifest: CuratedManifest) {
    return { rowsIn: manifest.rowsIn, rowsOut: manifest.rowsOut, rowsQuarantined: manifest.rowsQuarantined, splits: manifest.splits, splitBy: manifest.splitBy };
}
