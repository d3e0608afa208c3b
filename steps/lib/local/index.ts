/**
 * The local backend: the whole pipeline on one machine, no AWS. Layout under `root`:
 *
 *     s3/<bucket>/<key>          what s3:// URIs map to
 *     training-jobs/<job>/       opt_ml/ (the container's /opt/ml), status.json, logs.txt
 *     model-registry.json        the model registry
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
    /** The folder everything lives under. */
    readonly root: string;
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
    const objects = new LocalObjectStore({ s3Root: path.join(root, "s3") });
    return {
        kind: "local",
        objects,
        training: new LocalTraining({
            root: path.join(root, "training-jobs"), objects, command: options.trainCommand, onLogLine: options.onTrainingLogLine,
        }),
        registry: new LocalRegistry({ file: path.join(root, "model-registry.json") }),
        invoker: new LocalInvoker({ defaultUrl: options.serveUrl }),
    };
}
