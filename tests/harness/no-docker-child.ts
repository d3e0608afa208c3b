/**
 * Child process of tests/infra/no-docker.test.ts: records every process this process starts and every socket it
 * opens, then evaluates both stacks and writes what it saw to the file given as the first argument. With
 * `control` as the second argument it only runs `docker version`, to prove the recording works.
 */
// `import x = require()` gives the module objects themselves: a namespace import is a getter-only copy that
// cannot be patched.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import childProcess = require("child_process");
import * as fs from "fs";
// eslint-disable-next-line @typescript-eslint/no-require-imports
import net = require("net");

const spawned: string[] = [];
const connected: string[] = [];

// Patched before the program is loaded, so modules that keep references to these functions get the recorders.
const processFunctions = ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const;
for (const fn of processFunctions) {
    /* eslint-disable @typescript-eslint/no-explicit-any */
    const original = (childProcess as any)[fn];
    (childProcess as any)[fn] = function (this: unknown, ...args: unknown[]) {
        spawned.push(`${fn} ${JSON.stringify(args.slice(0, 2))}`);
        return original.apply(this, args);
    };
}
const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: any[]) {
    connected.push(JSON.stringify(args[0]));
    return (originalConnect as any).apply(this, args);
} as any;
/* eslint-enable @typescript-eslint/no-explicit-any */

async function main(): Promise<void> {
    const [outFile, mode] = process.argv.slice(2);
    const stacks: Record<string, { resources: number; types: string[]; error?: string }> = {};
    if (mode === "control") {
        try {
            childProcess.execFileSync("docker", ["version"], { stdio: "ignore" });
        } catch {
            // The recorder exits non-zero, as a missing daemon would.
        }
    } else {
        const { evaluateStack } = await import("./pulumi-harness");
        for (const stack of ["platform", "dev", "prod"]) {
            const { graph, error } = await evaluateStack(stack);
            stacks[stack] = { resources: graph.resources.length, types: [...new Set(graph.resources.map((r) => r.type))].sort(), error: error?.message };
        }
    }
    fs.writeFileSync(outFile, JSON.stringify({ stacks, spawned, connected }));
}

main().catch((err) => {
    process.stderr.write(`no-docker-child: ${(err as Error).stack}\n`);
    process.exit(1);
});
