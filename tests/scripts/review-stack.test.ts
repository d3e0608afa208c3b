/**
 * scripts/review-stack.ts: the CI alternative to Pulumi Deployments' review stacks. Its logic against a fake
 * workspace (no Pulumi CLI here), and the config it gives, evaluated by the real program.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { reviewAction, reviewStackConfig, reviewStackName, ReviewWorkspace, runReviewEvent } from "../../scripts/review-stack";
import { evaluateStackOk, readStackConfig } from "../harness/pulumi-harness";

/** Records every call; `failDestroy` makes the destroy fail as a Pulumi error would. */
function fakeWorkspace(failDestroy = false): ReviewWorkspace & { calls: string[]; configs: Record<string, { value: string }>[] } {
    const calls: string[] = [];
    const configs: Record<string, { value: string }>[] = [];
    return {
        calls,
        configs,
        async up(stack, config) {
            calls.push(`up ${stack}`);
            configs.push(config);
            return { endpointName: `mlops-${stack}` };
        },
        async destroy(stack) {
            calls.push(`destroy ${stack}`);
            if (failDestroy) throw new Error("destroy failed: DeleteEndpoint AccessDenied");
        },
        async remove(stack) {
            calls.push(`remove ${stack}`);
        },
    };
}

describe("scripts/review-stack.ts (Automation API alternative to review stacks)", function () {
    this.timeout(120_000);

    it("maps pull request events to up or destroy, and refuses any other event", () => {
        for (const e of ["opened", "reopened", "synchronize"]) assert.equal(reviewAction(e), "up");
        assert.equal(reviewAction("closed"), "destroy");
        for (const e of ["labeled", "", "CLOSED", "edited"]) {
            assert.throws(() => reviewAction(e), /is not one of opened, reopened, synchronize, closed/);
        }
    });

    it("names the stack after the pull request number, and refuses anything that is not one", () => {
        assert.equal(reviewStackName(42), "pr-42");
        assert.equal(reviewStackName(" 7 "), "pr-7");
        for (const bad of ["0", "-3", "4.5", "12a", "", "1; rm -rf /", "9999999999"]) {
            assert.throws(() => reviewStackName(bad), /is not a positive whole number/, bad);
        }
    });

    it("updates the stack with the template's config and no TTL schedule on opened/synchronize", async () => {
        const ws = fakeWorkspace();
        const result = await runReviewEvent("synchronize", "12", ws);
        assert.deepEqual(ws.calls, ["up pr-12"]);
        assert.deepEqual(result, { stack: "pr-12", action: "up", outputs: { endpointName: "mlops-pr-12" } });
        const config = ws.configs[0];
        assert.equal(config["mlops:environment"].value, "review");
        // The review stack reads the host the template names, whatever it is.
        assert.equal(config["mlops:hostStack"].value, readStackConfig("pr")["mlops:hostStack"]);
        assert.deepEqual(JSON.parse(config["mlops:review"].value), { ttlHours: 0 });
    });

    it("destroys, then removes the stack on closed; a failed destroy removes nothing", async () => {
        const ws = fakeWorkspace();
        assert.deepEqual(await runReviewEvent("closed", 12, ws), { stack: "pr-12", action: "destroy" });
        assert.deepEqual(ws.calls, ["destroy pr-12", "remove pr-12"]);
        const failing = fakeWorkspace(true);
        await assert.rejects(runReviewEvent("closed", 12, failing), /destroy failed/);
        assert.deepEqual(failing.calls, ["destroy pr-12"]);
    });

    it("touches no stack for a bad event or number", async () => {
        const ws = fakeWorkspace();
        await assert.rejects(runReviewEvent("labeled", 12, ws), /not one of/);
        await assert.rejects(runReviewEvent("opened", "abc", ws), /not a positive whole number/);
        assert.deepEqual(ws.calls, []);
    });

    it("refuses a template file that does not make a review stack", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "review-stack-"));
        try {
            fs.writeFileSync(path.join(dir, "Pulumi.pr.yaml"), "config:\n  mlops:environment: dev\n");
            assert.throws(() => reviewStackConfig(dir), /must set mlops:environment: review \(it sets dev\)/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("gives a config the program evaluates as a review stack with names of its own and no TTL schedule", async () => {
        const config = reviewStackConfig();
        const { graph, outputs } = await evaluateStackOk("pr-12", { stackFile: "pr", config: { review: JSON.parse(config["mlops:review"].value) } });
        assert.match(outputs.endpointName, /^mlops-pr-12-[0-9a-f]{4}-churn$/);
        assert.equal(graph.ofType("pulumiservice:index:TtlSchedule").length, 0);
    });
});
