/**
 * What every stage of a local run works with: the run's folder and id, the local backend, the stack settings, the
 * process supervisor, and the summary parts the stages fill in.
 */
import * as fs from "fs";
import * as path from "path";
import { Io } from "../../steps/lib/cli";
import { createLocalBackend, LocalBackend } from "../../steps/lib/local";
import { ProcessSupervisor } from "../lib/process-supervisor";
import { LocalPipelineOptions } from "../options";
import { PipelineSettings } from "../settings";
import { SummaryParts } from "../summary";

/** The options with their defaults applied. */
export interface RunOptions extends Omit<LocalPipelineOptions, "reuse" | "trainHosts" | "print"> {
    readonly reuse: boolean;
    readonly trainHosts: number;
}

export interface RunContext {
    readonly options: RunOptions;
    readonly settings: PipelineSettings;
    /** `<timestamp>-<scenario>`, lowercase: it doubles as the run's bucket name. */
    readonly runId: string;
    readonly runDir: string;
    readonly backend: LocalBackend;
    readonly supervisor: ProcessSupervisor;
    readonly summary: SummaryParts;
    /** `s3://<runId>/<key>`: an object in the run's own bucket (its folder). */
    s3(key: string): string;
    /** The file behind a URI. */
    localPath(uri: string): string;
    /** `<runDir>/logs/<name>.log`. */
    logFile(name: string): string;
    /** Io for a step: its lines go to the named log, not the console. */
    stepIo(logName: string): Io;
}

export function createRunContext(options: RunOptions, settings: PipelineSettings, now = new Date()): RunContext {
    const runId = `${now.toISOString().replace(/[-:]/g, "").replace(/\..+/, "").toLowerCase()}-${options.scenario}`;
    const runsRoot = path.resolve(options.runsRoot);
    const runDir = path.join(runsRoot, runId);
    const logs = path.join(runDir, "logs");
    fs.mkdirSync(logs, { recursive: true });
    const backend = createLocalBackend({
        root: runsRoot,
        // Each run is a bucket under the runs root: `s3://<runId>/<key>` is `<runsRoot>/<runId>/<key>`, so everything a
        // run writes stays in its folder while a champion's artifacts from an earlier run still resolve by URI.
        s3Root: runsRoot,
        trainingRoot: path.join(runDir, "training-jobs"),
        // The registry (`<runsRoot>/model-registry.json`, the default) outlives runs, as on AWS: the champion of an
        // earlier run is this run's bar to clear.
    });
    const logFile = (name: string) => path.join(logs, `${name}.log`);
    return {
        options,
        settings,
        runId,
        runDir,
        backend,
        supervisor: new ProcessSupervisor(),
        summary: { reuse: { enabled: options.reuse, stages: {} } },
        s3: (key) => `s3://${runId}/${key}`,
        localPath: (uri) => backend.objects.pathOf(uri),
        logFile,
        stepIo: (logName) => {
            const write = (line: string) => fs.appendFileSync(logFile(logName), `${line}\n`);
            return { out: write, err: write, env: {} };
        },
    };
}
