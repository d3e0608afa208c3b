/**
 * `npm run pipeline:local` — the whole pipeline on one machine, no AWS. One file per stage under stages/:
 *
 *   data → prod (current) → etl → train + register → dev endpoint → evaluate + gate → promote to prod
 *   → replay traffic → drift check → summary
 *
 * stages/data.ts, prod-current.ts, etl.ts, train.ts, dev-endpoint.ts, evaluate.ts, promote.ts, replay-traffic.ts,
 * drift-check.ts; what they share is stages/context.ts, the summary is summary.ts, the scenarios scenarios.ts.
 *
 * The same step code as on AWS runs here (steps/train, steps/evaluate) through the local backend, with the
 * evaluation thresholds and hyperparameters of the dev stack's own config (settings.ts). Exit code 0 only when the
 * model was promoted. See --help (options.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { ProdEndpoint } from "./lib/prod-endpoint";
import { StageResult, StageRunner } from "./lib/stage-runner";
import { LocalPipelineOptions, parseCli, USAGE } from "./options";
import { cyclesOf, stageName } from "./scenarios";
import { readPipelineSettings } from "./settings";
import { createRunContext, RunContext } from "./stages/context";
import { modelPackageGroupOf, prepareData } from "./stages/data";
import { startDevEndpoint } from "./stages/dev-endpoint";
import { checkDrift } from "./stages/drift-check";
import { ETL_STAGE, runEtl } from "./stages/etl";
import { evaluateAndGate } from "./stages/evaluate";
import { serveCurrentChampion } from "./stages/prod-current";
import { promoteToProd } from "./stages/promote";
import { replayProductionTraffic, trainingDataOf } from "./stages/replay-traffic";
import { TRAIN_STAGE, trainAndRegister } from "./stages/train";
import { completeSummary, LocalPipelineSummary, printSummary } from "./summary";

export interface LocalPipelineResult {
    readonly exitCode: number;
    readonly runDir: string;
    readonly promoted: boolean;
    readonly stages: readonly StageResult[];
    readonly summary: LocalPipelineSummary;
}

export async function runLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipelineResult> {
    const print = options.print ?? ((l: string) => console.log(l));
    const settings = readPipelineSettings(options.stack);
    const ctx = createRunContext({ ...options, reuse: options.reuse ?? true, trainHosts: options.trainHosts ?? settings.training.instanceCount }, settings);
    const stages = new StageRunner(print);
    print(`run ${ctx.runId} → ${ctx.runDir}`);
    let promoted = false;
    try {
        promoted = await runStages(ctx, stages);
    } finally {
        await ctx.supervisor.dispose();
    }
    const exitCode = promoted && !stages.results.some((r) => r.status === "failed") ? 0 : 1;
    const summary = completeSummary({ run: ctx.runDir, scenario: options.scenario }, ctx.summary, { promoted, stages: stages.results });
    fs.writeFileSync(path.join(ctx.runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    printSummary(print, summary);
    return { exitCode, runDir: ctx.runDir, promoted, stages: stages.results, summary };
}

/** The stages in order; true when a version was promoted. */
async function runStages(ctx: RunContext, stages: StageRunner): Promise<boolean> {
    const { options, summary } = ctx;
    const dataset = await stages.run("data", () => prepareData(ctx));
    const group = modelPackageGroupOf(dataset);
    summary.modelPackageGroup = group;
    const endpointName = `${group}-prod`;
    const captureDir = path.join(ctx.runDir, "capture");
    const prod = new ProdEndpoint({
        supervisor: ctx.supervisor, endpointName, captureRoot: captureDir, samplingPercentage: ctx.settings.prod.samplingPercentage,
        seed: options.seed, modelDirOf: (version) => ctx.localPath(version.modelDataUri), logFileOf: ctx.logFile,
    });
    let promoted = false;
    try {
        if (dataset) await stages.run("prod (current)", () => serveCurrentChampion(ctx, prod, group));

        for (const cycle of cyclesOf(options.scenario, prod.version !== undefined)) {
            // A stage runs only while no earlier one halted the run, so the values of earlier stages are there.
            const etl = await stages.run(stageName(cycle, ETL_STAGE), () => runEtl(ctx, dataset, cycle));
            const candidate = await stages.run(stageName(cycle, TRAIN_STAGE), () => trainAndRegister(ctx, etl!, group, cycle));
            const dev = await stages.run(stageName(cycle, "dev endpoint"), () => startDevEndpoint(ctx, candidate!, cycle));
            const approved = await stages.run(stageName(cycle, "evaluate + gate"), () => evaluateAndGate(ctx, candidate!, etl!, dev!, cycle));
            await stages.run(stageName(cycle, "promote to prod"), async () => {
                const outcome = await promoteToProd(prod, approved!);
                promoted = true;
                return outcome;
            });
            if (stages.halted) break;
        }
        summary.prodServes = prod.version ? `version ${prod.version.version}` : "nothing";

        // Production traffic flows to whatever prod serves, also after a rejection.
        const trainingData = trainingDataOf(prod.version, ctx.localPath);
        if (prod.url && trainingData) {
            const trafficFile = path.join(ctx.runDir, "traffic.csv");
            const replay = await stages.run("replay traffic", () => replayProductionTraffic(ctx, prod, { trainingData, dataset, trafficFile }),
                { afterGateStop: true });
            if (replay) {
                await stages.run("drift check", () => checkDrift(ctx, { trainingData, trafficFile, captureDir, endpointName, capturedRequests: prod.captured }),
                    { afterGateStop: true });
            }
        }
    } finally {
        await prod.close();
    }
    return promoted;
}

if (require.main === module) {
    let options: LocalPipelineOptions | "help";
    try {
        options = parseCli(process.argv.slice(2));
    } catch (err) {
        console.error(`pipeline:local: ${(err as Error).message}\n\n${USAGE}`);
        process.exit(2);
    }
    if (options === "help") {
        console.log(USAGE);
    } else {
        runLocalPipeline(options).then((r) => {
            process.exitCode = r.exitCode;
        }, (err) => {
            console.error(`pipeline:local: ${(err as Error).stack ?? err}`);
            process.exitCode = 1;
        });
    }
}
