/**
 * Building blocks for component tests: the real stack context and security baseline of a stack, so a
 * component can be evaluated alone with exactly the values the full program would give it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig, StackConfig } from "../../infra/config";
import { SecurityBaseline } from "../../infra/components/security-baseline";
import { StackContext } from "../../infra/lib/context";
import { createContext } from "../../infra/program";

export interface TestBed {
    readonly config: StackConfig;
    readonly context: StackContext;
    readonly baseline: SecurityBaseline;
    readonly provider: aws.Provider;
    /** Options for a component under test: the stack's provider. */
    readonly opts: pulumi.ComponentResourceOptions;
}

/** Call inside `evaluate(stack, () => …)`: loads the stack's config and builds its context and baseline. */
export function testBed(): TestBed {
    const config = loadConfig();
    const { provider, context } = createContext(config);
    const opts = { providers: { aws: provider } };
    const baseline = new SecurityBaseline("baseline", { context, alertEmail: config.alertEmail }, opts);
    return { config, context, baseline, provider, opts };
}
