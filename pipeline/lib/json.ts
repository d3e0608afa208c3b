import * as fs from "fs";

/** A JSON file the pipeline's own programs wrote (manifests, reports, results), parsed as `T`. */
export function readJson<T>(file: string): T {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}
