/**
 * The reuse keys (contracts/reuse-key.ts), property-style over seeded random inputs: every input the key names
 * changes it; nothing else does (key order, fields the key does not name, a repeat computation).
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import {
    canonicalJson, EtlReuseInputs, etlReuseKey, parseReuseSwitch, ReuseKeyError, TrainReuseInputs, trainReuseKey,
} from "../../contracts/reuse-key";

/** mulberry32: a small seeded generator, so a failure reproduces from its seed. */
function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
const hex = (r: () => number, n = 64) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join("");
const word = (r: () => number) => Array.from({ length: 1 + Math.floor(r() * 12) }, () => "abcdefghijklmnopqrstuvwxyz_0123456789"[Math.floor(r() * 37)]).join("");

function etlInputs(r: () => number): EtlReuseInputs {
    return {
        datasetVersion: r() < 0.5 ? `sha256:${hex(r)}` : word(r) + hex(r, 8),
        etlCodeSha256: hex(r),
        schema: hex(r),
        settings: { maxQuarantineShare: Math.round(r() * 1000) / 1000, minRows: Math.floor(r() * 100_000), trainShards: 1 + Math.floor(r() * 64) },
    };
}
function trainInputs(r: () => number): TrainReuseInputs {
    const hp: Record<string, string> = {};
    for (let i = 0, n = 1 + Math.floor(r() * 6); i < n; i++) hp[`${word(r)}${i}`] = String(Math.round(r() * 1000) / 100);
    return { manifestSha256: hex(r), image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/m@sha256:${hex(r)}`, hyperparameters: hp };
}
/** The same object with its keys in reverse order, at every level. */
function reversed<T>(value: T): T {
    if (Array.isArray(value) || value === null || typeof value !== "object") return value;
    return Object.fromEntries(Object.entries(value as object).reverse().map(([k, v]) => [k, reversed(v)])) as T;
}

const CASES = 300;

describe("reuse keys", () => {
    it("ETL key: each of dataset version, ETL code, schema and each setting changes it", () => {
        for (let seed = 1; seed <= CASES; seed++) {
            const r = rng(seed);
            const base = etlInputs(r);
            const key = etlReuseKey(base);
            assert.match(key, /^etl-[0-9a-f]{64}$/);
            const variants: [string, EtlReuseInputs][] = [
                ["datasetVersion", { ...base, datasetVersion: `${base.datasetVersion}x` }],
                ["etlCodeSha256", { ...base, etlCodeSha256: hex(r) }],
                ["schema", { ...base, schema: `${base.schema}0` }],
                ["maxQuarantineShare", { ...base, settings: { ...base.settings, maxQuarantineShare: base.settings.maxQuarantineShare + 0.001 } }],
                ["minRows", { ...base, settings: { ...base.settings, minRows: base.settings.minRows + 1 } }],
                ["trainShards", { ...base, settings: { ...base.settings, trainShards: base.settings.trainShards + 1 } }],
            ];
            for (const [what, changed] of variants) assert.notEqual(etlReuseKey(changed), key, `seed ${seed}: changing ${what} must change the key`);
        }
    });

    it("ETL key: nothing else changes it (key order, unnamed fields such as the run id or time, recomputation)", () => {
        for (let seed = 1; seed <= CASES; seed++) {
            const base = etlInputs(rng(seed));
            const key = etlReuseKey(base);
            assert.equal(etlReuseKey(reversed(base)), key, `seed ${seed}: key order`);
            const noisy = { ...base, runId: `run-${seed}`, executionId: String(Date.now()), settings: { ...base.settings, numberOfWorkers: seed } };
            assert.equal(etlReuseKey(noisy as EtlReuseInputs), key, `seed ${seed}: fields the key does not name`);
            assert.equal(etlReuseKey(JSON.parse(JSON.stringify(base))), key, `seed ${seed}: recomputation`);
        }
    });

    it("train key: the manifest, the image and every hyperparameter (name or value, added or removed) change it", () => {
        for (let seed = 1; seed <= CASES; seed++) {
            const r = rng(seed);
            const base = trainInputs(r);
            const key = trainReuseKey(base);
            assert.match(key, /^train-[0-9a-f]{64}$/);
            const [name, value] = Object.entries(base.hyperparameters)[Math.floor(r() * Object.keys(base.hyperparameters).length)];
            const without = { ...base.hyperparameters };
            delete without[name];
            const variants: [string, TrainReuseInputs][] = [
                ["manifest", { ...base, manifestSha256: hex(r) }],
                ["image", { ...base, image: base.image.replace(/.$/, (c) => (c === "0" ? "1" : "0")) }],
                ["hyperparameter value", { ...base, hyperparameters: { ...base.hyperparameters, [name]: `${value}0` } }],
                ["hyperparameter added", { ...base, hyperparameters: { ...base.hyperparameters, extra_hp: "1" } }],
                ["hyperparameter removed", { ...base, hyperparameters: without }],
                ["hyperparameter renamed", { ...base, hyperparameters: { ...without, [`${name}_`]: value } }],
            ];
            for (const [what, changed] of variants) assert.notEqual(trainReuseKey(changed), key, `seed ${seed}: changing the ${what} must change the key`);
        }
    });

    it("train key: nothing else changes it (hyperparameter order, unnamed fields such as execution or commit)", () => {
        for (let seed = 1; seed <= CASES; seed++) {
            const base = trainInputs(rng(seed));
            const key = trainReuseKey(base);
            assert.equal(trainReuseKey(reversed(base)), key, `seed ${seed}: key order`);
            const noisy = { ...base, executionId: `exec-${seed}`, commitId: hex(rng(seed + 1), 40), jobName: "j" };
            assert.equal(trainReuseKey(noisy as TrainReuseInputs), key, `seed ${seed}: fields the key does not name`);
        }
    });

    it("the two stages never share a key, even for look-alike inputs", () => {
        const h = "a".repeat(64);
        assert.notEqual(etlReuseKey({ datasetVersion: h, etlCodeSha256: h, schema: h, settings: { maxQuarantineShare: 0, minRows: 0, trainShards: 1 } }).slice(4),
            trainReuseKey({ manifestSha256: h, image: h, hyperparameters: {} }).slice(6));
    });

    it("is SHA-256 of the canonical JSON of exactly the named inputs (recomputed here independently)", () => {
        const inputs: TrainReuseInputs = { manifestSha256: "m", image: "i", hyperparameters: { b: "2", a: "1" } };
        const text = '{"hyperparameters":{"a":"1","b":"2"},"image":"i","manifestSha256":"m","scheme":1,"stage":"train"}';
        assert.equal(canonicalJson({ ...inputs, scheme: 1, stage: "train" }), text);
        assert.equal(trainReuseKey(inputs), `train-${createHash("sha256").update(text).digest("hex")}`);
    });

    it("refuses missing or malformed inputs with a message naming the field", () => {
        const ok = etlInputs(rng(7));
        assert.throws(() => etlReuseKey({ ...ok, datasetVersion: "" }), (e) => e instanceof ReuseKeyError && /datasetVersion is missing or empty/.test(e.message));
        assert.throws(() => etlReuseKey({ ...ok, settings: { ...ok.settings, minRows: Number.NaN } }), /settings.minRows must be a number/);
        assert.throws(() => trainReuseKey({ manifestSha256: "m", image: " ", hyperparameters: {} }), /image is missing or empty/);
        assert.throws(() => trainReuseKey({ manifestSha256: "m", image: "i", hyperparameters: { eta: 0.1 as unknown as string } }), /hyperparameter eta must be a string/);
    });

    it("the per-execution switch: true/false in any case, empty = on, anything else is named", () => {
        assert.equal(parseReuseSwitch(undefined, "reuse"), true);
        assert.equal(parseReuseSwitch("", "reuse"), true);
        assert.equal(parseReuseSwitch(" FALSE ", "reuse"), false);
        assert.equal(parseReuseSwitch("True", "reuse"), true);
        assert.throws(() => parseReuseSwitch("no", "pipeline variable reuse"), /pipeline variable reuse is "no": expected "true"/);
    });
});
