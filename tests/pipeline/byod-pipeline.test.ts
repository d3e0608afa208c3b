/**
 * Bring your own dataset, as a new user would: generated datasets that look nothing like churn (numeric only,
 * a 0/1 integer target, 300–600 rows, their own column names, no id column; data/byod_examples.py, seeded, made
 * at test time) with schemas written from docs/contracts.md §1 alone, run through the `pipeline:local` npm
 * script's own command line with `--data` and `--schema` and nothing else that changes the run (`--runs-root`
 * only keeps the test's runs out of the checkout). No edits to any stack file or schema.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../pipeline/lib/python";
import { LocalPipelineSummary } from "../../pipeline/summary";

const PYTHON = path.join(REPO_ROOT, ".venv", "bin", "python");

/** The `pipeline:local` script of package.json after its bootstrap step (which installs packages when the lock
 * files change: tests must not), so the test runs exactly the command `npm run pipeline:local` runs. */
function pipelineCommand(): string[] {
    const script: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).scripts["pipeline:local"];
    const [bootstrap, command] = script.split(" && ");
    assert.equal(bootstrap, "bash scripts/bootstrap.sh", `pipeline:local changed shape: ${script}`);
    const [bin, ...args] = command.split(" ");
    return [path.join(REPO_ROOT, "node_modules", ".bin", bin), ...args];
}

function generate(kind: string, seed: number, out: string, rows?: number): { csv: string; schema: string } {
    const args = ["data/byod_examples.py", "--kind", kind, "--seed", String(seed), "--out", out, ...(rows ? ["--rows", String(rows)] : [])];
    const made = spawnSync(PYTHON, args, { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(made.status, 0, made.stderr);
    return { csv: path.join(out, `${kind}.csv`), schema: path.join(out, `${kind}.schema.json`) };
}

function runPipeline(data: { csv: string; schema: string }, runsRoot: string): { status: number | null; stdout: string; summary?: LocalPipelineSummary } {
    const [bin, ...args] = pipelineCommand();
    const run = spawnSync(bin, [...args, "--data", data.csv, "--schema", data.schema, "--runs-root", runsRoot], {
        cwd: REPO_ROOT, encoding: "utf8", timeout: 300_000,
    });
    const runDir = /^run \S+ → (.+)$/m.exec(run.stdout)?.[1];
    const summary = runDir && fs.existsSync(path.join(runDir, "summary.json")) ? JSON.parse(fs.readFileSync(path.join(runDir, "summary.json"), "utf8")) : undefined;
    return { status: run.status, stdout: `${run.stdout}\n${run.stderr}`, summary };
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));

describe("bring your own dataset: npm run pipeline:local -- --data … --schema … (end to end)", function () {
    this.timeout(900_000);
    let root: string;
    before(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "byod-e2e-"));
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    const cases = [
        { kind: "sensor-fault", seed: 11, rows: 400, target: "fault" },
        { kind: "wine-grade", seed: 12, rows: 550, target: "premium" },
        { kind: "two-blobs", seed: 13, rows: 320, target: "malignant" },
    ];
    for (const c of cases) {
        it(`${c.kind} (${c.rows} rows, integer 0/1 target "${c.target}", no id): trained, evaluated, promoted with zero edits`, () => {
            const data = generate(c.kind, c.seed, path.join(root, `${c.kind}-data`));
            const schema = readJson(data.schema);
            // The schema is what a user writes from the contract: integer labels, no id, no quality, no split.
            assert.deepEqual(schema.target, { column: c.target, positive: 1, negative: 0 });
            assert.equal(schema.id, undefined);
            assert.equal(schema.quality, undefined);
            const header = fs.readFileSync(data.csv, "utf8").split("\n")[0];
            assert.doesNotMatch(header, /customer|churn|tenure|contract/);

            const run = runPipeline(data, path.join(root, c.kind));
            assert.equal(run.status, 0, run.stdout);
            assert.match(run.stdout, /result\s+PROMOTED/);
            const s = run.summary!;
            assert.equal(s.etl?.rowsIn, c.rows);
            assert.equal(s.etl?.rowsQuarantined, 0);
            assert.equal(s.etl?.splitBy, "position");
            assert.equal(s.evaluation?.decision, "Approved");
            const report = s.evaluation.report!;

            // The ETL used the schema's defaults (the platform floor of the dev stack is not above them).
            const runDir = s.run;
            const curated = path.join(runDir, "curated", "datasets", path.basename(runDir));
            const manifest = readJson(path.join(curated, "manifest.json"));
            assert.equal(manifest.splitBy, "position");
            assert.deepEqual([manifest.quality.minRows, manifest.quality.limitSources.minRows], [100, "schema"]);
            assert.deepEqual(manifest.features, schema.numeric.map((f: { name: string }) => f.name));

            // The model kept at least min_rounds trees, chosen on validation log loss.
            const model = readJson(path.join(runDir, "training-jobs", fs.readdirSync(path.join(runDir, "training-jobs"))[0], "opt_ml", "model", "metadata.json"));
            assert.equal(model.hyperparameters.early_stopping_metric, "logloss");
            assert.ok(model.metrics.best_iteration + 1 >= 20, `kept ${model.metrics.best_iteration + 1} rounds`);

            // The evaluation report: calibration (Brier, reliability diagram) and the split-by-position note.
            const evaluation = readJson(path.join(path.dirname(report), "evaluation.json"));
            assert.equal(evaluation.data.splitBy, "position");
            assert.ok(evaluation.calibration.length >= 2);
            assert.equal(evaluation.calibration.reduce((n: number, b: { count: number }) => n + b.count, 0), evaluation.data.scoredRows);
            assert.ok(evaluation.metrics.brier > 0 && evaluation.metrics.brier < 0.25, `Brier ${evaluation.metrics.brier}`);
            const html = fs.readFileSync(report, "utf8");
            assert.match(html, /<svg id="reliability-diagram"/);
            assert.match(html, /id="split-by-position"/);
            console.log(`      ${c.kind}: ROC AUC ${evaluation.metrics.rocAuc.toFixed(4)}, log loss ${evaluation.metrics.logLoss.toFixed(4)}, ` +
                `Brier ${evaluation.metrics.brier.toFixed(4)}, ${model.metrics.best_iteration + 1} rounds kept, ${evaluation.data.scoredRows} test rows`);
        });
    }

    it("below the documented minimum (100 usable rows) the run stops at the ETL gate naming the setting, its value, its source and the fix", () => {
        const data = generate("sensor-fault", 14, path.join(root, "small-data"), 80);
        const run = runPipeline(data, path.join(root, "small"));
        assert.equal(run.status, 1, run.stdout);
        assert.equal(run.summary?.stages.find((x) => x.name === "etl")?.status, "stopped");
        const expected = `80 usable rows (80 read, 0 quarantined); minRows is 100 (schema default (quality.minRows is not set in ${data.schema}): ` +
            "change quality.minRows in the schema; it may not go below the platform limit 100 (stack config mlops:etl.minRows))";
        assert.ok(run.stdout.includes(expected), run.stdout);
    });
});
