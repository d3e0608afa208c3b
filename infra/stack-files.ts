/**
 * The stack files (`Pulumi.<stack>.yaml`) as plain data, for everything that needs a stack's config without
 * running the Pulumi engine: the local pipeline, the README's config table, the test harness.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { PROJECT_DIR } from "../contracts/project";
import { decodeProjectConfig, parseConfig, StackConfig } from "./config";


/** Reads `Pulumi.<stack>.yaml` into the flat string map Pulumi hands a program (objects JSON-encoded). */
export function readStackConfig(stack: string, dir = PROJECT_DIR): Record<string, string> {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        values[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return values;
}

/** A stack's validated config, read from its stack file (ConfigError when it is invalid). */
export function loadStackFile(stack: string, dir = PROJECT_DIR): StackConfig {
    const values = readStackConfig(stack, dir);
    return parseConfig(decodeProjectConfig(values), { stack, region: values["aws:region"] });
}

/**
 * The validated config of the host a stack reads (the stack itself when it is the host): the stack file holding the
 * pipeline's settings (ETL, training, evaluation). The host's stack file is found by the stack name in `hostStack`.
 */
export function loadHostStackFile(stack: string, dir = PROJECT_DIR): StackConfig {
    const config = loadStackFile(stack, dir);
    if (config.isHost) return config;
    const hostStackName = config.hostStack!.split("/")[2];
    return loadStackFile(hostStackName, dir);
}
