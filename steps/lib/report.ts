/**
 * The evaluation report (contracts §6) in three forms, all pure functions of one {@link EvaluationReport}:
 * `evaluation.json` for machines, `report.html` for people (self-contained: inline SVG ROC and PR curves,
 * confusion matrix, champion vs challenger, decision and reasons), and JUnit XML for the CodeBuild report group
 * (one test case per gate rule).
 */
import { EvaluationThresholds } from "../../contracts/config-sections";
import { Champion, Decision, EvaluationMetrics, METRIC_LABELS, RuleResult } from "./gate";
import { CalibrationBin, ConfusionMatrix, CurvePoint } from "./metrics";

export interface EvaluationReport {
    readonly schemaVersion: 1;
    readonly modelPackageArn: string;
    readonly modelPackageGroup: string;
    readonly version: number;
    readonly pipelineExecutionId?: string;
    readonly evaluatedAt: string;
    readonly endpoint: string;
    readonly data: {
        readonly testPrefix: string;
        readonly files: number;
        readonly rows: number;
        readonly scoredRows: number;
        readonly failedRows: number;
        readonly positives: number;
        /** How the ETL assigned rows to splits (manifest `splitBy`): by id hash, or by row position when the
         * schema has no id. Absent in reports of manifests that predate the field. */
        readonly splitBy?: "id" | "position";
    };
    readonly requests: { readonly count: number; readonly failed: number; readonly retries: number; readonly errors: readonly string[] };
    /**
     * How latency was measured: the warm-up before it (a cold start is not the model's latency) and the probe of
     * single-row requests whose p50/p99 are the gate's latency metrics.
     */
    readonly latency?: {
        readonly warmUp: {
            readonly warm: boolean; readonly attempts: number; readonly elapsedMs: number; readonly fastMs: number;
            readonly latenciesMs: readonly number[]; readonly errors: readonly string[];
        };
        readonly probe: {
            readonly requests: number; readonly failed: number; readonly p50Ms: number | null; readonly p95Ms: number | null;
            readonly p99Ms: number | null; readonly errors: readonly string[];
        };
        /** Largest scoring request body, from the endpoint kind's payload limit. */
        readonly scoringPayloadLimitBytes: number;
        /** Median time of a whole scoring request (for information; not a gate metric). */
        readonly scoringRequestP50Ms: number | null;
    };
    /** Decision threshold: a row is predicted positive when its probability is >= this. */
    readonly threshold: number;
    readonly metrics: EvaluationMetrics;
    readonly confusionMatrix: ConfusionMatrix;
    readonly thresholds: EvaluationThresholds;
    readonly champion: Champion | null;
    readonly decision: Decision;
    readonly reasons: readonly string[];
    readonly rules: readonly RuleResult[];
    /** Plot points [x, y], at most {@link MAX_CURVE_POINTS} each. ROC: (fpr, tpr); PR: (recall, precision). */
    readonly curves: { readonly roc: readonly (readonly [number, number])[]; readonly pr: readonly (readonly [number, number])[] };
    /** Reliability diagram: the non-empty equal-width probability bins (metrics.ts calibrationCurve). Absent in
     * reports written before it existed. */
    readonly calibration?: readonly CalibrationBin[];
}

export const MAX_CURVE_POINTS = 400;

/** Curve points for plotting: evenly thinned to at most `max`, ends kept, rounded to 6 decimals. */
export function plotPoints(curve: readonly CurvePoint[] | null, max = MAX_CURVE_POINTS): [number, number][] {
    if (!curve || curve.length === 0) return [];
    const round = (v: number) => Math.round(v * 1e6) / 1e6;
    const picked = curve.length <= max
        ? curve
        : Array.from({ length: max }, (_, i) => curve[Math.round((i * (curve.length - 1)) / (max - 1))]);
    return picked.map((p) => [round(p.x), round(p.y)]);
}

/** Reliability-diagram bins rounded for the report (6 decimals, like the curves). */
export function calibrationBins(bins: readonly CalibrationBin[] | null): CalibrationBin[] {
    const round = (v: number) => Math.round(v * 1e6) / 1e6;
    return (bins ?? []).map((b) => ({ ...b, meanPredicted: round(b.meanPredicted), fractionPositive: round(b.fractionPositive) }));
}

// ── text helpers ───────────────────────────────────────────────────────────────────────────────────────────

export function escapeHtml(text: unknown): string {
    return String(text)
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;")
        .replace(/'/g, "&#39;");
}

/** XML 1.0 forbids most control characters even escaped; they are dropped. */
export function escapeXml(text: unknown): string {
    return escapeHtml(text).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "");
}

export function formatMetric(value: number | null | undefined): string {
    if (value === null || value === undefined) return "—";
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(4);
}

// ── JSON ───────────────────────────────────────────────────────────────────────────────────────────────────

export function renderJson(report: EvaluationReport): string {
    return `${JSON.stringify(report, null, 2)}\n`;
}

// ── HTML ───────────────────────────────────────────────────────────────────────────────────────────────────

interface PlotOptions {
    readonly title: string;
    readonly xLabel: string;
    readonly yLabel: string;
    readonly id: string;
    /** Dashed reference line, e.g. the diagonal of a random classifier. */
    readonly reference?: readonly (readonly [number, number])[];
    /** Draw a dot at every point (few points that stand for bins, not a dense curve). @default false */
    readonly markers?: boolean;
}

/** A square line plot of points in [0, 1]², as inline SVG. */
export function svgPlot(points: readonly (readonly [number, number])[], options: PlotOptions): string {
    const size = 320;
    const m = { left: 48, right: 12, top: 28, bottom: 44 };
    const w = size - m.left - m.right;
    const h = size - m.top - m.bottom;
    const x = (v: number) => (m.left + v * w).toFixed(2);
    const y = (v: number) => (m.top + (1 - v) * h).toFixed(2);
    const ticks = [0, 0.25, 0.5, 0.75, 1];
    const grid = ticks.map((t) =>
        `<line x1="${x(t)}" y1="${y(0)}" x2="${x(t)}" y2="${y(1)}" class="grid"/>` +
        `<line x1="${x(0)}" y1="${y(t)}" x2="${x(1)}" y2="${y(t)}" class="grid"/>` +
        `<text x="${x(t)}" y="${(m.top + h + 16).toFixed(2)}" text-anchor="middle">${t}</text>` +
        `<text x="${(m.left - 6).toFixed(2)}" y="${y(t)}" text-anchor="end" dominant-baseline="middle">${t}</text>`).join("");
    const path = (pts: readonly (readonly [number, number])[]) => pts.map(([px, py]) => `${x(px)},${y(py)}`).join(" ");
    const reference = options.reference ? `<polyline points="${path(options.reference)}" class="reference"/>` : "";
    const dots = options.markers ? points.map(([px, py]) => `<circle cx="${x(px)}" cy="${y(py)}" r="3" class="marker"/>`).join("") : "";
    const line = points.length > 0
        ? `<polyline points="${path(points)}" class="curve"/>${dots}`
        : `<text x="${x(0.5)}" y="${y(0.5)}" text-anchor="middle">not computable</text>`;
    return `<svg id="${escapeHtml(options.id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="${size}" height="${size}" role="img" aria-label="${escapeHtml(options.title)}">` +
        `<title>${escapeHtml(options.title)}</title>` +
        `<text x="${size / 2}" y="16" text-anchor="middle" class="title">${escapeHtml(options.title)}</text>` +
        `<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" class="frame"/>${grid}${reference}${line}` +
        `<text x="${(m.left + w / 2).toFixed(2)}" y="${size - 8}" text-anchor="middle">${escapeHtml(options.xLabel)}</text>` +
        `<text x="14" y="${(m.top + h / 2).toFixed(2)}" text-anchor="middle" transform="rotate(-90 14 ${(m.top + h / 2).toFixed(2)})">${escapeHtml(options.yLabel)}</text>` +
        "</svg>";
}

const COMPARED_METRICS: readonly (keyof EvaluationMetrics)[] = [
    "rocAuc", "prAuc", "accuracy", "precision", "recall", "f1", "logLoss", "brier", "errorRate", "latencyP50Ms", "latencyP99Ms",
];

function championTable(report: EvaluationReport): string {
    const champ = report.champion;
    const head = `<tr><th>metric</th><th>challenger (v${report.version})</th><th>${champ ? `champion (v${champ.version})` : "champion"}</th><th>difference</th></tr>`;
    const rows = COMPARED_METRICS.map((key) => {
        const mine = report.metrics[key];
        const theirs = champ?.metrics[key];
        const diff = mine !== null && theirs !== undefined ? mine - theirs : null;
        return `<tr><td>${escapeHtml(METRIC_LABELS[key])}</td><td>${formatMetric(mine)}</td><td>${formatMetric(theirs)}</td>` +
            `<td>${diff === null ? "—" : `${diff > 0 ? "+" : ""}${formatMetric(diff)}`}</td></tr>`;
    }).join("");
    const note = champ ? "" : "<p class=\"note\">No champion yet: no version of this group is approved.</p>";
    return `<table id="champion-vs-challenger">${head}${rows}</table>${note}`;
}

function confusionTable(c: ConfusionMatrix, threshold: number): string {
    return `<table id="confusion-matrix"><caption>at threshold ${escapeHtml(threshold)} (positive when p &gt;= threshold)</caption>` +
        "<tr><th></th><th>predicted 0</th><th>predicted 1</th></tr>" +
        `<tr><th>actual 0</th><td class="tn">${c.tn}</td><td class="fp">${c.fp}</td></tr>` +
        `<tr><th>actual 1</th><td class="fn">${c.fn}</td><td class="tp">${c.tp}</td></tr></table>`;
}

function rulesTable(rules: readonly RuleResult[]): string {
    const rows = rules.map((r) => {
        const verdict = r.skipped ? "skipped" : r.passed ? "pass" : "fail";
        return `<tr class="${verdict}"><td>${escapeHtml(r.id)}</td><td>${escapeHtml(METRIC_LABELS[r.metric])} ${escapeHtml(r.comparison)} ${formatMetric(r.limit)}</td>` +
            `<td>${formatMetric(r.actual)}</td><td>${verdict}</td><td>${escapeHtml(r.message)}</td></tr>`;
    }).join("");
    return `<table id="rules"><tr><th>rule</th><th>requirement</th><th>actual</th><th>result</th><th>detail</th></tr>${rows}</table>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:1100px}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #c9d1d9;padding:.3rem .6rem;text-align:right}
td:first-child,th:first-child,#rules td:nth-child(2),#rules td:last-child{text-align:left}.decision{font-size:1.4rem;padding:.6rem 1rem;border-radius:6px;display:inline-block}
.Approved{background:#dafbe1;color:#116329}.Rejected{background:#ffebe9;color:#a40e26}
tr.fail td{background:#ffebe9}tr.skipped td{color:#57606a}.plots{display:flex;gap:2rem;flex-wrap:wrap}
svg text{font-size:11px;fill:#1b1f24}svg .title{font-size:13px;font-weight:600}.frame{fill:none;stroke:#57606a}
.grid{stroke:#d0d7de;stroke-width:.5}.curve{fill:none;stroke:#0969da;stroke-width:2}.reference{fill:none;stroke:#8c959f;stroke-dasharray:4 4}
.note{color:#57606a}code{background:#f6f8fa;padding:0 .2rem}.marker{fill:#0969da}`;

function calibrationSection(report: EvaluationReport): string {
    const bins = report.calibration;
    if (!bins) return "";
    const plot = svgPlot(bins.map((b) => [b.meanPredicted, b.fractionPositive] as const), {
        id: "reliability-diagram", title: `Reliability diagram (Brier ${formatMetric(report.metrics.brier)})`,
        xLabel: "mean predicted probability", yLabel: "fraction of positives", reference: [[0, 0], [1, 1]], markers: true,
    });
    const rows = bins.map((b) => `<tr><td>${formatMetric(b.lower)}–${formatMetric(b.upper)}</td><td>${b.count}</td>` +
        `<td>${formatMetric(b.meanPredicted)}</td><td>${formatMetric(b.fractionPositive)}</td></tr>`).join("");
    return `<h2>Calibration</h2><p class="note">Brier score ${formatMetric(report.metrics.brier)}, log loss ${formatMetric(report.metrics.logLoss)}. ` +
        "A calibrated model's points lie on the diagonal: of the rows given about 0.8, about 80% are positive.</p>" +
        `<div class="plots">${plot}<table id="calibration-bins"><tr><th>probability bin</th><th>rows</th><th>mean predicted</th><th>fraction positive</th></tr>${rows}</table></div>`;
}

export function renderHtml(report: EvaluationReport): string {
    const m = report.metrics;
    const reasons = report.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join("");
    const errors = report.requests.errors.length === 0 ? "" :
        `<h2>Request errors</h2><ul id="request-errors">${report.requests.errors.map((e) => `<li>${escapeHtml(e)}</li>`).join("")}</ul>`;
    const roc = svgPlot(report.curves.roc, {
        id: "roc-curve", title: `ROC curve (AUC ${formatMetric(m.rocAuc)})`, xLabel: "false positive rate", yLabel: "true positive rate",
        reference: [[0, 0], [1, 1]],
    });
    const prevalence = report.data.scoredRows > 0 ? report.data.positives / report.data.scoredRows : 0;
    const pr = svgPlot(report.curves.pr, {
        id: "pr-curve", title: `Precision-recall curve (AP ${formatMetric(m.prAuc)})`, xLabel: "recall", yLabel: "precision",
        reference: [[0, prevalence], [1, prevalence]],
    });
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation of ${escapeHtml(report.modelPackageGroup)} version ${report.version}: ${escapeHtml(report.decision)}</title>
<style>${STYLE}</style></head><body>
<h1>Evaluation of ${escapeHtml(report.modelPackageGroup)} version ${report.version}</h1>
<p><span id="decision" class="decision ${escapeHtml(report.decision)}">${escapeHtml(report.decision)}</span></p>
<h2>Reasons</h2><ul id="reasons">${reasons}</ul>
<p><code>${escapeHtml(report.modelPackageArn)}</code><br>evaluated ${escapeHtml(report.evaluatedAt)} against endpoint <code>${escapeHtml(report.endpoint)}</code>` +
        `${report.pipelineExecutionId ? ` in pipeline execution <code>${escapeHtml(report.pipelineExecutionId)}</code>` : ""}<br>
test data <code>${escapeHtml(report.data.testPrefix)}</code>: ${report.data.rows} rows (${report.data.positives} positive among the ${report.data.scoredRows} scored), ` +
        `${report.data.failedRows} failed in ${report.requests.failed} of ${report.requests.count} requests (${report.requests.retries} retries)</p>
${report.data.splitBy === "position" ? "<p id=\"split-by-position\" class=\"note\">The dataset schema declares no id, so the ETL assigned rows to train, validation and test by row position: the same file gives the same split, but reordering or appending rows moves rows between splits.</p>" : ""}
<h2>Gate rules</h2>${rulesTable(report.rules)}
<h2>Champion vs challenger</h2>${championTable(report)}
<div class="plots">${roc}${pr}</div>
${calibrationSection(report)}
<h2>Confusion matrix</h2>${confusionTable(report.confusionMatrix, report.threshold)}
${errors}
</body></html>
`;
}

// ── JUnit ──────────────────────────────────────────────────────────────────────────────────────────────────

export function renderJunit(report: EvaluationReport): string {
    const failures = report.rules.filter((r) => !r.passed).length;
    const skipped = report.rules.filter((r) => r.skipped).length;
    const suite = `model evaluation gate: ${report.modelPackageGroup} version ${report.version}`;
    const cases = report.rules.map((r) => {
        const name = `${r.id}: ${METRIC_LABELS[r.metric]} ${r.comparison} ${formatMetric(r.limit)}`;
        const body = r.skipped
            ? `<skipped message="${escapeXml(r.message)}"/>`
            : r.passed ? "" : `<failure message="${escapeXml(r.message)}" type="${escapeXml(r.id)}">actual ${escapeXml(formatMetric(r.actual))}, limit ${escapeXml(formatMetric(r.limit))}</failure>`;
        return `    <testcase classname="evaluation.gate" name="${escapeXml(name)}" time="0">${body}</testcase>`;
    }).join("\n");
    return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="model evaluation" tests="${report.rules.length}" failures="${failures}" errors="0" skipped="${skipped}">
  <testsuite name="${escapeXml(suite)}" tests="${report.rules.length}" failures="${failures}" errors="0" skipped="${skipped}" timestamp="${escapeXml(report.evaluatedAt)}">
${cases}
  </testsuite>
</testsuites>
`;
}
