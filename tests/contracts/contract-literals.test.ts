/**
 * Every name that crosses a boundary is written once, in contracts/. The contract values are read from the
 * contracts modules' exports (string constants, and the strings inside exported plain objects and arrays), so a new
 * contract is covered as soon as it is exported; the test then fails when one of those values is written as a
 * string literal anywhere in infra/, steps/, lambdas/, pipeline/ or scripts/ instead of being imported.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { PROJECT_DIR } from "../../contracts/project";
import { parse, tsFiles } from "./source-files";

/** The folders whose sources must import contract values instead of spelling them. */
const SCANNED = ["infra", "steps", "lambdas", "pipeline", "scripts"];

const APPROVAL = "SageMaker's ModelApprovalStatus values: a literal is checked by the compiler against ApprovalStatus";
/**
 * Contract values that may still be spelled, each with why: the same word meaning something else. Keyed by value;
 * `files` (path prefixes) limits where, everywhere when absent.
 */
const ALLOWED: Readonly<Record<string, { readonly reason: string; readonly files?: readonly string[] }>> = {
    PendingManualApproval: { reason: APPROVAL },
    Approved: { reason: APPROVAL },
    Rejected: { reason: APPROVAL },
    data: {
        reason: "the repository's data/ folder, SageMaker's /opt/ml/input/data channel folder, and the local pipeline's " +
            "stage label `data` (its own summary, not a CodePipeline artifact)",
        files: ["steps/lib/local/training.ts", "pipeline/", "scripts/lead-time.ts"],
    },
    drift: { reason: "the local pipeline's scenario and summary row `drift` (no CodePipeline trigger there)", files: ["pipeline/"] },
    reuse: {
        reason: "the steps' CLI option --reuse, a lambda config field's name, and the local pipeline's and lead-time " +
            "script's labels and log file names",
        files: ["steps/train/main.ts", "lambdas/etl-trigger/reuse.ts", "pipeline/", "scripts/lead-time.ts"],
    },
    reused: { reason: "words of the local pipeline's and the lead-time script's printed summaries", files: ["pipeline/", "scripts/lead-time.ts"] },
    inputUri: {
        reason: "the ETL trigger's own UserParameters field named in its error messages (its zod schema is the definition)",
        files: ["lambdas/etl-trigger/parameters.ts"],
    },
};

/**
 * Literals that are another vocabulary by their position: Node event names (`stream.on("data")`) and CodePipeline
 * action categories (`category: "Source"`, a fixed AWS value that happens to equal the stage name).
 */
function otherVocabulary(node: ts.StringLiteralLike): boolean {
    const parent = node.parent;
    if (ts.isCallExpression(parent) && parent.arguments[0] === node && ts.isPropertyAccessExpression(parent.expression) &&
        ["on", "once", "off", "addListener", "removeListener"].includes(parent.expression.name.text)) return true;
    return ts.isPropertyAssignment(parent) && parent.initializer === node && ts.isIdentifier(parent.name) && parent.name.text === "category";
}

export interface ContractValue {
    readonly value: string;
    /** `<module>.<export>[.<key>…]`, for the failure message. */
    readonly name: string;
}

/** String values of an export: itself, or what plain objects and arrays hold (classes, schemas and functions are not walked). */
export function contractStrings(name: string, value: unknown): ContractValue[] {
    if (typeof value === "string") return [{ value, name }];
    if (Array.isArray(value)) return value.flatMap((v, i) => contractStrings(`${name}[${i}]`, v));
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        return Object.entries(value).flatMap(([k, v]) => contractStrings(`${name}.${k}`, v));
    }
    return [];
}

function contractValues(): ContractValue[] {
    return tsFiles("contracts").flatMap((file) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const exports = require(path.join(PROJECT_DIR, file)) as Record<string, unknown>;
        const module = file.replace(/^contracts\//, "").replace(/\.ts$/, "");
        return Object.entries(exports).flatMap(([name, value]) => contractStrings(`${module}.${name}`, value));
    });
}

export interface LiteralHit {
    readonly file: string;
    readonly line: number;
    readonly value: string;
}

/** String literals of a source equal to one of `values`, except module specifiers and {@link otherVocabulary}. */
export function literalHits(file: string, text: string, values: ReadonlySet<string>): LiteralHit[] {
    const source = parse(file, text);
    const hits: LiteralHit[] = [];
    const visit = (node: ts.Node) => {
        if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return;
        if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && values.has(node.text) && !otherVocabulary(node)) {
            hits.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, value: node.text });
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return hits;
}

function allowed(hit: LiteralHit): boolean {
    const rule = ALLOWED[hit.value];
    return rule !== undefined && (rule.files === undefined || rule.files.some((prefix) => hit.file.startsWith(prefix)));
}

describe("contract literals", () => {
    const contracts = contractValues();

    it("reads the contracts from the module's exports", () => {
        const byValue = new Map(contracts.map((c) => [c.value, c.name]));
        // Spot checks that the walk reaches constants, objects and arrays of several modules.
        assert.equal(byValue.get("primary"), "serving.SERVING_VARIANT");
        assert.equal(byValue.get("ManifestUri"), "registry.REGISTRY_METADATA.manifestUri");
        assert.equal(byValue.get("drift"), "delivery.TRIGGERS[2]");
        assert.ok(contracts.length >= 40, `only ${contracts.length} contract values found`);
    });

    it("every allow-listed value is a contract and has a reason", () => {
        const values = new Set(contracts.map((c) => c.value));
        for (const [value, rule] of Object.entries(ALLOWED)) {
            assert.ok(values.has(value), `ALLOWED lists ${JSON.stringify(value)}, which no contracts module exports`);
            assert.ok(rule.reason.length > 20, `ALLOWED ${JSON.stringify(value)} needs a written reason`);
        }
    });

    it("no contract value is spelled as a string literal outside contracts/", () => {
        const values = new Set(contracts.map((c) => c.value));
        const nameOf = new Map(contracts.map((c) => [c.value, c.name]));
        const hits = SCANNED.flatMap((dir) => tsFiles(dir))
            .flatMap((file) => literalHits(file, fs.readFileSync(path.join(PROJECT_DIR, file), "utf8"), values))
            .filter((hit) => !allowed(hit))
            .map((hit) => `${hit.file}:${hit.line} ${JSON.stringify(hit.value)}: import contracts/${nameOf.get(hit.value)}`);
        assert.deepEqual(hits, []);
    });

    it("finds literals in code, types and keys, not in import paths", () => {
        const text = [
            "import { x } from \"primary\";",
            "const a = \"primary\";",
            "type T = \"primary\" | \"other\";",
            "const o = { \"primary\": 1, b: `primary`, c: `${a}primary` };",
            "s.on(\"primary\", f); const p = { category: \"primary\", name: \"primary\" };",
        ].join("\n");
        assert.deepEqual(literalHits("infra/x.ts", text, new Set(["primary"])).map((h) => h.line), [2, 3, 4, 4, 5]);
        assert.deepEqual(contractStrings("m.X", { a: "1", b: ["2", { c: "3" }], d: /re/, e: () => "4", f: 5 }).map((c) => `${c.name}=${c.value}`),
            ["m.X.a=1", "m.X.b[0]=2", "m.X.b[1].c=3"]);
    });
});
