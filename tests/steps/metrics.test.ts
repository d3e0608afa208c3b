import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    averagePrecision, brierScore, classificationMetrics, confusionMatrix, logLoss, percentile, prCurve, rocAuc, rocCurve,
} from "../../steps/lib/metrics";
import { SKLEARN_REL_TOLERANCE, sklearnMismatch } from "./helpers";

interface FixtureCase {
    name: string;
    threshold: number;
    labels: number[];
    scores: number[];
    expected: {
        rocAuc: number; prAuc: number; accuracy: number; precision: number; recall: number; f1: number;
        logLoss: number; brier: number; confusion: { tp: number; fp: number; tn: number; fn: number };
    };
}
interface Fixture {
    versions: Record<string, string>;
    cases: FixtureCase[];
    percentiles: { values: number[]; p50: number; p99: number }[];
}

const fixture: Fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "metrics", "sklearn-metrics.json"), "utf8"));

function close(actual: number | null, expected: number, what: string) {
    const mismatch = sklearnMismatch(actual, expected, what);
    assert.ok(mismatch === undefined, mismatch);
}

describe(`metrics cross-checked against scikit-learn ${fixture.versions["scikit-learn"]} (tests/fixtures/metrics)`, () => {
    it("has the cases the cross-check depends on", () => {
        assert.ok(fixture.cases.length >= 7);
        assert.ok(fixture.percentiles.length >= 4);
    });

    it("the tolerance takes rounding noise but not a pair ranked differently or a clipped value", () => {
        const c = fixture.cases.find((x) => x.name === "imbalanced-low-threshold")!;
        const positives = c.labels.filter((y) => y === 1).length;
        const halfPair = 0.5 / (positives * (c.labels.length - positives));
        assert.equal(sklearnMismatch(c.expected.rocAuc * (1 + 4e-15), c.expected.rocAuc, "noise"), undefined);
        assert.ok(sklearnMismatch(c.expected.rocAuc + halfPair, c.expected.rocAuc, "one tie"));
        assert.ok(sklearnMismatch(c.expected.rocAuc - halfPair, c.expected.rocAuc, "one tie"));
        assert.ok(sklearnMismatch(1e-300, 0, "zero"), "an exact zero stays exact");
        assert.ok(sklearnMismatch(null, 0.5, "null"));
    });

    for (const c of fixture.cases) {
        it(`${c.name} (${c.labels.length} rows, threshold ${c.threshold}) matches every metric within ${SKLEARN_REL_TOLERANCE} relative`, () => {
            const m = classificationMetrics(c.labels, c.scores, c.threshold);
            for (const key of ["rocAuc", "prAuc", "accuracy", "precision", "recall", "f1", "logLoss", "brier"] as const) {
                close(m[key], c.expected[key], `${c.name} ${key}`);
            }
            assert.deepEqual(m.confusion, c.expected.confusion);
            assert.equal(m.rows, c.labels.length);
            assert.equal(m.positives, c.labels.filter((y) => y === 1).length);
        });
    }

    it("percentiles match numpy's default (linear) method", () => {
        for (const p of fixture.percentiles) {
            close(percentile(p.values, 50), p.p50, `p50 of ${p.values.length} values`);
            close(percentile(p.values, 99), p.p99, `p99 of ${p.values.length} values`);
        }
    });
});

// Exact comparisons below: each expected value is a ratio of small whole numbers (or a copied input), which
// IEEE 754 division gives correctly rounded on every CPU, and JavaScript never fuses or reorders arithmetic.
describe("metrics: edge cases", () => {
    it("counts a tied positive/negative pair as half a correct ordering", () => {
        // One positive and one negative with the same score: AUC 0.5, not 0 or 1.
        assert.equal(rocAuc([0, 1], [0.4, 0.4]), 0.5);
        assert.equal(rocAuc([0, 1, 1], [0.1, 0.4, 0.4]), 1);
        assert.equal(rocAuc([0, 0, 1], [0.4, 0.4, 0.4]), 0.5);
    });

    it("gives null, not a number, where scikit-learn refuses: one class only", () => {
        assert.equal(rocAuc([1, 1, 1], [0.2, 0.5, 0.9]), null);
        assert.equal(rocAuc([0, 0], [0.2, 0.5]), null);
        assert.equal(averagePrecision([0, 0], [0.2, 0.5]), null);
        assert.equal(logLoss([1, 1], [0.2, 0.5]), null);
        const m = classificationMetrics([], [], 0.5);
        assert.deepEqual([m.rocAuc, m.prAuc, m.accuracy, m.logLoss, m.brier], [null, null, null, null, null]);
    });

    it("clips log loss like scikit-learn so a confident mistake costs -log(eps), not Infinity", () => {
        assert.ok(Math.abs(logLoss([1, 0], [0, 1])! - -Math.log(2 ** -52)) < 1e-12);
        assert.ok(Number.isFinite(logLoss([1, 0], [0, 1])!));
    });

    it("predicts positive at exactly the threshold", () => {
        assert.deepEqual(confusionMatrix([1, 0], [0.5, 0.5], 0.5), { tp: 1, fp: 1, tn: 0, fn: 0 });
        assert.deepEqual(confusionMatrix([1, 0], [0.5, 0.5], 0.500001), { tp: 0, fp: 0, tn: 1, fn: 1 });
    });

    it("ROC curve starts at (0,0), ends at (1,1) and drops collinear points", () => {
        const curve = rocCurve([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])!;
        assert.deepEqual(curve[0], { x: 0, y: 0, threshold: Infinity });
        assert.deepEqual([curve[curve.length - 1].x, curve[curve.length - 1].y], [1, 1]);
        // Perfect separation: (0,0) → (0,1/3) → (0,1) → (1,1) with intermediate points dropped.
        assert.deepEqual(curve.map((p) => [p.x, p.y]), [[0, 0], [0, 1 / 3], [0, 1], [1, 1]]);
    });

    it("PR curve ends at recall 0, precision 1, and AP of a perfect ranking is 1", () => {
        const curve = prCurve([0, 1, 1], [0.1, 0.8, 0.9])!;
        assert.deepEqual([curve[curve.length - 1].x, curve[curve.length - 1].y], [0, 1]);
        assert.equal(averagePrecision([0, 1, 1], [0.1, 0.8, 0.9]), 1);
    });

    it("refuses labels other than 0/1, probabilities outside [0,1] and mismatched lengths", () => {
        assert.throws(() => rocAuc([0, 2], [0.1, 0.2]), /label at row 1 is 2; expected 0 or 1/);
        assert.throws(() => brierScore([0, 1], [0.1, 1.2]), /score at row 1 is 1.2; expected a probability/);
        assert.throws(() => brierScore([0, 1], [0.1, NaN]), /score at row 1 is NaN/);
        assert.throws(() => rocAuc([0, 1, 1], [0.1, 0.2]), /differ in length: 3 vs 2/);
        assert.throws(() => classificationMetrics([0, 1], [0.1, 0.2], 1.5), /threshold is 1.5/);
    });

    it("percentile of nothing is null and of one value is that value", () => {
        assert.equal(percentile([], 99), null);
        assert.equal(percentile([42], 99), 42);
        assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
        assert.throws(() => percentile([1], 101), /outside \[0, 100\]/);
    });
});
