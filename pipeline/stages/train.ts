/**
 * Stage "train + register": the train step (steps/train, the code CodeBuild runs on AWS) through the local
 * backend: a training job of model-container/bin/train on one or more loopback hosts, then a
 * PendingManualApproval version in the registry, or the version an earlier run trained from the same inputs.
 */
import * as path from "path";
import { main as trainMain } from "../../steps/train/main";
import { ModelVersion } from "../../steps/lib/backend";
import { readJson } from "../lib/json";
import { TRAIN_METRIC_PREFIX } from "../../contracts/registry";
import { REPO_ROOT } from "../lib/python";
import { localImageUri } from "../lib/reuse";
import { StageOutcome } from "../lib/stage-runner";
import { Cycle, cycleId, stageName } from "../scenarios";
import { RunContext } from "./context";
import { EtlOutput } from "./etl";

export const TRAIN_STAGE = "train + register";

/** What the train step's --output-file holds (steps/train/main.ts). */
interface TrainResult {
    readonly modelPackageArn: string;
    readonly reuseKey: string;
    readonly reused: boolean;
}

export async function trainAndRegister(ctx: RunContext, etl: EtlOutput, group: string, cycle: Cycle): Promise<StageOutcome<ModelVersion>> {
    const { settings, options } = ctx;
    const resultFile = path.join(ctx.runDir, `train-${cycle.label || "result"}.json`);
    // Spot is an AWS saving; a local job cannot be interrupted.
    const training = {
        ...settings.training, instanceCount: options.trainHosts,
        hyperparameters: { ...settings.training.hyperparameters, ...(cycle.hyperparameters ?? {}) }, spot: { enabled: false, maxWaitSeconds: 7200 },
    };
    const code = await trainMain([
        "--data-prefix", etl.prefix, "--output-prefix", ctx.s3("models/training"), "--image-uri", localImageUri(REPO_ROOT),
        "--model-package-group", group, "--execution-id", cycleId(ctx.runId, cycle), "--config", JSON.stringify(training),
        "--output-file", resultFile, "--poll-seconds", "1", "--reuse", String(options.reuse),
    ], { backend: ctx.backend, io: ctx.stepIo("train") });
    if (code !== 0) throw new Error(`train step exited ${code}; see ${ctx.logFile("train")}`);
    const result = readJson<TrainResult>(resultFile);
    ctx.summary.reuse.stages[stageName(cycle, TRAIN_STAGE)] = { key: result.reuseKey, reused: result.reused === true };
    const registered = await ctx.backend.registry.describeVersion(result.modelPackageArn);
    return {
        value: registered,
        detail: `${result.reused ? "reused " : ""}version ${registered.version} (${registered.approvalStatus}), validation AUC ${registered.properties[`${TRAIN_METRIC_PREFIX}validation_auc`] ?? "?"}`,
    };
}
