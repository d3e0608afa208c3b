/**
 * How long evaluating each stack under mocks takes, and its peak memory. Each stack runs in its own child
 * process (cold start included, as in a test run) so the figures do not mix. Run: npm run bench:stacks
 *   --runs N   evaluations per stack (default 3)
 */
import { execFileSync } from "child_process";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { definedStacks } from "../tests/harness/pulumi-harness";

interface Sample { loadMs: number; evalMs: number; resources: number; maxRssMb: number }

const CHILD = `
const t0 = Date.now();
const { evaluateStack } = require("./tests/harness/pulumi-harness");
const t1 = Date.now();
evaluateStack(process.argv[1]).then((r) => {
  if (r.error) { console.error(r.error); process.exit(1); }
  process.stdout.write("\\n@@result " + JSON.stringify({ loadMs: t1 - t0, evalMs: Date.now() - t1, resources: r.graph.resources.length,
    maxRssMb: process.resourceUsage().maxRSS / 1024 }));
});`;

function sample(stack: string): Sample {
    const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", CHILD, stack], {
        cwd: path.resolve(__dirname, ".."),
        encoding: "utf8",
    });
    // The program may log to stdout (pulumi.log under mocks); the result is the marked line.
    const line = out.split("\n").find((l) => l.startsWith("@@result "));
    if (!line) throw new Error(`no result from the ${stack} evaluation:\n${out}`);
    return JSON.parse(line.slice("@@result ".length)) as Sample;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main() {
    const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
    const runs = Number(values.runs);
    const rows = definedStacks().map((stack) => {
        const samples = Array.from({ length: runs }, () => sample(stack));
        return {
            stack,
            resources: samples[0].resources,
            "load (ms, median)": median(samples.map((s) => s.loadMs)),
            "evaluate (ms, median)": median(samples.map((s) => s.evalMs)),
            "total (ms, median)": median(samples.map((s) => s.loadMs + s.evalMs)),
            "peak RSS (MB, max)": Math.round(Math.max(...samples.map((s) => s.maxRssMb))),
        };
    });
    console.table(rows);
    console.log(`goal: under 5000 ms per stack; ${runs} cold runs each on ${os.cpus().length} cores`);
}

main();
