/**
 * The delivery pipeline (CodePipeline V2, deploy projects, triggers), evaluated with the dev stack's real config,
 * context and security baseline. The ETL function and the train/evaluate projects belong to other components and
 * are given as fixed ARNs here, exactly as the program passes their outputs.
 */
import { strict as assert } from "assert";
import * as YAML from "yaml";
import { ACTIONS, PIPELINE_VARIABLES, STAGES } from "../../contracts/delivery";
import { DeliveryPipeline, DeliveryPipelineArgs, MODEL_TRIGGER_PATHS } from "../../infra/components/delivery-pipeline";
import { outputVariables } from "../../lambdas/etl-trigger/manifest";
import { parseUserParameters } from "../../lambdas/etl-trigger/parameters";
import { IMAGE_INPUTS } from "../../infra/lib/image-context";
import { testBed } from "../harness/fixtures";
import { ACCOUNT_ID, evaluate, evaluateStackOk, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REGION = "us-east-1";
const OTHERS = {
    etlFunction: { name: "mlops-dev-etl-trigger", arn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:mlops-dev-etl-trigger` },
    imageProject: { name: "mlops-dev-image", arn: `arn:aws:codebuild:${REGION}:${ACCOUNT_ID}:project/mlops-dev-image` },
    trainProject: { name: "mlops-dev-train", arn: `arn:aws:codebuild:${REGION}:${ACCOUNT_ID}:project/mlops-dev-train` },
    evaluateProject: { name: "mlops-dev-evaluate", arn: `arn:aws:codebuild:${REGION}:${ACCOUNT_ID}:project/mlops-dev-evaluate` },
    modelPackageGroupArn: `arn:aws:sagemaker:${REGION}:${ACCOUNT_ID}:model-package-group/mlops-dev-churn`,
};
const CONNECTION = `arn:aws:codestar-connections:${REGION}:${ACCOUNT_ID}:connection/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9`;
const RAW_BUCKET = `mlops-dev-raw-${ACCOUNT_ID}-${REGION}`;
const ARTIFACTS_BUCKET = `mlops-dev-artifacts-${ACCOUNT_ID}-${REGION}`;

/** The component as the program wires it in the host stack, with optional overrides of its args. */
function deliveryProgram(overrides: Partial<DeliveryPipelineArgs> = {}) {
    return () => {
        const { config, context, baseline, opts } = testBed();
        const source = config.source;
        const delivery = new DeliveryPipeline("delivery", {
            context,
            kmsKeyArn: baseline.kmsKeyArn,
            alertsTopicArn: baseline.alertsTopicArn,
            pipelineName: context.namer.name("codepipeline", config.modelName),
            artifactsBucket: { name: baseline.buckets.artifacts.name, arn: baseline.buckets.artifacts.arn },
            rawBucket: { name: baseline.buckets.raw.name, arn: baseline.buckets.raw.arn },
            dataObjectKey: `incoming/${config.modelName}.csv`,
            gitSource: source?.connectionArn
                ? { repository: source.repository, branch: source.branch, connectionArn: source.connectionArn }
                : undefined,
            ...OTHERS,
            pulumiOrganization: config.deployments.organization,
            ...overrides,
        }, opts);
        return { pipelineArn: delivery.pipelineArn, kmsKeyArn: baseline.kmsKeyArn, alertsTopicArn: baseline.alertsTopicArn };
    };
}

async function evaluateDelivery(overrides: Partial<DeliveryPipelineArgs> = {}, config?: Record<string, unknown>) {
    const result = await evaluate("dev", deliveryProgram(overrides), { config });
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
const policiesOfRole = (graph: StackGraph, role: RecordedResource) =>
    graph.ofType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === role.state.id || p.inputs.role === `${role.name}-id`);

describe("delivery pipeline: dev without a Git connection", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    before(async () => {
        ({ graph, outputs } = await evaluateDelivery());
    });

    it("is a V2 pipeline with the program's physical name and a KMS-encrypted artifact store", () => {
        const pipeline = pipelineOf(graph);
        assert.equal(pipeline.inputs.pipelineType, "V2");
        assert.equal(pipeline.inputs.name, "mlops-dev-churn");
        assert.equal(pipeline.inputs.executionMode, "SUPERSEDED");
        assert.deepEqual(pipeline.inputs.artifactStores, [{
            type: "S3",
            location: ARTIFACTS_BUCKET,
            encryptionKey: { id: outputs.kmsKeyArn, type: "KMS" },
        }]);
    });

    it("runs Source → Prepare (ETL ‖ Image) → Train → Dev (deploy, then evaluate) → Prod with the right action types", () => {
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

    it("points every action at its project or function", () => {
        assert.equal(action(graph, STAGES.prepare, ACTIONS.etl).configuration.FunctionName, OTHERS.etlFunction.name);
        assert.equal(action(graph, STAGES.train, ACTIONS.train).configuration.ProjectName, OTHERS.trainProject.name);
        assert.equal(action(graph, STAGES.dev, ACTIONS.evaluate).configuration.ProjectName, OTHERS.evaluateProject.name);
        assert.equal(action(graph, STAGES.dev, ACTIONS.deployDev).configuration.ProjectName, "mlops-dev-deploy-dev");
        assert.equal(action(graph, STAGES.prod, ACTIONS.deployProd).configuration.ProjectName, "mlops-dev-deploy-prod");
        for (const [s, a] of [[STAGES.train, ACTIONS.train], [STAGES.dev, ACTIONS.deployDev], [STAGES.dev, ACTIONS.evaluate], [STAGES.prod, ACTIONS.deployProd]]) {
            assert.deepEqual(action(graph, s, a).inputArtifacts, ["code"], `${a} builds the pipeline's code revision`);
        }
    });

    it("takes code from the bundle in the artifacts bucket and data from the raw bucket, both without polling", () => {
        const code = action(graph, STAGES.source, ACTIONS.code).configuration;
        const data = action(graph, STAGES.source, ACTIONS.data).configuration;
        assert.deepEqual(code, { S3Bucket: ARTIFACTS_BUCKET, S3ObjectKey: "source/code.zip", PollForSourceChanges: "false" });
        assert.deepEqual(data, { S3Bucket: RAW_BUCKET, S3ObjectKey: "incoming/churn.csv", PollForSourceChanges: "false" });
        assert.equal(pipelineOf(graph).inputs.triggers, undefined, "without a connection only data starts the pipeline");
        assert.match(buildVariables(action(graph, STAGES.train, ACTIONS.train)).GIT_COMMIT, /^s3-version:#\{Code\.VersionId\}$/);
    });

    it("gives the ETL trigger UserParameters it accepts once CodePipeline resolves the variables", () => {
        const pipeline = pipelineOf(graph);
        const variables = Object.fromEntries(pipeline.inputs.variables.map((v: any) => [v.name, v.defaultValue]));
        assert.equal(variables[PIPELINE_VARIABLES.inputUri], `s3://${RAW_BUCKET}/incoming/churn.csv`);
        const executionId = "5c1d3f0e-8a7b-4c2d-9e1f-0a1b2c3d4e5f";
        const resolved = action(graph, STAGES.prepare, ACTIONS.etl).configuration.UserParameters
            .replace("#{variables.inputUri}", variables.inputUri)
            .replace("#{codepipeline.PipelineExecutionId}", executionId);
        const parsed = parseUserParameters(resolved.replace("#{variables.reuse}", variables.reuse), { rawBucket: RAW_BUCKET, defaultRunId: "job-id" });
        assert.deepEqual(parsed, { inputUri: `s3://${RAW_BUCKET}/incoming/churn.csv`, runId: executionId, schemaUri: undefined, reuse: true });
        // Reuse is on by default and an execution may switch it off (audit): the ETL and the train step read the same variable.
        assert.equal(variables[PIPELINE_VARIABLES.reuse], "true");
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
        let checked = 0;
        for (const s of pipeline.inputs.stages) {
            for (const a of s.actions) {
                for (const [, ns, variable] of JSON.stringify(a.configuration ?? {}).matchAll(/#\{([A-Za-z]+)\.([A-Za-z_]+)\}/g)) {
                    checked++;
                    if (ns === "variables") assert.ok(declared.has(variable), `undeclared pipeline variable ${variable}`);
                    else if (ns === "Prepare") assert.ok(etlOutputs.includes(variable), `ETL trigger does not output ${variable}`);
                    else if (ns !== "codepipeline") assert.ok(seen.has(ns), `${a.name} reads ${ns}.${variable} before ${ns} ran`);
                }
            }
            for (const a of s.actions) if (a.namespace) seen.add(a.namespace);
        }
        assert.ok(checked > 20, `only ${checked} variable references found`);
        assert.ok(declared.has(PIPELINE_VARIABLES.trigger), "the retrain trigger records why it started a run");
    });

    it("builds the image beside the ETL (same stage, same run order) and before Train, which receives it by digest", () => {
        const stages = pipelineOf(graph).inputs.stages.map((s: any) => s.name);
        const image = action(graph, STAGES.prepare, ACTIONS.image);
        const etl = action(graph, STAGES.prepare, ACTIONS.etl);
        // Actions of one stage with the same run order run in parallel; stages run one after another.
        assert.equal(image.runOrder ?? 1, etl.runOrder ?? 1);
        assert.ok(stages.indexOf(STAGES.prepare) < stages.indexOf(STAGES.train), "the image exists before training starts");
        assert.equal(image.configuration.ProjectName, OTHERS.imageProject.name);
        assert.equal(image.namespace, "Image");
        assert.deepEqual(image.inputArtifacts, ["code"], "the image is built from the execution's code revision");
        assert.equal(image.outputArtifacts, undefined);
        assert.equal(buildVariables(action(graph, STAGES.train, ACTIONS.train)).IMAGE_URI, "#{Image.IMAGE_URI}");
        for (const [s, a] of [[STAGES.dev, ACTIONS.deployDev], [STAGES.dev, ACTIONS.evaluate], [STAGES.prod, ACTIONS.deployProd]]) {
            assert.equal(buildVariables(action(graph, s, a)).IMAGE_URI, undefined, `${a} serves the registered version's image, not the build's`);
        }
    });

    it("hands the trained version to both deployments and the evaluation, and the test split to the evaluation", () => {
        for (const [s, a] of [[STAGES.dev, ACTIONS.deployDev], [STAGES.dev, ACTIONS.evaluate], [STAGES.prod, ACTIONS.deployProd]]) {
            assert.equal(buildVariables(action(graph, s, a)).MODEL_PACKAGE_ARN, "#{Train.MODEL_PACKAGE_ARN}", a);
        }
        const train = buildVariables(action(graph, STAGES.train, ACTIONS.train));
        assert.equal(train.TRAIN_PREFIX, "#{Prepare.trainPrefix}");
        assert.equal(train.VALIDATION_PREFIX, "#{Prepare.validationPrefix}");
        assert.equal(train.PIPELINE_EXECUTION_ID, "#{codepipeline.PipelineExecutionId}");
        assert.equal(buildVariables(action(graph, STAGES.dev, ACTIONS.evaluate)).TEST_PREFIX, "#{Prepare.testPrefix}");
        assert.equal(action(graph, STAGES.train, ACTIONS.train).namespace, "Train");
    });

    it("starts on a new version of the dataset through EventBridge, with a scoped role, retries and a DLQ", () => {
        const notifications = graph.ofType("aws:s3/bucketNotification:BucketNotification");
        assert.equal(notifications.length, 1, "a bucket has one notification configuration: only this one may set the raw bucket's");
        assert.deepEqual([notifications[0].inputs.bucket, notifications[0].inputs.eventbridge], [RAW_BUCKET, true]);
        const rule = graph.one("aws:cloudwatch/eventRule:EventRule", "delivery-data-landed");
        assert.deepEqual(JSON.parse(rule.inputs.eventPattern), {
            source: ["aws.s3"],
            "detail-type": ["Object Created"],
            detail: { bucket: { name: [RAW_BUCKET] }, object: { key: ["incoming/churn.csv"] } },
        });
        assert.ok(rule.dependencies.includes(notifications[0].urn), "the rule waits for S3 to send events");
        const target = graph.one("aws:cloudwatch/eventTarget:EventTarget", "delivery-data-landed-target");
        assert.equal(target.inputs.arn, outputs.pipelineArn);
        assert.deepEqual(target.inputs.retryPolicy, { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 });
        const dlq = graph.one("aws:sqs/queue:Queue");
        assert.equal(target.inputs.deadLetterConfig.arn, dlq.state.arn);
        assert.equal(dlq.inputs.kmsMasterKeyId, outputs.kmsKeyArn);

        const role = graph.ofType("aws:iam/role:Role").find((r) => r.state.arn === target.inputs.roleArn)!;
        const trust = JSON.parse(role.inputs.assumeRolePolicy).Statement[0];
        assert.deepEqual(trust.Principal, { Service: "events.amazonaws.com" });
        assert.deepEqual(trust.Condition, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } });
        const allowed = policiesOfRole(graph, role).flatMap(statementsOf);
        assert.deepEqual(allowed.map((s) => [s.Action, s.Resource]), [
            ["codepipeline:StartPipelineExecution", `arn:aws:codepipeline:${REGION}:${ACCOUNT_ID}:mlops-dev-churn`],
        ]);
    });

    it("alerts on failed executions and on undelivered events; only our rules may dead-letter", () => {
        const failed = graph.one("aws:cloudwatch/eventRule:EventRule", "delivery-failed");
        const pattern = JSON.parse(failed.inputs.eventPattern);
        assert.deepEqual(pattern.detail, { pipeline: ["mlops-dev-churn"], state: ["FAILED"] });
        const alert = graph.one("aws:cloudwatch/eventTarget:EventTarget", "delivery-failed-alert");
        assert.equal(alert.inputs.arn, outputs.alertsTopicArn);
        assert.ok(alert.inputs.retryPolicy && alert.inputs.deadLetterConfig.arn);
        const queuePolicy = statementsOf(graph.one("aws:sqs/queuePolicy:QueuePolicy"));
        const rules = graph.ofType("aws:cloudwatch/eventRule:EventRule").map((r) => r.state.arn).sort();
        assert.deepEqual(queuePolicy[0].Principal, { Service: "events.amazonaws.com" });
        assert.deepEqual([...queuePolicy[0].Condition.ArnEquals["aws:SourceArn"]].sort(), rules);
        const alarm = graph.one("aws:cloudwatch/metricAlarm:MetricAlarm");
        assert.deepEqual(alarm.inputs.alarmActions, [outputs.alertsTopicArn]);
        assert.equal(alarm.inputs.dimensions.QueueName, graph.one("aws:sqs/queue:Queue").state.name);
    });

    it("deploys with two unprivileged CodeBuild projects on a managed image, our key and explicit encrypted logs", () => {
        const projects = graph.ofType("aws:codebuild/project:Project");
        assert.deepEqual(projects.map((p) => p.inputs.name).sort(), ["mlops-dev-deploy-dev", "mlops-dev-deploy-prod"]);
        for (const p of projects) {
            const env = p.inputs.environment;
            assert.equal(env.privilegedMode, false, p.name);
            // pulumi up with three provider plugins: 8 GiB, not SMALL's 4 GiB.
            assert.equal(env.computeType, "BUILD_GENERAL1_MEDIUM", p.name);
            assert.match(env.image, /^aws\/codebuild\//, "an AWS-managed image");
            assert.equal(p.inputs.encryptionKey, outputs.kmsKeyArn);
            assert.equal(p.inputs.concurrentBuildLimit, 1);
            const group = graph.ofType("aws:cloudwatch/logGroup:LogGroup").find((g) => g.inputs.name === p.inputs.logsConfig.cloudwatchLogs.groupName)!;
            assert.ok(group, `${p.name} logs to a group the stack owns`);
            assert.equal(group.inputs.kmsKeyId, outputs.kmsKeyArn);
            assert.equal(group.inputs.retentionInDays, 30);
        }
        const timeouts = Object.fromEntries(projects.map((p) => [p.inputs.name, p.inputs.buildTimeout]));
        assert.deepEqual(timeouts, { "mlops-dev-deploy-dev": 60, "mlops-dev-deploy-prod": 180 });
    });

    it("reads the Pulumi token from Secrets Manager, encrypted with our key, and holds no secret in plaintext", () => {
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
        }
    });

    it("runs steps/deploy for its own stack after installing the locked dependencies and the matching CLI", () => {
        for (const [project, stack] of [["mlops-dev-deploy-dev", "dev"], ["mlops-dev-deploy-prod", "prod"]]) {
            const p = graph.ofType("aws:codebuild/project:Project").find((x) => x.inputs.name === project)!;
            const vars = Object.fromEntries((p.inputs.environment.environmentVariables as any[]).map((v) => [v.name, v.value]));
            assert.equal(vars.TARGET_STACK, stack);
            assert.equal(vars.PULUMI_ORGANIZATION, "example-org");
            const spec = YAML.parse(p.inputs.source.buildspec);
            assert.equal(p.inputs.source.type, "CODEPIPELINE");
            assert.deepEqual(spec.phases.install["runtime-versions"], { nodejs: 20 });
            assert.match(spec.phases.install.commands.join("\n"), /npm ci[\s\S]*get\.pulumi\.com[\s\S]*--version "\$PULUMI_VERSION"/);
            assert.match(spec.phases.build.commands.at(-1),
                /npx ts-node --transpile-only steps\/deploy\/main\.ts --stack "\$TARGET_STACK" --model-package-arn "\$MODEL_PACKAGE_ARN"$/);
        }
    });

    it("lets the pipeline role start only its builds, invoke only the ETL trigger, and use only our key", () => {
        const role = roleNamed(graph, "mlops-dev-pipeline");
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: "codepipeline.amazonaws.com" });
        const statements = policiesOfRole(graph, role).flatMap(statementsOf);
        const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
        const deployArns = graph.ofType("aws:codebuild/project:Project").map((p) => p.state.arn);
        assert.deepEqual([...bySid.RunBuildActions.Resource].sort(),
            [OTHERS.imageProject.arn, OTHERS.trainProject.arn, OTHERS.evaluateProject.arn, ...deployArns].sort());
        assert.equal(bySid.InvokeEtlTrigger.Resource, OTHERS.etlFunction.arn);
        assert.equal(bySid.UseStackKey.Resource, outputs.kmsKeyArn);
        assert.equal(bySid.ReadDataSource.Resource, `arn:aws:s3:::${RAW_BUCKET}/incoming/churn.csv`);
        assert.equal(bySid.UseSourceConnection, undefined, "no connection, no connection permission");
        assert.equal(bySid.RequestManualApproval, undefined);
        for (const s of statements) assert.ok(!list(s.Resource).includes("*"), `${s.Sid} has Resource "*"`);
    });
});

describe("delivery pipeline: deploy roles are least privilege", () => {
    let graph: StackGraph;
    let dev: any[];
    let prod: any[];
    before(async () => {
        ({ graph } = await evaluateDelivery({ gitSource: { repository: "example-org/sagemaker-mlops", branch: "main", connectionArn: CONNECTION } }));
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
            for (const s of statements) {
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
            assert.deepEqual(attach.Condition, { ArnLike: { "iam:PolicyARN": `arn:aws:iam::${ACCOUNT_ID}:policy/mlops-${env}-*` } });
            const roleWrites = statements.filter((s) => list(s.Action).some((a: string) => /^iam:(Create|Put|Update|Delete)/.test(a)));
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
            const inline = policiesOfRole(graph, role).reduce((n, p) => n + JSON.stringify(JSON.parse(p.inputs.policy)).length, 0);
            assert.ok(inline > 0 && inline <= 10_240, `${target} inline: ${inline}`);
            const attached = graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => a.inputs.role === role.inputs.name);
            assert.equal(attached.length, policies.length);
        }
    });

    it("lets only CodeBuild in our account assume a deploy role, which may read the token and the artifacts", () => {
        const role = roleNamed(graph, "mlops-dev-deploy-prod");
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition, { StringEquals: { "aws:SourceAccount": ACCOUNT_ID } });
        const build = statementsOf(graph.one("aws:iam/rolePolicy:RolePolicy", "delivery-deploy-prod-build-policy"));
        const secret = graph.one("aws:secretsmanager/secret:Secret");
        assert.deepEqual(build.find((s) => s.Sid === "ReadPulumiAccessToken").Resource, secret.state.arn);
        assert.equal(build.find((s) => s.Sid === "ReadPipelineArtifacts").Resource, `arn:aws:s3:::${ARTIFACTS_BUCKET}/*`);
    });
});

describe("delivery pipeline: with a CodeStar connection", () => {
    let graph: StackGraph;
    before(async () => {
        const source = { repository: "example-org/sagemaker-mlops", branch: "release", connectionArn: CONNECTION };
        // The program builds gitSource from mlops:source: configure it there, as a user would.
        ({ graph } = await evaluateDelivery({}, { source }));
    });

    it("takes code from GitHub through the connection and keeps the S3 data source", () => {
        const code = action(graph, STAGES.source, ACTIONS.code);
        assert.deepEqual([code.provider, code.configuration], ["CodeStarSourceConnection", {
            ConnectionArn: CONNECTION,
            FullRepositoryId: "example-org/sagemaker-mlops",
            BranchName: "release",
            OutputArtifactFormat: "CODE_ZIP",
        }]);
        assert.equal(action(graph, STAGES.source, ACTIONS.data).provider, "S3");
        assert.equal(buildVariables(action(graph, STAGES.train, ACTIONS.train)).GIT_COMMIT, "#{Code.CommitId}");
    });

    it("starts on pushes to the branch that touch model code, data schemas, ETL or steps", () => {
        const triggers = pipelineOf(graph).inputs.triggers;
        assert.deepEqual(triggers, [{
            providerType: "CodeStarSourceConnection",
            gitConfiguration: {
                sourceActionName: "Code",
                pushes: [{ branches: { includes: ["release"] }, filePaths: { includes: [...MODEL_TRIGGER_PATHS] } }],
            },
        }]);
        assert.deepEqual([...MODEL_TRIGGER_PATHS], ["model-container/**", "monitor/drift_checker/**", "etl/**", "steps/**", "data/*.schema.json"]);
        // Whatever goes into the model image is built by the pipeline only, so a push to it must start one.
        const folders = MODEL_TRIGGER_PATHS.filter((p) => p.endsWith("/**")).map((p) => p.slice(0, -2));
        for (const input of IMAGE_INPUTS) assert.ok(folders.some((f) => `${input}/`.startsWith(f)), `a push to ${input} starts no pipeline run`);
    });

    it("may use the connection (pipeline role) and pass it (dev deployer)", () => {
        const pipelineRole = roleNamed(graph, "mlops-dev-pipeline");
        const use = policiesOfRole(graph, pipelineRole).flatMap(statementsOf).find((s) => s.Sid === "UseSourceConnection");
        assert.deepEqual([use.Action, use.Resource], [["codestar-connections:UseConnection", "codeconnections:UseConnection"], CONNECTION]);
    });
});

describe("delivery pipeline: options and validation", () => {
    it("adds a manual approval before the prod deployment only when asked, notifying the alerts topic", async () => {
        const { graph, outputs } = await evaluateDelivery({ requireManualApproval: true, executionMode: "QUEUED" });
        const prod = stage(graph, STAGES.prod);
        assert.deepEqual(prod.actions.map((a: any) => [a.name, a.category, a.provider, a.runOrder]),
            [["Approve", "Approval", "Manual", 1], ["DeployProd", "Build", "CodeBuild", 2]]);
        assert.equal(prod.actions[0].configuration.NotificationArn, outputs.alertsTopicArn);
        assert.match(prod.actions[0].configuration.CustomData, /#\{Train\.MODEL_PACKAGE_ARN\}/);
        assert.ok(prod.actions[0].configuration.CustomData.length <= 500, "CodePipeline caps CustomData at 500 characters");
        assert.equal(pipelineOf(graph).inputs.executionMode, "QUEUED");
        const publish = policiesOfRole(graph, roleNamed(graph, "mlops-dev-pipeline")).flatMap(statementsOf).find((s) => s.Sid === "RequestManualApproval");
        assert.deepEqual([publish.Action, publish.Resource], ["sns:Publish", outputs.alertsTopicArn]);
    });

    it("reads from the Train namespace only variables the train project's buildspec exports (whole program)", async () => {
        // CodePipeline fails an action whose configuration names an output variable the upstream action did not
        // export, so every #{Train.X} must be in the train buildspec's env.exported-variables.
        const { graph: whole } = await stackGraph("dev");
        const stages = pipelineOf(whole).inputs.stages;
        const train = action(whole, STAGES.train, ACTIONS.train);
        const project = whole.ofType("aws:codebuild/project:Project").find((p) => p.inputs.name === train.configuration.ProjectName);
        assert.ok(project, `the Train action runs a project of this stack (${train.configuration.ProjectName})`);
        const exported: string[] = YAML.parse(project.inputs.source.buildspec).env["exported-variables"];
        const referenced = new Set([...JSON.stringify(stages).matchAll(/#\{Train\.([^}]+)\}/g)].map((m) => m[1]));
        assert.ok(referenced.size > 0, "later actions read the train step's output");
        for (const name of referenced) assert.ok(exported.includes(name), `#{Train.${name}} is not exported by the train buildspec (${exported})`);
        for (const [s, a] of [[STAGES.dev, ACTIONS.deployDev], [STAGES.dev, ACTIONS.evaluate], [STAGES.prod, ACTIONS.deployProd]]) {
            const arn = /^#\{Train\.([^}]+)\}$/.exec(buildVariables(action(whole, s, a)).MODEL_PACKAGE_ARN)?.[1];
            assert.ok(arn !== undefined && exported.includes(arn), `${a} reads MODEL_PACKAGE_ARN from a variable the train build exports`);
        }
    });

    const invalid: [string, Partial<DeliveryPipelineArgs>, RegExp][] = [
        ["a data key with a leading slash", { dataObjectKey: "/incoming/churn.csv" }, /dataObjectKey "\/incoming\/churn\.csv" is invalid; expected an object key/],
        ["a data prefix instead of an object", { dataObjectKey: "incoming/" }, /dataObjectKey "incoming\/" is invalid/],
        ["a code bundle that is not a zip", { codeBundleKey: "source/code.tar" }, /codeBundleKey "source\/code\.tar" is invalid; expected an object key ending in \.zip/],
        ["an unknown execution mode", { executionMode: "PARALLEL" as never }, /executionMode "PARALLEL" is not supported; allowed: SUPERSEDED, QUEUED/],
        ["a deploy timeout beyond CodeBuild's", { deployTimeoutMinutes: { dev: 60, prod: 3000 } }, /deployTimeoutMinutes\.prod 3000 is out of range; CodeBuild allows whole minutes from 5 to 2160/],
        ["one stack for both gates", { stacks: { dev: "dev", prod: "dev" } }, /stacks\.dev and stacks\.prod are both "dev"/],
    ];
    for (const [what, overrides, message] of invalid) {
        it(`refuses ${what}, naming the argument and what is allowed`, async () => {
            const result = await evaluate("dev", deliveryProgram(overrides));
            assert.match(String(result.error?.message), message);
            assert.equal(result.graph.ofType("aws:codepipeline/pipeline:Pipeline").length, 0);
        });
    }
});

describe("delivery pipeline: stacks", () => {
    it("prod has no pipeline, no deploy projects and leaves its raw bucket's notifications alone", async () => {
        const { graph } = await evaluateStackOk("prod");
        for (const type of ["aws:codepipeline/pipeline:Pipeline", "aws:codebuild/project:Project", "aws:s3/bucketNotification:BucketNotification",
            "aws:secretsmanager/secret:Secret"]) {
            assert.equal(graph.ofType(type).length, 0, type);
        }
    });

    it("dev sets the raw bucket's notification configuration at most once", async () => {
        const { graph } = await evaluateStackOk("dev");
        assert.ok(graph.ofType("aws:s3/bucketNotification:BucketNotification").length <= 1);
        const pipelines = graph.ofType("aws:codepipeline/pipeline:Pipeline");
        for (const p of pipelines) assert.equal(p.inputs.name, "mlops-dev-churn", "the name the program fixed in shared.pipelineName");
    });
});
