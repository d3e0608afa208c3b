import { strict as assert } from "assert";
import { parseConfig } from "../../infra/config";
import { evaluationSchema, trainingSchema } from "../../contracts/config-sections";
import { parseJsonConfig } from "../../steps/lib/config";
import { Champion, championFromProperties, decide, evaluationProperties, EvaluationMetrics } from "../../steps/lib/gate";

const thresholds = parseJsonConfig(evaluationSchema, JSON.stringify({
    decisionThreshold: 0.5, minRocAuc: 0.75, minPrAuc: 0.3, maxLogLoss: 0.6, maxErrorRate: 0.01, maxLatencyP99Ms: 500, championTolerance: 0.005,
}), "evaluation config");

const good: EvaluationMetrics = {
    rocAuc: 0.85, prAuc: 0.6, accuracy: 0.8, precision: 0.7, recall: 0.6, f1: 0.65, logLoss: 0.4, brier: 0.12,
    errorRate: 0, latencyP50Ms: 20, latencyP99Ms: 90,
};
const champion = (rocAuc?: number): Champion => ({
    arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3", version: 3, metrics: rocAuc === undefined ? {} : { rocAuc },
});

describe("gate: decide()", () => {
    it("approves when every absolute threshold holds and there is no champion, saying it was judged on thresholds only", () => {
        const g = decide(good, thresholds);
        assert.equal(g.decision, "Approved");
        assert.ok(g.rules.every((r) => r.passed));
        const champ = g.rules.find((r) => r.id === "champion_roc_auc")!;
        assert.equal(champ.skipped, true);
        assert.match(g.reasons.join("\n"), /no champion yet .*absolute thresholds only/);
        assert.match(g.reasons[0], /all 5 applicable rules passed/);
    });

    const violations: [string, Partial<EvaluationMetrics>, string, RegExp][] = [
        ["ROC AUC below the minimum", { rocAuc: 0.7 }, "min_roc_auc", /ROC AUC 0\.7 is below the minimum 0\.75/],
        ["PR AUC below the minimum", { prAuc: 0.2 }, "min_pr_auc", /PR AUC 0\.2 is below the minimum 0\.3/],
        ["log loss above the maximum", { logLoss: 0.61 }, "max_log_loss", /log loss 0\.61 is above the maximum 0\.6/],
        ["error rate above the maximum", { errorRate: 0.02 }, "max_error_rate", /error rate 0\.02 is above the maximum 0\.01/],
        ["latency p99 above the maximum", { latencyP99Ms: 501 }, "max_latency_p99_ms", /latency p99 \(ms\) 501 is above the maximum 500/],
        ["ROC AUC not computable", { rocAuc: null }, "min_roc_auc", /ROC AUC could not be computed/],
        ["latency not measured (every request failed)", { latencyP99Ms: null }, "max_latency_p99_ms", /latency p99 \(ms\) could not be computed/],
    ];
    for (const [what, patch, rule, reason] of violations) {
        it(`rejects on an absolute threshold: ${what}`, () => {
            const g = decide({ ...good, ...patch }, thresholds);
            assert.equal(g.decision, "Rejected");
            assert.deepEqual(g.rules.filter((r) => !r.passed).map((r) => r.id), [rule]);
            assert.match(g.reasons[0], reason);
        });
    }

    it("lists every violated rule, not just the first", () => {
        const g = decide({ ...good, rocAuc: 0.6, logLoss: 0.9, errorRate: 0.5 }, thresholds);
        assert.deepEqual(g.rules.filter((r) => !r.passed).map((r) => r.id), ["min_roc_auc", "max_log_loss", "max_error_rate"]);
        assert.equal(g.reasons.filter((r) => !/no champion/.test(r)).length, 3);
    });

    it("rejects a challenger worse than the champion by more than the tolerance, naming the champion", () => {
        const g = decide({ ...good, rocAuc: 0.84 }, thresholds, champion(0.85));
        assert.equal(g.decision, "Rejected");
        const rule = g.rules.find((r) => r.id === "champion_roc_auc")!;
        assert.equal(rule.passed, false);
        assert.ok(Math.abs(rule.limit! - 0.845) < 1e-12);
        assert.match(g.reasons.join("\n"), /worse than champion version 3 \(0\.85\) by more than the tolerance 0\.005/);
    });

    it("approves a challenger within the tolerance below the champion", () => {
        const g = decide({ ...good, rocAuc: 0.846 }, thresholds, champion(0.85));
        assert.equal(g.decision, "Approved");
        assert.match(g.reasons.join("\n"), /within tolerance 0\.005 of champion version 3/);
    });

    it("ties pass: equal to the champion with zero tolerance, exactly at champion − tolerance, exactly at each limit", () => {
        const zeroTol = { ...thresholds, championTolerance: 0 };
        assert.equal(decide({ ...good, rocAuc: 0.85 }, zeroTol, champion(0.85)).decision, "Approved");
        assert.equal(decide({ ...good, rocAuc: 0.8499999 }, zeroTol, champion(0.85)).decision, "Rejected");
        // 0.85 − 0.005 in floating point is 0.8450000000000001 > 0.845: a tie must still pass.
        assert.equal(decide({ ...good, rocAuc: 0.845 }, thresholds, champion(0.85)).decision, "Approved");
        const atLimits = { ...good, rocAuc: 0.75, prAuc: 0.3, logLoss: 0.6, errorRate: 0.01, latencyP99Ms: 500 };
        assert.equal(decide(atLimits, thresholds).decision, "Approved");
    });

    it("a champion without recorded metrics cannot be compared: skipped, and the reasons say why", () => {
        const g = decide(good, thresholds, champion(undefined));
        assert.equal(g.decision, "Approved");
        assert.equal(g.rules.find((r) => r.id === "champion_roc_auc")!.skipped, true);
        assert.match(g.reasons.join("\n"), /champion version 3 has no recorded ROC AUC/);
    });

    it("a better challenger still fails an absolute threshold the champion would also fail", () => {
        const g = decide({ ...good, rocAuc: 0.74 }, thresholds, champion(0.70));
        assert.equal(g.decision, "Rejected");
        assert.deepEqual(g.rules.filter((r) => !r.passed).map((r) => r.id), ["min_roc_auc"]);
    });

    it("round-trips metrics through registry properties, so today's challenger is tomorrow's champion", () => {
        const props = evaluationProperties({ ...good, latencyP50Ms: null });
        assert.equal(props["eval.rocAuc"], "0.85");
        assert.equal(props["eval.latencyP50Ms"], undefined);
        const c = championFromProperties("arn:x", 7, { ...props, "eval.brier": "garbage", other: "1" });
        assert.equal(c.metrics.rocAuc, 0.85);
        assert.equal(c.metrics.brier, undefined);
        assert.equal(c.version, 7);
    });
});

describe("step config parsing", () => {
    it("fills the stack's defaults into partial JSON", () => {
        const infra = parseConfig({ environment: "platform", owner: "o", alertEmail: "a@example.com" },
            { stack: "platform", region: "us-east-1" });
        assert.deepEqual(parseJsonConfig(evaluationSchema, "{\"minRocAuc\": 0.8}", "evaluation config"), { ...infra.evaluation, minRocAuc: 0.8 });
        assert.deepEqual(parseJsonConfig(trainingSchema, "{}", "training config"), infra.training);
    });

    it("names unknown keys and bad values, and refuses invalid JSON", () => {
        assert.throws(() => parseJsonConfig(evaluationSchema, "{\"minRocAuc\": 2, \"minRocAUC\": 1}", "evaluation config"),
            (e: Error) => /evaluation config: unknown key\(s\) minRocAUC/.test(e.message) && /evaluation config\.minRocAuc/.test(e.message));
        assert.throws(() => parseJsonConfig(trainingSchema, "{not json", "training config"), /training config is not valid JSON/);
        assert.throws(() => parseJsonConfig(trainingSchema, JSON.stringify({ spot: { enabled: true, maxWaitSeconds: 100 } }), "training config"),
            /spot\.maxWaitSeconds: must be >= maxRuntimeSeconds \(3600\)/);
    });
});
