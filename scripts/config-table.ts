/**
 * The README's table of every `mlops:*` key with its platform, dev, prod and review-template (pr) values (defaults included), generated from
 * the config schema and the stack files so it cannot go stale: a test compares it with the README.
 *   npx ts-node --transpile-only scripts/config-table.ts          print the table
 *   npx ts-node --transpile-only scripts/config-table.ts --write  update README.md between the markers
 */
import * as fs from "fs";
import * as path from "path";
import { HOST_ONLY_KEYS, PROJECT } from "../infra/config";
import { loadStackFile } from "../infra/stack-files";

export const README = path.resolve(__dirname, "..", "README.md");
export const START = "<!-- config-table:start -->";
export const END = "<!-- config-table:end -->";
const DERIVED = new Set(["project", "stack", "region", "isHost", "tags", "nameSegment"]);


/** Leaf paths of a config object; lists and records of scalars stay one cell. */
function leaves(value: unknown, prefix: string, out: Map<string, string>): void {
    // An empty record (e.g. consumerAccounts' default) stays one cell, so its key is listed too.
    if (value !== null && typeof value === "object" && !Array.isArray(value) && !prefix.endsWith("hyperparameters") &&
        Object.keys(value).length > 0) {
        for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
        return;
    }
    out.set(prefix, value === undefined ? "—" : `\`${JSON.stringify(value)}\``);
}

export function configTable(stacks: string[] = ["platform", "dev", "prod", "pr"]): string {
    const columns = stacks.map((s) => {
        const map = new Map<string, string>();
        const config = loadStackFile(s);
        // An environment refuses the keys only the host reads: its column shows none rather than unused defaults.
        const ignored = (k: string) => DERIVED.has(k) || (!config.isHost && (HOST_ONLY_KEYS as readonly string[]).includes(k));
        for (const [k, v] of Object.entries(config)) if (!ignored(k)) leaves(v, k, map);
        return map;
    });
    const keys = [...new Set(columns.flatMap((c) => [...c.keys()]))].sort();
    const header = `| key | ${stacks.join(" | ")} |\n|---|${stacks.map(() => "---").join("|")}|`;
    const rows = keys.map((k) => `| \`${PROJECT}:${k}\` | ${columns.map((c) => (c.get(k) ?? "—").replace(/\|/g, "\\|")).join(" | ")} |`);
    return [header, ...rows].join("\n");
}

export function readmeWithTable(readme: string, table: string): string {
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${START} … ${END}`);
    return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}

if (require.main === module) {
    const table = configTable();
    if (process.argv.includes("--write")) {
        fs.writeFileSync(README, readmeWithTable(fs.readFileSync(README, "utf8"), table));
        console.log(`updated ${README}`);
    } else {
        console.log(table);
    }
}
