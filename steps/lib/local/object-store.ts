import { promises as fs } from "fs";
import * as path from "path";
import { ObjectStore, PutOptions } from "../backend";
import { StepError, UsageError } from "../errors";
import { isS3Uri, localPath, parseS3Uri } from "../uri";

export interface LocalObjectStoreOptions {
    /**
     * Folder standing in for S3: `s3://bucket/key` is `<s3Root>/bucket/key`, so one pipeline definition with
     * S3 URIs runs locally unchanged.
     * @default undefined — s3:// URIs are refused
     */
    readonly s3Root?: string;
    /**
     * Folder plain relative paths resolve against.
     * @default process.cwd()
     */
    readonly cwd?: string;
}

/** Objects as files. Writes are atomic (temporary file + rename), so a reader never sees half an object. */
export class LocalObjectStore implements ObjectStore {
    constructor(private readonly options: LocalObjectStoreOptions = {}) {}

    /** The file behind a URI. */
    pathOf(uri: string): string {
        if (isS3Uri(uri)) {
            if (!this.options.s3Root) throw new UsageError(`${uri}: the local backend maps s3:// URIs only when it has an s3Root folder`);
            const { bucket, key } = parseS3Uri(uri);
            return path.join(this.options.s3Root, bucket, ...key.split("/"));
        }
        return localPath(uri, this.options.cwd);
    }

    /** The URI of `file` in the same style (s3://, file:// or plain path) as `like`. */
    private uriLike(like: string, likePath: string, file: string): string {
        const rel = path.relative(likePath, file).split(path.sep).join("/");
        if (isS3Uri(like) || like.startsWith("file://")) {
            const base = like.endsWith("/") ? like : `${like}/`;
            return rel === "" ? like : `${base}${rel}`;
        }
        return file;
    }

    async get(uri: string): Promise<Buffer> {
        try {
            return await fs.readFile(this.pathOf(uri));
        } catch (e) {
            throw fsError(e, "get", uri);
        }
    }

    async put(uri: string, body: Buffer | string, _options: PutOptions = {}): Promise<void> {
        const file = this.pathOf(uri);
        if (uri.endsWith("/")) throw new UsageError(`cannot put an object at a prefix: ${uri}`);
        const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
        try {
            await fs.mkdir(path.dirname(file), { recursive: true });
            await fs.writeFile(tmp, body);
            await fs.rename(tmp, file);
        } catch (e) {
            await fs.rm(tmp, { force: true });
            throw fsError(e, "put", uri);
        }
    }

    async list(prefixUri: string): Promise<string[]> {
        const root = this.pathOf(prefixUri);
        const files: string[] = [];
        const walk = async (dir: string): Promise<void> => {
            let entries;
            try {
                entries = await fs.readdir(dir, { withFileTypes: true });
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return;
                throw fsError(e, "list", prefixUri);
            }
            for (const entry of entries) {
                const full = path.join(dir, entry.name);
                // Temporary files of writes in progress are not objects yet.
                if (entry.name.endsWith(".tmp") && entry.name.startsWith(".")) continue;
                if (entry.isDirectory()) await walk(full);
                else if (entry.isFile() || entry.isSymbolicLink()) files.push(full);
            }
        };
        await walk(root);
        return files.map((f) => this.uriLike(prefixUri, root, f)).sort();
    }

    async exists(uri: string): Promise<boolean> {
        try {
            return (await fs.stat(this.pathOf(uri))).isFile();
        } catch {
            return false;
        }
    }
}

function fsError(e: unknown, op: string, uri: string): StepError {
    const code = (e as NodeJS.ErrnoException).code;
    const text = `local ${op} ${uri}: ${(e as Error).message}`;
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return new StepError("not-found", text, op, { cause: e });
    if (code === "EACCES" || code === "EPERM") return new StepError("access-denied", text, op, { cause: e });
    return new StepError("failed", text, op, { cause: e });
}
