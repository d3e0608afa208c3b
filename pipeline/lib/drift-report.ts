/**
 * The drift check as a page for people: for every feature, the baseline's distribution (from its Model Monitor
 * statistics) beside the captured window's, and the violations the checker wrote.
 */
import { escapeHtml } from "../../steps/lib/report";

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface Violation {
    readonly feature_name: string;
    readonly constraint_check_type: string;
    readonly description: string;
}

export interface DriftReportInput {
    readonly baselineStatistics: any;
    /** The window's rows as captured (CSV feature rows). */
    readonly windowRows: readonly number[][];
    readonly violations: readonly Violation[];
    /** `_cN` → feature name, from the ETL manifest. */
    readonly featureNames: Readonly<Record<string, string>>;
    readonly endpoint: string;
    readonly captureDir: string;
    /** The drift rule's verdict (monitor/drift_checker/drift_rule.py): drift, no drift or insufficient data. */
    readonly verdict?: string;
    /** Requests the capture sampled (the window the rule judged); the bars show all replayed rows. */
    readonly capturedRequests?: number;
}

/** Counts of `values` in the baseline's buckets (values outside fall into the first/last). */
export function histogram(values: readonly number[], buckets: readonly { lower_bound: number; upper_bound: number }[]): number[] {
    const counts = buckets.map(() => 0);
    for (const v of values) {
        let i = buckets.findIndex((b) => v < b.upper_bound);
        if (i < 0) i = buckets.length - 1;
        counts[i]++;
    }
    return counts;
}

function bars(baseline: readonly number[], window: readonly number[], labels: readonly string[], title: string, id: string): string {
    const width = 420;
    const height = 180;
    const m = { left: 36, right: 8, top: 24, bottom: 36 };
    const share = (xs: readonly number[]) => {
        const total = xs.reduce((a, b) => a + b, 0) || 1;
        return xs.map((x) => x / total);
    };
    const b = share(baseline);
    const w = share(window);
    const max = Math.max(...b, ...w, 0.01);
    const slot = (width - m.left - m.right) / b.length;
    const y = (v: number) => m.top + (1 - v / max) * (height - m.top - m.bottom);
    const rects = b.map((v, i) => {
        const x = m.left + i * slot;
        return `<rect class="baseline" x="${(x + 1).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(slot / 2 - 1).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}"><title>baseline ${escapeHtml(labels[i])}: ${(v * 100).toFixed(1)}%</title></rect>` +
            `<rect class="window" x="${(x + slot / 2).toFixed(1)}" y="${y(w[i]).toFixed(1)}" width="${(slot / 2 - 1).toFixed(1)}" height="${(y(0) - y(w[i])).toFixed(1)}"><title>window ${escapeHtml(labels[i])}: ${(w[i] * 100).toFixed(1)}%</title></rect>`;
    }).join("");
    const first = labels[0] ?? "";
    const last = labels[labels.length - 1] ?? "";
    return `<svg id="${escapeHtml(id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">` +
        `<text x="${width / 2}" y="14" text-anchor="middle" class="title">${escapeHtml(title)}</text>${rects}` +
        `<line x1="${m.left}" y1="${y(0)}" x2="${width - m.right}" y2="${y(0)}" class="axis"/>` +
        `<text x="${m.left}" y="${height - 18}">${escapeHtml(first)}</text><text x="${width - m.right}" y="${height - 18}" text-anchor="end">${escapeHtml(last)}</text>` +
        `<text x="4" y="${m.top + 8}">${(max * 100).toFixed(0)}%</text></svg>`;
}

export function renderDriftReport(input: DriftReportInput): string {
    const violated = new Set(input.violations.map((v) => v.feature_name));
    const sections = (input.baselineStatistics.features as any[]).map((feature, column) => {
        const name = input.featureNames[feature.name] ?? feature.name;
        const values = input.windowRows.map((r) => r[column]).filter((v) => Number.isFinite(v));
        const buckets = feature.numerical_statistics?.distribution?.kll?.buckets as { lower_bound: number; upper_bound: number; count: number }[] | undefined;
        let plot = "<p>no distribution in the baseline</p>";
        if (buckets && buckets.length > 0) {
            const labels = buckets.map((b) => `${+b.lower_bound.toFixed(2)}–${+b.upper_bound.toFixed(2)}`);
            plot = bars(buckets.map((b) => b.count), histogram(values, buckets), labels, `${name} (${feature.name})`, `dist-${feature.name}`);
        }
        const flag = violated.has(feature.name) || violated.has(name) ? `<span class="flag">drift</span>` : "";
        const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
        return `<section><h3>${escapeHtml(name)} ${flag}</h3>${plot}<p>baseline mean ${Number(feature.numerical_statistics?.mean).toFixed(3)}, window mean ${mean.toFixed(3)} (${values.length} values)</p></section>`;
    }).join("");
    const rows = input.violations.map((v) => `<tr><td>${escapeHtml(v.feature_name)}</td><td>${escapeHtml(v.constraint_check_type)}</td><td>${escapeHtml(v.description)}</td></tr>`).join("");
    const counted = input.violations.length === 0 ? "no violations" : `${input.violations.length} violation(s)`;
    const verdict = input.verdict ? `${input.verdict}, ${counted}` : (input.violations.length === 0 ? "no drift" : counted);
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Drift check of ${escapeHtml(input.endpoint)}: ${escapeHtml(verdict)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.baseline{fill:#4c78a8}.window{fill:#f58518}.axis{stroke:#333}.title{font-weight:600}svg text{font-size:11px}.flag{background:#c62828;color:#fff;padding:1px 6px;border-radius:3px;font-size:.8em}
section{display:inline-block;vertical-align:top;margin:0 1rem 1rem 0}</style></head><body>
<h1>Drift check of <code>${escapeHtml(input.endpoint)}</code>: <span id="verdict">${escapeHtml(verdict)}</span></h1>
<p>${input.capturedRequests ?? input.windowRows.length} captured requests from <code>${escapeHtml(input.captureDir)}</code> judged against the training data's baseline
(two-sample tests per feature with a family-wise false-alarm rate; fewer requests than the minimum window give "insufficient data"); the bars show all ${input.windowRows.length} replayed requests.
Bars: share of rows per baseline bucket — <span style="color:#4c78a8">■ baseline</span> <span style="color:#f58518">■ captured window</span>.</p>
<h2>Violations</h2>${rows ? `<table id="violations"><tr><th>feature</th><th>check</th><th>description</th></tr>${rows}</table>` : "<p id=\"violations\">none</p>"}
<h2>Features</h2>${sections}
</body></html>
`;
}
