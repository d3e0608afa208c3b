/**
 * The local prod endpoint: a model server behind a data-capture proxy with a stable URL. Serving another version is
 * blue/green, as on SageMaker: the new server answers /ping before traffic moves to it, and only then does the old
 * one stop.
 */
import { createHash } from "crypto";
import { ModelVersion } from "../../steps/lib/backend";
import { CaptureProxy } from "./capture-proxy";
import { ManagedProcess, freePort, ProcessSupervisor } from "./process-supervisor";
import { startServer } from "./model-server";
import { SERVING_VARIANT } from "../../contracts/serving";

/**
 * The local capture's sampling draw in [0, 1), fixed by the run's seed and the request's bytes. A stream of draws
 * handed out in arrival order would make the captured window depend on how concurrent requests interleave, so two
 * runs with one seed could capture different rows and reach different drift verdicts; keyed by content, a run's
 * window is the same every time.
 */
export function captureDraw(seed: number, requestBody: Buffer | string): number {
    return createHash("sha256").update(`${seed}\0`).update(requestBody).digest().readUInt32BE(0) / 2 ** 32;
}

/** Added to the run's seed for the capture draws, so they are independent of the data's and the traffic's. */
const CAPTURE_SEED_OFFSET = 2000;

export interface ProdEndpointOptions {
    readonly supervisor: ProcessSupervisor;
    /** The endpoint's name: the capture's `<endpoint>/<variant>/…` folder, the drift report's title. */
    readonly endpointName: string;
    readonly captureRoot: string;
    /** The prod stack's data-capture sampling percentage. */
    readonly samplingPercentage: number;
    /** The run's seed (`--seed`). */
    readonly seed: number;
    /** The model folder of a version (its modelDataUri as a path). */
    readonly modelDirOf: (version: ModelVersion) => string;
    /** The log file of a server by name. */
    readonly logFileOf: (serverName: string) => string;
}

export class ProdEndpoint {
    private current?: { readonly version: ModelVersion; readonly server: ManagedProcess };
    private proxy?: CaptureProxy;

    constructor(private readonly options: ProdEndpointOptions) {}

    /** The version prod serves, if any. */
    get version(): ModelVersion | undefined {
        return this.current?.version;
    }

    /** The endpoint's URL (the capture proxy's), once it serves a version. */
    get url(): string | undefined {
        return this.current && this.proxy ? `http://127.0.0.1:${(this.proxy.server.address() as { port: number }).port}` : undefined;
    }

    /** Requests captured so far. */
    get captured(): number {
        return this.proxy?.captured ?? 0;
    }

    /** Serves `version` (blue/green) and returns the endpoint's URL. */
    async serve(version: ModelVersion): Promise<string> {
        const name = `prod-v${version.version}`;
        const { url, server } = await startServer(this.options.supervisor, {
            name, modelDir: this.options.modelDirOf(version), logFile: this.options.logFileOf(name), requireModel: { version: version.version },
        });
        const previous = this.current;
        this.current = { version, server };
        if (!this.proxy) {
            this.proxy = new CaptureProxy({
                upstream: url,
                captureRoot: this.options.captureRoot,
                endpointName: this.options.endpointName,
                variantName: SERVING_VARIANT,
                samplingPercentage: this.options.samplingPercentage,
                // Keyed by seed and content, so a run's captured sample is reproducible.
                random: (body) => captureDraw(this.options.seed + CAPTURE_SEED_OFFSET, body),
            });
            await this.proxy.listen(await freePort());
        } else {
            this.proxy.setUpstream(url);
        }
        // Blue/green: the new server answered /ping before traffic moved; only now does the old one stop.
        await previous?.server.stop();
        return this.url!;
    }

    /** Stops taking requests (the supervisor stops the servers). */
    async close(): Promise<void> {
        await this.proxy?.close();
    }
}
