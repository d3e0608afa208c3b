/**
 * What each stack creates, by URN (project, stack, parent chain, type and logical name), compared with a committed
 * listing. A URN that changes is a resource the engine deletes and creates again on the next `up` (an endpoint, a
 * bucket, a registry): a refactor must leave this listing as it is, and a change that means to move resources
 * updates the listing in the same commit, where review sees every line that moved.
 *
 * A resource moved under another parent keeps its identity through an alias to its former URN (the engine adopts
 * the resource recorded under that URN): here it counts as the listed URN its alias names.
 *
 * Regenerate after a deliberate change: `GRAPH_SNAPSHOT_WRITE=1 npx mocha tests/infra/graph-snapshot.test.ts`.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../../infra/config";
import { createStack } from "../../infra/program";
import { definedStacks, evaluate, modelVersionFixture, RecordedResource, REPO_ROOT } from "../harness/pulumi-harness";

const SNAPSHOT_DIR = path.join(REPO_ROOT, "tests", "fixtures", "graph");

/** A registration's own URN and the URNs its `aliases` option names, as the engine would compute them. */
interface AliasRecord {
    readonly urn: pulumi.Output<string>;
    readonly aliases: pulumi.Output<string>[];
}

/** The URN an alias names: unset parts are the resource's own (Pulumi docs, "Resource option: aliases"). */
function aliasUrn(alias: pulumi.Input<string | pulumi.Alias>, args: pulumi.ResourceTransformationArgs): pulumi.Output<string> {
    if (typeof alias === "string" || pulumi.Output.isInstance(alias)) {
        return pulumi.output(alias as pulumi.Input<string>).apply((a) => {
            if (typeof a !== "string") throw new Error(`${args.name}: an alias given as an Output of an Alias object is not handled here`);
            return a;
        });
    }
    const a = alias as pulumi.Alias;
    // Another project or stack would be a move between stacks, which an alias in this program never is.
    if (a.project !== undefined || a.stack !== undefined) throw new Error(`${args.name}: an alias to another project or stack is not handled here`);
    return pulumi.createUrn(a.name ?? args.name, a.type ?? args.type, a.parent ?? args.opts.parent);
}

/** Evaluates the stack as the harness does, recording every registration's aliases through a legacy transformation. */
async function evaluateWithAliases(stack: string): Promise<{ resources: RecordedResource[]; aliasesOf: Map<string, string[]> }> {
    const records: AliasRecord[] = [];
    const capture: pulumi.ResourceTransformation = (args) => {
        records.push({
            urn: pulumi.createUrn(args.name, args.type, args.opts.parent),
            aliases: (args.opts.aliases ?? []).map((a) => aliasUrn(a, args)),
        });
        return undefined;
    };
    const result = await evaluate(stack, () => createStack(loadConfig(), { modelVersion: modelVersionFixture(), transformations: [capture] }));
    if (result.error) throw result.error;
    const settle = (o: pulumi.Output<string>) => new Promise<string>((resolve) => o.apply((v) => { resolve(v); return v; }));
    const aliasesOf = new Map<string, string[]>();
    for (const r of records) {
        const aliases = await Promise.all(r.aliases.map(settle));
        // A child sees the transformation of each ancestor it inherits it from: merge repeated records.
        const urn = await settle(r.urn);
        if (aliases.length > 0) aliasesOf.set(urn, [...new Set([...(aliasesOf.get(urn) ?? []), ...aliases])]);
    }
    return { resources: result.graph.resources, aliasesOf };
}

/**
 * One line per resource: custom resources are what exists in AWS; components carry their children's URNs. A
 * resource whose URN is not listed but one of whose aliases is stands as that alias.
 */
function listing(resources: readonly RecordedResource[], aliasesOf: ReadonlyMap<string, string[]>, listed: ReadonlySet<string>): string[] {
    const line = (r: RecordedResource, urn: string) => `${r.custom ? "resource " : "component"} ${urn}`;
    return resources.map((r) => {
        if (listed.has(line(r, r.urn))) return line(r, r.urn);
        const adopted = (aliasesOf.get(r.urn) ?? []).find((a) => listed.has(line(r, a)));
        return line(r, adopted ?? r.urn);
    }).sort();
}

for (const stack of definedStacks()) {
    describe(`stack ${stack}: resource graph`, () => {
        let evaluation: Awaited<ReturnType<typeof evaluateWithAliases>>;
        before(async () => { evaluation = await evaluateWithAliases(stack); });
        const file = path.join(SNAPSHOT_DIR, `${stack}.txt`);
        const expectedLines = () => fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "");

        it("creates the resources, under the URNs (or aliases of them), of the committed listing", () => {
            const { resources, aliasesOf } = evaluation;
            if (process.env.GRAPH_SNAPSHOT_WRITE === "1") {
                const previous = fs.existsSync(file) ? new Set(expectedLines()) : new Set<string>();
                fs.writeFileSync(file, listing(resources, aliasesOf, previous).join("\n") + "\n");
            }
            assert.ok(fs.existsSync(file), `${path.relative(REPO_ROOT, file)} is missing: run with GRAPH_SNAPSHOT_WRITE=1 and review it`);
            const expected = expectedLines();
            const actual = listing(resources, aliasesOf, new Set(expected));
            const added = actual.filter((l) => !expected.includes(l));
            const removed = expected.filter((l) => !actual.includes(l));
            assert.deepEqual({ added, removed }, { added: [], removed: [] },
                "the stack's resources moved: if that is meant, regenerate the listing (see the file's header) and review the diff");
        });

        it("adopts each former URN at most once, and never one a resource still has", () => {
            const { resources, aliasesOf } = evaluation;
            const live = new Set(resources.map((r) => r.urn));
            const claims = new Map<string, string[]>();
            for (const [urn, aliases] of aliasesOf) for (const a of aliases) claims.set(a, [...(claims.get(a) ?? []), urn]);
            const conflicts = [...claims].filter(([alias, by]) => by.length > 1 || live.has(alias)).map(([alias, by]) => `${alias} <- ${by.join(", ")}`);
            assert.deepEqual(conflicts, []);
        });
    });
}
