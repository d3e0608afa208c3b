/**
 * Training jobs as child processes of the model container's `train` program, laid out and reported the way
 * SageMaker does it: `<root>/<job>/opt_ml` is the container's /opt/ml (OPT_ML_DIR), `<root>/<job>/status.json`
 * is what DescribeTrainingJob would say, `<root>/<job>/logs.txt` is the job's log.
 */
import { spawn, ChildProcess } from "child_process";
import { existsSync, promises as fs } from "fs";
import * as net from "net";
import * as path from "path";
import {
    MetricDefinition, ObjectStore, StartedJob, TERMINAL_TRAINING_STATUSES, TrainingJobDescription, TrainingJobRequest,
    TrainingJobStatus, TrainingService,
} from "../backend";
import { errorMessage, StepError } from "../errors";
import { TRAINING_JOB_NAME } from "../../../contracts/training-job";
import { asPrefix, joinUri } from "../uri";

export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

/** `<repo>/.venv/bin/python <repo>/model-container/bin/train`, or `python3` when there is no venv. */
export function defaultTrainCommand(repoRoot = REPO_ROOT): string[] {
    const venvPython = path.join(repoRoot, ".venv", "bin", "python");
    return [existsSync(venvPython) ? venvPython : "python3", path.join(repoRoot, "model-container", "bin", "train")];
}

export interface LocalTrainingOptions {
    /** One folder per job is created under it. */
    readonly root: string;
    /** Where channel data is read from and the model is written to. */
    readonly objects: ObjectStore;
    /**
     * The container's `train` program and its arguments.
     * @default defaultTrainCommand()
     */
    readonly command?: readonly string[];
    /**
     * Extra environment for the training process.
     * @default {}
     */
    readonly env?: Readonly<Record<string, string>>;
    /**
     * Milliseconds between SIGTERM and SIGKILL when a job is stopped (SageMaker waits 120 s).
     * @default 120000
     */
    readonly stopGraceMs?: number;
    /**
     * Receives every line the training process prints.
     * @default undefined — lines go only to the job's logs.txt
     */
    readonly onLogLine?: (jobName: string, line: string) => void;
}

interface StatusFile {
    jobName: string;
    status: TrainingJobStatus;
    secondaryStatus: string;
    statusMessage?: string;
    failureReason?: string;
    modelArtifactUri?: string;
    finalMetrics: Record<string, number>;
    tags: Record<string, string>;
    createdAt: string;
    endedAt?: string;
    /** The node process running the job: a job whose owner died without finishing it has failed. */
    ownerPid: number;
    childPid?: number;
}

/** First 1,024 characters of the failure file become FailureReason, as on SageMaker. */
const FAILURE_REASON_CHARS = 1024;

export class LocalTraining implements TrainingService {
    private readonly running = new Map<string, { promise: Promise<void>; child?: ChildProcess; stopReason?: string }>();

    constructor(private readonly options: LocalTrainingOptions) {}

    jobDir(jobName: string): string {
        return path.join(this.options.root, jobName);
    }

    private statusPath(jobName: string): string {
        return path.join(this.jobDir(jobName), "status.json");
    }

    /** Writes are queued per job so a slow write never lands after a later one. */
    private readonly writes = new Map<string, Promise<void>>();

    private writeStatus(status: StatusFile): Promise<void> {
        const file = this.statusPath(status.jobName);
        const text = JSON.stringify(status, null, 2);
        const tmp = `${file}.${process.pid}.tmp`;
        const previous = this.writes.get(status.jobName) ?? Promise.resolve();
        const next = previous.catch(() => undefined).then(async () => {
            await fs.writeFile(tmp, text);
            await fs.rename(tmp, file);
        });
        this.writes.set(status.jobName, next);
        return next;
    }

    private async readStatus(jobName: string): Promise<StatusFile> {
        try {
            return JSON.parse(await fs.readFile(this.statusPath(jobName), "utf8")) as StatusFile;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") {
                throw new StepError("not-found", `local training job ${jobName} not found under ${this.options.root}`, "describe");
            }
            throw new StepError("failed", `local training job ${jobName}: unreadable status: ${errorMessage(e)}`, "describe", { cause: e });
        }
    }

    async start(request: TrainingJobRequest): Promise<StartedJob> {
        if (!TRAINING_JOB_NAME.test(request.jobName)) {
            throw new StepError("invalid", `training job name ${JSON.stringify(request.jobName)} is invalid; expected ≤ 63 letters, digits or hyphens`);
        }
        await fs.mkdir(this.options.root, { recursive: true });
        try {
            // mkdir without `recursive` fails if the folder exists: the atomic "create if absent" a rerun relies on.
            await fs.mkdir(this.jobDir(request.jobName));
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EEXIST") return { jobName: request.jobName, created: false };
            throw e;
        }
        const status: StatusFile = {
            jobName: request.jobName,
            status: "InProgress",
            secondaryStatus: "Starting",
            statusMessage: "Preparing the instances for training",
            finalMetrics: {},
            tags: { ...request.tags },
            createdAt: new Date().toISOString(),
            ownerPid: process.pid,
        };
        await this.writeStatus(status);
        const entry: { promise: Promise<void>; child?: ChildProcess; stopReason?: string } = { promise: Promise.resolve() };
        this.running.set(request.jobName, entry);
        entry.promise = this.execute(request, status, entry).finally(() => this.running.delete(request.jobName));
        return { jobName: request.jobName, created: true };
    }

    /** Resolves when a job started by this instance has ended (immediately for others). */
    async settled(jobName: string): Promise<void> {
        await this.running.get(jobName)?.promise;
    }

    async describe(jobName: string): Promise<TrainingJobDescription> {
        let s = await this.readStatus(jobName);
        if (!TERMINAL_TRAINING_STATUSES.includes(s.status) && !this.running.has(jobName) && !processAlive(s.ownerPid)) {
            s = { ...s, status: "Failed", secondaryStatus: "Failed", endedAt: new Date().toISOString(),
                failureReason: `InternalServerError: the process that ran this job (pid ${s.ownerPid}) ended before the job did` };
            await this.writeStatus(s);
        }
        return {
            jobName,
            status: s.status,
            secondaryStatus: s.secondaryStatus,
            statusMessage: s.statusMessage,
            failureReason: s.failureReason,
            modelArtifactUri: s.modelArtifactUri,
            finalMetrics: s.finalMetrics,
            tags: s.tags,
            createdAt: new Date(s.createdAt),
            logLocation: path.join(this.jobDir(jobName), "logs.txt"),
        };
    }

    async stop(jobName: string): Promise<void> {
        const entry = this.running.get(jobName);
        if (entry) {
            entry.stopReason ??= "Stopped";
            this.signal(entry.child);
            return;
        }
        const s = await this.readStatus(jobName);
        if (TERMINAL_TRAINING_STATUSES.includes(s.status)) return;
        await this.writeStatus({ ...s, status: "Stopping", secondaryStatus: "Stopping" });
        if (s.childPid !== undefined && processAlive(s.childPid)) process.kill(s.childPid, "SIGTERM");
    }

    private signal(child: ChildProcess | undefined): void {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), this.options.stopGraceMs ?? 120_000);
        timer.unref();
        child.once("exit", () => clearTimeout(timer));
    }

    private async execute(request: TrainingJobRequest, status: StatusFile,
        entry: { child?: ChildProcess; stopReason?: string }): Promise<void> {
        const dir = this.jobDir(request.jobName);
        const optMl = path.join(dir, "opt_ml");
        const logFile = path.join(dir, "logs.txt");
        const update = async (patch: Partial<StatusFile>) => {
            Object.assign(status, patch);
            await this.writeStatus(status);
        };
        const finish = async (patch: Partial<StatusFile>) => update({ ...patch, endedAt: new Date().toISOString(), childPid: undefined });
        try {
            await update({ secondaryStatus: "Downloading", statusMessage: "Downloading input data" });
            const hosts = hostNames(request.instanceCount);
            for (const host of hosts) await writeJobConfig(hostOptMl(dir, host), request, host, hosts);
            for (const channel of request.channels) {
                let copied = 0;
                for (const [rank, host] of hosts.entries()) {
                    const shard = channel.distribution === "ShardedByS3Key" ? { rank, of: hosts.length } : undefined;
                    copied += await copyChannel(this.options.objects, channel.uri, path.join(hostOptMl(dir, host), "input", "data", channel.name), shard);
                }
                if (copied === 0) {
                    await finish({ status: "Failed", secondaryStatus: "Failed",
                        failureReason: `ClientError: no data found in channel ${channel.name} at ${channel.uri}` });
                    return;
                }
            }
            if (entry.stopReason) {
                await finish({ status: "Stopped", secondaryStatus: entry.stopReason });
                return;
            }
            await update({ secondaryStatus: "Training", statusMessage: "Training image download completed. Training in progress." });
            const exit = hosts.length === 1
                ? await this.runContainer(request, optMl, logFile, status, entry)
                : await this.runHosts(request, dir, hosts, logFile, status, entry);
            if (entry.stopReason) {
                await finish({ status: "Stopped", secondaryStatus: entry.stopReason,
                    statusMessage: entry.stopReason === "MaxRuntimeExceeded" ? `Training job runtime exceeded MaxRuntimeInSeconds (${request.maxRuntimeSeconds})` : undefined });
                return;
            }
            if (exit.code !== 0) {
                await finish({ status: "Failed", secondaryStatus: "Failed",
                    failureReason: await failureReason(hostOptMl(dir, exit.host ?? hosts[0]), exit) });
                return;
            }
            await update({ secondaryStatus: "Uploading", statusMessage: "Uploading generated training model" });
            const modelUri = asPrefix(joinUri(request.outputUri, request.jobName, "output", "model"));
            const uploaded = await uploadFolder(this.options.objects, path.join(optMl, "model"), modelUri);
            if (uploaded === 0) {
                await finish({ status: "Failed", secondaryStatus: "Failed", failureReason: "AlgorithmError: the container exited 0 but wrote nothing to /opt/ml/model" });
                return;
            }
            await finish({ status: "Completed", secondaryStatus: "Completed", statusMessage: "Training job completed", modelArtifactUri: modelUri });
        } catch (e) {
            await finish({ status: "Failed", secondaryStatus: "Failed", failureReason: `InternalServerError: ${errorMessage(e)}`.slice(0, FAILURE_REASON_CHARS) })
                .catch(() => undefined);
        }
    }

    /**
     * A multi-instance job: one container process per host on loopback, as SageMaker runs one per instance.
     * The first host's output is the job's log and metrics (every host prints the same METRIC lines); the
     * others log to `logs-<host>.txt`. The job's exit is the first host's, or else the first failing host's.
     */
    private async runHosts(request: TrainingJobRequest, dir: string, hosts: readonly string[], logFile: string, status: StatusFile,
        entry: { child?: ChildProcess; stopReason?: string }): Promise<ContainerExit> {
        const env = {
            // The container's own variables (model-container/README.md): hosts on loopback, a free tracker port.
            MLCONTAINER_HOST_ADDRESSES: hosts.map((h) => `${h}=127.0.0.1`).join(","),
            MLCONTAINER_TRACKER_PORT: String(await freePortPair()),
        };
        const others = hosts.slice(1).map((host) => {
            const worker: { child?: ChildProcess; stopReason?: string } = {};
            const done = this.runContainer(request, hostOptMl(dir, host), path.join(dir, `logs-${host}.txt`), undefined, worker, env);
            return { host, worker, done };
        });
        const leader = this.runContainer(request, hostOptMl(dir, hosts[0]), logFile, status, entry, env);
        // Stopping the job stops every host (SageMaker sends SIGTERM to all instances).
        const stopAll = setInterval(() => {
            if (entry.stopReason) for (const o of others) this.signal(o.worker.child);
        }, 200);
        try {
            const exits = [{ host: hosts[0], ...(await leader) }];
            for (const o of others) exits.push({ host: o.host, ...(await o.done) });
            return exits.find((e) => e.host === hosts[0] && e.code !== 0) ?? exits.find((e) => e.code !== 0) ?? exits[0];
        } finally {
            clearInterval(stopAll);
        }
    }

    private runContainer(request: TrainingJobRequest, optMl: string, logFile: string, status: StatusFile | undefined,
        entry: { child?: ChildProcess; stopReason?: string }, extraEnv: Readonly<Record<string, string>> = {}): Promise<ContainerExit> {
        const [program, ...args] = this.options.command ?? defaultTrainCommand();
        const metrics = compileMetrics(request.metricDefinitions);
        return new Promise((resolve, reject) => {
            void fs.open(logFile, "a").then((log) => {
                const child = spawn(program, args, {
                    env: { ...process.env, ...this.options.env, ...extraEnv, OPT_ML_DIR: optMl, PYTHONUNBUFFERED: "1" },
                    stdio: ["ignore", "pipe", "pipe"],
                });
                entry.child = child;
                const timer = setTimeout(() => {
                    entry.stopReason ??= "MaxRuntimeExceeded";
                    this.signal(child);
                }, request.maxRuntimeSeconds * 1000);
                let pending = Promise.resolve();
                const onData = (stream: NodeJS.ReadableStream) => {
                    let partial = "";
                    stream.on("data", (chunk: Buffer) => {
                        const text = partial + chunk.toString("utf8");
                        const lines = text.split("\n");
                        partial = lines.pop() ?? "";
                        if (status) for (const line of lines) this.onLine(request.jobName, line, metrics, status);
                        pending = pending.then(() => log.write(chunk)).then(() => undefined);
                    });
                    stream.on("end", () => {
                        if (partial && status) this.onLine(request.jobName, partial, metrics, status);
                    });
                };
                onData(child.stdout!);
                onData(child.stderr!);
                child.on("error", (e) => {
                    clearTimeout(timer);
                    void pending.then(() => log.close()).finally(() =>
                        reject(new StepError("failed", `could not start ${program}: ${e.message}`, "start", { cause: e })));
                });
                child.on("close", (code, signal) => {
                    clearTimeout(timer);
                    void pending.then(() => log.close()).finally(() => resolve({ code, signal }));
                });
                if (status) {
                    status.childPid = child.pid;
                    void this.writeStatus(status).catch(() => undefined);
                }
            }, reject);
        });
    }

    private onLine(jobName: string, line: string, metrics: CompiledMetric[], status: StatusFile): void {
        for (const m of metrics) {
            const match = m.regex.exec(line);
            const value = match ? Number(match[1]) : NaN;
            if (Number.isFinite(value)) status.finalMetrics[m.name] = value;
        }
        this.options.onLogLine?.(jobName, line);
    }
}

interface CompiledMetric { readonly name: string; readonly regex: RegExp }

interface ContainerExit { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly host?: string }

/** SageMaker's host names for a job's instances: algo-1 … algo-N. */
export function hostNames(instanceCount: number): string[] {
    return Array.from({ length: Math.max(1, instanceCount) }, (_, i) => `algo-${i + 1}`);
}

/** The first host's /opt/ml is `<job>/opt_ml` (single- and multi-host alike); the others' `<job>/opt_ml-<host>`. */
function hostOptMl(jobDir: string, host: string): string {
    return path.join(jobDir, host === "algo-1" ? "opt_ml" : `opt_ml-${host}`);
}

/** A port p with p + 1 free as well: the container's tracker and coordinator ports. */
async function freePortPair(): Promise<number> {
    const listen = (port: number) => new Promise<net.Server | undefined>((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(undefined));
        server.listen(port, "127.0.0.1", () => resolve(server));
    });
    const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));
    for (let attempt = 0; attempt < 50; attempt++) {
        const first = await listen(0);
        if (!first) continue;
        const port = (first.address() as net.AddressInfo).port;
        const second = port < 65535 ? await listen(port + 1) : undefined;
        await close(first);
        if (second) {
            await close(second);
            return port;
        }
    }
    throw new StepError("failed", "no free pair of local ports for the training hosts");
}

function compileMetrics(defs: readonly MetricDefinition[]): CompiledMetric[] {
    return defs.map((d) => {
        try {
            return { name: d.name, regex: new RegExp(d.regex) };
        } catch (e) {
            throw new StepError("invalid", `metric ${d.name}: invalid regex ${JSON.stringify(d.regex)}: ${errorMessage(e)}`);
        }
    });
}

function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** The three config files SageMaker writes into /opt/ml/input/config. */
async function writeJobConfig(optMl: string, request: TrainingJobRequest, host = "algo-1", hosts: readonly string[] = [host]): Promise<void> {
    const config = path.join(optMl, "input", "config");
    await fs.mkdir(config, { recursive: true });
    await fs.mkdir(path.join(optMl, "output"), { recursive: true });
    await fs.mkdir(path.join(optMl, "model"), { recursive: true });
    const channels = Object.fromEntries(request.channels.map((c) => [c.name, {
        ...(c.contentType ? { ContentType: c.contentType } : {}),
        TrainingInputMode: "File",
        S3DistributionType: c.distribution ?? "FullyReplicated",
        RecordWrapperType: "None",
    }]));
    await fs.writeFile(path.join(config, "hyperparameters.json"), JSON.stringify(request.hyperparameters, null, 2));
    await fs.writeFile(path.join(config, "inputdataconfig.json"), JSON.stringify(channels, null, 2));
    await fs.writeFile(path.join(config, "resourceconfig.json"), JSON.stringify({
        current_host: host, hosts: [...hosts], network_interface_name: "eth0",
    }, null, 2));
}

/**
 * Copies every object under `prefix` into `dir`, keeping relative paths; returns how many. With `shard`, only
 * this host's share, like S3 ShardedByS3Key: every `of`-th object of the sorted keys, from the `rank`-th (AWS
 * documents only "approximately 1/n of the objects" per instance; a host may get none).
 */
async function copyChannel(objects: ObjectStore, prefix: string, dir: string, shard?: { rank: number; of: number }): Promise<number> {
    await fs.mkdir(dir, { recursive: true });
    // Like an S3Prefix naming one object exactly (the manifest channel): that object, under its own name.
    if (!prefix.endsWith("/") && await objects.exists(prefix)) {
        await fs.writeFile(path.join(dir, path.posix.basename(prefix)), await objects.get(prefix));
        return 1;
    }
    const base = asPrefix(prefix);
    const all = [...await objects.list(base)].sort();
    const uris = shard ? all.filter((_, i) => i % shard.of === shard.rank) : all;
    for (const uri of uris) {
        const rel = uri.startsWith(base) ? uri.slice(base.length) : path.basename(uri);
        const target = path.join(dir, ...rel.split("/"));
        await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.writeFile(target, await objects.get(uri));
    }
    return uris.length;
}

async function uploadFolder(objects: ObjectStore, dir: string, prefix: string): Promise<number> {
    let count = 0;
    const walk = async (sub: string): Promise<void> => {
        for (const entry of await fs.readdir(path.join(dir, sub), { withFileTypes: true })) {
            const rel = sub ? `${sub}/${entry.name}` : entry.name;
            if (entry.isDirectory()) await walk(rel);
            else if (entry.isFile()) {
                await objects.put(joinUri(prefix, rel), await fs.readFile(path.join(dir, rel)));
                count++;
            }
        }
    };
    await walk("");
    return count;
}

async function failureReason(optMl: string, exit: ContainerExit): Promise<string> {
    try {
        const text = (await fs.readFile(path.join(optMl, "output", "failure"), "utf8")).trim();
        if (text) return text.slice(0, FAILURE_REASON_CHARS);
    } catch {
        // No failure file: fall through to the exit status.
    }
    return exit.signal
        ? `AlgorithmError: the training process was killed by ${exit.signal}`
        : `AlgorithmError: the training process exited with code ${exit.code} without writing /opt/ml/output/failure`;
}
