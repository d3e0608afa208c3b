/**
 * The model image's content tag and build context, for scripts/build-image.sh (the one implementation lives in
 * infra/lib/image-context.ts).
 *   npx ts-node --transpile-only scripts/image-context.ts                       print the tag
 *   npx ts-node --transpile-only scripts/image-context.ts --stage DIR           also copy the build context to DIR
 *   ... --build-arg PYTHON_IMAGE=python:3.11.16-slim-bookworm@sha256:<digest>  a build argument that enters the tag
 *   ... --list                                                                  print the files instead
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { contentTag, imageFiles, stageContext } from "../infra/lib/image-context";
import { REPO_ROOT } from "../infra/lib/repo";


export interface ImageContextCommand {
    readonly root: string;
    readonly stage?: string;
    readonly list: boolean;
    readonly buildArgs: Record<string, string>;
}

/** Parses the command line; a wrong argument is an Error whose message says what is wrong and what is expected. */
export function parseCommand(argv: string[]): ImageContextCommand {
    const { values } = parseArgs({
        args: argv,
        options: {
            root: { type: "string", default: REPO_ROOT },
            stage: { type: "string" },
            list: { type: "boolean", default: false },
            "build-arg": { type: "string", multiple: true, default: [] },
        },
        strict: true,
        allowPositionals: false,
    });
    const buildArgs: Record<string, string> = {};
    for (const arg of values["build-arg"] ?? []) {
        const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(arg);
        if (!match) throw new Error(`--build-arg ${JSON.stringify(arg)} is not NAME=value`);
        buildArgs[match[1]] = match[2];
    }
    if (values.stage !== undefined && fs.existsSync(values.stage) && fs.readdirSync(values.stage).length > 0) {
        throw new Error(`--stage ${values.stage} is not empty; give a new or empty folder so the context holds only the image's files`);
    }
    return { root: path.resolve(values.root!), stage: values.stage, list: values.list!, buildArgs };
}

export function run(command: ImageContextCommand): string {
    if (command.list) return imageFiles(command.root).join("\n");
    if (command.stage) stageContext(command.root, command.stage);
    return contentTag(command.root, undefined, command.buildArgs);
}

if (require.main === module) {
    try {
        process.stdout.write(`${run(parseCommand(process.argv.slice(2)))}\n`);
    } catch (err) {
        process.stderr.write(`image-context: ${(err as Error).message}\n`);
        process.exit(2);
    }
}
