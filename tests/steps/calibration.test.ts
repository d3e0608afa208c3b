/**
 * The reliability diagram's points (steps/lib/metrics.ts calibrationCurve) against scikit-learn's
 * `calibration_curve(strategy="uniform")` on the fixture's cases (tests/fixtures/metrics/make_fixture.py).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { brierScore, calibrationCurve } from "../../steps/lib/metrics";
import { SKLEARN_REL_TOLERANCE, sklearnMismatch } from "./helpers";

interface Fixture {
    versions: Record<string, string>;
    cases: { name: string; labels: number[]; scores: number[]; expected: { brier: number } }[];
    calibration: { case: string; bins: number; fractionPositive: number[]; meanPredicted: number[] }[];
}

const fixture: Fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "metrics", "sklearn-metrics.json"), "utf8"));
// The shared scikit-learn tolerance (helpers.ts: 1e-9 relative, exact for an expected 0). Bin means are sums of
// up to 2,000 doubles divided by a count; a row put in the wrong bin moves a mean or share by far more (at least
// 1/count of the distance between two probabilities, or 1/count in the share), and the counts are checked too.
function close(actual: number, expected: number, what: string): void {
    const mismatch = sklearnMismatch(actual, expected, what);
    assert.ok(mismatch === undefined, mismatch);
}

describe(`calibration curve cross-checked against scikit-learn ${fixture.versions["scikit-learn"]}`, () => {
    it("the fixture covers every case at 3, 7 and 10 bins", () => {
        assert.equal(fixture.calibration.length, fixture.cases.length * 3);
        assert.deepEqual([...new Set(fixture.calibration.map((c) => c.bins))].sort((a, b) => a - b), [3, 7, 10]);
    });

    for (const expected of fixture.calibration) {
        it(`${expected.case}, ${expected.bins} bins: same non-empty bins, means and positive shares`, () => {
            const c = fixture.cases.find((x) => x.name === expected.case)!;
            const bins = calibrationCurve(c.labels, c.scores, expected.bins)!;
            assert.equal(bins.length, expected.meanPredicted.length, "same number of non-empty bins");
            bins.forEach((b, i) => {
                close(b.meanPredicted, expected.meanPredicted[i], `bin ${i} mean predicted`);
                close(b.fractionPositive, expected.fractionPositive[i], `bin ${i} fraction positive`);
            });
            assert.equal(bins.reduce((s, b) => s + b.count, 0), c.labels.length, "every row is in one bin");
        });
    }

    it(`Brier score matches scikit-learn's brier_score_loss within ${SKLEARN_REL_TOLERANCE} relative`, () => {
        for (const c of fixture.cases) close(brierScore(c.labels, c.scores)!, c.expected.brier, `${c.name} Brier`);
    });

    it("puts a probability equal to an inner edge in the lower bin, 0 in the first and 1 in the last", () => {
        const bins = calibrationCurve([0, 1, 1, 0, 1], [0, 0.5, 0.5000001, 1, 1], 2)!;
        assert.deepEqual(bins.map((b) => [b.lower, b.upper, b.count]), [[0, 0.5, 2], [0.5, 1, 3]]);
        assert.deepEqual(bins.map((b) => b.fractionPositive), [0.5, 2 / 3]);
    });

    it("is null without rows and refuses bad input with the reason", () => {
        assert.equal(calibrationCurve([], []), null);
        assert.throws(() => calibrationCurve([0, 1], [0.2, 1.5]), /score at row 1 is 1.5; expected a probability/);
        assert.throws(() => calibrationCurve([0, 1], [0.2, 0.4], 0), /bins is 0; expected a whole number >= 1/);
    });

    it("a perfectly calibrated predictor lies on the diagonal: each bin's share equals its mean probability", () => {
        // 10 rows at p = k/10 with exactly k positives per 10: share == mean in every bin.
        const labels: number[] = [];
        const scores: number[] = [];
        for (let k = 1; k <= 9; k++) for (let j = 0; j < 10; j++) {
            labels.push(j < k ? 1 : 0);
            scores.push(k / 10 - 0.01);
        }
        for (const b of calibrationCurve(labels, scores)!) assert.ok(Math.abs(b.fractionPositive - b.meanPredicted) < 0.011 + 1e-12, `${b.lower}: ${b.fractionPositive} vs ${b.meanPredicted}`);
    });
});
