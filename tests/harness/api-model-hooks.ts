/**
 * Mocha root hooks (loaded by .mocharc.json for every test file): every request any test sends through an
 * `aws-sdk-client-mock` stub is validated against AWS's published API model for its operation
 * (tests/harness/api-models.ts). Hooked into `mockClient` itself, so no test can opt out and no call is left
 * unchecked: the stub's history is read after each test and before any reset or restore clears it.
 *
 * A request AWS would refuse fails the run in the root "after all" hook, listing each problem with its test.
 */
import { operationOf, SERVICE_OF_CLIENT, validateRequest } from "./api-models";

/* eslint-disable @typescript-eslint/no-explicit-any */
interface Tracked {
    readonly send: any;
    readonly service: string | undefined;
    readonly client: string;
    /** Calls of the stub's history already checked (sinon builds new call objects on every read). */
    done: number;
}

const tracked: Tracked[] = [];
const byOperation = new Map<string, number>();
const violations: string[] = [];
const unchecked = new Set<string>();
let currentTest = "(outside a test)";
let checked = 0;

function collect(entry: Tracked): void {
    const calls: any[] = entry.send.getCalls?.() ?? [];
    for (const call of calls.slice(entry.done)) {
        const command = call.args[0];
        if (!command || typeof command !== "object" || !("input" in command)) continue;
        const operation = operationOf(command);
        if (!entry.service) {
            violations.push(`${currentTest}: ${entry.client}.${operation}: no API model is mapped for ${entry.client} (add it to SERVICE_OF_CLIENT)`);
            continue;
        }
        const result = validateRequest(entry.service, operation, command.input);
        checked++;
        byOperation.set(`${entry.service}:${operation}`, (byOperation.get(`${entry.service}:${operation}`) ?? 0) + 1);
        for (const p of result.uncheckedPatterns) unchecked.add(p);
        for (const p of result.problems) violations.push(`${currentTest}: ${entry.service}:${operation} ${p}`);
    }
    entry.done = calls.length;
}

// The package's index re-exports `mockClient` through a getter that reads this module's export at each use
// (tslib __exportStar), so replacing it here reaches every importer, AwsStub.reset() included.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mockClientModule: { mockClient: (client: any, options?: any) => any } = require("aws-sdk-client-mock/dist/cjs/mockClient");
const original = mockClientModule.mockClient;
mockClientModule.mockClient = (client: any, options?: any) => {
    const stub = original(client, options);
    const instance = client.send !== undefined ? client : client.prototype;
    const name: string = instance.constructor?.name ?? "unknown client";
    const entry: Tracked = { send: stub.send, service: SERVICE_OF_CLIENT[name], client: name, done: 0 };
    for (const method of ["restore", "resetHistory", "reset"]) {
        const original = entry.send[method];
        if (typeof original !== "function") continue;
        entry.send[method] = function (this: unknown, ...args: unknown[]) {
            collect(entry);
            const result = original.apply(this, args);
            entry.done = entry.send.getCalls().length;
            return result;
        };
    }
    tracked.push(entry);
    return stub;
};

/** What the oracle saw so far (tests of the oracle itself read it). */
export function apiModelOracleReport(): { checked: number; operations: number; violations: readonly string[] } {
    for (const entry of tracked) collect(entry);
    return { checked, operations: byOperation.size, violations };
}

export const mochaHooks = {
    beforeEach(this: any) {
        currentTest = this.currentTest?.fullTitle() ?? currentTest;
    },
    afterEach() {
        for (const entry of tracked) collect(entry);
    },
    afterAll() {
        for (const entry of tracked) collect(entry);
        if (checked === 0 && violations.length === 0) return;
        const services = new Set([...byOperation.keys()].map((k) => k.split(":")[0]));
        console.log(`\n  AWS API model oracle: ${checked} requests checked against botocore's models ` +
            `(${byOperation.size} operations of ${services.size} services)` +
            (unchecked.size > 0 ? `; patterns JavaScript cannot compile, not checked: ${[...unchecked].join("; ")}` : ""));
        if (violations.length > 0) {
            throw new Error(`${violations.length} requests AWS would refuse (botocore's API models):\n  - ${violations.join("\n  - ")}`);
        }
    },
};
