/**
 * Stage "promote to prod": the approved version replaces what prod serves, blue/green (lib/prod-endpoint.ts).
 */
import { ModelVersion } from "../../steps/lib/backend";
import { ProdEndpoint } from "../lib/prod-endpoint";
import { StageOutcome } from "../lib/stage-runner";

export async function promoteToProd(prod: ProdEndpoint, approved: ModelVersion): Promise<StageOutcome<undefined>> {
    const url = await prod.serve(approved);
    return { value: undefined, detail: `prod serves version ${approved.version} (${url})` };
}
