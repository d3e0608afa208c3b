import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { EvaluationReport, escapeXml, plotPoints, renderHtml, renderJson, renderJunit, svgPlot } from "../../steps/lib/report";

/** A Rejected evaluation against a champion, with hostile text in fields people can influence. */
const fixture: EvaluationReport = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "metrics", "evaluation-report.json"), "utf8"));

describe("evaluation report rendering (tests/fixtures/metrics/evaluation-report.json)", () => {
    const html = renderHtml(fixture);

    it("is one self-contained HTML document: no scripts, no external resources", () => {
        assert.match(html, /^<!DOCTYPE html>/);
        assert.doesNotMatch(html, /<script/i);
        assert.doesNotMatch(html, /(src|href)=["']?https?:/i);
        assert.doesNotMatch(html, /<link /i);
    });

    it("contains the ROC and PR curves as inline SVG drawn from the report's points", () => {
        for (const [id, points] of [["roc-curve", fixture.curves.roc], ["pr-curve", fixture.curves.pr]] as const) {
            const svg = new RegExp(`<svg id="${id}"[^>]*>(.*?)</svg>`).exec(html);
            assert.ok(svg, `no <svg id="${id}">`);
            const polyline = /<polyline points="([^"]+)" class="curve"\/>/.exec(svg[1]);
            assert.ok(polyline, `${id} has no curve`);
            assert.equal(polyline[1].split(" ").length, points.length);
            // Every point lies inside the plot frame (x 48..308, y 28..276).
            for (const pair of polyline[1].split(" ")) {
                const [x, y] = pair.split(",").map(Number);
                assert.ok(x >= 48 && x <= 308 && y >= 28 && y <= 276, `${id} point ${pair} outside the frame`);
            }
        }
        assert.match(html, /ROC curve \(AUC 0\.8049\)/);
        assert.match(html, /<polyline points="48\.00,276\.00 308\.00,28\.00" class="reference"\/>/);
    });

    it("shows the confusion matrix, the champion vs challenger table, the decision and its reasons", () => {
        const c = fixture.confusionMatrix;
        assert.match(html, new RegExp(`<td class="tn">${c.tn}</td><td class="fp">${c.fp}</td>`));
        assert.match(html, new RegExp(`<td class="fn">${c.fn}</td><td class="tp">${c.tp}</td>`));
        assert.match(html, /<th>challenger \(v5\)<\/th><th>champion \(v3\)<\/th>/);
        assert.match(html, /<tr><td>ROC AUC<\/td><td>0\.8049<\/td><td>0\.8300<\/td><td>-0\.0251<\/td><\/tr>/);
        assert.match(html, /<tr><td>Brier score<\/td><td>0\.1734<\/td><td>—<\/td><td>—<\/td><\/tr>/);
        assert.match(html, /<span id="decision" class="decision Rejected">Rejected<\/span>/);
        assert.match(html, /<ul id="reasons"><li>ROC AUC 0\.804935 is worse than champion version 3 \(0\.83\) by more than the tolerance 0\.005<\/li><\/ul>/);
        assert.match(html, /<tr class="fail"><td>champion_roc_auc<\/td>/);
    });

    it("escapes every piece of text", () => {
        assert.match(html, /0b7a3c9e-&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
        assert.match(html, /ModelError: &lt;b&gt;bad&lt;\/b&gt; row &amp; &quot;quote&quot;/);
    });

    it("says when there is no champion and draws 'not computable' for a missing curve", () => {
        const none = renderHtml({ ...fixture, champion: null, curves: { roc: [], pr: fixture.curves.pr } });
        assert.match(none, /No champion yet: no version of this group is approved\./);
        assert.match(none, /<svg id="roc-curve"[^>]*>.*not computable.*?<\/svg>/);
    });

    it("evaluation.json holds everything report.html and junit.xml show: rendered from the file, they are the same documents", () => {
        // docs/contracts.md §6: report.html is "the same" as evaluation.json; a report rebuilt from the stored file
        // (or read by anyone without the step's memory) must not miss what lived only in the step.
        const withBins = { ...fixture, calibration: [{ lower: 0, upper: 0.1, count: 40, meanPredicted: 0.04, fractionPositive: 0.05 }] };
        for (const report of [fixture, withBins, { ...fixture, champion: null }]) {
            const stored: EvaluationReport = JSON.parse(renderJson(report));
            assert.equal(renderHtml(stored), renderHtml(report));
            assert.equal(renderJunit(stored), renderJunit(report));
        }
    });

    it("JUnit: one test case per rule, failures for violated rules, skipped for inapplicable ones, valid XML text", () => {
        const xml = renderJunit(fixture);
        assert.equal((xml.match(/<testcase /g) ?? []).length, fixture.rules.length);
        assert.equal((xml.match(/<failure /g) ?? []).length, fixture.rules.filter((r) => !r.passed).length);
        assert.match(xml, /<testsuites name="model evaluation" tests="6" failures="1" errors="0" skipped="0">/);
        assert.match(xml, /name="champion_roc_auc: ROC AUC &gt;= 0\.8250" time="0"><failure message="ROC AUC 0\.804935 is worse/);
        assert.equal(escapeXml("a\u0001b<"), "ab&lt;");
        const noChampion = renderJunit({ ...fixture, rules: fixture.rules.map((r) => r.id === "champion_roc_auc" ? { ...r, skipped: true, passed: true } : r) });
        assert.match(noChampion, /<skipped message=/);
    });

    it("draws the reliability diagram from the calibration bins (a dot per bin) with its table, and only when there are bins", () => {
        assert.doesNotMatch(html, /reliability-diagram/, "a report without calibration bins has no diagram");
        const calibration = [
            { lower: 0, upper: 0.1, count: 40, meanPredicted: 0.04, fractionPositive: 0.05 },
            { lower: 0.9, upper: 1, count: 20, meanPredicted: 0.95, fractionPositive: 0.9 },
        ];
        const withBins = renderHtml({ ...fixture, calibration });
        const svg = /<svg id="reliability-diagram"[^>]*>(.*?)<\/svg>/.exec(withBins);
        assert.ok(svg, "no reliability diagram");
        // x 48 + p·260, y 28 + (1 − share)·248.
        assert.match(svg[1], /<polyline points="58\.40,263\.60 295\.00,52\.80" class="curve"\/>/);
        assert.equal((svg[1].match(/<circle /g) ?? []).length, 2);
        assert.match(svg[1], new RegExp(`Reliability diagram \\(Brier ${fixture.metrics.brier!.toFixed(4)}\\)`));
        assert.match(withBins, /<tr><td>0\.9000–1<\/td><td>20<\/td><td>0\.9500<\/td><td>0\.9000<\/td><\/tr>/);
    });

    it("says when the ETL split rows by position because the schema has no id", () => {
        assert.doesNotMatch(html, /split-by-position/);
        assert.doesNotMatch(renderHtml({ ...fixture, data: { ...fixture.data, splitBy: "id" } }), /split-by-position/);
        assert.match(renderHtml({ ...fixture, data: { ...fixture.data, splitBy: "position" } }), /<p id="split-by-position"[^>]*>The dataset schema declares no id/);
    });

    it("thins long curves to at most 400 points, keeping both ends", () => {
        const curve = Array.from({ length: 5000 }, (_, i) => ({ x: i / 4999, y: Math.sqrt(i / 4999), threshold: 1 - i / 4999 }));
        const points = plotPoints(curve);
        assert.equal(points.length, 400);
        assert.deepEqual(points[0], [0, 0]);
        assert.deepEqual(points[399], [1, 1]);
        assert.match(svgPlot(points, { id: "p", title: "t<", xLabel: "x", yLabel: "y" }), /<title>t&lt;<\/title>/);
    });
});
