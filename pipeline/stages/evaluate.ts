/**
 * Stage "evaluate + gate": the evaluate step (steps/evaluate, as on AWS) scores the test split against the dev
 * endpoint, applies the stack's thresholds and the champion comparison, and records Approved or Rejected in the
 * registry. A rejection stops the run on purpose; prod keeps what it serves.
 */
import * as fs from "fs";
import * as path from "path";
import { main as evaluateMain } from "../../steps/evaluate/main";
import { ModelVersion } from "../../steps/lib/backend";
import { EvaluationReport } from "../../steps/lib/report";
import { readJson } from "../lib/json";
import { ModelServer } from "../lib/model-server";
import { EVALUATION_PROPERTIES } from "../../contracts/registry";
import { StageOutcome, StageStop } from "../lib/stage-runner";
import { Cycle } from "../scenarios";
import { RunContext } from "./context";
import { EtlOutput } from "./etl";

export async function evaluateAndGate(ctx: RunContext, candidate: ModelVersion, etl: EtlOutput, dev: ModelServer,
    cycle: Cycle): Promise<StageOutcome<ModelVersion>> {
    const code = await evaluateMain([
        "--model-package-arn", candidate.arn, "--data-prefix", etl.prefix, "--endpoint", dev.url,
        "--config", JSON.stringify(ctx.settings.evaluation), "--report-prefix", ctx.s3("artifacts/evaluations"),
        "--report-dir", path.join(ctx.runDir, "reports", cycle.label || "evaluation"),
    ], { backend: ctx.backend, io: ctx.stepIo("evaluate") });
    await dev.server.stop();
    const evaluated = await ctx.backend.registry.describeVersion(candidate.arn);
    // The property names the report folder's evaluation.json; report.html sits beside it.
    const reportUri = evaluated.properties[EVALUATION_PROPERTIES.report];
    const report = reportUri ? ctx.localPath(reportUri) : undefined;
    const evaluation = report && fs.existsSync(report) ? readJson<EvaluationReport>(report) : undefined;
    ctx.summary.evaluation = {
        version: candidate.version,
        decision: evaluated.approvalStatus,
        reasons: evaluation?.reasons ?? (evaluated.approvalDescription === undefined ? [] : [evaluated.approvalDescription]),
        metrics: evaluation?.metrics,
        report: report ? path.join(path.dirname(report), "report.html") : undefined,
    };
    if (code === 1 && evaluated.approvalStatus === "Rejected") {
        throw new StageStop(`Rejected: ${evaluated.approvalDescription ?? "see report"}`);
    }
    if (code !== 0) throw new Error(`evaluate step exited ${code}; see ${ctx.logFile("evaluate")}`);
    return { value: evaluated, detail: `${evaluated.approvalStatus}: ROC AUC ${evaluation?.metrics?.rocAuc?.toFixed(4) ?? "?"}` };
}
