/**
 * Bundles a Lambda handler from `lambdas/<name>/handler.ts` into one CommonJS file while the program runs, so
 * `pulumi up` deploys exactly the code the tests exercised (no separate build step that could be skipped or stale).
 *
 * The AWS SDK is bundled too by default rather than left to the runtime: the Lambda runtime's SDK v3 is whatever
 * version AWS last rolled out, while the tests ran against the versions pinned in package-lock.json. Bundling pins
 * the tested version at the cost of a larger package (etl-trigger: about 2 MB of unminified JavaScript instead of
 * 0.8 MB; Lambda allows 250 MB unzipped).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as esbuild from "esbuild";
import * as pulumi from "@pulumi/pulumi";
// Bundles are built relative to the repository root, so paths inside them do not depend on the machine.
import { REPO_ROOT } from "./repo";

/** Node version of the `nodejs22.x` Lambda runtime. */
export const LAMBDA_NODE_TARGET = "node22";
/** The file name the handler is stored under in the archive; the Lambda `handler` setting is `index.handler`. */
export const BUNDLE_FILE = "index.js";

export interface BundleOptions {
    /**
     * Folder holding one folder per handler.
     * @default `<repo>/lambdas`
     */
    readonly lambdasDir?: string;
    /**
     * Leave `@aws-sdk/*` out of the bundle and use the runtime's SDK.
     * @default false — the tested, pinned SDK is bundled
     */
    readonly externalAwsSdk?: boolean;
    /**
     * Append an inline source map (sources' text left out) so stack traces name the TypeScript files and lines.
     * Off by default: the bundle is not minified, so traces are readable without it, and the map would double
     * the package. Turning it on needs `NODE_OPTIONS=--enable-source-maps` in the function's environment.
     * @default false
     */
    readonly sourcemap?: boolean;
}

export interface HandlerBundle {
    /** Handler folder name, e.g. `etl-trigger`. */
    readonly name: string;
    /** Entry file, relative to the repository root. */
    readonly entry: string;
    /** The bundled JavaScript. */
    readonly code: string;
    /** SHA-256 (hex) of `code`: changes exactly when the deployed code changes. */
    readonly sha256: string;
    /** Input files esbuild read, relative to the repository root (for tests and diagnostics). */
    readonly inputs: readonly string[];
}

/** Thrown when a handler cannot be bundled; the message names the handler and what went wrong. */
export class BundleError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "BundleError";
    }
}

const cache = new Map<string, HandlerBundle>();

/**
 * Bundles `lambdas/<name>/handler.ts` (target node22, platform node, CommonJS, not minified). Results are cached
 * per entry path and options within the process: every stack evaluated in one process reuses one build.
 */
export function bundleHandler(name: string, options: BundleOptions = {}): HandlerBundle {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) {
        throw new BundleError(`Lambda handler name ${JSON.stringify(name)} is invalid: expected a folder name of lowercase letters, digits and '-' under lambdas/`);
    }
    const lambdasDir = path.resolve(options.lambdasDir ?? path.join(REPO_ROOT, "lambdas"));
    const entryPath = path.join(lambdasDir, name, "handler.ts");
    const externalAwsSdk = options.externalAwsSdk ?? false;
    const sourcemap = options.sourcemap ?? false;
    const cacheKey = JSON.stringify([entryPath, externalAwsSdk, sourcemap]);
    const cached = cache.get(cacheKey);
    if (cached) return cached;

    if (!fs.existsSync(entryPath)) {
        const available = fs.existsSync(lambdasDir)
            ? fs.readdirSync(lambdasDir).filter((d) => fs.existsSync(path.join(lambdasDir, d, "handler.ts")))
            : [];
        throw new BundleError(`Lambda handler ${JSON.stringify(name)} not found: ${path.relative(REPO_ROOT, entryPath)} does not exist (handlers with a handler.ts: ${available.join(", ") || "none"})`);
    }

    let result: esbuild.BuildResult<{ write: false; metafile: true }>;
    try {
        result = esbuild.buildSync({
            absWorkingDir: REPO_ROOT,
            entryPoints: [entryPath],
            outfile: BUNDLE_FILE,
            bundle: true,
            write: false,
            metafile: true,
            platform: "node",
            target: LAMBDA_NODE_TARGET,
            format: "cjs",
            // Prefer the SDK's ES modules: esbuild can drop what the handler does not use (3.0 → 2.1 MB).
            mainFields: ["module", "main"],
            minify: false,
            sourcemap: sourcemap ? "inline" : false,
            sourcesContent: false,
            // Keeps bundles identical across machines: no absolute paths, no timestamps.
            legalComments: "none",
            external: externalAwsSdk ? ["@aws-sdk/*"] : [],
            logLevel: "silent",
        });
    } catch (e) {
        const failure = e as esbuild.BuildFailure;
        const errors = (failure.errors ?? []).map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ""}${m.text}`);
        throw new BundleError(`Lambda handler ${JSON.stringify(name)} failed to bundle:\n  ${errors.join("\n  ") || String(e)}`);
    }
    const output = result.outputFiles.find((f) => f.path.endsWith(BUNDLE_FILE));
    if (!output) throw new BundleError(`Lambda handler ${JSON.stringify(name)}: esbuild produced no ${BUNDLE_FILE}`);
    const code = output.text;
    const bundle: HandlerBundle = {
        name,
        entry: path.relative(REPO_ROOT, entryPath),
        code,
        sha256: createHash("sha256").update(code).digest("hex"),
        inputs: Object.keys(result.metafile.inputs).sort(),
    };
    cache.set(cacheKey, bundle);
    return bundle;
}

/** The deployment package: the bundle as `index.js` in a zip archive built by Pulumi. */
export function handlerArchive(bundle: HandlerBundle): pulumi.asset.AssetArchive {
    return new pulumi.asset.AssetArchive({ [BUNDLE_FILE]: new pulumi.asset.StringAsset(bundle.code) });
}
