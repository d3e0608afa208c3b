/**
 * Every stack evaluates in a process where Docker is absent: no docker on PATH (a recorder stands in for it),
 * DOCKER_HOST pointing at nothing. Nothing starts a process or opens a socket, and no image resource exists:
 * `pulumi up` needs no Docker (the pipeline builds the image).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../harness/pulumi-harness";

const CHILD = path.join(REPO_ROOT, "tests", "harness", "no-docker-child.ts");

interface ChildReport {
    stacks: Record<string, { resources: number; types: string[]; error?: string }>;
    spawned: string[];
    connected: string[];
}

describe("stacks without Docker", function () {
    this.timeout(180_000);
    let dir: string;
    let recorderLog: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "no-docker-"));
        fs.mkdirSync(path.join(dir, "bin"));
        recorderLog = path.join(dir, "docker-calls.log");
        fs.writeFileSync(path.join(dir, "bin", "docker"), `#!/bin/sh\necho "$@" >> "${recorderLog}"\nexit 1\n`, { mode: 0o755 });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function runChild(mode: string): ChildReport {
        const out = path.join(dir, `${mode}.json`);
        const nodeDir = path.dirname(process.execPath);
        assert.ok(!fs.existsSync(path.join(nodeDir, "docker")), `${nodeDir} (node's folder) holds a docker binary`);
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", CHILD, out, mode], {
            cwd: REPO_ROOT,
            encoding: "utf8",
            env: {
                PATH: `${path.join(dir, "bin")}:${nodeDir}`,
                HOME: dir,
                DOCKER_HOST: "unix:///nonexistent/docker.sock",
                DOCKER_CONFIG: path.join(dir, "no-docker-config"),
                PULUMI_CONFIG_PASSPHRASE: "",
            },
        });
        assert.equal(result.status, 0, result.stderr);
        return JSON.parse(fs.readFileSync(out, "utf8"));
    }

    it("the recording works: a docker call in the child is seen (control)", () => {
        const report = runChild("control");
        assert.equal(fs.readFileSync(recorderLog, "utf8").trim(), "version");
        assert.equal(report.spawned.length, 1);
        assert.match(report.spawned[0], /^execFileSync \["docker",\["version"\]\]$/);
        fs.rmSync(recorderLog);
    });

    it("evaluates the platform, dev and prod without starting any process, opening any socket or registering an image build", () => {
        const report = runChild("stacks");
        assert.deepEqual(Object.keys(report.stacks), ["platform", "dev", "prod"]);
        for (const [stack, seen] of Object.entries(report.stacks)) {
            assert.equal(seen.error, undefined, `${stack}: ${seen.error}`);
            assert.ok(seen.resources > 50, `${stack} registered only ${seen.resources} resources`);
            assert.deepEqual(seen.types.filter((t) => /docker|awsx:ecr:Image/i.test(t)), [], stack);
        }
        assert.ok(report.stacks.platform.types.includes("mlops:delivery:ImageBuild"), "the host has the pipeline's image build instead");
        assert.deepEqual(report.spawned, [], "no process started (docker or any other)");
        assert.deepEqual(report.connected, [], "no socket opened (DOCKER_HOST or any other)");
        assert.ok(!fs.existsSync(recorderLog), "docker was never called");
    });
});
