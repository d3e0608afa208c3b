/**
 * Stage "replay traffic": production requests to the local prod endpoint, whatever it serves (also after a
 * rejection), captured as SageMaker's data capture would. Synthetic runs generate the requests from the training
 * data's distribution (shifted with `--scenario drift`); a user's dataset replays its test split.
 */
import * as fs from "fs";
import * as path from "path";
import { ModelVersion } from "../../steps/lib/backend";
import { REGISTRY_METADATA } from "../../contracts/registry";
import { ProdEndpoint } from "../lib/prod-endpoint";
import { runPython } from "../lib/python";
import { StageOutcome } from "../lib/stage-runner";
import { replayTraffic, ReplayResult } from "../lib/traffic";
import { DRIFT_SHIFT } from "../scenarios";
import { RunContext } from "./context";
import { Dataset } from "./data";

/** Added to the run's seed for the generated traffic, so it is not the training data again. */
const TRAFFIC_SEED_OFFSET = 1000;

/** The ETL run prod's model was trained on (its manifest and baseline define what "no drift" means). */
export function trainingDataOf(version: ModelVersion | undefined, pathOf: (uri: string) => string): string | undefined {
    const prefix = version?.properties[REGISTRY_METADATA.dataPrefix];
    const dir = prefix ? pathOf(prefix) : undefined;
    return dir && fs.existsSync(path.join(dir, "manifest.json")) ? dir : undefined;
}

export interface TrafficInputs {
    /** The folder of the ETL run prod's model was trained on. */
    readonly trainingData: string;
    readonly dataset: Dataset | undefined;
    /** Where the requests are written, one CSV row each. */
    readonly trafficFile: string;
}

export async function replayProductionTraffic(ctx: RunContext, prod: ProdEndpoint, inputs: TrafficInputs): Promise<StageOutcome<ReplayResult>> {
    const { options } = ctx;
    const [url, version] = [prod.url, prod.version];
    if (!url || !version) throw new Error("prod serves nothing");
    const args = ["--manifest", path.join(inputs.trainingData, "manifest.json"), "--out", inputs.trafficFile];
    if (inputs.dataset?.synthetic) {
        args.push("--generate", String(options.requests), "--seed", String(options.seed + TRAFFIC_SEED_OFFSET));
        if (options.scenario === "drift") args.push("--shift", DRIFT_SHIFT);
    } else {
        args.push("--split-dir", path.join(inputs.trainingData, "test"), "--limit", String(options.requests));
    }
    const made = await runPython("pipeline/make_traffic.py", args, ctx.logFile("traffic"));
    if (made.code !== 0) throw new Error(`make_traffic failed (exit ${made.code}); see ${ctx.logFile("traffic")}`);
    const result = await replayTraffic(url, inputs.trafficFile);
    if (result.failed > 0) throw new Error(`${result.failed} of ${result.requests} requests failed: ${result.errors[0]}`);
    const samplingPercentage = ctx.settings.prod.samplingPercentage;
    ctx.summary.traffic = { ...result, drifted: options.scenario === "drift" ? DRIFT_SHIFT : "no", captured: prod.captured, samplingPercentage };
    return {
        value: result,
        detail: `${result.requests} requests to version ${version.version} in ${result.seconds.toFixed(1)}s, p50 ${result.latencyP50Ms.toFixed(1)} ms, ` +
            `p99 ${result.latencyP99Ms.toFixed(1)} ms, ${prod.captured} captured (prod samples ${samplingPercentage}%)`,
    };
}
