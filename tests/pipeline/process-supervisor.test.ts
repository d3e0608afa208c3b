import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort, ProcessSupervisor, waitForHealthy } from "../../pipeline/lib/process-supervisor";

/** Running, not merely an unreaped zombie (orphans may never be reaped in a container without an init). */
const alive = (pid: number) => {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
        return false;
    }
};

/** A parent that starts a sleeping grandchild and prints its pid: stopping must end both. */
const PARENT_WITH_CHILD = `
import subprocess, sys, time, http.server, threading
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
port = int(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
threading.Thread(target=http.server.HTTPServer(("127.0.0.1", port), H).serve_forever, daemon=True).start()
time.sleep(600)
`;

describe("local pipeline process supervisor", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "sup-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("waits for health, then stops the process and its children", async () => {
        const supervisor = new ProcessSupervisor();
        const port = await freePort();
        const log = path.join(dir, "server.log");
        const proc = supervisor.start("fake-serve", "python3", ["-c", PARENT_WITH_CHILD, String(port)], { logFile: log });
        try {
            await waitForHealthy(`http://127.0.0.1:${port}/ping`, proc, 10_000);
            const grandchild = Number(fs.readFileSync(log, "utf8").trim().split("\n")[0]);
            assert.ok(alive(grandchild));
            assert.equal(supervisor.active.length, 1);
            await proc.stop();
            await new Promise((r) => setTimeout(r, 200));
            assert.equal(alive(proc.child.pid!), false);
            assert.equal(alive(grandchild), false, "the server's own children must stop too");
            assert.equal(supervisor.active.length, 0);
        } finally {
            await supervisor.dispose();
        }
    });

    it("fails fast when the process dies before it is healthy", async () => {
        const supervisor = new ProcessSupervisor();
        const proc = supervisor.start("crasher", "python3", ["-c", "import sys; sys.exit(3)"], { logFile: path.join(dir, "x.log") });
        try {
            await assert.rejects(waitForHealthy("http://127.0.0.1:1/ping", proc, 10_000), /crasher exited \(3\) before/);
        } finally {
            await supervisor.dispose();
        }
    });

    it("stops every process when the pipeline is interrupted (Ctrl-C)", async () => {
        const port = await freePort();
        const script = `
            const { ProcessSupervisor } = require(${JSON.stringify(path.resolve(__dirname, "../../pipeline/lib/process-supervisor"))});
            const s = new ProcessSupervisor();
            const p = s.start("server", "python3", ["-c", ${JSON.stringify(PARENT_WITH_CHILD)}, "${port}"], { logFile: ${JSON.stringify(path.join(dir, "int.log"))} });
            console.log(p.child.pid);
            setInterval(() => {}, 1000);`;
        const runner = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
        const serverPid = await new Promise<number>((resolve) => runner.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
        const deadline = Date.now() + 10_000;
        while (!fs.existsSync(path.join(dir, "int.log")) || fs.readFileSync(path.join(dir, "int.log"), "utf8").trim() === "") {
            if (Date.now() > deadline) throw new Error("server did not start");
            await new Promise((r) => setTimeout(r, 50));
        }
        const grandchild = Number(fs.readFileSync(path.join(dir, "int.log"), "utf8").trim().split("\n")[0]);
        runner.kill("SIGINT");
        const code = await new Promise<number | null>((resolve) => runner.once("exit", resolve));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(code, 130);
        assert.equal(alive(serverPid), false);
        assert.equal(alive(grandchild), false);
    });
});
