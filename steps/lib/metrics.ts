/**
 * Binary classification metrics, pure and deterministic, computed the way scikit-learn 1.5 computes them so the
 * numbers in a report match what a data scientist gets in a notebook (tests/fixtures/metrics cross-checks them
 * against scikit-learn on the same predictions, tolerance 1e-9).
 *
 * Convention: label 1 is the positive class; a row is predicted positive when its probability is >= the
 * decision threshold.
 */

export interface ConfusionMatrix {
    readonly tp: number;
    readonly fp: number;
    readonly tn: number;
    readonly fn: number;
}

/** Metrics of one set of predictions; `null` where a metric is undefined (e.g. ROC AUC with one class). */
export interface ClassificationMetrics {
    readonly rows: number;
    readonly positives: number;
    readonly threshold: number;
    readonly rocAuc: number | null;
    readonly prAuc: number | null;
    readonly accuracy: number | null;
    readonly precision: number | null;
    readonly recall: number | null;
    readonly f1: number | null;
    readonly logLoss: number | null;
    readonly brier: number | null;
    readonly confusion: ConfusionMatrix;
}

export interface CurvePoint {
    readonly x: number;
    readonly y: number;
    /** The score threshold at this point (Infinity for the curve's start). */
    readonly threshold: number;
}

/** Throws unless `labels` are all 0/1 and `scores` finite probabilities of the same length. */
export function checkPredictions(labels: readonly number[], scores: readonly number[]): void {
    if (labels.length !== scores.length) {
        throw new RangeError(`labels and scores differ in length: ${labels.length} vs ${scores.length}`);
    }
    labels.forEach((y, i) => {
        if (y !== 0 && y !== 1) throw new RangeError(`label at row ${i} is ${y}; expected 0 or 1`);
    });
    scores.forEach((p, i) => {
        if (!Number.isFinite(p) || p < 0 || p > 1) throw new RangeError(`score at row ${i} is ${p}; expected a probability in [0, 1]`);
    });
}

interface BinaryCurve {
    /** False / true positives at each distinct threshold, thresholds descending. */
    readonly fps: number[];
    readonly tps: number[];
    readonly thresholds: number[];
}

/** scikit-learn's `_binary_clf_curve`: cumulative counts at each distinct score, highest first. */
function binaryClfCurve(labels: readonly number[], scores: readonly number[]): BinaryCurve {
    // Stable sort by score descending; ties are grouped below, so order within a tie does not matter.
    const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    const fps: number[] = [];
    const tps: number[] = [];
    const thresholds: number[] = [];
    let tp = 0;
    for (let k = 0; k < order.length; k++) {
        tp += labels[order[k]];
        const last = k === order.length - 1;
        if (last || scores[order[k + 1]] !== scores[order[k]]) {
            tps.push(tp);
            fps.push(k + 1 - tp);
            thresholds.push(scores[order[k]]);
        }
    }
    return { fps, tps, thresholds };
}

/**
 * The ROC curve as scikit-learn's `roc_curve(drop_intermediate=True)`: collinear points dropped, starting at
 * (0, 0) with threshold Infinity. Points are (fpr, tpr). Null when either class is absent.
 */
export function rocCurve(labels: readonly number[], scores: readonly number[]): CurvePoint[] | null {
    checkPredictions(labels, scores);
    if (labels.length === 0) return null;
    const { fps, tps, thresholds } = binaryClfCurve(labels, scores);
    const n = fps.length;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
        // Keep the ends and every point where the second difference of fps or tps is non-zero (a corner).
        if (i === 0 || i === n - 1 || fps[i + 1] - 2 * fps[i] + fps[i - 1] !== 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] !== 0) {
            keep.push(i);
        }
    }
    const totalFp = fps[n - 1];
    const totalTp = tps[n - 1];
    if (totalFp === 0 || totalTp === 0) return null;
    return [
        { x: 0, y: 0, threshold: Infinity },
        ...keep.map((i) => ({ x: fps[i] / totalFp, y: tps[i] / totalTp, threshold: thresholds[i] })),
    ];
}

/** Area under a curve by the trapezoidal rule (numpy's `trapz` over x). */
export function trapezoid(points: readonly CurvePoint[]): number {
    let area = 0;
    for (let i = 1; i < points.length; i++) {
        area += (points[i].x - points[i - 1].x) * (points[i].y + points[i - 1].y) / 2;
    }
    return area;
}

/** `roc_auc_score`: ties in scores count half (trapezoids over distinct thresholds). */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number | null {
    const curve = rocCurve(labels, scores);
    return curve === null ? null : trapezoid(curve);
}

/**
 * The precision-recall curve as scikit-learn's `precision_recall_curve`: points (recall, precision) by
 * increasing threshold, ending at (0, 1). Null when there is no positive.
 */
export function prCurve(labels: readonly number[], scores: readonly number[]): CurvePoint[] | null {
    checkPredictions(labels, scores);
    if (labels.length === 0) return null;
    const { fps, tps, thresholds } = binaryClfCurve(labels, scores);
    const totalTp = tps[tps.length - 1];
    if (totalTp === 0) return null;
    const points: CurvePoint[] = [];
    for (let i = tps.length - 1; i >= 0; i--) {
        points.push({ x: tps[i] / totalTp, y: tps[i] / (tps[i] + fps[i]), threshold: thresholds[i] });
    }
    points.push({ x: 0, y: 1, threshold: Infinity });
    return points;
}

/** `average_precision_score`: Σ (Rₙ − Rₙ₋₁) Pₙ over thresholds, no interpolation. */
export function averagePrecision(labels: readonly number[], scores: readonly number[]): number | null {
    const curve = prCurve(labels, scores);
    if (curve === null) return null;
    let sum = 0;
    for (let i = 0; i < curve.length - 1; i++) {
        sum += (curve[i].x - curve[i + 1].x) * curve[i].y;
    }
    return sum;
}

export function confusionMatrix(labels: readonly number[], scores: readonly number[], threshold: number): ConfusionMatrix {
    checkPredictions(labels, scores);
    let tp = 0, fp = 0, tn = 0, fn = 0;
    for (let i = 0; i < labels.length; i++) {
        const predicted = scores[i] >= threshold;
        if (labels[i] === 1) {
            if (predicted) tp++;
            else fn++;
        } else if (predicted) fp++;
        else tn++;
    }
    return { tp, fp, tn, fn };
}

/** Ratio with scikit-learn's `zero_division` default: 0 when the denominator is 0. */
const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);

/** float64 machine epsilon: scikit-learn's `log_loss` clips probabilities to [eps, 1 − eps]. */
export const FLOAT64_EPS = 2 ** -52;

/** `log_loss` for binary labels; null with fewer than two classes (scikit-learn raises there). */
export function logLoss(labels: readonly number[], scores: readonly number[]): number | null {
    checkPredictions(labels, scores);
    if (labels.length === 0 || labels.every((y) => y === labels[0])) return null;
    const clip = (p: number) => Math.min(1 - FLOAT64_EPS, Math.max(FLOAT64_EPS, p));
    let sum = 0;
    for (let i = 0; i < labels.length; i++) {
        // scikit-learn clips the two columns [1 − p, p] separately, so 1 − p is formed before clipping.
        sum -= Math.log(labels[i] === 1 ? clip(scores[i]) : clip(1 - scores[i]));
    }
    return sum / labels.length;
}

/** `brier_score_loss`: mean squared difference between probability and label. */
export function brierScore(labels: readonly number[], scores: readonly number[]): number | null {
    checkPredictions(labels, scores);
    if (labels.length === 0) return null;
    let sum = 0;
    for (let i = 0; i < labels.length; i++) sum += (scores[i] - labels[i]) ** 2;
    return sum / labels.length;
}

/** Every metric at once. */
export function classificationMetrics(labels: readonly number[], scores: readonly number[], threshold: number): ClassificationMetrics {
    if (!(threshold >= 0 && threshold <= 1)) throw new RangeError(`threshold is ${threshold}; expected a number in [0, 1]`);
    const confusion = confusionMatrix(labels, scores, threshold);
    const { tp, fp, tn, fn } = confusion;
    const rows = labels.length;
    return {
        rows,
        positives: tp + fn,
        threshold,
        rocAuc: rocAuc(labels, scores),
        prAuc: averagePrecision(labels, scores),
        accuracy: rows === 0 ? null : (tp + tn) / rows,
        precision: rows === 0 ? null : ratio(tp, tp + fp),
        recall: rows === 0 ? null : ratio(tp, tp + fn),
        f1: rows === 0 ? null : ratio(2 * tp, 2 * tp + fp + fn),
        logLoss: logLoss(labels, scores),
        brier: brierScore(labels, scores),
        confusion,
    };
}

/**
 * The q-th percentile (0–100) by linear interpolation between closest ranks — numpy's default `percentile`
 * method, including its way of interpolating from the nearer end. Null for no values.
 */
export function percentile(values: readonly number[], q: number): number | null {
    if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile ${q} is outside [0, 100]`);
    if (values.length === 0) return null;
    const sorted = [...values].sort((a, b) => a - b);
    const rank = (q / 100) * (sorted.length - 1);
    const lo = Math.floor(rank);
    const hi = Math.min(lo + 1, sorted.length - 1);
    const t = rank - lo;
    const a = sorted[lo];
    const b = sorted[hi];
    const diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** One bin of a reliability diagram: rows whose probability fell in it, their mean probability and positive share. */
export interface CalibrationBin {
    /** Bin edges [lower, upper]; a probability equal to an inner edge belongs to the lower bin (as scikit-learn). */
    readonly lower: number;
    readonly upper: number;
    readonly count: number;
    /** Mean predicted probability of the bin's rows (scikit-learn's `prob_pred`). */
    readonly meanPredicted: number;
    /** Share of positives among the bin's rows (scikit-learn's `prob_true`). */
    readonly fractionPositive: number;
}

/** Equal-width bins of the reliability diagram (scikit-learn's `calibration_curve` defaults to 5; ten show more
 * shape and still hold several rows each on the ~60-row test split of a 400-row dataset). */
export const CALIBRATION_BINS = 10;

/**
 * `sklearn.calibration.calibration_curve(y, p, n_bins, strategy="uniform")`: equal-width bins over [0, 1]
 * (edges i/n as numpy's `linspace`), a probability goes to the bin given by `searchsorted(inner edges, p)`
 * (left side: a value equal to an edge counts in the lower bin), empty bins are left out. Null for no rows.
 */
export function calibrationCurve(labels: readonly number[], scores: readonly number[], bins = CALIBRATION_BINS): CalibrationBin[] | null {
    checkPredictions(labels, scores);
    if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins is ${bins}; expected a whole number >= 1`);
    if (labels.length === 0) return null;
    // numpy's linspace(0, 1, n + 1) computes i * (1 / n): the same doubles here, so edge cases land alike.
    const step = 1 / bins;
    const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? 1 : i * step));
    const sums = new Array<number>(bins).fill(0);
    const positives = new Array<number>(bins).fill(0);
    const counts = new Array<number>(bins).fill(0);
    for (let r = 0; r < scores.length; r++) {
        // searchsorted(left) over the inner edges: the number of inner edges strictly below the score.
        let b = 0;
        while (b < bins - 1 && edges[b + 1] < scores[r]) b++;
        sums[b] += scores[r];
        positives[b] += labels[r];
        counts[b]++;
    }
    const out: CalibrationBin[] = [];
    for (let b = 0; b < bins; b++) {
        if (counts[b] === 0) continue;
        out.push({ lower: edges[b], upper: edges[b + 1], count: counts[b], meanPredicted: sums[b] / counts[b], fractionPositive: positives[b] / counts[b] });
    }
    return out;
}
