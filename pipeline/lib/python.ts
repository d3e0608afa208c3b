/** Runs the project's Python programs (ETL, data generator, drift checker) in the project's .venv. */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const VENV_PYTHON = path.join(REPO_ROOT, ".venv", "bin", "python");
/** Import roots of the Python packages (same as pytest.ini's pythonpath). */
const PYTHONPATH = ["etl", "data", "model-container", "monitor"].map((d) => path.join(REPO_ROOT, d)).join(path.delimiter);

export interface PythonResult {
    readonly code: number;
    /** Everything the program printed (also appended to the log file). */
    readonly output: string;
}

/** Runs `script` (repo-relative) with `args`; output goes to `logFile` and is returned. Never throws on exit codes. */
export function runPython(script: string, args: readonly string[], logFile: string): Promise<PythonResult> {
    if (!fs.existsSync(VENV_PYTHON)) {
        return Promise.reject(new Error(`${VENV_PYTHON} is missing: run scripts/setup-python.sh (npm run pipeline:local does)`));
    }
    return new Promise((resolve, reject) => {
        const child = spawn(VENV_PYTHON, [path.join(REPO_ROOT, script), ...args], {
            cwd: REPO_ROOT,
            env: { ...process.env, PYTHONPATH, PYTHONUNBUFFERED: "1" },
            stdio: ["ignore", "pipe", "pipe"],
        });
        const log = fs.createWriteStream(logFile, { flags: "a" });
        log.write(`$ python ${script} ${args.join(" ")}\n`);
        let output = "";
        const collect = (chunk: Buffer) => {
            output += chunk.toString();
            log.write(chunk);
        };
        child.stdout.on("data", collect);
        child.stderr.on("data", collect);
        child.once("error", reject);
        child.once("close", (code) => log.end(() => resolve({ code: code ?? 1, output })));
    });
}

/** The last line of `output` that starts with `prefix` (Python programs print one summary line each). */
export function summaryLine(output: string, prefix: string): string | undefined {
    return output.split("\n").filter((l) => l.startsWith(prefix)).pop()?.trim();
}
