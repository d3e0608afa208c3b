/**
 * The local side of stage reuse (pipeline/lib/reuse.ts) and the lead-time script's parsing of the pipeline's own
 * stage lines (scripts/lead-time.ts).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findEtlRun, localEtlReuseInputs, recordEtlRun, treeSha256 } from "../../pipeline/lib/reuse";
import { StageRunner } from "../../pipeline/lib/stage-runner";
import { LocalObjectStore } from "../../steps/lib/local";
import { etlReuseKey } from "../../contracts/reuse-key";
import { parseStageLine, renderTable, scratchCopy } from "../../scripts/lead-time";

describe("local reuse inputs and index", () => {
    let root: string;
    beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), "reuse-local-")); });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    const write = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text);
    };

    it("the code hash changes with an edit, an added file or a rename, and ignores Python caches", () => {
        write("etl/glue_job.py", "print(1)\n");
        write("etl/mlops_etl/a.py", "x = 1\n");
        const base = treeSha256(root, ["etl/glue_job.py", "etl/mlops_etl"]);
        write("etl/mlops_etl/__pycache__/a.cpython-311.pyc", "bytes");
        assert.equal(treeSha256(root, ["etl/glue_job.py", "etl/mlops_etl"]), base, "caches are not code");
        write("etl/mlops_etl/a.py", "x = 2\n");
        const edited = treeSha256(root, ["etl/glue_job.py", "etl/mlops_etl"]);
        assert.notEqual(edited, base);
        fs.renameSync(path.join(root, "etl/mlops_etl/a.py"), path.join(root, "etl/mlops_etl/b.py"));
        assert.notEqual(treeSha256(root, ["etl/glue_job.py", "etl/mlops_etl"]), edited);
    });

    it("the dataset and schema enter by content; a recorded run is found until its manifest is gone or the record is corrupt", async () => {
        write("etl/glue_job.py", "print(1)\n");
        write("etl/mlops_etl/a.py", "x = 1\n");
        write("in/data.csv", "a,b\n1,2\n");
        write("in/schema.json", "{}");
        const settings = { maxQuarantineShare: 0.05, minRows: 100, trainShards: 1 };
        const inputs = localEtlReuseInputs(root, { csv: path.join(root, "in/data.csv"), schema: path.join(root, "in/schema.json") }, settings);
        assert.match(inputs.datasetVersion, /^sha256:[0-9a-f]{64}$/);
        write("in/data.csv", "a,b\n1,3\n");
        assert.notEqual(localEtlReuseInputs(root, { csv: path.join(root, "in/data.csv"), schema: path.join(root, "in/schema.json") }, settings).datasetVersion, inputs.datasetVersion);

        const objects = new LocalObjectStore({ s3Root: path.join(root, "runs") });
        const key = etlReuseKey(inputs);
        const index = "s3://reuse-index/etl/";
        assert.equal(await findEtlRun(objects, index, key), undefined, "nothing recorded yet");
        await objects.put("s3://run-1/curated/datasets/run-1/manifest.json", "{}");
        await recordEtlRun(objects, index, key, inputs, { runId: "run-1", runPrefix: "s3://run-1/curated/datasets/run-1/" });
        const hit = await findEtlRun(objects, index, key);
        assert.deepEqual([hit?.runId, hit?.runPrefix, hit?.inputs], ["run-1", "s3://run-1/curated/datasets/run-1/", inputs]);
        assert.equal(await findEtlRun(objects, index, etlReuseKey({ ...inputs, schema: "other" })), undefined, "another key misses");
        fs.rmSync(objects.pathOf("s3://run-1/curated/datasets/run-1/manifest.json"));
        assert.equal(await findEtlRun(objects, index, key), undefined, "a run without its manifest is not reused");
        await objects.put(`${index}${key}.json`, "{ not json");
        assert.equal(await findEtlRun(objects, index, key), undefined, "a corrupt record is a miss");
    });
});

describe("lead-time script", () => {
    it("reads the stage lines the pipeline's StageRunner prints", async () => {
        const lines: string[] = [];
        const runner = new StageRunner((l) => lines.push(l));
        await runner.run("train + register", async () => ({ value: 1, detail: "reused version 1 (Approved)" }));
        await runner.run("promote to prod", async () => ({ value: 1, detail: "prod serves version 1" }));
        const parsed = lines.map(parseStageLine);
        assert.deepEqual(parsed.map((p) => [p?.name, p?.status, p?.detail]), [
            ["train + register", "ok", "reused version 1 (Approved)"], ["promote to prod", "ok", "prod serves version 1"],
        ]);
        assert.equal(parseStageLine("run 2026… → /tmp/x"), undefined);
        const table = renderTable([["a (s)", { toProdSeconds: 12.34, startupSeconds: 1, stages: parsed.map((p) => p!) }]]);
        assert.match(table.join("\n"), /\| train \+ register +\| +0\.0 \(reused\) \|/);
        assert.match(table.join("\n"), /\| change → prod serving +\| +12\.3 \|/);
    });

    it("copies tracked files and links node_modules and .venv instead of copying them", () => {
        const to = fs.mkdtempSync(path.join(os.tmpdir(), "scratch-"));
        try {
            const copied = scratchCopy(path.resolve(__dirname, "..", ".."), path.join(to, "repo"));
            assert.ok(copied > 100);
            assert.ok(fs.existsSync(path.join(to, "repo", "pipeline", "local.ts")));
            assert.ok(fs.lstatSync(path.join(to, "repo", "node_modules")).isSymbolicLink());
            assert.ok(fs.lstatSync(path.join(to, "repo", ".venv")).isSymbolicLink());
        } finally {
            fs.rmSync(to, { recursive: true, force: true });
        }
    });
});
