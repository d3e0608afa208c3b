/**
 * Who may import whom. The stacks (infra/) and the pipeline steps (steps/) meet only in contracts/; a Lambda
 * bundles only its own folder, lambdas/shared and contracts/ (plus packages); contracts/ depends on no part.
 * Imports are read with the TypeScript compiler API, so every form counts (import, export-from, require,
 * dynamic import, `import("x")` types).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR } from "../../contracts/project";
import { moduleReferences, ModuleReference, parse, PARTS, tsFiles } from "./source-files";

/** The repository-relative target of a relative specifier; undefined for a package or a Node built-in. */
function target(file: string, specifier: string): string | undefined {
    if (!specifier.startsWith(".")) return undefined;
    return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
}

const within = (target: string, dir: string) => target === dir || target.startsWith(`${dir}/`);

/** One line per import of `file` that crosses a boundary it may not cross. */
export function boundaryViolations(file: string, refs: readonly ModuleReference[]): string[] {
    const part = file.split("/")[0];
    const problems: string[] = [];
    for (const ref of refs) {
        const to = target(file, ref.specifier);
        if (to === undefined) continue;
        const where = `${file}:${ref.line} imports ${ref.specifier} (${to})`;
        if (part === "infra" && within(to, "steps")) problems.push(`${where}: infra/ may not import steps/; move the shared name to contracts/`);
        if (part === "steps" && within(to, "infra")) problems.push(`${where}: steps/ may not import infra/; move the shared name to contracts/`);
        if (part === "lambdas") {
            const own = file.split("/").slice(0, 2).join("/");
            if (![own, "lambdas/shared", "contracts"].some((dir) => within(to, dir))) {
                problems.push(`${where}: a Lambda may import only its own folder, lambdas/shared and contracts/`);
            }
        }
        if (part === "contracts" && !within(to, "contracts")) problems.push(`${where}: contracts/ may not depend on any part`);
    }
    return problems;
}

function violationsOf(file: string, text: string): string[] {
    return boundaryViolations(file, moduleReferences(parse(file, text)));
}

describe("import boundaries", () => {
    it("hold across the tree: infra and steps never import each other, Lambdas and contracts stay in their lanes", () => {
        const files = PARTS.flatMap((part) => tsFiles(part));
        assert.ok(files.some((f) => f.startsWith("contracts/")) && files.some((f) => f.startsWith("lambdas/shared/")), "the walk found no sources");
        const problems = files.flatMap((file) => violationsOf(file, fs.readFileSync(path.join(PROJECT_DIR, file), "utf8")));
        assert.deepEqual(problems, []);
    });

    it("sees every form of import", () => {
        const text = [
            "import { a } from \"../steps/lib/x\";",
            "import type { B } from \"../steps/lib/y\";",
            "export { c } from \"../steps/lib/z\";",
            "import d = require(\"../steps/lib/w\");",
            "const e = require(\"../steps/lib/v\");",
            "const f = import(\"../steps/lib/u\");",
            "let g: import(\"../steps/lib/t\").T;",
            "import * as h from \"@pulumi/pulumi\";",
            "import { i } from \"../contracts/registry\";",
        ].join("\n");
        const problems = violationsOf("infra/component.ts", text);
        assert.deepEqual(problems.map((p) => Number(/:(\d+) imports/.exec(p)?.[1])), [1, 2, 3, 4, 5, 6, 7]);
    });

    it("names the file, the line and the rule", () => {
        assert.deepEqual(violationsOf("steps/deploy/x.ts", "\nimport { pinTagKey } from \"../../infra/model-version\";"), [
            "steps/deploy/x.ts:2 imports ../../infra/model-version (infra/model-version): steps/ may not import infra/; move the shared name to contracts/",
        ]);
        assert.match(violationsOf("lambdas/etl-trigger/reuse.ts", "import { k } from \"../../steps/lib/reuse-key\";")[0], /a Lambda may import only its own folder/);
        assert.match(violationsOf("lambdas/etl-trigger/x.ts", "import { k } from \"../retrain-trigger/config\";")[0], /a Lambda may import only/);
        assert.match(violationsOf("contracts/x.ts", "import { Namer } from \"../infra/naming\";")[0], /contracts\/ may not depend on any part/);
        assert.deepEqual(violationsOf("lambdas/etl-trigger/x.ts", [
            "import { a } from \"./config\";", "import { b } from \"../shared/log\";", "import { c } from \"../../contracts/delivery\";", "import { z } from \"zod\";",
        ].join("\n")), []);
        // A name that merely starts like a forbidden folder is not in it.
        assert.deepEqual(violationsOf("infra/x.ts", "import { a } from \"../steps-notes/a\";"), []);
    });
});
