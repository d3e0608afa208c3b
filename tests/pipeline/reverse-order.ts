/**
 * A mocha root-hook plugin that runs the tests of every suite, and its child suites, in reverse order: with it, the
 * end-to-end scenarios show that they do not depend on the order they run in.
 *
 *     npx mocha --require ts-node/register --require tests/harness/api-model-hooks.ts \
 *         --require tests/pipeline/reverse-order.ts tests/pipeline/*.test.ts
 *
 * (a --require on the command line replaces .mocharc.json's list, hence its two entries again).
 * The runner reads a suite's tests and child suites only after its "before all" hooks, so reversing them in the
 * root's first hook reorders the whole run (mocha lib/runner.js, runSuite and runTests).
 */
import type { Context, Suite } from "mocha";

function reverse(suite: Suite): void {
    suite.tests.reverse();
    suite.suites.reverse();
    for (const child of suite.suites) reverse(child);
}

export const mochaHooks = {
    beforeAll(this: Context): void {
        const root = this.test?.parent;
        if (!root) throw new Error("reverse-order: the root hook has no suite");
        reverse(root);
        console.log(`reverse-order: ${root.suites.map((s) => s.title).join(" | ")}`);
    },
};
