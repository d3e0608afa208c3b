import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { configTable, README, readmeWithTable } from "../../scripts/config-table";
import { REPO_ROOT } from "../harness/pulumi-harness";
import { REGISTRY_METADATA } from "../../contracts/registry";

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

describe("steps/README.md", () => {
    it("names the registry property keys the code writes, and no others", () => {
        const readme = fs.readFileSync(path.join(REPO_ROOT, "steps", "README.md"), "utf8");
        const start = readme.indexOf("### What a registered version carries");
        assert.ok(start >= 0, "the section describing a registered version exists");
        const section = readme.slice(start, readme.indexOf("\n## ", start));
        const keys: string[] = Object.values(REGISTRY_METADATA);
        for (const key of keys) assert.ok(section.includes(`\`${key}\``), `steps/README.md does not name the property ${key}`);
        const row = section.split("\n").find((l) => l.startsWith("| properties |"));
        assert.ok(row, "the table has a properties row");
        const named = [...row.matchAll(/`([^`]+)`/g)].map((m) => m[1])
            .filter((n) => n !== "CustomerMetadataProperties" && n !== "train.*" && !n.endsWith(".ts"));
        assert.deepEqual(named.filter((n) => !keys.includes(n)), [], "properties the README names that the code does not write");
    });
});
