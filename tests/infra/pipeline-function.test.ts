/**
 * PipelineFunction: the ETL trigger as the dev stack builds it meets the Lambda checklist, its code archive is the
 * bundled handler, and the component alone grants invokers with a source ARN and refuses unsafe arguments.
 */
import { strict as assert } from "assert";
import { createDeadLetterQueue, LAMBDA_RUNTIME, PipelineFunction, PipelineFunctionArgs } from "../../infra/components/pipeline-function";
import { bundleHandler, LAMBDA_NODE_TARGET } from "../../infra/lib/bundle";
import { serviceModel } from "../harness/api-models";
import { decide } from "../harness/iam-oracle";
import { testBed } from "../harness/fixtures";
import { ACCOUNT_ID, evaluate, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Statement = { Sid?: string; Effect: string; Principal?: any; Action: string | string[]; Resource?: any; Condition?: any };
const statements = (policy: string): Statement[] => JSON.parse(policy).Statement;
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Actions with no resource-level permissions: the only statements allowed `Resource: "*"`. */
const WILDCARD_RESOURCE_ALLOWED = new Set(["ActiveTracing", "ReportCodePipelineJobResults"]);

describe("stack platform: ETL trigger function", () => {
    let graph: StackGraph;
    let fn: RecordedResource;
    let keyArn: string;
    let topicArn: string;
    const name = "mlops-platform-etl-trigger";

    before(async () => {
        ({ graph } = await stackGraph("platform"));
        fn = graph.one("aws:lambda/function:Function", /^etl-trigger-function$/);
        keyArn = graph.one("aws:kms/key:Key").state.arn;
        topicArn = graph.one("aws:sns/topic:Topic", /alerts$/).state.arn;
    });

    it("runs the bundled handler on nodejs22.x with explicit memory, timeout, reserved concurrency and active tracing", () => {
        assert.equal(fn.inputs.name, name);
        assert.equal(fn.inputs.runtime, LAMBDA_RUNTIME);
        // A runtime Lambda's API knows (botocore's model), and the Node version the handler is bundled for is its.
        assert.ok(serviceModel("lambda").shapes.Runtime.enum!.includes(fn.inputs.runtime), `${fn.inputs.runtime} is not a Lambda runtime`);
        assert.equal(`nodejs${LAMBDA_NODE_TARGET.replace(/^node/, "")}.x`, fn.inputs.runtime, "esbuild's target and the runtime disagree");
        assert.equal(fn.inputs.handler, "index.handler");
        assert.deepEqual(fn.inputs.architectures, ["arm64"]);
        assert.equal(fn.inputs.memorySize, 256);
        assert.equal(fn.inputs.timeout, 60);
        // Explicitly unreserved unless the stack reserves concurrency (config lambdaReservedConcurrency).
        assert.equal(fn.inputs.reservedConcurrentExecutions, -1);
        assert.deepEqual(fn.inputs.tracingConfig, { mode: "Active" });
    });

    it("encrypts its environment with the stack key", () => {
        assert.equal(fn.inputs.kmsKeyArn, keyArn);
        assert.ok(Object.keys(fn.inputs.environment.variables).length > 0);
    });

    it("logs to its own KMS-encrypted log group with the stack's retention, created first", () => {
        const group = graph.one("aws:cloudwatch/logGroup:LogGroup", /^etl-trigger-logs$/);
        assert.equal(group.inputs.name, `/aws/lambda/${name}`);
        assert.equal(group.inputs.kmsKeyId, keyArn);
        assert.equal(group.inputs.retentionInDays, 365, "the platform stack file's logRetentionDays");
        assert.deepEqual(fn.inputs.loggingConfig, { logFormat: "JSON", logGroup: group.state.name, applicationLogLevel: "INFO", systemLogLevel: "WARN" });
        assert.ok(fn.dependencies.includes(group.urn));
    });

    it("sends failed asynchronous invocations, after 2 retries, to a KMS-encrypted dead-letter queue", () => {
        const dlq = graph.one("aws:sqs/queue:Queue", /^etl-trigger-dlq$/);
        assert.equal(fn.inputs.deadLetterConfig.targetArn, dlq.state.arn);
        assert.equal(dlq.inputs.kmsMasterKeyId, keyArn);
        assert.equal(dlq.inputs.messageRetentionSeconds, 14 * 86_400);
        assert.ok(dlq.inputs.name.length <= 80);
        const async = graph.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", /^etl-trigger-async$/).inputs;
        assert.deepEqual([async.functionName, async.maximumRetryAttempts, async.maximumEventAgeInSeconds], [name, 2, 3600]);
        const policy = statements(graph.one("aws:sqs/queuePolicy:QueuePolicy", /^etl-trigger-dlq-policy$/).inputs.policy);
        assert.deepEqual(policy.map((s) => [s.Effect, s.Condition]), [["Deny", { Bool: { "aws:SecureTransport": false } }]]);
    });

    it("alarms to the alerts topic on errors and on dead letters", () => {
        const errors = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", /^etl-trigger-errors$/).inputs;
        assert.deepEqual([errors.namespace, errors.metricName, errors.dimensions.FunctionName, errors.threshold], ["AWS/Lambda", "Errors", name, 1]);
        assert.deepEqual(errors.alarmActions, [topicArn]);
        const dead = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm", /^etl-trigger-dlq-messages$/).inputs;
        assert.deepEqual([dead.namespace, dead.metricName], ["AWS/SQS", "ApproximateNumberOfMessagesVisible"]);
        assert.deepEqual(dead.alarmActions, [topicArn]);
    });

    it("has a role only Lambda of this account can assume, with no wildcard actions and justified wildcard resources", () => {
        const role = graph.one("aws:iam/role:Role", /^etl-trigger-role$/);
        assert.equal(fn.inputs.role, role.state.arn);
        assert.deepEqual(statements(role.inputs.assumeRolePolicy)[0].Principal, { Service: "lambda.amazonaws.com" });
        assert.deepEqual(statements(role.inputs.assumeRolePolicy)[0].Condition, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } });
        const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy", /^etl-trigger-role-policy$/).inputs.policy);
        for (const s of policy) {
            assert.equal(s.Effect, "Allow");
            for (const a of list(s.Action)) assert.ok(a !== "*" && !/:\*$/.test(a), `${s.Sid} grants ${a}`);
            if (list(s.Resource).includes("*")) assert.ok(WILDCARD_RESOURCE_ALLOWED.has(s.Sid!), `${s.Sid} uses Resource "*"`);
        }
        const bySid = Object.fromEntries(policy.map((s) => [s.Sid, s]));
        assert.equal(bySid.WriteOwnLogGroup.Resource, `arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:/aws/lambda/${name}:log-stream:*`);
        assert.deepEqual(bySid.ReportCodePipelineJobResults.Action, ["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"]);
        assert.equal(bySid.DeadLetterQueue.Resource, graph.one("aws:sqs/queue:Queue", /^etl-trigger-dlq$/).state.arn);
        assert.ok(fn.dependencies.includes(graph.one("aws:iam/rolePolicy:RolePolicy", /^etl-trigger-role-policy$/).urn));
    });

    it("deploys exactly the bundled handler as index.js", async () => {
        const assets = await fn.inputs.code.assets;
        assert.deepEqual(Object.keys(assets), ["index.js"]);
        const code: string = await assets["index.js"].text;
        assert.equal(code, bundleHandler("etl-trigger").code);
        // Distinctive strings of the handler and its shared modules, and the bundled SDK commands it sends.
        for (const marker of ["ETL trigger failed unexpectedly", "adopting the Glue run already started for this run id",
            "PutJobFailureResultCommand", "StartJobRunCommand", "// lambdas/etl-trigger/handler.ts", "// lambdas/shared/log.ts"]) {
            assert.ok(code.includes(marker), `bundle lacks ${marker}`);
        }
        assert.ok(!code.includes(process.cwd()), "the bundle holds a machine-specific path");
    });
});

describe("PipelineFunction component", () => {
    function build(overrides: Partial<PipelineFunctionArgs> = {}, config: Record<string, unknown> = {}) {
        return evaluate("platform", () => {
            const bed = testBed();
            const fn = new PipelineFunction("probe", {
                context: bed.context,
                handler: "etl-trigger",
                kmsKeyArn: bed.baseline.kmsKeyArn,
                alertsTopicArn: bed.baseline.alertsTopicArn,
                ...overrides,
            }, bed.opts);
            return { arn: fn.functionArn };
        }, { config });
    }

    it("grants each invoker with its source ARN and our account only", async () => {
        const ruleArn = "arn:aws:events:us-east-1:123456789012:rule/mlops-platform-retrain";
        const { graph, error } = await build({ invokers: [{ principal: "events.amazonaws.com", sourceArn: ruleArn }] });
        assert.equal(error, undefined);
        const permission = graph.one("aws:lambda/permission:Permission").inputs;
        assert.deepEqual([permission.principal, permission.sourceArn, permission.sourceAccount, permission.action],
            ["events.amazonaws.com", ruleArn, ACCOUNT_ID, "lambda:InvokeFunction"]);
    });

    it("reserves no concurrency by default (new accounts refuse any reservation), its setting only when the stack opts in", async () => {
        const unreserved = (await build({ reservedConcurrency: 5 })).graph.one("aws:lambda/function:Function").inputs;
        assert.equal(unreserved.reservedConcurrentExecutions, -1);
        const reserved = (await build({}, { lambdaReservedConcurrency: true })).graph.one("aws:lambda/function:Function").inputs;
        assert.equal(reserved.reservedConcurrentExecutions, 2);
    });

    it("is not a CodePipeline job worker unless asked, and applies its settings", async () => {
        const { graph } = await build({ memorySizeMb: 512, timeoutSeconds: 120, reservedConcurrency: 5, architecture: "x86_64", maximumRetryAttempts: 0 },
            { lambdaReservedConcurrency: true });
        const fn = graph.one("aws:lambda/function:Function").inputs;
        assert.deepEqual([fn.memorySize, fn.timeout, fn.reservedConcurrentExecutions, fn.architectures], [512, 120, 5, ["x86_64"]]);
        assert.equal(graph.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs.maximumRetryAttempts, 0);
        const policy = statements(graph.one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
        assert.ok(!policy.some((s) => list(s.Action).some((a) => a.startsWith("codepipeline:"))));
        assert.equal(graph.ofType("aws:lambda/permission:Permission").length, 0);
    });

    const refused: [string, Partial<PipelineFunctionArgs>, RegExp][] = [
        ["a missing handler", { handler: "no-such-handler" }, /Lambda handler "no-such-handler" not found: lambdas\/no-such-handler\/handler\.ts does not exist \(handlers with a handler\.ts: .*etl-trigger/],
        ["a handler name that is a path", { handler: "../infra" }, /Lambda handler name "\.\.\/infra" is invalid/],
        ["a wildcard action", { policyStatements: [{ Sid: "Broad", Effect: "Allow", Action: ["s3:GetObject", "s3:*"], Resource: "arn:aws:s3:::b/*" }] }, /policy statement Broad grants s3:\*/],
        ["a bare * action", { policyStatements: [{ Effect: "Allow", Action: "*", Resource: "*" }] }, /policy statement 0 grants \*/],
        ["a reserved environment variable", { environment: { AWS_REGION: "us-east-1" } }, /environment variable AWS_REGION is reserved/],
        ["zero reserved concurrency", { reservedConcurrency: 0 }, /reservedConcurrency is 0; expected an integer from 1 to 1000/],
        ["a timeout over 15 minutes", { timeoutSeconds: 901 }, /timeoutSeconds is 901; expected an integer from 1 to 900/],
    ];
    for (const [title, overrides, message] of refused) {
        it(`refuses ${title}`, async () => {
            const { error, graph } = await build(overrides);
            assert.match(error?.message ?? "", message);
            assert.match(error?.message ?? "", /^PipelineFunction probe: /);
            assert.equal(graph.ofType("aws:lambda/function:Function").length, 0);
        });
    }
});

describe("dead-letter queue helper: several senders", () => {
    const rules = [`arn:aws:events:us-east-1:${ACCOUNT_ID}:rule/a`, `arn:aws:events:us-east-1:${ACCOUNT_ID}:rule/b`];
    const topic = `arn:aws:sns:us-east-1:${ACCOUNT_ID}:t`;
    let queueArn: string;
    let policy: any;
    before(async () => {
        const { graph, error } = await evaluate("dev", () => {
            const bed = testBed();
            createDeadLetterQueue("probe-dlq", {
                context: bed.context,
                kmsKeyArn: bed.baseline.kmsKeyArn,
                queueName: "mlops-dev-probe-dlq",
                senders: [
                    { principal: "events.amazonaws.com", sourceArn: rules[0] },
                    { principal: "events.amazonaws.com", sourceArn: rules[1] },
                    { principal: "sns.amazonaws.com", sourceArn: topic },
                ],
            }, { provider: bed.provider });
        });
        assert.equal(error, undefined);
        queueArn = graph.one("aws:sqs/queue:Queue", "probe-dlq").state.arn;
        policy = JSON.parse(graph.one("aws:sqs/queuePolicy:QueuePolicy", "probe-dlq-policy").inputs.policy);
    });
    const send = (service: string, sourceArn: string, extra: Record<string, string> = {}) => decide([], service,
        { action: "sqs:SendMessage", resource: queueArn, context: { "aws:SourceArn": sourceArn, "aws:SourceAccount": ACCOUNT_ID, "aws:SecureTransport": "true", ...extra } },
        () => policy);

    it("lets each service send for its own sources only (IAM simulation)", async () => {
        for (const rule of rules) assert.equal(await send("events.amazonaws.com", rule), "Allowed", rule);
        assert.equal(await send("sns.amazonaws.com", topic), "Allowed");
        assert.equal(await send("sns.amazonaws.com", rules[0]), "ImplicitlyDenied", "a service may not send on behalf of another service's source");
        assert.equal(await send("events.amazonaws.com", topic), "ImplicitlyDenied");
    });

    it("refuses every sender over plain HTTP and from another account", async () => {
        assert.equal(await send("events.amazonaws.com", rules[0], { "aws:SecureTransport": "false" }), "ExplicitlyDenied");
        assert.equal(await send("sns.amazonaws.com", topic, { "aws:SourceAccount": "210987654321" }), "ImplicitlyDenied");
    });
});
