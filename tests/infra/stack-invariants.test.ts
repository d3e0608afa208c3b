/**
 * Properties every stack must have whatever components it holds: unique names, component naming, tags through
 * the provider, and physical names within AWS limits. Which resources a stack has is pinned by the graph listing
 * (tests/infra/graph-snapshot.test.ts), so these checks never pass on an empty graph unnoticed.
 */
import { strict as assert } from "assert";
import { NAME_LIMITS } from "../../contracts/resource-names";
import { definedStacks, readStackConfig, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";

/** Physical-name inputs AWS limits, by resource type. */
const LIMITED_NAMES: Record<string, { field: string; limit: number }> = {
    "aws:s3/bucket:Bucket": { field: "bucket", limit: NAME_LIMITS.s3Bucket },
    "aws:sagemaker/endpoint:Endpoint": { field: "name", limit: NAME_LIMITS.sagemaker },
    "aws:sagemaker/model:Model": { field: "name", limit: NAME_LIMITS.sagemaker },
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": { field: "name", limit: NAME_LIMITS.sagemaker },
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": { field: "modelPackageGroupName", limit: NAME_LIMITS.sagemaker },
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": { field: "name", limit: NAME_LIMITS.sagemaker },
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": { field: "name", limit: NAME_LIMITS.sagemaker },
    "aws:iam/role:Role": { field: "name", limit: NAME_LIMITS.iamRole },
    "aws:lambda/function:Function": { field: "name", limit: NAME_LIMITS.lambda },
    "aws:cloudwatch/eventRule:EventRule": { field: "name", limit: NAME_LIMITS.eventRule },
    "aws:codebuild/project:Project": { field: "name", limit: NAME_LIMITS.codebuild },
    "aws:codepipeline/pipeline:Pipeline": { field: "name", limit: NAME_LIMITS.codepipeline },
};

for (const stack of definedStacks()) {
    describe(`stack ${stack}: graph invariants`, () => {
        let graph: StackGraph;
        before(async () => {
            ({ graph } = await stackGraph(stack));
        });

        it("has unique URNs", () => {
            const seen = new Map<string, number>();
            for (const r of graph.resources) seen.set(r.urn, (seen.get(r.urn) ?? 0) + 1);
            const duplicates = [...seen].filter(([, n]) => n > 1).map(([urn]) => urn);
            assert.deepEqual(duplicates, []);
        });

        it("names every child after its component", () => {
            const offenders = graph.resources
                .map((r) => [r, graph.parentOf(r)] as const)
                .filter(([r, parent]) => parent && !parent.type.startsWith("pulumi:") && !r.name.startsWith(parent.name))
                .map(([r, parent]) => `${r.name} (parent ${parent!.name})`);
            assert.deepEqual(offenders, []);
        });

        it("uses mlops:<module>:<Type> tokens for every component", () => {
            // Components of other packages carry their own tokens.
            const components = graph.resources.filter((r) => !r.custom && !/^(pulumi|awsx):/.test(r.type));
            assert.ok(components.length > 0);
            for (const c of components) assert.match(c.type, /^mlops:[a-z][a-zA-Z]*:[A-Z][A-Za-z]*$/, c.type);
        });

        it("creates AWS resources only through the stack's provider, whose default tags reach everything taggable", () => {
            const providers = graph.ofType("pulumi:providers:aws");
            assert.equal(providers.length, 1);
            // Provider inputs reach the engine JSON-encoded.
            const tags = JSON.parse(providers[0].inputs.defaultTags ?? "{}").tags;
            // A review stack (the template's file) also says which stack a resource belongs to.
            const environment = readStackConfig(stack)["mlops:environment"];
            assert.deepEqual(Object.keys(tags ?? {}).sort(),
                ["environment", "managed-by", "owner", "project", ...(environment === "review" ? ["pulumi-stack"] : [])].sort());
            assert.equal(tags.environment, environment);
            const stray = graph.resources
                .filter((r) => r.custom && r.type.startsWith("aws:"))
                .filter((r: RecordedResource) => graph.providerOf(r)?.urn !== providers[0].urn)
                .map((r) => r.name);
            assert.deepEqual(stray, []);
        });

        it("keeps physical names within AWS limits", () => {
            const tooLong: string[] = [];
            for (const r of graph.resources) {
                const rule = LIMITED_NAMES[r.type];
                const value = rule && r.state[rule.field];
                if (typeof value === "string" && value.length > rule.limit) tooLong.push(`${r.type} ${value} (${value.length} > ${rule.limit})`);
            }
            assert.deepEqual(tooLong, []);
        });

        it("watches every dead-letter queue with an alarm to the alerts topic", () => {
            const topic = graph.one("aws:sns/topic:Topic", /alerts$/).state.arn;
            const senders = [...graph.ofType("aws:lambda/function:Function"), ...graph.ofType("aws:cloudwatch/eventTarget:EventTarget")];
            if (senders.length === 0) {
                // No function and no event target (a review stack): nothing could need a dead-letter queue.
                assert.equal(graph.ofType("aws:sqs/queue:Queue").length, 0);
                return;
            }
            const unwatched = graph.ofType("aws:sqs/queue:Queue").filter((queue) => !graph.ofType("aws:cloudwatch/metricAlarm:MetricAlarm")
                .some((a) => a.inputs.dimensions?.QueueName === queue.state.name && a.inputs.alarmActions?.includes(topic)))
                .map((q) => q.name);
            // dev has none (its only senders were the pipeline's, now the platform's); the others must have some.
            assert.ok(graph.ofType("aws:sqs/queue:Queue").length > 0 || stack === "dev", `${stack} has no dead-letter queue`);
            assert.deepEqual(unwatched, []);
        });

        it("gives every log group the stack's key and a retention", () => {
            for (const group of graph.ofType("aws:cloudwatch/logGroup:LogGroup")) {
                assert.ok(group.inputs.kmsKeyId, `${group.name} has no KMS key`);
                assert.ok(group.inputs.retentionInDays >= (stack === "prod" ? 365 : 1), `${group.name} retention`);
            }
        });
    });
}
