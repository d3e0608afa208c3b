/**
 * Stage "drift check": monitor/check_drift.py, the same drift rule and settings as the prod monitoring job
 * (monitor/drift_checker), judges what prod captured against the training data's baseline; the verdict and
 * violations also become an HTML report for people (lib/drift-report.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { renderDriftReport, Violation } from "../lib/drift-report";
import { readJson } from "../lib/json";
import { runPython } from "../lib/python";
import { StageOutcome } from "../lib/stage-runner";
import { RunContext } from "./context";
import { CuratedManifest } from "./etl";

export interface DriftInputs {
    /** The folder of the ETL run prod's model was trained on (manifest, baseline). */
    readonly trainingData: string;
    /** The replayed requests (their rows fill the report's window distributions). */
    readonly trafficFile: string;
    /** The prod endpoint's capture folder, and its endpoint name. */
    readonly captureDir: string;
    readonly endpointName: string;
    readonly capturedRequests: number;
}

export async function checkDrift(ctx: RunContext, inputs: DriftInputs): Promise<StageOutcome<Violation[]>> {
    const { trainingData, captureDir } = inputs;
    const { driftAlpha, driftMinWindow } = ctx.settings.prod;
    const output = path.join(ctx.runDir, "drift");
    const result = await runPython("monitor/check_drift.py", [
        "--baseline-dir", path.join(trainingData, "baseline"), "--capture-dir", captureDir,
        "--manifest", path.join(trainingData, "manifest.json"), "--output", output,
        "--alpha", String(driftAlpha), "--min-window", String(driftMinWindow),
    ], ctx.logFile("drift"));
    if (result.code === 2) throw new Error(`drift check could not run; see ${ctx.logFile("drift")}`);
    const rule = /drift verdict: (drift|no drift|insufficient data|not evaluated);/.exec(result.output)?.[1] ?? "not evaluated";
    const violations = readJson<{ violations?: Violation[] }>(path.join(output, "constraint_violations.json")).violations ?? [];
    const manifest = readJson<CuratedManifest>(path.join(trainingData, "manifest.json"));
    const names: Record<string, string> = Object.fromEntries((manifest.baselineColumns ?? []).map((c) => [c.name, c.feature]));
    const html = path.join(output, "report.html");
    fs.writeFileSync(html, renderDriftReport({
        baselineStatistics: readJson(path.join(trainingData, "baseline", "statistics.json")),
        windowRows: fs.readFileSync(inputs.trafficFile, "utf8").split("\n").filter(Boolean).map((l) => l.split(",").map(Number)),
        violations,
        featureNames: names,
        endpoint: inputs.endpointName,
        captureDir,
        verdict: rule,
        capturedRequests: inputs.capturedRequests,
    }));
    const drifted = violations.filter((v) => v.constraint_check_type === "baseline_drift_check").map((v) => names[v.feature_name] ?? v.feature_name);
    const verdict = rule === "drift" ? "drift flagged" : rule;
    ctx.summary.drift = { verdict, rule: { alpha: driftAlpha, minWindow: driftMinWindow }, violations: violations.length, driftedFeatures: drifted, report: html };
    const listed = [...new Set(violations.map((v) => `${names[v.feature_name] ?? v.feature_name} ${v.constraint_check_type}`))].slice(0, 4).join(", ");
    return { value: violations, detail: violations.length === 0 ? verdict : `${verdict}: ${violations.length} violation(s) (${listed})` };
}
