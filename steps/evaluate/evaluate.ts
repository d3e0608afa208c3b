/**
 * The evaluate step: decides, on evidence, whether a registered version may go to production.
 *
 * Scores the ETL test split against an endpoint serving the version, computes the metrics, applies the gate
 * (absolute thresholds + champion comparison, ../lib/gate), writes the report (JSON, HTML, JUnit), records the
 * decision on the version (Approved / Rejected with the reasons, and its metrics so it can be a later champion)
 * and returns exit code 0 (Approved) or 1 (Rejected).
 */
import { promises as fs } from "fs";
import * as path from "path";
import { Backend, ModelVersion } from "../lib/backend";
import { EXIT_FAILED, EXIT_OK, formatDuration, Io } from "../lib/cli";
import { EvaluationThresholds } from "../lib/config";
import { StepError } from "../lib/errors";
import { Champion, championFromProperties, decide, evaluationProperties, EvaluationMetrics, GateResult } from "../lib/gate";
import { readEtlRun } from "../lib/manifest";
import { calibrationCurve, classificationMetrics, percentile, prCurve, rocCurve } from "../lib/metrics";
import { calibrationBins, EvaluationReport, plotPoints, renderHtml, renderJson, renderJunit } from "../lib/report";
import { Clock, withRetry } from "../lib/retry";
import { asPrefix, joinUri } from "../lib/uri";
import { readTestSet, scoreRows, ScoreOptions } from "./score";
import { REGISTRY_METADATA } from "../lib/registry-metadata";

export interface EvaluateOptions {
    /** The version to evaluate; or find it by `executionId` in `modelPackageGroup`. */
    readonly modelPackageArn?: string;
    readonly modelPackageGroup?: string;
    readonly executionId?: string;
    readonly dataPrefix: string;
    readonly endpoint: string;
    readonly thresholds: EvaluationThresholds;
    /** Reports go to `<reportPrefix>/<group>/<version>/{evaluation.json,report.html}`. */
    readonly reportPrefix: string;
    /** Local folder for the CodeBuild report group and artifacts: junit.xml, evaluation.json, report.html. */
    readonly reportDir?: string;
    readonly scoring?: Omit<ScoreOptions, "endpoint">;
    /** @default () => new Date() */
    readonly now?: () => Date;
}

/** Versions searched (newest first) when the version is named by its pipeline execution. */
const EXECUTION_SEARCH_DEPTH = 20;

export interface EvaluateResult {
    readonly exitCode: number;
    readonly report: EvaluationReport;
    readonly gate: GateResult;
    readonly reportUri: string;
}

export async function runEvaluate(options: EvaluateOptions, backend: Backend, io: Io, clock: Clock): Promise<EvaluateResult> {
    const retry = <T>(fn: () => Promise<T>) => withRetry(fn, clock, {
        baseMs: 1000, capMs: 20_000, retries: 6,
        onRetry: (e, attempt, delay) => io.out(`throttled (${(e as Error).message}); retry ${attempt} in ${formatDuration(delay)}`),
    });

    const challenger = await resolveVersion(options, backend, retry);
    io.out(`evaluating ${challenger.groupName} version ${challenger.version} (${challenger.arn}) against endpoint ${options.endpoint}`);

    const run = await retry(() => readEtlRun(backend.objects, options.dataPrefix));
    const testPrefix = run.splitUri("test");
    const test = await retry(() => readTestSet(backend.objects, testPrefix, run.manifest.features.length));
    io.out(`test split: ${test.rows.length} rows in ${test.files.length} file(s)`);

    const scored = await scoreRows(backend.invoker, test.rows, { ...options.scoring, endpoint: options.endpoint }, clock, (l) => io.out(l));
    const labels: number[] = [];
    const scores: number[] = [];
    scored.predictions.forEach((p, i) => {
        if (p !== null) {
            labels.push(test.labels[i]);
            scores.push(p);
        }
    });
    for (const e of scored.errors) io.err(`request failed: ${e}`);

    const threshold = options.thresholds.decisionThreshold;
    const base = classificationMetrics(labels, scores, threshold);
    const metrics: EvaluationMetrics = {
        rocAuc: base.rocAuc, prAuc: base.prAuc, accuracy: base.accuracy, precision: base.precision, recall: base.recall,
        f1: base.f1, logLoss: base.logLoss, brier: base.brier,
        errorRate: scored.failedRows / test.rows.length,
        latencyP50Ms: percentile(scored.latenciesMs, 50),
        latencyP99Ms: percentile(scored.latenciesMs, 99),
    };

    const champion = await findChampion(backend, challenger, retry);
    io.out(champion ? `champion: version ${champion.version} (${champion.arn})` : "champion: none (no approved version yet)");
    const gate = decide(metrics, options.thresholds, champion);

    const report: EvaluationReport = {
        schemaVersion: 1,
        modelPackageArn: challenger.arn,
        modelPackageGroup: challenger.groupName,
        version: challenger.version,
        pipelineExecutionId: options.executionId ?? challenger.properties[REGISTRY_METADATA.pipelineExecutionId],
        evaluatedAt: (options.now ?? (() => new Date()))().toISOString(),
        endpoint: options.endpoint,
        data: {
            testPrefix, files: test.files.length, rows: test.rows.length, scoredRows: labels.length,
            failedRows: scored.failedRows, positives: base.positives,
            ...(run.manifest.splitBy === "id" || run.manifest.splitBy === "position" ? { splitBy: run.manifest.splitBy } : {}),
        },
        requests: { count: scored.requests, failed: scored.failedRequests, retries: scored.retries, errors: scored.errors },
        threshold,
        metrics,
        confusionMatrix: base.confusion,
        thresholds: options.thresholds,
        champion: champion ?? null,
        decision: gate.decision,
        reasons: gate.reasons,
        rules: gate.rules,
        curves: { roc: plotPoints(rocCurve(labels, scores)), pr: plotPoints(prCurve(labels, scores)) },
        calibration: calibrationBins(calibrationCurve(labels, scores)),
    };

    const reportUri = asPrefix(joinUri(options.reportPrefix, challenger.groupName, String(challenger.version)));
    const json = renderJson(report);
    const html = renderHtml(report);
    await retry(() => backend.objects.put(joinUri(reportUri, "evaluation.json"), json, { contentType: "application/json" }));
    await retry(() => backend.objects.put(joinUri(reportUri, "report.html"), html, { contentType: "text/html; charset=utf-8" }));
    if (options.reportDir) {
        await fs.mkdir(options.reportDir, { recursive: true });
        await fs.writeFile(path.join(options.reportDir, "junit.xml"), renderJunit(report));
        await fs.writeFile(path.join(options.reportDir, "evaluation.json"), json);
        await fs.writeFile(path.join(options.reportDir, "report.html"), html);
    }
    io.out(`report: ${joinUri(reportUri, "report.html")}`);

    for (const rule of gate.rules) io.out(`  ${rule.skipped ? "skip" : rule.passed ? "pass" : "FAIL"} ${rule.id}: ${rule.message}`);
    await retry(() => backend.registry.updateApproval(challenger.arn, {
        status: gate.decision,
        description: `${gate.decision} by evaluation: ${gate.reasons.join("; ")}`,
        properties: {
            ...evaluationProperties(metrics),
            "eval.decision": gate.decision,
            "eval.report": joinUri(reportUri, "evaluation.json"),
            "eval.championVersion": champion ? String(champion.version) : "none",
        },
    }));
    io.out(`version ${challenger.version} is now ${gate.decision}: ${gate.reasons.join("; ")}`);
    return { exitCode: gate.decision === "Approved" ? EXIT_OK : EXIT_FAILED, report, gate, reportUri };
}

async function resolveVersion(options: EvaluateOptions, backend: Backend, retry: <T>(fn: () => Promise<T>) => Promise<T>): Promise<ModelVersion> {
    if (options.modelPackageArn) return retry(() => backend.registry.describeVersion(options.modelPackageArn!));
    if (!options.modelPackageGroup || !options.executionId) {
        throw new StepError("usage", "name the version: --model-package-arn, or --model-package-group with --execution-id");
    }
    const group = options.modelPackageGroup;
    const summaries = await retry(() => backend.registry.listVersions(group));
    for (const summary of summaries.slice(0, EXECUTION_SEARCH_DEPTH)) {
        const version = await retry(() => backend.registry.describeVersion(summary.arn));
        if (version.properties[REGISTRY_METADATA.pipelineExecutionId] === options.executionId) return version;
    }
    throw new StepError("not-found", `none of the newest ${EXECUTION_SEARCH_DEPTH} versions in ${group} was registered by pipeline execution ${options.executionId}`);
}

/** The currently approved version (newest Approved, other than the challenger) with its recorded metrics. */
async function findChampion(backend: Backend, challenger: ModelVersion, retry: <T>(fn: () => Promise<T>) => Promise<T>): Promise<Champion | undefined> {
    const approved = await retry(() => backend.registry.listVersions(challenger.groupName, { approvalStatus: "Approved" }));
    const current = approved.find((v) => v.arn !== challenger.arn);
    if (!current) return undefined;
    const version = await retry(() => backend.registry.describeVersion(current.arn));
    return championFromProperties(version.arn, version.version, version.properties);
}
