/**
 * The model image's content tag and build context (infra/lib/image-context.ts), on a copy of the real
 * repository's image inputs beside files that are not in the image (READMEs, tests, other code).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { contentTag, IMAGE_INPUTS, imageFiles, stageContext, TAG_PATTERN } from "../../infra/lib/image-context";
import { parseCommand, run } from "../../scripts/image-context";
import { REPO_ROOT } from "../harness/pulumi-harness";

/** A checkout-like folder: the image's inputs plus documentation, tests and code that stay out of the image. */
function copyOfRepository(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "image-context-"));
    const extras = ["README.md", "model-container/README.md", "model-container/requirements.txt", "monitor/README.md",
        "monitor/check_drift.py", "tests/infra/image-context.test.ts", "tests/model_container/test_dockerfile.py"];
    for (const rel of [...IMAGE_INPUTS, ...extras]) {
        fs.cpSync(path.join(REPO_ROOT, rel), path.join(root, rel), { recursive: true });
    }
    return root;
}

const write = (root: string, rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
};
const append = (root: string, rel: string, text: string) => fs.appendFileSync(path.join(root, rel), text);

describe("image content tag", () => {
    let root: string;
    let before: string;
    beforeEach(() => {
        root = copyOfRepository();
        before = contentTag(root);
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("is the same for the same content wherever the checkout is (paths are relative), and has the lifecycle prefix", () => {
        assert.match(before, TAG_PATTERN);
        assert.equal(before, contentTag(REPO_ROOT), "a copy in another folder has the repository's tag");
        assert.equal(contentTag(root), before, "stable");
    });

    it("changes when any single file of the image changes, by one byte", () => {
        const files = imageFiles(root);
        assert.ok(files.length >= 20, `only ${files.length} image files`);
        const tags = new Set([before]);
        for (const file of files) {
            const original = fs.readFileSync(path.join(root, file));
            append(root, file, "\n");
            const changed = contentTag(root);
            assert.notEqual(changed, before, file);
            tags.add(changed);
            fs.writeFileSync(path.join(root, file), original);
        }
        assert.equal(tags.size, files.length + 1, "every change gives its own tag");
        assert.equal(contentTag(root), before, "restoring the content restores the tag");
    });

    it("covers the Dockerfile's base image digest, the lock, a new program in bin/ and the drift checker", () => {
        const dockerfile = fs.readFileSync(path.join(root, "model-container/Dockerfile"), "utf8");
        const digest = /@sha256:([0-9a-f]{64})/.exec(dockerfile)![1];
        write(root, "model-container/Dockerfile", dockerfile.replace(digest, "f".repeat(64)));
        const newBase = contentTag(root);
        assert.notEqual(newBase, before, "another base image digest");
        append(root, "model-container/requirements.lock", "# relocked\n");
        assert.notEqual(contentTag(root), newBase, "the lock");
        const beforeMonitor = contentTag(root);
        write(root, "model-container/bin/monitor", "#!/usr/bin/env python3\n");
        assert.notEqual(contentTag(root), beforeMonitor, "a new program");
        assert.ok(imageFiles(root).includes("monitor/drift_checker/checks.py"));
    });

    it("does not change with README.md, tests/, caches or code outside the image", () => {
        append(root, "README.md", "\nMore docs.\n");
        append(root, "model-container/README.md", "\nMore docs.\n");
        append(root, "monitor/README.md", "\nMore docs.\n");
        append(root, "tests/infra/image-context.test.ts", "\n// another test\n");
        write(root, "tests/model_container/test_new.py", "def test_x():\n    pass\n");
        write(root, "model-container/tests/test_inside.py", "");
        write(root, "monitor/drift_checker/tests/test_inside.py", "");
        write(root, "model-container/mlcontainer/__pycache__/serve.cpython-311.pyc", "bytes");
        write(root, "monitor/drift_checker/run.pyc", "bytes");
        write(root, "model-container/mlcontainer/.pytest_cache/v", "");
        write(root, "model-container/mlcontainer/NOTES.md", "notes");
        append(root, "monitor/check_drift.py", "\n# not in the image\n");
        assert.equal(contentTag(root), before);
    });

    it("changes when a file is renamed (the path is part of the content)", () => {
        fs.renameSync(path.join(root, "model-container/mlcontainer/paths.py"), path.join(root, "model-container/mlcontainer/paths2.py"));
        assert.notEqual(contentTag(root), before);
    });

    it("takes build arguments into the tag; none gives the files-only tag", () => {
        assert.equal(contentTag(root, undefined, {}), before);
        const a = contentTag(root, undefined, { PYTHON_IMAGE: `python:3.11-slim@sha256:${"a".repeat(64)}` });
        const b = contentTag(root, undefined, { PYTHON_IMAGE: `python:3.11-slim@sha256:${"b".repeat(64)}` });
        assert.notEqual(a, before);
        assert.notEqual(a, b);
    });

    it("refuses a missing input, naming it and where to fix the list", () => {
        fs.rmSync(path.join(root, "monitor/drift_checker"), { recursive: true });
        assert.throws(() => contentTag(root), /image input monitor\/drift_checker does not exist under .*; fix IMAGE_INPUTS in infra\/lib\/image-context\.ts/);
    });
});

describe("image build context", () => {
    let root: string;
    let stage: string;
    beforeEach(() => {
        root = copyOfRepository();
        stage = fs.mkdtempSync(path.join(os.tmpdir(), "image-stage-"));
    });
    afterEach(() => {
        fs.rmSync(root, { recursive: true, force: true });
        fs.rmSync(stage, { recursive: true, force: true });
    });

    it("holds exactly the files the tag covers, byte for byte, with their modes", () => {
        write(root, "model-container/mlcontainer/__pycache__/x.pyc", "bytes");
        const staged = stageContext(root, stage);
        assert.deepEqual(staged, imageFiles(root));
        const all = (dir: string, rel = ""): string[] => fs.readdirSync(path.join(dir, rel), { withFileTypes: true })
            .flatMap((e) => (e.isDirectory() ? all(dir, path.join(rel, e.name)) : [path.join(rel, e.name).split(path.sep).join("/")]));
        assert.deepEqual(all(stage).sort(), staged, "nothing else in the context");
        for (const file of staged) assert.ok(fs.readFileSync(path.join(stage, file)).equals(fs.readFileSync(path.join(root, file))), file);
        assert.ok(fs.statSync(path.join(stage, "model-container/bin/serve")).mode & 0o100, "programs stay executable");
        assert.equal(contentTag(stage), contentTag(root), "the staged context has the same tag");
    });

    it("the CLI prints the tag, stages, lists, and refuses bad arguments with the reason", () => {
        assert.equal(run(parseCommand(["--root", root])), contentTag(root));
        assert.equal(run(parseCommand(["--root", root, "--stage", stage])), contentTag(root));
        assert.ok(fs.existsSync(path.join(stage, "model-container/Dockerfile")));
        assert.equal(run(parseCommand(["--root", root, "--list"])), imageFiles(root).join("\n"));
        const arg = `PYTHON_IMAGE=python:3.11-slim@sha256:${"c".repeat(64)}`;
        assert.equal(run(parseCommand(["--root", root, "--build-arg", arg])), contentTag(root, undefined, { PYTHON_IMAGE: arg.split("=")[1] }));
        assert.throws(() => parseCommand(["--build-arg", "no-equals"]), /--build-arg "no-equals" is not NAME=value/);
        assert.throws(() => parseCommand(["--root", root, "--stage", stage]), /--stage .* is not empty/);
        assert.throws(() => parseCommand(["--unknown"]), /Unknown option '--unknown'/);
    });
});
