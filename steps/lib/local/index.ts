/**
 * The local backend: the whole pipeline on one machine, no AWS. Default layout under `root` (each part can be
 * placed elsewhere, as the local pipeline does: its runs are the buckets and its registry outlives runs):
 *
 *     s3/<bucket>/<key>          what s3:// URIs map to (s3Root)
 *     training-jobs/<job>/       opt_ml/ (the container's /opt/ml), status.json, logs.txt (trainingRoot)
 *     model-registry.json        the model registry (registryFile)
 */
import * as path from "path";
import { Backend } from "../backend";
import { LocalInvoker } from "./invoker";
import { LocalObjectStore } from "./object-store";
import { LocalRegistry } from "./registry";
import { LocalTraining, LocalTrainingOptions } from "./training";

export { LocalInvoker } from "./invoker";
export { LocalObjectStore } from "./object-store";
export { LocalRegistry, localModelPackageArn } from "./registry";
export { LocalTraining, defaultTrainCommand, REPO_ROOT } from "./training";

export interface LocalBackendOptions {
    /** The folder everything lives under unless placed elsewhere by the options below. */
    readonly root: string;
    /**
     * Folder standing in for S3: `s3://bucket/key` is `<s3Root>/bucket/key`.
     * @default `<root>/s3`
     */
    readonly s3Root?: string;
    /**
     * Where each training job gets its folder.
     * @default `<root>/training-jobs`
     */
    readonly trainingRoot?: string;
    /**
     * The model registry's JSON file.
     * @default `<root>/model-registry.json`
     */
    readonly registryFile?: string;
    /**
     * Base URL of the local `serve` process (for endpoint names that are not URLs).
     * @default undefined
     */
    readonly serveUrl?: string;
    /**
     * The container's train program.
     * @default defaultTrainCommand()
     */
    readonly trainCommand?: readonly string[];
    /**
     * Receives every line a training process prints.
     * @default undefined
     */
    readonly onTrainingLogLine?: LocalTrainingOptions["onLogLine"];
}

export interface LocalBackend extends Backend {
    readonly kind: "local";
    readonly objects: LocalObjectStore;
    readonly training: LocalTraining;
    readonly registry: LocalRegistry;
    readonly invoker: LocalInvoker;
}

export function createLocalBackend(options: LocalBackendOptions): LocalBackend {
    const root = path.resolve(options.root);
    const under = (placed: string | undefined, fallback: string) => path.resolve(placed ?? path.join(root, fallback));
    const objects = new LocalObjectStore({ s3Root: under(options.s3Root, "s3") });
    return {
        kind: "local",
        objects,
        training: new LocalTraining({
            root: under(options.trainingRoot, "training-jobs"), objects, command: options.trainCommand, onLogLine: options.onTrainingLogLine,
        }),
        registry: new LocalRegistry({ file: under(options.registryFile, "model-registry.json") }),
        invoker: new LocalInvoker({ defaultUrl: options.serveUrl }),
    };
}
