/**
 * A model server: the container's `serve` program (model-container/bin/serve) on a free loopback port, as SageMaker
 * runs it behind an endpoint. Dev and prod endpoints alike start theirs here.
 */
import * as fs from "fs";
import * as path from "path";
import { freePort, ManagedProcess, ProcessSupervisor, waitForHealthy } from "./process-supervisor";
import { REPO_ROOT, VENV_PYTHON } from "./python";

const SERVE_PROGRAM = path.join(REPO_ROOT, "model-container", "bin", "serve");

export interface ModelServer {
    /** `http://127.0.0.1:<port>`: `/ping` and `/invocations` (contracts §4). */
    readonly url: string;
    readonly server: ManagedProcess;
}

export interface StartServerOptions {
    /** The process' name in the supervisor and in errors. */
    readonly name: string;
    /** The model folder (what SageMaker extracts to /opt/ml/model). */
    readonly modelDir: string;
    /** Where the server's output goes. */
    readonly logFile: string;
    /**
     * Refuse to start when the model folder has no metadata.json (a model an earlier run wrote and that is gone),
     * naming the version and the folder instead of waiting for a server that cannot load it.
     * @default undefined — no check
     */
    readonly requireModel?: { readonly version: number };
}

/** Starts a model server and resolves once it answers `/ping`; the supervisor stops it at the end of the run. */
export async function startServer(supervisor: ProcessSupervisor, options: StartServerOptions): Promise<ModelServer> {
    if (options.requireModel && !fs.existsSync(path.join(options.modelDir, "metadata.json"))) {
        throw new Error(`model of version ${options.requireModel.version} is gone (${options.modelDir})`);
    }
    const port = await freePort();
    const server = supervisor.start(options.name, VENV_PYTHON, [SERVE_PROGRAM], {
        // The container reads its model from $OPT_ML_DIR/model, as from /opt/ml/model on SageMaker.
        env: { ...process.env, OPT_ML_DIR: path.dirname(options.modelDir), SAGEMAKER_BIND_TO_PORT: String(port), SERVE_HOST: "127.0.0.1", MODEL_SERVER_WORKERS: "1" },
        logFile: options.logFile,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForHealthy(`${url}/ping`, server);
    return { url, server };
}
