/**
 * What goes into the model image, and the content tag derived from it: the one implementation of both. The image
 * build (scripts/build-image.sh, through scripts/image-context.ts) stages exactly these files as the Docker build
 * context and tags the image with their hash, so a tag names one content and the same content is never rebuilt.
 */
import * as fs from "fs";
import * as path from "path";
import { contentSha256, fileEntries, listFiles } from "./content-hash";

/**
 * Repository paths (files or folders) the Dockerfile copies, relative to the repository root. The staged build
 * context keeps these paths, so the Dockerfile's COPY sources are exactly these strings. The base image digest
 * is pinned in the Dockerfile, which is one of them: a new base is a new tag.
 */
export const IMAGE_INPUTS: readonly string[] = [
    "model-container/Dockerfile",
    "model-container/requirements.lock",
    "model-container/bin",
    "model-container/mlcontainer",
    // The drift checker runs from this image as Model Monitor's bring-your-own container (bin/monitor).
    "monitor/drift_checker",
];

/** Files inside the inputs that never reach the image: caches, tests, documentation. */
const IGNORED = /(^|\/)(__pycache__|\.pytest_cache|tests?)(\/|$)|\.pyc$|\.md$/;

/** Tags are `src-` + 16 hex characters (the ECR lifecycle policy keeps images by this prefix). */
export const TAG_PREFIX = "src-";
export const TAG_PATTERN = /^src-[0-9a-f]{16}$/;

/**
 * The files of `inputs` under `root` that go into the image, as sorted `/`-separated paths relative to `root`.
 * A missing input is an error naming it: a renamed folder must not silently drop out of the image and the tag.
 */
export function imageFiles(root: string, inputs: readonly string[] = IMAGE_INPUTS): string[] {
    const files = inputs.flatMap((input) => {
        const rel = input.replace(/\/+$/, "");
        if (!fs.existsSync(path.join(root, rel))) {
            throw new Error(`image input ${rel} does not exist under ${root}; fix IMAGE_INPUTS in infra/lib/image-context.ts or restore the file`);
        }
        return listFiles(root, rel, (p) => IGNORED.test(p));
    }).filter((f) => !IGNORED.test(f));
    return [...new Set(files)].sort();
}

/**
 * A tag derived from the image's inputs, so the same content always has the same tag (immutable tags stay
 * meaningful) and any change, even a one-line one, produces a new image. `buildArgs` (e.g. a base image given
 * at build time) enter the hash too; none by default, so the tag of a default build depends on files only.
 */
export function contentTag(root: string, inputs: readonly string[] = IMAGE_INPUTS, buildArgs: Readonly<Record<string, string>> = {}): string {
    const buildArgEntries = Object.keys(buildArgs).sort().map((key) => ({ name: `--build-arg ${key}`, content: buildArgs[key] }));
    const digest = contentSha256([...fileEntries(root, imageFiles(root, inputs)), ...buildArgEntries]);
    return `${TAG_PREFIX}${digest.slice(0, 16)}`;
}

/**
 * Copies the image's files into `destination` (same relative paths, modes kept) and returns them: the build
 * context then holds nothing the tag does not cover.
 */
export function stageContext(root: string, destination: string, inputs: readonly string[] = IMAGE_INPUTS): string[] {
    const files = imageFiles(root, inputs);
    for (const file of files) {
        const target = path.join(destination, file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.copyFileSync(path.join(root, file), target);
        fs.chmodSync(target, fs.statSync(path.join(root, file)).mode & 0o777);
    }
    return files;
}
