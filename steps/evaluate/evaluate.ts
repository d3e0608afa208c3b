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
import { EvaluationThresholds } from "../../contracts/config-sections";
import { StepError } from "../lib/errors";
import { Champion, championFromProperties, decide, evaluationProperties, EvaluationMetrics, GateResult } from "../lib/gate";
import { readEtlRun } from "../lib/manifest";
import { calibrationCurve, classificationMetrics, percentile, prCurve, rocCurve } from "../lib/metrics";
import { calibrationBins, EvaluationReport, plotPoints, renderHtml, renderJson, renderJunit } from "../lib/report";
import { Clock, withRetry } from "../lib/retry";
import { asPrefix, joinUri } from "../lib/uri";
import { EndpointKind, PAYLOAD_LIMIT_BYTES, probeLatency, readTestSet, scoreRows, ScoreOptions, warmUp } from "./score";
import { EVALUATION_PROPERTIES, REGISTRY_METADATA } from "../../contracts/registry";

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
    /**
     * What serves the endpoint: its request payload limit sizes the scoring batches (serverless 4 MB, instances
     * 6 MiB); an explicit `scoring.maxPayloadBytes` may only lower it.
     * @default "serverless" (the smaller limit)
     */
    readonly endpointKind?: EndpointKind;
    /** Warm-up and latency probe (see ./score). */
    readonly latency?: {
        /** @default 300 — a serverless cold start can take minutes */
        readonly warmUpDeadlineSeconds?: number;
        /** A one-row request this fast counts as warm. @default thresholds.maxLatencyP99Ms */
        readonly warmUpFastMs?: number;
        /** @default MIN_PROBE_REQUESTS (200) */
        readonly probeRequests?: number;
    };
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

    // Latency is the model's, per request, on a warm endpoint: warm up first (recorded), then a probe of single-row
    // requests. Timing whole scoring batches would make p99 the slowest of a handful of large requests, the first
    // of them paying a fresh serverless endpoint's cold start.
    const fastMs = options.latency?.warmUpFastMs ?? options.thresholds.maxLatencyP99Ms;
    const warm = await warmUp(backend.invoker, test.rows[0], {
        endpoint: options.endpoint, fastMs, deadlineMs: (options.latency?.warmUpDeadlineSeconds ?? 300) * 1000,
    }, clock);
    io.out(warm.warm
        ? `warm-up: a one-row request answered in ${Math.round(warm.latenciesMs[warm.latenciesMs.length - 1])} ms after ${warm.attempts} attempt(s), ${formatDuration(warm.elapsedMs)}`
        : `warm-up: no one-row request within ${fastMs} ms after ${warm.attempts} attempts (${formatDuration(warm.elapsedMs)}); measuring anyway`);
    const probe = await probeLatency(backend.invoker, test.rows, { endpoint: options.endpoint, requests: options.latency?.probeRequests }, clock);
    io.out(`latency probe: ${probe.requests} one-row requests, p50 ${fmtMs(probe.p50Ms)}, p95 ${fmtMs(probe.p95Ms)}, p99 ${fmtMs(probe.p99Ms)}` +
        (probe.failed > 0 ? `, ${probe.failed} failed` : ""));

    const kindLimit = PAYLOAD_LIMIT_BYTES[options.endpointKind ?? "serverless"];
    const maxPayloadBytes = Math.min(options.scoring?.maxPayloadBytes ?? kindLimit, kindLimit);
    const scored = await scoreRows(backend.invoker, test.rows, { ...options.scoring, maxPayloadBytes, endpoint: options.endpoint }, clock, (l) => io.out(l));
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
        latencyP50Ms: probe.p50Ms,
        latencyP99Ms: probe.p99Ms,
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
        latency: {
            warmUp: { warm: warm.warm, attempts: warm.attempts, elapsedMs: warm.elapsedMs, fastMs, latenciesMs: warm.latenciesMs, errors: warm.errors },
            probe: { requests: probe.requests, failed: probe.failed, p50Ms: probe.p50Ms, p95Ms: probe.p95Ms, p99Ms: probe.p99Ms, errors: probe.errors },
            scoringPayloadLimitBytes: maxPayloadBytes,
            scoringRequestP50Ms: percentile(scored.latenciesMs, 50),
        },
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
            [EVALUATION_PROPERTIES.decision]: gate.decision,
            [EVALUATION_PROPERTIES.report]: joinUri(reportUri, "evaluation.json"),
            [EVALUATION_PROPERTIES.championVersion]: champion ? String(champion.version) : "none",
        },
    }));
    io.out(`version ${challenger.version} is now ${gate.decision}: ${gate.reasons.join("; ")}`);
    return { exitCode: gate.decision === "Approved" ? EXIT_OK : EXIT_FAILED, report, gate, reportUri };
}

function fmtMs(ms: number | null): string {
    return ms === null ? "n/a" : `${Math.round(ms * 10) / 10} ms`;
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
