import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { configTable, README, readmeWithTable } from "../../scripts/config-table";
import { REPO_ROOT } from "../harness/pulumi-harness";

describe("README", () => {
    const readme = fs.readFileSync(README, "utf8");

    it("lists every config key with its current dev and prod values", () => {
        assert.equal(readmeWithTable(readme, configTable()), readme,
            "README's config table is stale: run npx ts-node --transpile-only scripts/config-table.ts --write");
    });

    it("has a two-command quick start, and CI runs its test command", () => {
        const quickStart = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("## Architecture"));
        const commands = quickStart.split("\n").filter((l) => /^npm /.test(l)).map((l) => l.split("#")[0].trim());
        assert.deepEqual(commands, ["npm run pipeline:local", "npm test"]);
        const ci = fs.readFileSync(path.join(REPO_ROOT, ".ci", "run"), "utf8");
        assert.match(ci, /^npm test$/m);
    });

    it("links only to files that exist", () => {
        const links = [...readme.matchAll(/\]\(((?!https?:)[^)#]+)\)/g)].map((m) => m[1]);
        assert.ok(links.length > 5);
        const missing = links.filter((l) => !fs.existsSync(path.join(REPO_ROOT, l)));
        assert.deepEqual(missing, []);
    });
});
