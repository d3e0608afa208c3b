/**
 * The local pipeline's command line (`npm run pipeline:local -- …`) and the options it becomes.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "./lib/python";
import { Scenario, SCENARIOS } from "./scenarios";

export const USAGE = `Usage: npm run pipeline:local -- [options]

Runs the whole MLOps pipeline on this machine and prints a line per stage, then a summary.

Options:
  --scenario NAME    default | drift (production traffic drifts: drift is flagged)
                     | bad-data (the ETL quality gate stops the run before training)
                     | weak-model (evaluation rejects the version; prod keeps serving the previous one)
  --rows N           rows of synthetic data to generate (default 20000); nothing else
  --seed N           data seed (default 7)
  --data CSV         your own dataset instead of synthetic data (needs --schema)
  --schema JSON      its dataset schema (docs/contracts.md §1)
  --requests N       production requests to replay (default 1000)
  --runs-root DIR    where runs and the local model registry live (default .runs)
  --stack NAME       the stack whose host's config (evaluation thresholds, hyperparameters) to use (default dev)
  --no-reuse         recompute every stage (audit): by default the ETL and training are reused when their
                     inputs (data, ETL code, schema, settings; curated data, image, hyperparameters) are unchanged
  --train-hosts N    training instances (default: the stack's training.instanceCount); N > 1 trains
                     distributed: one container process per host on loopback, the ETL writes >= N train shards
  -h, --help

Exit codes: 0 a model was promoted to the local prod endpoint; 1 the run stopped (gate) or failed; 2 usage.`;

export interface LocalPipelineOptions {
    readonly scenario: Scenario;
    readonly rows: number;
    readonly seed: number;
    readonly data?: string;
    readonly schema?: string;
    readonly requests: number;
    readonly runsRoot: string;
    readonly stack: string;
    /**
     * Reuse the ETL run and the trained version of unchanged inputs (contracts/reuse-key.ts).
     * @default true
     */
    readonly reuse?: boolean;
    /**
     * Training instances; more than one trains distributed, one container process per host.
     * @default the stack's training.instanceCount
     */
    readonly trainHosts?: number;
    /** Where stage lines go. @default console.log */
    readonly print?: (line: string) => void;
}

export function parseCli(argv: readonly string[]): LocalPipelineOptions | "help" {
    const { values } = parseArgs({
        args: [...argv],
        options: {
            scenario: { type: "string", default: "default" },
            rows: { type: "string", default: "20000" },
            seed: { type: "string", default: "7" },
            data: { type: "string" },
            schema: { type: "string" },
            requests: { type: "string", default: "1000" },
            "runs-root": { type: "string", default: path.join(REPO_ROOT, ".runs") },
            stack: { type: "string", default: "dev" },
            "no-reuse": { type: "boolean" },
            "train-hosts": { type: "string" },
            help: { type: "boolean", short: "h" },
        },
        strict: true,
    });
    if (values.help) return "help";
    const scenario = values.scenario as Scenario;
    if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario ${values.scenario}: expected one of ${SCENARIOS.join(", ")}`);
    const int = (name: "rows" | "seed" | "requests" | "train-hosts", min: number) => {
        const n = Number(values[name]);
        if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${values[name]}: expected a whole number >= ${min}`);
        return n;
    };
    if (Boolean(values.data) !== Boolean(values.schema)) throw new Error("--data and --schema go together");
    for (const f of [values.data, values.schema]) if (f && !fs.existsSync(f)) throw new Error(`${f}: no such file`);
    if (values.data && scenario !== "default" && scenario !== "weak-model") {
        throw new Error(`--scenario ${scenario} needs the synthetic data (it changes how the data is generated)`);
    }
    return {
        scenario,
        rows: int("rows", 100),
        seed: int("seed", 0),
        requests: int("requests", 1),
        data: values.data,
        schema: values.schema,
        runsRoot: values["runs-root"]!,
        stack: values.stack!,
        reuse: !values["no-reuse"],
        trainHosts: values["train-hosts"] === undefined ? undefined : int("train-hosts", 1),
    };
}
