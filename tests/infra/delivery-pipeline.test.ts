/**
 * What the delivery pipeline does, judged from the graph the program's three delivery components build in the dev
 * stack (./deploy-projects.ts, ./delivery-pipeline.ts, ./delivery-triggers.ts): the order of its stages, which
 * action reads which variable, who may start what (simulated with IAM's evaluation logic), where failures go, and
 * what the deploy buildspec does when run. The ETL function and the image/train/evaluate projects belong to other
 * components and are given as fixed ARNs here, exactly as the program passes their outputs.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ACTIONS, PIPELINE_VARIABLES, STAGES } from "../../contracts/delivery";
import { DeliveryPipeline, DeliveryPipelineArgs } from "../../infra/components/delivery-pipeline";
import { DeployProjects, DeployProjectsArgs } from "../../infra/components/deploy-projects";
import { DeliveryTriggers } from "../../infra/components/delivery-triggers";
import { outputVariables } from "../../lambdas/etl-trigger/manifest";
import { parseUserParameters } from "../../lambdas/etl-trigger/parameters";
import { imageFiles } from "../../infra/lib/image-context";
import { testBed } from "../harness/fixtures";
import { decide, policiesOfRole } from "../harness/iam-oracle";
import { ACCOUNT_ID, evaluate, evaluateStackOk, RecordedResource, REPO_ROOT, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REGION = "us-east-1";
const OTHERS = {
    etlFunction: { name: "mlops-dev-etl-trigger", arn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:mlops-dev-etl-trigger` },
    imageProject: { name: "mlops-dev-image", arn: `arn:aws:codebuild:${REGION}:${ACCOUNT_ID}:project/mlops-dev-image` },
    trainProject: { name: "mlops-dev-train", arn: `arn:aws:codebuild:${REGION}:${ACCOUNT_ID}:project/mlops-dev-train` },
    evaluateProject: { name: "mlops-dev-evaluate", arn: `arn:aws:codebuild:${REGION}:${ACCOUNT_ID}:project/mlops-dev-evaluate` },
};
const GROUP_ARN = `arn:aws:sagemaker:${REGION}:${ACCOUNT_ID}:model-package-group/mlops-dev-churn`;
const CONNECTION = `arn:aws:codestar-connections:${REGION}:${ACCOUNT_ID}:connection/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9`;
const RAW_BUCKET = `mlops-dev-raw-${ACCOUNT_ID}-${REGION}`;
const DATA_KEY = "incoming/churn.csv";
const VERSION_ARN = `arn:aws:sagemaker:${REGION}:${ACCOUNT_ID}:model-package/mlops-dev-churn/7`;

interface Overrides {
    readonly pipeline?: Partial<DeliveryPipelineArgs>;
    readonly deploy?: Partial<DeployProjectsArgs>;
}

/** The three delivery components wired as the program wires them in the host stack, with optional overrides. */
function deliveryProgram(overrides: Overrides = {}) {
    return () => {
        const { config, context, baseline, opts } = testBed();
        const artifactsBucket = { name: baseline.buckets.artifacts.name, arn: baseline.buckets.artifacts.arn };
        const pipelineName = context.namer.name("codepipeline", config.modelName);
        const deploy = new DeployProjects("delivery", {
            context, kmsKeyArn: baseline.kmsKeyArn, artifactsBucket, pipelineName, modelPackageGroupArn: GROUP_ARN,
            connectionArn: config.source?.connectionArn, pulumiOrganization: config.deployments.organization, ...overrides.deploy,
        }, opts);
        const source = config.source;
        const pipeline = new DeliveryPipeline("delivery", {
            context,
            kmsKeyArn: baseline.kmsKeyArn,
            alertsTopicArn: baseline.alertsTopicArn,
            pipelineName,
            artifactsBucket,
            rawBucket: { name: baseline.buckets.raw.name, arn: baseline.buckets.raw.arn },
            dataObjectKey: DATA_KEY,
            gitSource: source?.connectionArn ? { repository: source.repository, branch: source.branch, connectionArn: source.connectionArn } : undefined,
            ...OTHERS,
            deployTargets: deploy.targets,
            ...overrides.pipeline,
        }, opts);
        new DeliveryTriggers("delivery", {
            context, kmsKeyArn: baseline.kmsKeyArn, alertsTopicArn: baseline.alertsTopicArn, pipelineName,
            pipelineArn: pipeline.pipelineArn, rawBucketName: baseline.buckets.raw.name, dataObjectKey: DATA_KEY,
        }, opts);
        return { pipelineArn: pipeline.pipelineArn, kmsKeyArn: baseline.kmsKeyArn, alertsTopicArn: baseline.alertsTopicArn };
    };
}

async function evaluateDelivery(overrides: Overrides = {}, config?: Record<string, unknown>, stack = "dev") {
    const result = await evaluate(stack, deliveryProgram(overrides), { config });
    if (result.error) throw result.error;
    return { graph: result.graph, outputs: result.outputs! };
}

const statementsOf = (r: RecordedResource): any[] => JSON.parse(r.inputs.policy).Statement;
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const pipelineOf = (graph: StackGraph) => graph.one("aws:codepipeline/pipeline:Pipeline");
const stage = (graph: StackGraph, name: string) => pipelineOf(graph).inputs.stages.find((s: any) => s.name === name);
const action = (graph: StackGraph, stageName: string, actionName: string) =>
    stage(graph, stageName).actions.find((a: any) => a.name === actionName);
const buildVariables = (a: any): Record<string, string> =>
    Object.fromEntries(JSON.parse(a.configuration.EnvironmentVariables).map((v: any) => [v.name, v.value]));
const stackPolicies = (graph: StackGraph, target: string) =>
    graph.ofType("aws:iam/policy:Policy").filter((p) => p.name.startsWith(`delivery-deploy-${target}-stack-`));
const roleNamed = (graph: StackGraph, name: string) => graph.ofType("aws:iam/role:Role").find((r) => r.inputs.name === name)!;
const projectVariables = (p: RecordedResource): Record<string, string> =>
    Object.fromEntries((p.inputs.environment.environmentVariables as any[]).map((v) => [v.name, v.value]));
/** The deploy project that updates `stack` (by what it runs with, not by its name). */
const deployProjectFor = (graph: StackGraph, stack: string) =>
    graph.ofType("aws:codebuild/project:Project").find((p) => projectVariables(p).TARGET_STACK === stack)!;

/**
 * EventBridge's matching for the pattern forms this program uses: nested fields whose leaves are lists of exact
 * values; an event matches when every leaf holds one of its values (EventBridge user guide, "Event patterns").
 * Any other form (prefix, anything-but, numeric) is refused rather than guessed.
 */
function matchesPattern(pattern: any, event: any): boolean {
    return Object.entries(pattern).every(([field, expected]) => {
        const value = event?.[field];
        if (Array.isArray(expected)) {
            if (expected.some((e) => typeof e === "object" && e !== null)) throw new Error(`content filter in ${field} not supported by this matcher`);
            return Array.isArray(value) ? value.some((v) => expected.includes(v)) : expected.includes(value);
        }
        return typeof expected === "object" && matchesPattern(expected, value);
    });
}
const s3ObjectCreated = (bucket: string, key: string) =>
    ({ source: "aws.s3", "detail-type": "Object Created", detail: { bucket: { name: bucket }, object: { key, "version-id": "v2" } } });
const executionChanged = (pipeline: string, state: string) =>
    ({ source: "aws.codepipeline", "detail-type": "CodePipeline Pipeline Execution State Change", detail: { pipeline, "execution-id": "e-1", state } });

/**
 * CodePipeline's glob for trigger file paths: `*` stays within a path component, `**` crosses components, `?` is
 * one character (CodePipeline user guide, "Working with glob patterns in syntax"). Sets and groups are not used.
 */
function globMatches(pattern: string, file: string): boolean {
    const source = pattern.split(/(\*\*|\*|\?)/).map((part) =>
        part === "**" ? ".*" : part === "*" ? "[^/]*" : part === "?" ? "[^/]" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&")).join("");
    return new RegExp(`^${source}$`).test(file);
}
/** Whether a push of `files` to `branch` starts the pipeline, by its V2 trigger. */
function pushStarts(graph: StackGraph, branch: string, files: readonly string[]): boolean {
    const triggers: any[] = pipelineOf(graph).inputs.triggers ?? [];
    return triggers.some((t) => t.gitConfiguration.pushes.some((p: any) =>
        p.branches.includes.includes(branch) && files.some((f) => p.filePaths.includes.some((g: string) => globMatches(g, f)))));
}

describe("delivery pipeline: stages and the data between them", () => {
    let graph: StackGraph;
    before(async () => {
        ({ graph } = await evaluateDelivery());
    });

    it("runs Source → Prepare (ETL ‖ Image) → Train → Dev (deploy, then evaluate) → Prod; any failed stage fails the execution", () => {
        const stages = pipelineOf(graph).inputs.stages;
        assert.deepEqual(stages.map((s: any) => s.name), ["Source", "Prepare", "Train", "Dev", "Prod"]);
        const shape = (s: any) => s.actions.map((a: any) => [a.name, a.category, a.provider, a.runOrder ?? 1]);
        assert.deepEqual(shape(stages[0]), [["Code", "Source", "S3", 1], ["Data", "Source", "S3", 1]]);
        assert.deepEqual(shape(stages[1]), [["ETL", "Invoke", "Lambda", 1], ["Image", "Build", "CodeBuild", 1]]);
        assert.deepEqual(shape(stages[2]), [["Train", "Build", "CodeBuild", 1]]);
        assert.deepEqual(shape(stages[3]), [["DeployDev", "Build", "CodeBuild", 1], ["Evaluate", "Test", "CodeBuild", 2]]);
        assert.deepEqual(shape(stages[4]), [["DeployProd", "Build", "CodeBuild", 1]]);
        for (const s of stages.slice(1)) assert.deepEqual(s.onFailure, { result: "FAIL" }, s.name);
    });

    it("runs each step's project on the execution's code revision; each deploy action updates its own stack", () => {
        assert.equal(action(graph, STAGES.prepare, ACTIONS.etl).configuration.FunctionName, OTHERS.etlFunction.name);
        assert.equal(action(graph, STAGES.prepare, ACTIONS.image).configuration.ProjectName, OTHERS.imageProject.name);
        assert.equal(action(graph, STAGES.train, ACTIONS.train).configuration.ProjectName, OTHERS.trainProject.name);
        assert.equal(action(graph, STAGES.dev, ACTIONS.evaluate).configuration.ProjectName, OTHERS.evaluateProject.name);
        assert.equal(action(graph, STAGES.dev, ACTIONS.deployDev).configuration.ProjectName, deployProjectFor(graph, "dev").inputs.name);
        assert.equal(action(graph, STAGES.prod, ACTIONS.deployProd).configuration.ProjectName, deployProjectFor(graph, "prod").inputs.name);
        // The evaluation measures the endpoint the dev deploy just updated.
        assert.equal(buildVariables(action(graph, STAGES.dev, ACTIONS.evaluate)).TARGET_STACK, "dev");
        for (const [s, a] of [[STAGES.prepare, ACTIONS.image], [STAGES.train, ACTIONS.train], [STAGES.dev, ACTIONS.deployDev],
            [STAGES.dev, ACTIONS.evaluate], [STAGES.prod, ACTIONS.deployProd]]) {
            assert.deepEqual(action(graph, s, a).inputArtifacts, ["code"], `${a} builds the pipeline's code revision`);
        }
    });

    it("gives the ETL trigger UserParameters it accepts once CodePipeline resolves the variables", () => {
        const pipeline = pipelineOf(graph);
        const variables = Object.fromEntries(pipeline.inputs.variables.map((v: any) => [v.name, v.defaultValue]));
        // By default the ETL reads the object the data source watches; a manual start may point it elsewhere.
        assert.equal(variables[PIPELINE_VARIABLES.inputUri], `s3://${action(graph, STAGES.source, ACTIONS.data).configuration.S3Bucket}/${DATA_KEY}`);
        const executionId = "5c1d3f0e-8a7b-4c2d-9e1f-0a1b2c3d4e5f";
        const resolved = action(graph, STAGES.prepare, ACTIONS.etl).configuration.UserParameters
            .replace("#{variables.inputUri}", variables.inputUri)
            .replace("#{codepipeline.PipelineExecutionId}", executionId);
        const parsed = parseUserParameters(resolved.replace("#{variables.reuse}", variables.reuse), { rawBucket: RAW_BUCKET, defaultRunId: "job-id" });
        assert.deepEqual(parsed, { inputUri: `s3://${RAW_BUCKET}/${DATA_KEY}`, runId: executionId, schemaUri: undefined, reuse: true });
        // Reuse is on by default and an execution may switch it off (audit): the ETL and the train step read the same variable.
        assert.equal(parseUserParameters(resolved.replace("#{variables.reuse}", "false"), { rawBucket: RAW_BUCKET, defaultRunId: "j" }).reuse, false);
        assert.equal(buildVariables(action(graph, STAGES.train, ACTIONS.train)).REUSE, "#{variables.reuse}");
    });

    it("references only variables that exist: pipeline variables, ETL outputs and earlier namespaces", () => {
        const pipeline = pipelineOf(graph);
        const etlOutputs = Object.keys(outputVariables(
            JSON.stringify({ runId: "r1", rowsIn: 10, rowsOut: 7, rowsQuarantined: 3, splits: { train: 5, validation: 1, test: 1 } }),
            "r1", "s3://c/d/r1/", "jr_1"));
        const declared = new Set(pipeline.inputs.variables.map((v: any) => v.name));
        const seen = new Set<string>();
        const namespaces = new Set<string>();
        for (const s of pipeline.inputs.stages) {
            for (const a of s.actions) {
                for (const [, ns, variable] of JSON.stringify(a.configuration ?? {}).matchAll(/#\{([A-Za-z]+)\.([A-Za-z_]+)\}/g)) {
                    namespaces.add(ns);
                    if (ns === "variables") assert.ok(declared.has(variable), `undeclared pipeline variable ${variable}`);
                    else if (ns === "Prepare") assert.ok(etlOutputs.includes(variable), `ETL trigger does not output ${variable}`);
                    else if (ns !== "codepipeline") assert.ok(seen.has(ns), `${a.name} reads ${ns}.${variable} before ${ns} ran`);
                }
            }
            for (const a of s.actions) if (a.namespace) seen.add(a.namespace);
        }
        // Every kind of reference was checked at least once.
        assert.deepEqual([...namespaces].sort(), ["Code", "Image", "Prepare", "Train", "codepipeline", "variables"]);
    });

    it("builds the image beside the ETL and before Train, which alone receives it; deploys serve the registered version's image", () => {
        const stages = pipelineOf(graph).inputs.stages.map((s: any) => s.name);
        const image = action(graph, STAGES.prepare, ACTIONS.image);
        const etl = action(graph, STAGES.prepare, ACTIONS.etl);
        // Actions of one stage with the same run order run in parallel; stages run one after another.
        assert.equal(image.runOrder ?? 1, etl.runOrder ?? 1);
        assert.ok(stages.indexOf(STAGES.prepare) < stages.indexOf(STAGES.train), "the image exists before training starts");
        assert.equal(buildVariables(action(graph, STAGES.train, ACTIONS.train)).IMAGE_URI, `#{${image.namespace}.IMAGE_URI}`);
        for (const [s, a] of [[STAGES.dev, ACTIONS.deployDev], [STAGES.dev, ACTIONS.evaluate], [STAGES.prod, ACTIONS.deployProd]]) {
            assert.equal(buildVariables(action(graph, s, a)).IMAGE_URI, undefined, `${a} serves the registered version's image, not the build's`);
        }
    });

    it("hands the version Train registered to both deployments and the evaluation, and the ETL's splits to the steps that use them", () => {
        const train = action(graph, STAGES.train, ACTIONS.train);
        for (const [s, a] of [[STAGES.dev, ACTIONS.deployDev], [STAGES.dev, ACTIONS.evaluate], [STAGES.prod, ACTIONS.deployProd]]) {
            assert.equal(buildVariables(action(graph, s, a)).MODEL_PACKAGE_ARN, `#{${train.namespace}.MODEL_PACKAGE_ARN}`, a);
        }
        const trainVariables = buildVariables(train);
        assert.equal(trainVariables.TRAIN_PREFIX, "#{Prepare.trainPrefix}");
        assert.equal(trainVariables.VALIDATION_PREFIX, "#{Prepare.validationPrefix}");
        const evaluate = buildVariables(action(graph, STAGES.dev, ACTIONS.evaluate));
        assert.equal(evaluate.TEST_PREFIX, "#{Prepare.testPrefix}");
        assert.equal(evaluate.TRAIN_PREFIX, undefined, "the evaluation never sees the training split");
        // Every build can tell which execution and which code revision it ran for.
        for (const s of pipelineOf(graph).inputs.stages) {
            for (const a of s.actions.filter((x: any) => x.provider === "CodeBuild")) {
                assert.equal(buildVariables(a).PIPELINE_EXECUTION_ID, "#{codepipeline.PipelineExecutionId}", a.name);
                assert.equal(buildVariables(a).GIT_COMMIT, "s3-version:#{Code.VersionId}", `${a.name}: without Git, the bundle's S3 version`);
            }
        }
    });

    it("reads from the Train namespace only variables the train project's buildspec exports (whole program)", async () => {
        // CodePipeline fails an action whose configuration names an output variable the upstream action did not
        // export, so every #{Train.X} must be in the train buildspec's env.exported-variables.
        const { graph: whole } = await stackGraph("platform");
        const train = action(whole, STAGES.train, ACTIONS.train);
        const project = whole.ofType("aws:codebuild/project:Project").find((p) => p.inputs.name === train.configuration.ProjectName);
        assert.ok(project, `the Train action runs a project of this stack (${train.configuration.ProjectName})`);
        const exported: string[] = YAML.parse(project.inputs.source.buildspec).env["exported-variables"];
        const referenced = new Set([...JSON.stringify(pipelineOf(whole).inputs.stages).matchAll(/#\{Train\.([^}]+)\}/g)].map((m) => m[1]));
        assert.ok(referenced.has("MODEL_PACKAGE_ARN"), "later actions read the registered version");
        for (const name of referenced) assert.ok(exported.includes(name), `#{Train.${name}} is not exported by the train buildspec (${exported})`);
    });
});

describe("delivery pipeline: who starts it, and where failures go", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    let queuePolicy: any;
    before(async () => {
        ({ graph, outputs } = await evaluateDelivery());
        queuePolicy = JSON.parse(graph.one("aws:sqs/queuePolicy:QueuePolicy").inputs.policy);
    });
    const rule = (name: string) => graph.one("aws:cloudwatch/eventRule:EventRule", name);
    const targetOf = (r: RecordedResource) => graph.ofType("aws:cloudwatch/eventTarget:EventTarget").find((t) => t.inputs.rule === r.state.name)!;

    it("starts on a new version of the object the data source reads, and on nothing else; neither source polls", () => {
        const data = action(graph, STAGES.source, ACTIONS.data).configuration;
        const pattern = JSON.parse(rule("delivery-data-landed").inputs.eventPattern);
        assert.ok(matchesPattern(pattern, s3ObjectCreated(data.S3Bucket, data.S3ObjectKey)), "a new version of the dataset starts a run");
        assert.ok(!matchesPattern(pattern, s3ObjectCreated(data.S3Bucket, "incoming/other.csv")), "another object does not");
        assert.ok(!matchesPattern(pattern, s3ObjectCreated("someone-elses-bucket", data.S3ObjectKey)), "another bucket does not");
        assert.ok(!matchesPattern(pattern, { ...s3ObjectCreated(data.S3Bucket, data.S3ObjectKey), "detail-type": "Object Deleted" }), "a delete does not");
        // S3 sends the raw bucket's events to EventBridge only once its notification configuration says so.
        const notification = graph.one("aws:s3/bucketNotification:BucketNotification");
        assert.deepEqual([notification.inputs.bucket, notification.inputs.eventbridge], [data.S3Bucket, true]);
        assert.ok(rule("delivery-data-landed").dependencies.includes(notification.urn));
        // The rule is the one starter: a polling source would start every run a second time.
        for (const a of stage(graph, STAGES.source).actions) assert.equal(a.configuration.PollForSourceChanges, "false", a.name);
        assert.equal(pipelineOf(graph).inputs.triggers, undefined, "without a connection, pushes start nothing");
        assert.equal(targetOf(rule("delivery-data-landed")).inputs.arn, outputs.pipelineArn);
    });

    it("lets EventBridge start this pipeline and do nothing else (IAM simulation)", async () => {
        const target = targetOf(rule("delivery-data-landed"));
        const role = graph.ofType("aws:iam/role:Role").find((r) => r.state.arn === target.inputs.roleArn)!;
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "events.amazonaws.com" });
        const policies = policiesOfRole(graph, role);
        const ask = (action: string, resource: string) => decide(policies, role.state.arn, { action, resource });
        assert.equal(await ask("codepipeline:StartPipelineExecution", outputs.pipelineArn), "Allowed");
        assert.equal(await ask("codepipeline:StartPipelineExecution", `arn:aws:codepipeline:${REGION}:${ACCOUNT_ID}:mlops-prod-churn`), "ImplicitlyDenied");
        assert.equal(await ask("codepipeline:StopPipelineExecution", outputs.pipelineArn), "ImplicitlyDenied");
    });

    it("alerts the topic when an execution of this pipeline fails, not when it succeeds or another pipeline fails", () => {
        const pipelineName = pipelineOf(graph).inputs.name;
        const pattern = JSON.parse(rule("delivery-failed").inputs.eventPattern);
        assert.ok(matchesPattern(pattern, executionChanged(pipelineName, "FAILED")));
        for (const state of ["SUCCEEDED", "STARTED", "SUPERSEDED", "STOPPED"]) assert.ok(!matchesPattern(pattern, executionChanged(pipelineName, state)), state);
        assert.ok(!matchesPattern(pattern, executionChanged("mlops-prod-other", "FAILED")));
        const alert = targetOf(rule("delivery-failed"));
        assert.equal(alert.inputs.arn, outputs.alertsTopicArn);
        // The message names the pipeline and the execution from the event.
        assert.deepEqual(alert.inputs.inputTransformer.inputPaths, { pipeline: "$.detail.pipeline", execution: "$.detail.execution-id" });
        assert.match(alert.inputs.inputTransformer.inputTemplate, /<pipeline>[\s\S]*<execution>/);
    });

    it("sends events EventBridge could not deliver to an encrypted queue whose messages raise an alarm on the alerts topic", () => {
        const queue = graph.one("aws:sqs/queue:Queue");
        assert.equal(queue.inputs.kmsMasterKeyId, outputs.kmsKeyArn);
        for (const name of ["delivery-data-landed", "delivery-failed"]) {
            const target = targetOf(rule(name));
            assert.equal(target.inputs.deadLetterConfig.arn, queue.state.arn, name);
            assert.ok(target.inputs.retryPolicy.maximumRetryAttempts > 0, `${name} retries before dead-lettering`);
        }
        const alarm = graph.ofType("aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.dimensions?.QueueName === queue.state.name)!;
        assert.deepEqual(alarm.inputs.alarmActions, [outputs.alertsTopicArn]);
        assert.equal(alarm.inputs.threshold, 1, "one undelivered event is enough to look");
    });

    it("lets only our rules, from our account, over TLS, dead-letter into the queue (IAM simulation)", async () => {
        const queueArn = graph.one("aws:sqs/queue:Queue").state.arn;
        const rules = ["delivery-data-landed", "delivery-failed"].map((n) => rule(n).state.arn);
        const send = (context: Record<string, string>, principal = "events.amazonaws.com") =>
            decide([], principal, { action: "sqs:SendMessage", resource: queueArn, context }, () => queuePolicy);
        const ours = { "aws:SourceAccount": ACCOUNT_ID, "aws:SecureTransport": "true" };
        for (const sourceArn of rules) assert.equal(await send({ ...ours, "aws:SourceArn": sourceArn }), "Allowed", sourceArn);
        assert.equal(await send({ ...ours, "aws:SourceArn": rules[0], "aws:SecureTransport": "false" }), "ExplicitlyDenied", "plain HTTP");
        assert.equal(await send({ ...ours, "aws:SourceArn": rules[0], "aws:SourceAccount": "210987654321" }), "ImplicitlyDenied", "another account's rule of the same name");
        assert.equal(await send({ "aws:SourceArn": rules[0], "aws:SecureTransport": "true" }), "ImplicitlyDenied", "no source account");
        assert.equal(await send({ ...ours, "aws:SourceArn": `arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/someone-elses` }), "ImplicitlyDenied", "another rule");
        assert.equal(await send({ ...ours, "aws:SourceArn": rules[0] }, "sns.amazonaws.com"), "ImplicitlyDenied", "another service");
        // Even a principal of our account whose own policy allows SendMessage is refused over plain HTTP.
        const admin = [{ name: "admin", policy: { Statement: [{ Effect: "Allow", Action: "sqs:*", Resource: "*" }] } }];
        const decision = await decide(admin, `arn:aws:iam::${ACCOUNT_ID}:role/admin`,
            { action: "sqs:ReceiveMessage", resource: queueArn, context: { "aws:SecureTransport": "false" } }, () => queuePolicy);
        assert.equal(decision, "ExplicitlyDenied");
    });

    it("lets the pipeline role run exactly its five builds, invoke only the ETL trigger, and read only its data object (IAM simulation)", async () => {
        const role = roleNamed(graph, "mlops-dev-pipeline");
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "codepipeline.amazonaws.com" });
        const policies = policiesOfRole(graph, role);
        const ask = (action: string, resource: string) => decide(policies, role.state.arn, { action, resource });
        const projects = [OTHERS.imageProject.arn, OTHERS.trainProject.arn, OTHERS.evaluateProject.arn,
            deployProjectFor(graph, "dev").state.arn, deployProjectFor(graph, "prod").state.arn];
        for (const p of projects) assert.equal(await ask("codebuild:StartBuild", p), "Allowed", p);
        assert.equal(await ask("codebuild:StartBuild", `arn:aws:codebuild:${REGION}:${ACCOUNT_ID}:project/mlops-prod-other`), "ImplicitlyDenied");
        assert.equal(await ask("lambda:InvokeFunction", OTHERS.etlFunction.arn), "Allowed");
        assert.equal(await ask("lambda:InvokeFunction", `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:mlops-dev-retrain-trigger`), "ImplicitlyDenied");
        assert.equal(await ask("s3:GetObject", `arn:aws:s3:::${RAW_BUCKET}/${DATA_KEY}`), "Allowed");
        assert.equal(await ask("s3:GetObject", `arn:aws:s3:::${RAW_BUCKET}/incoming/other.csv`), "ImplicitlyDenied");
        assert.equal(await ask("sns:Publish", outputs.alertsTopicArn), "ImplicitlyDenied", "no approval step, no publishing");
        assert.equal(await ask("codestar-connections:UseConnection", CONNECTION), "ImplicitlyDenied", "no Git source, no connection");
    });
});

/** Runs the build phase of a deploy project's buildspec in bash, with `npx` replaced by a recorder of its arguments. */
function runDeployBuild(project: RecordedResource, env: Record<string, string>): { status: number | null; stderr: string; npx?: string[] } {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-build-"));
    try {
        const bin = path.join(home, "bin");
        fs.mkdirSync(bin);
        const record = path.join(home, "npx-args.json");
        fs.writeFileSync(path.join(bin, "npx"), `#!/usr/bin/env node\nrequire("fs").writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)));\n`, { mode: 0o755 });
        const commands: string[] = YAML.parse(project.inputs.source.buildspec).phases.build.commands;
        const result = spawnSync("bash", ["-c", ["set -e", ...commands].join("\n")], {
            cwd: REPO_ROOT,
            encoding: "utf8",
            env: { PATH: `${bin}:${process.env.PATH}`, HOME: home, ...projectVariables(project), ...env },
        });
        return { status: result.status, stderr: result.stderr, npx: fs.existsSync(record) ? JSON.parse(fs.readFileSync(record, "utf8")) : undefined };
    } finally {
        fs.rmSync(home, { recursive: true, force: true });
    }
}

describe("delivery pipeline: deploy projects", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    before(async () => {
        ({ graph, outputs } = await evaluateDelivery());
    });

    it("deploys with two unprivileged CodeBuild projects on a managed image, our key and explicit encrypted logs", () => {
        const projects = graph.ofType("aws:codebuild/project:Project");
        assert.deepEqual(projects.map((p) => projectVariables(p).TARGET_STACK).sort(), ["dev", "prod"]);
        for (const p of projects) {
            const env = p.inputs.environment;
            assert.equal(env.privilegedMode, false, p.name);
            // pulumi up with three provider plugins: 8 GiB, not SMALL's 4 GiB.
            assert.equal(env.computeType, "BUILD_GENERAL1_MEDIUM", p.name);
            assert.match(env.image, /^aws\/codebuild\//, "an AWS-managed image");
            assert.equal(p.inputs.encryptionKey, outputs.kmsKeyArn);
            assert.equal(p.inputs.concurrentBuildLimit, 1, "two updates of one stack would fight over its lock");
            const group = graph.ofType("aws:cloudwatch/logGroup:LogGroup").find((g) => g.inputs.name === p.inputs.logsConfig.cloudwatchLogs.groupName)!;
            assert.ok(group, `${p.name} logs to a group the stack owns`);
            assert.equal(group.inputs.kmsKeyId, outputs.kmsKeyArn);
        }
        // Prod's rollout (a blue/green canary with its waits) takes longer than dev's.
        assert.ok(deployProjectFor(graph, "prod").inputs.buildTimeout > deployProjectFor(graph, "dev").inputs.buildTimeout);
    });

    it("reads the Pulumi token from Secrets Manager, encrypted with our key, and holds no secret in plaintext", async () => {
        const secret = graph.one("aws:secretsmanager/secret:Secret");
        assert.equal(secret.inputs.kmsKeyId, outputs.kmsKeyArn);
        assert.equal(graph.ofType("aws:secretsmanager/secretVersion:SecretVersion").length, 0, "the value is set out of band");
        for (const p of graph.ofType("aws:codebuild/project:Project")) {
            const vars = p.inputs.environment.environmentVariables as any[];
            const token = vars.find((v) => v.name === "PULUMI_ACCESS_TOKEN");
            assert.deepEqual([token.type, token.value], ["SECRETS_MANAGER", secret.state.arn]);
            for (const v of vars.filter((x) => (x.type ?? "PLAINTEXT") === "PLAINTEXT")) {
                assert.doesNotMatch(v.name, /TOKEN|SECRET|PASSWORD|KEY/i);
                assert.doesNotMatch(String(v.value), /^pul-[0-9a-f]{20,}/, "no Pulumi token value");
            }
            const role = graph.ofType("aws:iam/role:Role").find((r) => r.state.arn === p.inputs.serviceRole)!;
            assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } });
            const build = policiesOfRole(graph, role).filter((x) => x.name.endsWith("-build-policy"));
            assert.equal(await decide(build, role.state.arn, { action: "secretsmanager:GetSecretValue", resource: secret.state.arn }), "Allowed", p.name);
            assert.equal(await decide(build, role.state.arn,
                { action: "secretsmanager:GetSecretValue", resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:other-AbCdEf` }), "ImplicitlyDenied");
        }
    });

    it("runs steps/deploy on its own stack with the version Train resolved", () => {
        for (const stack of ["dev", "prod"]) {
            const run = runDeployBuild(deployProjectFor(graph, stack), { MODEL_PACKAGE_ARN: VERSION_ARN });
            assert.equal(run.status, 0, run.stderr);
            const argv = run.npx!;
            const entry = argv.find((a) => a.endsWith(".ts"))!;
            assert.ok(fs.existsSync(path.join(REPO_ROOT, entry)), `${entry} exists`);
            assert.equal(entry, "steps/deploy/main.ts");
            assert.equal(argv[argv.indexOf("--stack") + 1], stack);
            assert.equal(argv[argv.indexOf("--model-package-arn") + 1], VERSION_ARN);
        }
    });

    it("fails before deploying when Train did not export the version (unresolved or empty), saying so", () => {
        for (const value of ["#{Train.MODEL_PACKAGE_ARN}", ""]) {
            const run = runDeployBuild(deployProjectFor(graph, "prod"), { MODEL_PACKAGE_ARN: value });
            assert.notEqual(run.status, 0, JSON.stringify(value));
            assert.equal(run.npx, undefined, "steps/deploy never ran");
            assert.match(run.stderr, /MODEL_PACKAGE_ARN is empty or unresolved[\s\S]*the Train action must export it/);
        }
    });

    it("tells only the prod deploy where to record lead time (the pipeline and the execution summaries)", () => {
        const prod = projectVariables(deployProjectFor(graph, "prod"));
        const dev = projectVariables(deployProjectFor(graph, "dev"));
        assert.equal(prod.PIPELINE_NAME, pipelineOf(graph).inputs.name);
        assert.match(prod.EXECUTION_SUMMARY_PREFIX, /^s3:\/\/mlops-dev-artifacts-/);
        assert.equal(dev.PIPELINE_NAME, undefined);
        assert.equal(dev.EXECUTION_SUMMARY_PREFIX, undefined);
    });
});

describe("delivery pipeline: deploy roles are least privilege", () => {
    let graph: StackGraph;
    let dev: any[];
    let prod: any[];
    before(async () => {
        ({ graph } = await evaluateDelivery({
            pipeline: { gitSource: { repository: "example-org/sagemaker-mlops", branch: "main", connectionArn: CONNECTION } },
            deploy: { connectionArn: CONNECTION },
        }));
        dev = stackPolicies(graph, "dev").flatMap(statementsOf);
        prod = stackPolicies(graph, "prod").flatMap(statementsOf);
    });

    /** Resources a deploy policy may name without the environment prefix; each is justified in stack-deploy-policy.ts. */
    const EXCEPTIONS = [
        /^\*$/,
        new RegExp(`^arn:aws:kms:${REGION}:${ACCOUNT_ID}:key/\\*$`),
        new RegExp(`^arn:aws:sagemaker:${REGION}:${ACCOUNT_ID}:(model|endpoint-config)/\\*$`),
        new RegExp(`^arn:aws:application-autoscaling:${REGION}:${ACCOUNT_ID}:scalable-target/\\*$`),
        /^arn:aws:iam::\d+:role\/aws-service-role\/sagemaker\.application-autoscaling\.amazonaws\.com\//,
        /^arn:aws:sagemaker:us-east-1:\d+:model-package(-group)?\/mlops-dev-churn(\/\*)?$/,
    ];

    it("names every action explicitly: no *, no service:*, no prefix wildcards", () => {
        for (const s of [...dev, ...prod]) for (const a of list(s.Action)) assert.doesNotMatch(a, /\*/, `${s.Sid}: ${a}`);
    });

    it("scopes every resource to its own environment's prefix, its tag, or a justified exception", () => {
        for (const [env, other, statements] of [["dev", "prod", dev], ["prod", "dev", prod]] as const) {
            // What is granted; the denies (permissions boundaries) are checked in permissions-boundary.test.ts.
            for (const s of statements.filter((x) => x.Effect === "Allow")) {
                for (const r of list(s.Resource) as string[]) {
                    const own = r.includes(`mlops-${env}-`) || r.endsWith(`alias/mlops-${env}`) || r.endsWith("oidc-provider/api.pulumi.com/oidc")
                        || r === CONNECTION;
                    assert.ok(own || EXCEPTIONS.some((e) => e.test(r)), `${env} ${s.Sid}: ${r}`);
                    if (!/model-package/.test(r)) assert.ok(!r.includes(`mlops-${other}-`), `${env} ${s.Sid} reaches ${other}: ${r}`);
                }
                if (list(s.Resource).includes("*")) {
                    for (const a of list(s.Action)) {
                        assert.match(a, /^(kms:ListAliases|logs:DescribeLogGroups|sagemaker:ListModelPackages|application-autoscaling:Describe\w+|glue:GetSecurityConfiguration)$/, `${s.Sid}: ${a} on "*"`);
                    }
                }
            }
        }
    });

    it("conditions key use on the environment tag and deletes of autonamed models on it too", () => {
        for (const sid of ["ManageEnvironmentKeys", "GrantEnvironmentKeysToServices", "DeleteEnvironmentModelsAndEndpointConfigs"]) {
            assert.equal(prod.find((s) => s.Sid === sid).Condition.StringEquals["aws:ResourceTag/environment"], "prod", sid);
            assert.equal(dev.find((s) => s.Sid === sid).Condition.StringEquals["aws:ResourceTag/environment"], "dev", sid);
        }
        const creates = dev.find((s) => s.Sid === "CreateAutonamedModelsAndEndpointConfigs");
        assert.ok(!list(creates.Action).some((a: string) => /Delete/.test(a)), "deletes only under the tag condition");
    });

    it("passes only the environment's roles, only to its services, and attaches no AWS-managed policy", () => {
        for (const [env, statements] of [["dev", dev], ["prod", prod]] as const) {
            const passing = statements.filter((s) => list(s.Action).includes("iam:PassRole"));
            assert.equal(passing.length, 1);
            assert.equal(passing[0].Resource, `arn:aws:iam::${ACCOUNT_ID}:role/mlops-${env}-*`);
            assert.ok(passing[0].Condition.StringEquals["iam:PassedToService"].includes("sagemaker.amazonaws.com"));
            const attach = statements.find((s) => list(s.Action).includes("iam:AttachRolePolicy"));
            assert.deepEqual(attach.Condition, {
                ArnLike: { "iam:PolicyARN": `arn:aws:iam::${ACCOUNT_ID}:policy/mlops-${env}-*` },
                StringEquals: { "iam:PermissionsBoundary": `arn:aws:iam::${ACCOUNT_ID}:policy/mlops/boundary/mlops-${env}-permissions-boundary` },
            });
            const roleWrites = statements.filter((s) => s.Effect === "Allow" && list(s.Action).some((a: string) => /^iam:(Create|Put|Update|Delete)/.test(a)));
            for (const s of roleWrites) for (const r of list(s.Resource) as string[]) assert.match(r, new RegExp(`mlops-${env}-|oidc-provider|aws-service-role`), s.Sid);
        }
        const ours = new Set(graph.ofType("aws:iam/policy:Policy").map((p) => p.state.arn));
        const attachments = graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment");
        assert.equal(attachments.length, 7, "storage, identity, serving (+ host for dev)");
        for (const a of attachments) assert.ok(ours.has(a.inputs.policyArn), `${a.name} attaches ${a.inputs.policyArn}, not one of ours`);
    });

    it("gives the host's resources (pipeline, ECR, Glue, registry, OIDC provider, connection) to the dev deployer only", () => {
        const actions = (statements: any[]) => new Set(statements.flatMap((s) => list(s.Action) as string[]));
        for (const hostOnly of ["codepipeline:UpdatePipeline", "ecr:CreateRepository", "glue:UpdateJob", "codebuild:UpdateProject",
            "sagemaker:CreateModelPackageGroup", "codeconnections:PassConnection"]) {
            assert.ok(actions(dev).has(hostOnly), `dev lacks ${hostOnly}`);
            assert.ok(!actions(prod).has(hostOnly), `prod has ${hostOnly}`);
        }
        const pass = dev.find((s) => s.Sid === "PassSourceConnectionToPipeline");
        assert.deepEqual([pass.Resource, pass.Condition], [CONNECTION, { StringEquals: { "codeconnections:PassedToService": "codepipeline.amazonaws.com" } }]);
        // The account's Pulumi OIDC provider is set up once per account unless the host opts in (accountResources).
        for (const bootstrapOnly of ["kms:CreateKey", "glue:CreateSecurityConfiguration", "iam:CreateOpenIDConnectProvider"]) {
            assert.ok(!actions(dev).has(bootstrapOnly) && !actions(prod).has(bootstrapOnly), `${bootstrapOnly} is a bootstrap action`);
        }
    });

    it("fits IAM's limits: each managed policy within 6,144 characters, inline policies within 10,240 per role", () => {
        for (const target of ["dev", "prod"]) {
            const policies = stackPolicies(graph, target);
            assert.deepEqual(policies.map((p) => p.inputs.name).sort(),
                ["storage", "identity", "serving", ...(target === "dev" ? ["host"] : [])].map((part) => `mlops-dev-deploy-${target}-${part}`).sort());
            for (const p of policies) {
                const size = JSON.stringify(JSON.parse(p.inputs.policy)).length;
                assert.ok(size > 500 && size <= 6144, `${p.inputs.name}: ${size} characters`);
            }
            const role = roleNamed(graph, `mlops-dev-deploy-${target}`);
            const inline = graph.ofType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === `${role.name}-id`)
                .reduce((n, p) => n + JSON.stringify(JSON.parse(p.inputs.policy)).length, 0);
            assert.ok(inline > 0 && inline <= 10_240, `${target} inline: ${inline}`);
            const attached = graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => a.inputs.role === role.inputs.name);
            assert.equal(attached.length, policies.length);
        }
    });
});

describe("delivery pipeline: with a CodeStar connection", () => {
    let graph: StackGraph;
    before(async () => {
        const source = { repository: "example-org/sagemaker-mlops", branch: "release", connectionArn: CONNECTION };
        // The program builds gitSource from mlops:source: configure it there, as a user would (a platform key).
        ({ graph } = await evaluateDelivery({}, { source }, "platform"));
    });

    it("takes code from GitHub through the connection, records the commit in every build, and keeps the S3 data source", () => {
        const code = action(graph, STAGES.source, ACTIONS.code);
        assert.equal(code.provider, "CodeStarSourceConnection");
        assert.deepEqual([code.configuration.ConnectionArn, code.configuration.FullRepositoryId, code.configuration.BranchName],
            [CONNECTION, "example-org/sagemaker-mlops", "release"]);
        assert.equal(action(graph, STAGES.source, ACTIONS.data).provider, "S3");
        for (const s of pipelineOf(graph).inputs.stages) {
            for (const a of s.actions.filter((x: any) => x.provider === "CodeBuild")) assert.equal(buildVariables(a).GIT_COMMIT, "#{Code.CommitId}", a.name);
        }
    });

    it("starts on pushes to the branch that change what the model is built from, and not on others", () => {
        // Whatever goes into the model image is built by the pipeline only, so a push to any of it must start a run.
        for (const file of imageFiles(REPO_ROOT)) assert.ok(pushStarts(graph, "release", [file]), `a push to ${file} starts no run`);
        for (const file of ["etl/glue_job.py", "etl/mlops_etl/transforms.py", "steps/train/main.ts", "steps/lib/naming.ts", "data/churn.schema.json"]) {
            assert.ok(pushStarts(graph, "release", [file]), file);
        }
        for (const file of ["README.md", "docs/delivery.md", "tests/infra/config.test.ts", "data/churn.csv", "infra/program.ts"]) {
            assert.ok(!pushStarts(graph, "release", [file]), `${file} alone does not change the model`);
        }
        assert.ok(pushStarts(graph, "release", ["README.md", "model-container/Dockerfile"]), "one model file in the push is enough");
        assert.ok(!pushStarts(graph, "main", ["model-container/Dockerfile"]), "only the configured branch");
    });

    it("may use the connection (pipeline role), and neither deploy project may pass it (IAM simulation)", async () => {
        const pipelineRole = roleNamed(graph, "mlops-platform-pipeline");
        // The simulator resolves a codestar-connections ARN only for actions of that (legacy) prefix, which both roles also hold.
        const use = await decide(policiesOfRole(graph, pipelineRole), pipelineRole.state.arn, { action: "codestar-connections:UseConnection", resource: CONNECTION });
        assert.equal(use, "Allowed");
        const pass = async (stack: string) => {
            const role = graph.ofType("aws:iam/role:Role").find((r) => r.state.arn === deployProjectFor(graph, stack).inputs.serviceRole)!;
            return decide(policiesOfRole(graph, role), role.state.arn, {
                action: "codestar-connections:PassConnection", resource: CONNECTION,
                context: { "codestar-connections:PassedToService": "codepipeline.amazonaws.com" },
            });
        };
        // The platform owns the pipeline and is deployed by its own deployer, never by the environments' deploy projects.
        assert.equal(await pass("dev"), "ImplicitlyDenied");
        assert.equal(await pass("prod"), "ImplicitlyDenied");
    });
});

describe("delivery pipeline: options and validation", () => {
    it("adds a manual approval before the prod deployment only when asked, notifying the alerts topic, which the pipeline may then publish to", async () => {
        const { graph, outputs } = await evaluateDelivery({ pipeline: { requireManualApproval: true, executionMode: "QUEUED" } });
        const prod = stage(graph, STAGES.prod);
        assert.deepEqual(prod.actions.map((a: any) => [a.name, a.category, a.provider, a.runOrder]),
            [["Approve", "Approval", "Manual", 1], ["DeployProd", "Build", "CodeBuild", 2]]);
        assert.equal(prod.actions[0].configuration.NotificationArn, outputs.alertsTopicArn);
        assert.match(prod.actions[0].configuration.CustomData, /#\{Train\.MODEL_PACKAGE_ARN\}[\s\S]*prod stack/);
        assert.ok(prod.actions[0].configuration.CustomData.length <= 500, "CodePipeline caps CustomData at 500 characters");
        assert.equal(pipelineOf(graph).inputs.executionMode, "QUEUED");
        const role = roleNamed(graph, "mlops-dev-pipeline");
        assert.equal(await decide(policiesOfRole(graph, role), role.state.arn, { action: "sns:Publish", resource: outputs.alertsTopicArn }), "Allowed");
    });

    const invalid: [string, Overrides, RegExp][] = [
        ["a data key with a leading slash", { pipeline: { dataObjectKey: "/incoming/churn.csv" } }, /DeliveryPipeline delivery: dataObjectKey "\/incoming\/churn\.csv" is invalid; expected an object key/],
        ["a data prefix instead of an object", { pipeline: { dataObjectKey: "incoming/" } }, /dataObjectKey "incoming\/" is invalid/],
        ["a code bundle that is not a zip", { pipeline: { codeBundleKey: "source/code.tar" } }, /codeBundleKey "source\/code\.tar" is invalid; expected an object key ending in \.zip/],
        ["an unknown execution mode", { pipeline: { executionMode: "PARALLEL" as never } }, /executionMode "PARALLEL" is not supported; allowed: SUPERSEDED, QUEUED/],
        ["an empty trigger path list with a Git source", {
            pipeline: { gitSource: { repository: "o/r", branch: "main", connectionArn: CONNECTION }, triggerPaths: [] },
        }, /triggerPaths is empty; give at least one path pattern/],
        ["a deploy timeout beyond CodeBuild's", { deploy: { timeoutMinutes: { dev: 60, prod: 3000 } } }, /DeployProjects delivery: timeoutMinutes\.prod 3000 is out of range; CodeBuild allows whole minutes from 5 to 2160/],
        ["one stack for both gates", { deploy: { stacks: { dev: "dev", prod: "dev" } } }, /stacks\.dev and stacks\.prod are both "dev"; the gate must separate two stacks/],
    ];
    for (const [what, overrides, message] of invalid) {
        it(`refuses ${what}, naming the argument and what is allowed`, async () => {
            const result = await evaluate("dev", deliveryProgram(overrides));
            assert.match(String(result.error?.message), message);
            assert.equal(result.graph.ofType("aws:codepipeline/pipeline:Pipeline").length, 0);
        });
    }

    it("refuses a data key the triggers cannot watch, naming the component", async () => {
        const result = await evaluate("dev", () => {
            const { context, baseline, opts } = testBed();
            new DeliveryTriggers("delivery", {
                context, kmsKeyArn: baseline.kmsKeyArn, alertsTopicArn: baseline.alertsTopicArn, pipelineName: "p",
                pipelineArn: "arn:aws:codepipeline:us-east-1:123456789012:p", rawBucketName: "b", dataObjectKey: "incoming//x.csv",
            }, opts);
        });
        assert.match(String(result.error?.message), /DeliveryTriggers delivery: dataObjectKey "incoming\/\/x\.csv" is invalid/);
        assert.equal(result.graph.ofType("aws:cloudwatch/eventRule:EventRule").length, 0);
    });
});

describe("delivery pipeline: stacks", () => {
    it("dev and prod have no pipeline, no deploy projects and leave their raw buckets' notifications alone", async () => {
        for (const stack of ["dev", "prod"]) {
            const { graph } = await evaluateStackOk(stack);
            for (const type of ["aws:codepipeline/pipeline:Pipeline", "aws:codebuild/project:Project", "aws:s3/bucketNotification:BucketNotification",
                "aws:secretsmanager/secret:Secret"]) {
                assert.equal(graph.ofType(type).length, 0, `${stack}: ${type}`);
            }
        }
    });

    it("the platform has one pipeline, under the name the program fixed for other stacks to refer to, and sets the raw bucket's notifications once", async () => {
        const { graph } = await evaluateStackOk("platform");
        assert.equal(graph.ofType("aws:s3/bucketNotification:BucketNotification").length, 1);
        assert.equal(pipelineOf(graph).inputs.name, "mlops-platform-churn");
    });
});
