/**
 * Stage "prod (current)": the registry's latest Approved version (an earlier run's champion) starts serving as
 * prod, so traffic has somewhere to go and a rejected candidate leaves prod as it was.
 */
import { ProdEndpoint } from "../lib/prod-endpoint";
import { StageOutcome } from "../lib/stage-runner";
import { RunContext } from "./context";

export async function serveCurrentChampion(ctx: RunContext, prod: ProdEndpoint, group: string): Promise<StageOutcome<undefined>> {
    const [champion] = await ctx.backend.registry.listVersions(group, { approvalStatus: "Approved" });
    if (!champion) return { value: undefined, detail: "no approved version yet: prod serves nothing" };
    try {
        const url = await prod.serve(await ctx.backend.registry.describeVersion(champion.arn));
        return { value: undefined, detail: `serves version ${champion.version} (${url})` };
    } catch (err) {
        return { value: undefined, detail: `cannot serve version ${champion.version}: ${(err as Error).message}` };
    }
}
