/**
 * The champion/challenger gate: pure, shared by the AWS and local pipelines. Given the challenger's measured
 * metrics, the absolute thresholds from stack config and the champion's recorded metrics, it decides whether the
 * challenger may go to production, and says why.
 *
 * Rules (ties pass everywhere: a value equal to its limit is within it):
 * - absolute: ROC AUC >= minRocAuc, PR AUC >= minPrAuc, log loss <= maxLogLoss, error rate <= maxErrorRate,
 *   latency p99 <= maxLatencyP99Ms. A metric that could not be computed (null) violates its rule.
 * - champion: challenger ROC AUC >= champion ROC AUC − championTolerance. No champion yet, or a champion
 *   without a recorded ROC AUC: the rule is skipped and the reasons say so.
 */
import { EvaluationThresholds } from "../../contracts/config-sections";
import { ClassificationMetrics } from "./metrics";

/** Everything the evaluation measured: the classification metrics of the scored rows, and how the endpoint served. */
export interface EvaluationMetrics
    extends Pick<ClassificationMetrics, "rocAuc" | "prAuc" | "accuracy" | "precision" | "recall" | "f1" | "logLoss" | "brier"> {
    /** Share of test rows the endpoint did not score. */
    readonly errorRate: number;
    readonly latencyP50Ms: number | null;
    readonly latencyP99Ms: number | null;
}

export const METRIC_LABELS: Readonly<Record<keyof EvaluationMetrics, string>> = {
    rocAuc: "ROC AUC",
    prAuc: "PR AUC",
    accuracy: "accuracy",
    precision: "precision",
    recall: "recall",
    f1: "F1",
    logLoss: "log loss",
    brier: "Brier score",
    errorRate: "error rate",
    latencyP50Ms: "latency p50 (ms)",
    latencyP99Ms: "latency p99 (ms)",
};

export interface Champion {
    readonly arn: string;
    readonly version: number;
    /** Metrics recorded when the champion was evaluated; any may be missing. */
    readonly metrics: Partial<Record<keyof EvaluationMetrics, number>>;
}

export type RuleId = "min_roc_auc" | "min_pr_auc" | "max_log_loss" | "max_error_rate" | "max_latency_p99_ms" | "champion_roc_auc";

export interface RuleResult {
    readonly id: RuleId;
    readonly metric: keyof EvaluationMetrics;
    readonly comparison: ">=" | "<=";
    readonly actual: number | null;
    /** The limit the actual value is held to; null when the rule was skipped. */
    readonly limit: number | null;
    readonly passed: boolean;
    /** True when the rule could not apply (no champion); a skipped rule passes. */
    readonly skipped: boolean;
    /** One sentence a person can act on. */
    readonly message: string;
}

export type Decision = "Approved" | "Rejected";

export interface GateResult {
    readonly decision: Decision;
    readonly rules: readonly RuleResult[];
    /** Why: every violated rule, or a summary when all passed, plus how the champion was handled. */
    readonly reasons: readonly string[];
}

/**
 * Float noise allowance: `0.8 - 0.005` is 0.7950000000000000844, so a challenger at exactly champion −
 * tolerance would otherwise fail by one ulp. Far below any meaningful metric difference.
 */
const TIE_EPSILON = 1e-12;

function fmt(value: number | null): string {
    if (value === null) return "not computable";
    return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/0+$/, "").replace(/\.$/, "");
}

function absoluteRule(id: RuleId, metric: keyof EvaluationMetrics, comparison: ">=" | "<=", actual: number | null, limit: number): RuleResult {
    const label = METRIC_LABELS[metric];
    const passed = actual !== null && (comparison === ">=" ? actual >= limit - TIE_EPSILON : actual <= limit + TIE_EPSILON);
    const bound = comparison === ">=" ? "minimum" : "maximum";
    const message = actual === null
        ? `${label} could not be computed; the ${bound} is ${fmt(limit)}`
        : passed
            ? `${label} ${fmt(actual)} is within the ${bound} ${fmt(limit)}`
            : `${label} ${fmt(actual)} is ${comparison === ">=" ? "below" : "above"} the ${bound} ${fmt(limit)}`;
    return { id, metric, comparison, actual, limit, passed, skipped: false, message };
}

function championRule(challenger: number | null, champion: Champion | undefined, tolerance: number): RuleResult {
    const base = { id: "champion_roc_auc" as const, metric: "rocAuc" as const, comparison: ">=" as const, actual: challenger };
    if (champion === undefined) {
        return { ...base, limit: null, passed: true, skipped: true,
            message: "no champion yet (no approved version): judged on the absolute thresholds only" };
    }
    const championAuc = champion.metrics.rocAuc;
    if (championAuc === undefined || !Number.isFinite(championAuc)) {
        return { ...base, limit: null, passed: true, skipped: true,
            message: `champion version ${champion.version} has no recorded ROC AUC (approved without evaluation): ` +
                "judged on the absolute thresholds only" };
    }
    const limit = championAuc - tolerance;
    const passed = challenger !== null && challenger >= limit - TIE_EPSILON;
    const message = challenger === null
        ? `ROC AUC could not be computed; champion version ${champion.version} has ${fmt(championAuc)}`
        : passed
            ? `ROC AUC ${fmt(challenger)} is within tolerance ${fmt(tolerance)} of champion version ${champion.version} (${fmt(championAuc)})`
            : `ROC AUC ${fmt(challenger)} is worse than champion version ${champion.version} (${fmt(championAuc)}) by more than the tolerance ${fmt(tolerance)}`;
    return { ...base, limit, passed, skipped: false, message };
}

/** Decides Approved or Rejected. Pure: same inputs, same answer. */
export function decide(metrics: EvaluationMetrics, thresholds: EvaluationThresholds, champion?: Champion): GateResult {
    const rules: RuleResult[] = [
        absoluteRule("min_roc_auc", "rocAuc", ">=", metrics.rocAuc, thresholds.minRocAuc),
        absoluteRule("min_pr_auc", "prAuc", ">=", metrics.prAuc, thresholds.minPrAuc),
        absoluteRule("max_log_loss", "logLoss", "<=", metrics.logLoss, thresholds.maxLogLoss),
        absoluteRule("max_error_rate", "errorRate", "<=", metrics.errorRate, thresholds.maxErrorRate),
        absoluteRule("max_latency_p99_ms", "latencyP99Ms", "<=", metrics.latencyP99Ms, thresholds.maxLatencyP99Ms),
        championRule(metrics.rocAuc, champion, thresholds.championTolerance),
    ];
    const failed = rules.filter((r) => !r.passed);
    const decision: Decision = failed.length === 0 ? "Approved" : "Rejected";
    const champ = rules[rules.length - 1];
    const reasons = decision === "Approved"
        ? [`all ${rules.filter((r) => !r.skipped).length} applicable rules passed`, champ.message]
        : [...failed.map((r) => r.message), ...(champ.skipped ? [champ.message] : [])];
    return { decision, rules, reasons };
}

/** Champion metrics from a version's properties (`eval.<metric>` as written by {@link evaluationProperties}). */
export function championFromProperties(arn: string, version: number, properties: Readonly<Record<string, string>>): Champion {
    const metrics: Partial<Record<keyof EvaluationMetrics, number>> = {};
    for (const key of Object.keys(METRIC_LABELS) as (keyof EvaluationMetrics)[]) {
        const raw = properties[`eval.${key}`];
        if (raw === undefined || raw.trim() === "") continue;
        const value = Number(raw);
        if (Number.isFinite(value)) metrics[key] = value;
    }
    return { arn, version, metrics };
}

/** The evaluation's metrics as registry properties, so this version can be a later run's champion. */
export function evaluationProperties(metrics: EvaluationMetrics): Record<string, string> {
    const props: Record<string, string> = {};
    for (const key of Object.keys(METRIC_LABELS) as (keyof EvaluationMetrics)[]) {
        const value = metrics[key];
        // Full precision: the next run compares against this number with a tolerance of thousandths.
        if (value !== null) props[`eval.${key}`] = String(value);
    }
    return props;
}
