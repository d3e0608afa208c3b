/**
 * scripts/build-image.sh — the one script the pipeline's image build runs — with `docker` and `aws` replaced
 * by recorders on PATH: the exact build, login and push commands, the skip when the content tag exists, the
 * scan gate on both paths, and the refusals.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { contentTag, imageFiles } from "../../infra/lib/image-context";
import { REPO_ROOT } from "../harness/pulumi-harness";

const SCRIPT = path.join(REPO_ROOT, "scripts", "build-image.sh");
const REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const REPOSITORY_URI = `${REGISTRY}/mlops-dev-model`;
const DIGEST = `sha256:${"4f".repeat(32)}`;

/**
 * Recorders: every call appends `<program> <args, shell-quoted>` to calls.log in one write (the two ends of a pipe
 * run at once, and a line written in pieces would interleave with the other's). `docker build` also records
 * DOCKER_BUILDKIT and the build context's files; `docker login` records what it read on stdin; `docker push`
 * makes the fake registry list the image. `aws` answers as ECR would, from the state folder.
 */
const DOCKER = `#!/bin/bash
line="docker$(printf ' %q' "$@")"; echo "$line" >> "$FAKE/calls.log"
case "$1" in
  build) echo "DOCKER_BUILDKIT=$DOCKER_BUILDKIT" > "$FAKE/buildkit"
         context="\${@: -1}"; (cd "$context" && find . -type f | sed 's|^\\./||' | sort) > "$FAKE/context.txt"
         echo "$context" > "$FAKE/context-dir" ;;
  login) cat > "$FAKE/login-stdin" ;;
  push)  [ -n "$FAKE_PUSH_NOT_LISTED" ] || touch "$FAKE/state-exists" ;;
esac
exit 0
`;
const AWS = `#!/bin/bash
line="aws$(printf ' %q' "$@")"; echo "$line" >> "$FAKE/calls.log"
case "$2" in
  describe-images)
    if [ -n "$FAKE_DESCRIBE_ERROR" ]; then echo "$FAKE_DESCRIBE_ERROR" >&2; exit 254; fi
    if [ -e "$FAKE/state-exists" ]; then echo "$FAKE_DIGEST"; exit 0; fi
    echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageTag:'x'} does not exist" >&2
    exit 254 ;;
  get-login-password) echo "fake-ecr-password" ;;
  wait) exit "\${FAKE_WAIT_EXIT:-0}" ;;
  describe-image-scan-findings) echo "\${FAKE_FINDINGS:-null}" ;;
  *) echo "fake aws: unexpected $*" >&2; exit 2 ;;
esac
`;

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly calls: string[];
    readonly output?: string;
    readonly fake: string;
}

let fake: string;
let bin: string;
beforeEach(() => {
    fake = fs.mkdtempSync(path.join(os.tmpdir(), "build-image-"));
    bin = path.join(fake, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "docker"), DOCKER, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "aws"), AWS, { mode: 0o755 });
});
afterEach(() => fs.rmSync(fake, { recursive: true, force: true }));

function runScript(env: Record<string, string | undefined> = {}, options: { imageExists?: boolean } = {}): Run {
    if (options.imageExists) fs.writeFileSync(path.join(fake, "state-exists"), "");
    const output = path.join(fake, "out", "image.env");
    const result = spawnSync("/bin/bash", [SCRIPT], {
        cwd: os.tmpdir(),
        encoding: "utf8",
        env: {
            // The recorders first: the real docker client on this machine must never be reached.
            PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
            HOME: fake,
            FAKE: fake,
            FAKE_DIGEST: DIGEST,
            IMAGE_OUTPUT: output,
            AWS_REGION: "us-east-1",
            IMAGE_REPOSITORY_URI: REPOSITORY_URI,
            ...env,
        },
    });
    const log = path.join(fake, "calls.log");
    return {
        status: result.status,
        stdout: result.stdout,
        stderr: result.stderr,
        calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [],
        output: fs.existsSync(output) ? fs.readFileSync(output, "utf8") : undefined,
        fake,
    };
}

/** The recorded calls with the two ends of the login pipe put in the order the script writes them. */
function loginPairInOrder(calls: string[]): string[] {
    const i = calls.findIndex((c) => c.startsWith("docker login") || c.startsWith("aws ecr get-login-password"));
    if (i < 0 || i + 1 >= calls.length) return calls;
    const pair = calls.slice(i, i + 2).sort();
    return [...calls.slice(0, i), ...pair, ...calls.slice(i + 2)];
}

const TAG = contentTag(REPO_ROOT);
const lookup = `aws ecr describe-images --repository-name mlops-dev-model --image-ids imageTag=${TAG} --query imageDetails\\[0\\].imageDigest --output text`;
const scanWait = `aws ecr wait image-scan-complete --repository-name mlops-dev-model --image-id imageDigest=${DIGEST}`;
const findings = `aws ecr describe-image-scan-findings --repository-name mlops-dev-model --image-id imageDigest=${DIGEST} --query imageScanFindings.findingSeverityCounts --output json`;
const expectedOutput = `IMAGE_TAG=${TAG}\nIMAGE_URI=${REGISTRY}/mlops-dev-model@${DIGEST}\n`;

describe("scripts/build-image.sh", () => {
    it("builds the staged context with BuildKit for linux/amd64, logs in through stdin, pushes, and exports the URI by digest", () => {
        const run = runScript();
        assert.equal(run.status, 0, run.stderr);
        const context = fs.readFileSync(path.join(fake, "context-dir"), "utf8").trim();
        // `aws ecr get-login-password | docker login` starts both ends of the pipe at once: either may write its
        // line first, so that pair is compared as a set; every other call keeps its order.
        assert.deepEqual(loginPairInOrder(run.calls), [
            lookup,
            `docker build --platform linux/amd64 --file ${context}/model-container/Dockerfile --tag ${REPOSITORY_URI}:${TAG} ${context}`,
            "aws ecr get-login-password --region us-east-1",
            `docker login --username AWS --password-stdin ${REGISTRY}`,
            `docker push ${REPOSITORY_URI}:${TAG}`,
            lookup,
            scanWait,
            findings,
        ]);
        assert.equal(fs.readFileSync(path.join(fake, "buildkit"), "utf8").trim(), "DOCKER_BUILDKIT=1");
        assert.equal(fs.readFileSync(path.join(fake, "login-stdin"), "utf8").trim(), "fake-ecr-password", "the password never is an argument");
        assert.ok(run.calls.every((c) => !c.includes("fake-ecr-password")));
        // The context is exactly the files the tag covers, and it is removed afterwards.
        assert.deepEqual(fs.readFileSync(path.join(fake, "context.txt"), "utf8").trim().split("\n"), imageFiles(REPO_ROOT));
        assert.ok(!fs.existsSync(context), "the staged context is cleaned up");
        assert.equal(run.output, expectedOutput);
        assert.match(run.stdout, new RegExp(`content tag ${TAG}`));
    });

    it("skips the build when the repository already has the content tag, and still applies the scan gate", () => {
        const run = runScript({}, { imageExists: true });
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(run.calls, [lookup, scanWait, findings], "no docker command at all");
        assert.equal(run.output, expectedOutput, "the same URI as the build that pushed it");
        assert.match(run.stdout, /exists \(sha256:[0-9a-f]{64}\); skipping the build/);
    });

    it("fails the stage on findings at the configured severity or above, on both paths, and exports nothing", () => {
        const high = runScript({ FAIL_ON_SEVERITY: "HIGH", FAKE_FINDINGS: '{"HIGH": 2, "LOW": 5}' });
        assert.equal(high.status, 1);
        assert.match(high.stderr, /has findings at HIGH or above: HIGH=2$/m);
        assert.equal(high.output, undefined);
        fs.rmSync(path.join(fake, "calls.log"));

        const reused = runScript({ FAKE_FINDINGS: '{"CRITICAL": 1}' });
        assert.equal(reused.status, 1, "an image that failed the gate does not pass later because its tag exists");
        assert.deepEqual(reused.calls, [lookup, scanWait, findings]);
        assert.match(reused.stderr, /findings at CRITICAL or above: CRITICAL=1/);
    });

    it("passes findings below the threshold, and any with NONE", () => {
        assert.equal(runScript({ FAKE_FINDINGS: '{"HIGH": 3, "MEDIUM": 1}' }, { imageExists: true }).status, 0, "default CRITICAL");
        assert.equal(runScript({ FAIL_ON_SEVERITY: "NONE", FAKE_FINDINGS: '{"CRITICAL": 9}' }, { imageExists: true }).status, 0);
        assert.equal(runScript({ FAIL_ON_SEVERITY: "LOW", FAKE_FINDINGS: '{"INFORMATIONAL": 4}' }, { imageExists: true }).status, 0);
        assert.equal(runScript({ FAIL_ON_SEVERITY: "INFORMATIONAL", FAKE_FINDINGS: '{"INFORMATIONAL": 4}' }, { imageExists: true }).status, 1);
    });

    it("fails when the scan does not complete", () => {
        const run = runScript({ FAKE_WAIT_EXIT: "255" }, { imageExists: true });
        assert.notEqual(run.status, 0);
        assert.equal(run.output, undefined);
        assert.ok(!run.calls.some((c) => c.includes("describe-image-scan-findings")));
    });

    it("stops without building when the lookup fails for another reason than a missing tag", () => {
        const run = runScript({ FAKE_DESCRIBE_ERROR: "An error occurred (AccessDeniedException) when calling the DescribeImages operation: denied" });
        assert.equal(run.status, 1);
        assert.deepEqual(run.calls, [lookup]);
        assert.match(run.stderr, /AccessDeniedException[\s\S]*could not look up mlops-dev-model:src-/);
    });

    it("fails when a pushed image is not listed afterwards", () => {
        const run = runScript({ FAKE_PUSH_NOT_LISTED: "1" });
        assert.equal(run.status, 1);
        assert.match(run.stderr, /pushed .* but the repository does not list it/);
        assert.equal(run.output, undefined);
    });

    it("builds with another base image only when it is pinned by digest, and that base enters the tag", () => {
        const base = `python:3.11-slim-bookworm@sha256:${"ab".repeat(32)}`;
        const run = runScript({ PYTHON_IMAGE: base });
        assert.equal(run.status, 0, run.stderr);
        const tag = contentTag(REPO_ROOT, undefined, { PYTHON_IMAGE: base });
        assert.notEqual(tag, TAG);
        const build = run.calls.find((c) => c.startsWith("docker build"))!;
        assert.match(build, new RegExp(`--tag ${REPOSITORY_URI.replace(/\./g, "\\.")}:${tag} --build-arg PYTHON_IMAGE=python:3\\.11-slim-bookworm@sha256:(ab){32} `));

        fs.rmSync(path.join(fake, "calls.log"));
        const unpinned = runScript({ PYTHON_IMAGE: "python:3.11-slim-bookworm" });
        assert.equal(unpinned.status, 1);
        assert.match(unpinned.stderr, /PYTHON_IMAGE=python:3\.11-slim-bookworm is not pinned by digest; give <name>:<tag>@sha256:<64 hex digits>/);
        assert.deepEqual(unpinned.calls, []);
    });

    it("without a repository builds locally only, as a developer reproduces the image (no AWS call)", () => {
        const run = runScript({ IMAGE_REPOSITORY_URI: undefined });
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.calls.length, 1);
        assert.match(run.calls[0], new RegExp(`^docker build --platform linux/amd64 --file \\S+/model-container/Dockerfile --tag churn-model:${TAG} \\S+$`));
        assert.equal(run.output, undefined);
    });

    for (const [what, env, message] of [
        ["an unknown severity", { FAIL_ON_SEVERITY: "SEVERE" }, /FAIL_ON_SEVERITY=SEVERE is not one of CRITICAL HIGH MEDIUM LOW INFORMATIONAL UNDEFINED NONE/],
        ["a repository that is not ECR", { IMAGE_REPOSITORY_URI: "docker.io/example/model" }, /IMAGE_REPOSITORY_URI=docker\.io\/example\/model is not an ECR repository URI/],
        ["a missing region", { AWS_REGION: undefined }, /AWS_REGION is not set/],
    ] as const) {
        it(`refuses ${what} before calling docker or AWS`, () => {
            const run = runScript(env);
            assert.equal(run.status, 1);
            assert.match(run.stderr, message);
            assert.deepEqual(run.calls, []);
        });
    }
});
