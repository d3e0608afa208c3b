/**
 * The local pipeline's summary: what a run did, written to `<run>/summary.json`, returned to callers (tests, the
 * benchmark) and printed as the table that ends every run. The stages fill in their part as they run
 * ({@link SummaryParts}); the orchestrator adds the rest.
 */
import { ApprovalStatus } from "../steps/lib/backend";
import { EvaluationMetrics } from "../steps/lib/gate";
import { StageResult } from "./lib/stage-runner";
import { ReplayResult } from "./lib/traffic";
import { Scenario } from "./scenarios";

/** Whether a stage reused an earlier run's output (contracts/reuse-key.ts), under which key. */
export interface ReuseOutcome {
    readonly key: string;
    readonly reused: boolean;
}

/** What the summary keeps of the ETL run: manifest counts, or failure.json's counts, kind and message. */
export interface EtlSummary {
    readonly rowsIn?: number;
    readonly rowsOut?: number;
    readonly rowsQuarantined?: number;
    readonly quarantineByReason?: Readonly<Record<string, number>>;
    /** Rows per split (train, validation, test) of a published run. */
    readonly splits?: Readonly<Record<string, number>>;
    /** How rows were assigned to splits: by id hash, or by position when the schema has no id. */
    readonly splitBy?: string;
    /** The run prefix of the earlier ETL run this one reused. */
    readonly reusedRun?: string;
    /** Path of failure.json when the ETL stopped. */
    readonly failure?: string;
    readonly kind?: string;
    readonly message?: string;
}

export interface EvaluationSummary {
    readonly version: number;
    readonly decision: ApprovalStatus;
    readonly reasons: readonly string[];
    /** Absent when the evaluation wrote no report. */
    readonly metrics?: EvaluationMetrics;
    /** The report.html beside the version's evaluation.json. */
    readonly report?: string;
}

export interface TrafficSummary extends ReplayResult {
    /** The shift applied to production traffic (`--scenario drift`), or "no". */
    readonly drifted: string;
    /** Requests the prod endpoint's data capture sampled. */
    readonly captured: number;
    /** The prod stack's data-capture sampling percentage. */
    readonly samplingPercentage: number;
}

export interface DriftSummary {
    /** "drift flagged", "no drift", "insufficient data" or "not evaluated". */
    readonly verdict: string;
    /** The prod stack's drift rule settings the check used. */
    readonly rule: { readonly alpha: number; readonly minWindow: number };
    /** How many violations the checker wrote. */
    readonly violations: number;
    /** Feature names with a baseline drift violation. */
    readonly driftedFeatures: readonly string[];
    /** The drift report (HTML). */
    readonly report: string;
}

export interface LocalPipelineSummary {
    /** The run folder. */
    readonly run: string;
    readonly scenario: Scenario;
    readonly reuse: { readonly enabled: boolean; readonly stages: Readonly<Record<string, ReuseOutcome>> };
    /** The ROC AUC of the synthetic data's known ground truth (synthetic data only; null when not reported). */
    readonly bayesAuc?: number;
    readonly modelPackageGroup?: string;
    readonly etl?: EtlSummary;
    /** The last evaluation of the run (weak-model evaluates twice on an empty registry). */
    readonly evaluation?: EvaluationSummary;
    /** "version N" or "nothing". */
    readonly prodServes?: string;
    readonly traffic?: TrafficSummary;
    readonly drift?: DriftSummary;
    readonly promoted: boolean;
    readonly stages: readonly StageResult[];
}

/** The parts of the summary the stages write as they run (the last write of a part wins). */
export interface SummaryParts {
    readonly reuse: { readonly enabled: boolean; readonly stages: Record<string, ReuseOutcome> };
    bayesAuc?: number;
    modelPackageGroup?: string;
    etl?: EtlSummary;
    evaluation?: EvaluationSummary;
    prodServes?: string;
    traffic?: TrafficSummary;
    drift?: DriftSummary;
}

/** The whole summary, its keys in the order summary.json has always listed them. */
export function completeSummary(head: { run: string; scenario: Scenario }, parts: SummaryParts,
    end: { promoted: boolean; stages: readonly StageResult[] }): LocalPipelineSummary {
    return {
        run: head.run,
        scenario: head.scenario,
        reuse: parts.reuse,
        bayesAuc: parts.bayesAuc,
        modelPackageGroup: parts.modelPackageGroup,
        etl: parts.etl,
        evaluation: parts.evaluation,
        prodServes: parts.prodServes,
        traffic: parts.traffic,
        drift: parts.drift,
        promoted: end.promoted,
        stages: end.stages,
    };
}

/**
 * The summary's "data" line. A run the ETL stopped says so and why (failure.json's kind and message), instead of
 * "569 rows in, 0 out, 0 quarantined ()": on a gate stop nothing was output, and the reason need not be quarantine.
 */
export function etlDataLine(etl: EtlSummary | undefined): string {
    if (!etl) return "—";
    const reasons = Object.entries(etl.quarantineByReason ?? {}).filter(([, n]) => Number(n) > 0).map(([k, n]) => `${k} ${n}`).join(", ");
    const quarantined = `${etl.rowsQuarantined ?? 0} quarantined${reasons ? ` (${reasons})` : ""}`;
    if (etl.failure) {
        const read = typeof etl.rowsIn === "number" ? `${etl.rowsIn} rows read, ${quarantined}; ` : "";
        return `stopped by the ETL ${etl.kind === "gate" ? "quality gate" : `(${etl.kind ?? "error"})`}, nothing published: ${read}${etl.message ?? "see " + etl.failure}`;
    }
    return `${etl.rowsIn} rows in, ${etl.rowsOut} out, ${quarantined}`;
}

/** The table that ends a run: one [label, value] row per line. */
export function summaryRows(summary: LocalPipelineSummary): [string, string][] {
    const total = summary.stages.reduce((s, r) => s + r.seconds, 0);
    const evaluation = summary.evaluation;
    const m: Partial<EvaluationMetrics> = evaluation?.metrics ?? {};
    const fmt = (v: unknown) => (typeof v === "number" ? v.toFixed(4) : "—");
    return [
        ["scenario", summary.scenario],
        ["reuse", !summary.reuse.enabled ? "off (--no-reuse): every stage recomputed" :
            Object.entries(summary.reuse.stages).map(([stage, r]) => `${stage} ${r.reused ? "reused" : "computed"}`).join(", ") || "—"],
        ["stages", `${summary.stages.filter((r) => r.status === "ok").length} ok, ${summary.stages.filter((r) => r.status !== "ok").length} not; ${total.toFixed(1)} s in all`],
        ["data", etlDataLine(summary.etl)],
        ["best achievable ROC AUC", fmt(summary.bayesAuc)],
        ["metrics", evaluation ? `ROC AUC ${fmt(m.rocAuc)}, PR AUC ${fmt(m.prAuc)}, F1 ${fmt(m.f1)}, log loss ${fmt(m.logLoss)}, p99 ${fmt(m.latencyP99Ms)} ms` : "—"],
        ["gate", evaluation ? `${evaluation.decision} (version ${evaluation.version})` : "—"],
        ...(evaluation?.reasons ?? []).map((r): [string, string] => ["  reason", r]),
        ["prod serves", summary.prodServes ?? "nothing"],
        ["drift", summary.drift ? `${summary.drift.verdict}${summary.drift.driftedFeatures.length ? `: ${summary.drift.driftedFeatures.join(", ")}` : ""}` : "not checked"],
        ["evaluation report", evaluation?.report ?? "—"],
        ["drift report", summary.drift?.report ?? "—"],
        ["run folder", summary.run],
        ["result", summary.promoted ? "PROMOTED" : "NOT PROMOTED"],
    ];
}

export function printSummary(print: (line: string) => void, summary: LocalPipelineSummary): void {
    const rows = summaryRows(summary);
    const width = Math.max(...rows.map(([k]) => k.length));
    print("");
    for (const [k, v] of rows) print(`${k.padEnd(width)}  ${v}`);
}
