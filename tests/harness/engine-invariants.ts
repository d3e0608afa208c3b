/**
 * Graph invariants the Pulumi engine and a used AWS account enforce and the mocks do not (see
 * tests/infra/engine-invariants.test.ts).
 */
import { SAGEMAKER_PROCESSING_LOG_GROUP, SAGEMAKER_TRAINING_LOG_GROUP } from "../../infra/lib/stack-deploy-policy";
import { RecordedResource, StackGraph } from "./pulumi-harness";

/** Resources whose physical name is the same in every stack of an account: at most one owner per account. */
export const ACCOUNT_SINGLETONS: readonly { key: string; describe: string; match: (r: RecordedResource) => boolean }[] = [
    {
        key: "trainingJobsLogGroup",
        describe: SAGEMAKER_TRAINING_LOG_GROUP,
        match: (r) => r.type === "aws:cloudwatch/logGroup:LogGroup" && r.inputs.name === SAGEMAKER_TRAINING_LOG_GROUP,
    },
    {
        key: "processingJobsLogGroup",
        describe: SAGEMAKER_PROCESSING_LOG_GROUP,
        match: (r) => r.type === "aws:cloudwatch/logGroup:LogGroup" && r.inputs.name === SAGEMAKER_PROCESSING_LOG_GROUP,
    },
    {
        key: "pulumiOidcProvider",
        describe: "Pulumi Cloud's OIDC provider",
        match: (r) => r.type === "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    },
];

/** Graph invariants the engine enforces and the mocks do not; returns the violations. */
export function engineViolations(graph: StackGraph, optedIn: Readonly<Record<string, boolean>> = {}): string[] {
    const violations: string[] = [];
    for (const r of graph.resources.filter((x) => x.type.startsWith("pulumi:pulumi:"))) {
        if (r.providerRef) violations.push(`${r.type} ${r.name} is given the provider ${r.providerRef}`);
    }
    for (const singleton of ACCOUNT_SINGLETONS) {
        const owned = graph.resources.filter(singleton.match);
        if (owned.length > 0 && !optedIn[singleton.key]) {
            violations.push(`${singleton.describe} is created (${owned.map((o) => o.name).join(", ")}) without accountResources.${singleton.key}`);
        }
        if (owned.length > 1) violations.push(`${singleton.describe} is created ${owned.length} times`);
    }
    return violations;
}

