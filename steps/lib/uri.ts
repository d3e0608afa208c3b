/**
 * Locations the steps read and write: `s3://bucket/key` on AWS, `file:///abs/path` or a plain path locally.
 * A URI ending in `/` names a prefix (a folder).
 */
import * as path from "path";
import { pathToFileURL, fileURLToPath } from "url";
import { UsageError } from "./errors";

export interface S3Location {
    readonly bucket: string;
    readonly key: string;
}

export function isS3Uri(uri: string): boolean {
    return uri.startsWith("s3://");
}

export function parseS3Uri(uri: string): S3Location {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
    if (!m) throw new UsageError(`not an S3 URI: ${JSON.stringify(uri)}; expected s3://<bucket>/<key>`);
    return { bucket: m[1], key: m[2] ?? "" };
}

export function s3Uri(bucket: string, key: string): string {
    return `s3://${bucket}/${key}`;
}

/** Joins a prefix and relative parts with single slashes; a trailing slash on the last part is kept. */
export function joinUri(base: string, ...parts: string[]): string {
    let result = base;
    for (const part of parts) {
        if (part === "") continue;
        result = `${result.replace(/\/+$/, "")}/${part.replace(/^\/+/, "")}`;
    }
    return result;
}

/** `base` with exactly one trailing slash: the prefix form. */
export function asPrefix(base: string): string {
    return `${base.replace(/\/+$/, "")}/`;
}

/** A local file path for `file://` URIs and plain paths (relative ones resolved against `cwd`). */
export function localPath(uri: string, cwd = process.cwd()): string {
    if (uri.startsWith("file://")) return fileURLToPath(uri);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
        throw new UsageError(`not a local path or file:// URI: ${JSON.stringify(uri)}`);
    }
    return path.resolve(cwd, uri);
}

export function fileUri(p: string): string {
    const url = pathToFileURL(p).href;
    return p.endsWith("/") && !url.endsWith("/") ? `${url}/` : url;
}
