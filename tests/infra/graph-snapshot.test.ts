/**
 * What each stack creates, by URN (project, stack, parent chain, type and logical name), compared with a committed
 * listing. A URN that changes is a resource the engine deletes and creates again on the next `up` (an endpoint, a
 * bucket, a registry): a refactor must leave this listing as it is, and a change that means to move resources
 * updates the listing in the same commit, where review sees every line that moved.
 *
 * Regenerate after a deliberate change: `GRAPH_SNAPSHOT_WRITE=1 npx mocha tests/infra/graph-snapshot.test.ts`.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { definedStacks, REPO_ROOT, stackGraph } from "../harness/pulumi-harness";

const SNAPSHOT_DIR = path.join(REPO_ROOT, "tests", "fixtures", "graph");

/** One line per resource: custom resources are what exists in AWS; components carry their children's URNs. */
function listing(resources: { urn: string; custom: boolean }[]): string[] {
    return resources.map((r) => `${r.custom ? "resource " : "component"} ${r.urn}`).sort();
}

for (const stack of definedStacks()) {
    describe(`stack ${stack}: resource graph`, () => {
        it("creates the resources, under the URNs, of the committed listing", async () => {
            const { graph } = await stackGraph(stack);
            const actual = listing(graph.resources);
            const file = path.join(SNAPSHOT_DIR, `${stack}.txt`);
            if (process.env.GRAPH_SNAPSHOT_WRITE === "1") fs.writeFileSync(file, actual.join("\n") + "\n");
            assert.ok(fs.existsSync(file), `${path.relative(REPO_ROOT, file)} is missing: run with GRAPH_SNAPSHOT_WRITE=1 and review it`);
            const expected = fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
            const added = actual.filter((l) => !expected.includes(l));
            const removed = expected.filter((l) => !actual.includes(l));
            assert.deepEqual({ added, removed }, { added: [], removed: [] },
                "the stack's resources moved: if that is meant, regenerate the listing (see the file's header) and review the diff");
        });
    });
}
