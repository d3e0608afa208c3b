/**
 * Stage "data": the run's input in `<run>/input/`: synthetic churn data with a known ground truth
 * (data/synthetic_churn.py; `--scenario bad-data` makes it dirty), or a copy of the user's `--data` and `--schema`.
 */
import * as fs from "fs";
import * as path from "path";
import { readJson } from "../lib/json";
import { REPO_ROOT, runPython, summaryLine } from "../lib/python";
import { BAD_DATA_DIRTY_FRACTION } from "../scenarios";
import { RunContext } from "./context";
import { StageOutcome } from "../lib/stage-runner";

export interface Dataset {
    readonly csv: string;
    readonly schema: string;
    /** Generated here (the traffic can be generated too), not the user's. */
    readonly synthetic: boolean;
}

export async function prepareData(ctx: RunContext): Promise<StageOutcome<Dataset>> {
    const { options } = ctx;
    const inputDir = path.join(ctx.runDir, "input");
    fs.mkdirSync(inputDir, { recursive: true });
    if (options.data) {
        const csv = path.join(inputDir, path.basename(options.data));
        const schema = path.join(inputDir, "schema.json");
        fs.copyFileSync(options.data, csv);
        fs.copyFileSync(options.schema!, schema);
        return { value: { csv, schema, synthetic: false }, detail: `${options.data} with ${options.schema}` };
    }
    const csv = path.join(inputDir, "churn.csv");
    const args = ["--rows", String(options.rows), "--seed", String(options.seed), "--out", csv];
    if (options.scenario === "bad-data") args.push("--dirty-fraction", BAD_DATA_DIRTY_FRACTION);
    const result = await runPython("data/synthetic_churn.py", args, ctx.logFile("data"));
    if (result.code !== 0) throw new Error(`data generator failed (exit ${result.code}); see ${ctx.logFile("data")}`);
    const line = summaryLine(result.output, "synthetic_churn:") ?? "";
    ctx.summary.bayesAuc = Number(/bayes_auc=([\d.]+)/.exec(line)?.[1]);
    return { value: { csv, schema: path.join(REPO_ROOT, "data", "churn.schema.json"), synthetic: true }, detail: line.replace(/^synthetic_churn: /, "") };
}

/** The local model package group of a dataset: named after its schema. */
export function modelPackageGroupOf(dataset: Dataset | undefined): string {
    const schema = dataset ? readJson<{ name: string }>(dataset.schema) : undefined;
    return `mlops-local-${(schema?.name ?? "model").toLowerCase().replace(/[^a-z0-9-]+/g, "-")}`.slice(0, 63);
}
