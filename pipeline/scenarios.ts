/**
 * The local pipeline's scenarios (`--scenario`) and what each one changes; the stages read these and nothing
 * else scenario-specific.
 */
export const SCENARIOS = ["default", "drift", "bad-data", "weak-model"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Drift injected by `--scenario drift`: tenure (the model's most important feature) moves by 1 std. */
export const DRIFT_SHIFT = "tenure_months=1";
/** Share of rows with a defect in `--scenario bad-data`: far over the schema's 5% quarantine limit. */
export const BAD_DATA_DIRTY_FRACTION = "0.3";
/** `--scenario weak-model`: one shallow tree with a tiny step cannot learn the churn signal. */
export const WEAK_HYPERPARAMETERS: Readonly<Record<string, string>> = { max_depth: "1", eta: "0.01", num_round: "2", early_stopping_rounds: "1" };

/**
 * One pass through etl → train → dev endpoint → evaluate → promote. A run makes one; weak-model makes a champion
 * first when prod serves nothing, so that the weak version has a champion to lose against.
 */
export interface Cycle {
    /** Prefixes the cycle's stage names (`weak: etl`) and ids; "" for a run's only cycle. */
    readonly label: string;
    /** Replace the stack's hyperparameters of the same name. */
    readonly hyperparameters?: Readonly<Record<string, string>>;
}

export function cyclesOf(scenario: Scenario, prodServesAChampion: boolean): Cycle[] {
    if (scenario !== "weak-model") return [{ label: "" }];
    return [...(prodServesAChampion ? [] : [{ label: "champion" }]), { label: "weak", hyperparameters: WEAK_HYPERPARAMETERS }];
}

/** A stage's name within a cycle: `weak: etl`, or `etl` for a run's only cycle. */
export function stageName(cycle: Cycle, stage: string): string {
    return cycle.label ? `${cycle.label}: ${stage}` : stage;
}

/** The id a cycle's ETL run and training job are named by: the run id, suffixed by the cycle's label. */
export function cycleId(runId: string, cycle: Cycle): string {
    return cycle.label ? `${runId}-${cycle.label}` : runId;
}
