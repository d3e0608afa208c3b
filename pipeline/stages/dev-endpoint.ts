/**
 * Stage "dev endpoint": the candidate version served by model-container/bin/serve, as dev's endpoint serves it
 * on AWS, for the evaluation to score the test split against.
 */
import { ModelVersion } from "../../steps/lib/backend";
import { ModelServer, startServer } from "../lib/model-server";
import { StageOutcome } from "../lib/stage-runner";
import { Cycle } from "../scenarios";
import { RunContext } from "./context";

export async function startDevEndpoint(ctx: RunContext, candidate: ModelVersion, cycle: Cycle): Promise<StageOutcome<ModelServer>> {
    const dev = await startServer(ctx.supervisor, {
        name: `dev-${cycle.label || "candidate"}`, modelDir: ctx.localPath(candidate.modelDataUri), logFile: ctx.logFile("dev-endpoint"),
    });
    return { value: dev, detail: `serves version ${candidate.version} at ${dev.url}` };
}
