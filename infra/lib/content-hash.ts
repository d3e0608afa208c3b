/**
 * The one content hash over a set of files (the model image's content tag, the ETL package's digest): SHA-256
 * over every entry's name and bytes, each followed by a NUL, in the order given. A rename, an edit, an added or a
 * removed file changes it; the machine, the checkout's location and file times do not.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** One hashed entry: the name it is hashed under and its content. */
export interface ContentEntry {
    readonly name: string;
    readonly content: Buffer | string;
}

/** SHA-256 (hex) of `name \0 content \0` for each entry, in order. */
export function contentSha256(entries: Iterable<ContentEntry>): string {
    const hash = createHash("sha256");
    for (const { name, content } of entries) hash.update(name).update("\0").update(content).update("\0");
    return hash.digest("hex");
}

/** The files `files` (relative to `root`) as entries named by `nameOf` (default: the relative path). */
export function fileEntries(root: string, files: readonly string[], nameOf: (file: string) => string = (f) => f): ContentEntry[] {
    return files.map((file) => ({ name: nameOf(file), content: fs.readFileSync(path.join(root, file)) }));
}

/**
 * Files under `root/dir` as sorted `/`-separated paths relative to `root`, leaving out every file or folder whose
 * relative path `skip` matches (a skipped folder is not entered). Symbolic links are followed.
 */
export function listFiles(root: string, dir: string, skip: (relPath: string) => boolean = () => false): string[] {
    const walk = (rel: string): string[] => {
        if (rel !== dir && skip(rel)) return [];
        const abs = path.join(root, rel);
        if (!fs.statSync(abs).isDirectory()) return [rel];
        return fs.readdirSync(abs).flatMap((entry) => walk(rel === "." ? entry : `${rel}/${entry}`));
    };
    return walk(dir).map((f) => f.split(path.sep).join("/")).sort();
}
