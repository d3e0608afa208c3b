import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { TrainingSteps, TRAINING_LOG_GROUP } from "../../infra/components/training-steps";
import { loadStackFile } from "../../infra/stack-files";
import { ACCOUNT_ID, evaluate, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";
import { testBed } from "../harness/fixtures";
import { trainingJobName } from "../../steps/lib/naming";
import { trainingSchema } from "../../contracts/config-sections";
import { parseJsonConfig } from "../../steps/lib/config";
import { trainingRequest } from "../../steps/train/train";
import { SageMakerTraining } from "../../steps/lib/aws";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource?: any; Condition?: any };
const statements = (policy: string): Statement[] => JSON.parse(policy).Statement;
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resources = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const REPO_ARN = `arn:aws:ecr:us-east-1:${ACCOUNT_ID}:repository/mlops-platform-churn`;

function policyOf(graph: StackGraph, roleSuffix: string): Statement[] {
    return statements(graph.one("aws:iam/rolePolicy:RolePolicy", new RegExp(`-${roleSuffix}-policy$`)).inputs.policy);
}
function envOf(project: RecordedResource): Record<string, string> {
    return Object.fromEntries(project.inputs.environment.environmentVariables.map((v: any) => [v.name, v.value]));
}
/** Every statement whose actions include `action`. */
const granting = (policy: Statement[], action: string) => policy.filter((s) => actions(s).includes(action));

async function evaluateComponent(stack: string, overrides: Partial<Record<string, any>> = {}) {
    return evaluate(stack, () => {
        const bed = testBed();
        const steps = new TrainingSteps("training-steps", {
            context: bed.context,
            modelName: bed.config.modelName,
            training: bed.config.training,
            evaluation: bed.config.evaluation,
            kmsKeyArn: bed.baseline.kmsKeyArn,
            buckets: { curated: bed.baseline.buckets.curated, models: bed.baseline.buckets.models, artifacts: bed.baseline.buckets.artifacts },
            imageRepositoryArn: REPO_ARN,
            modelPackageGroupName: `mlops-${stack}-churn`,
            modelPackageGroupArn: `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package-group/mlops-${stack}-churn`,
            endpointName: `mlops-${stack}-churn`,
            ...overrides,
        }, bed.opts);
        return { role: steps.trainingRoleArn, train: steps.trainProject.name };
    });
}

for (const stack of ["platform", "prod"]) {
    describe(`stack ${stack}: TrainingSteps component (its own stack values)`, () => {
        let graph: StackGraph;
        let key: string;
        before(async () => {
            const result = await evaluateComponent(stack);
            assert.ifError(result.error);
            graph = result.graph;
            key = graph.one("aws:kms/key:Key").state.arn;
        });

        it("trusts SageMaker for the training role, and CodeBuild for the build roles, only from this account", () => {
            const trust = (suffix: string) => statements(graph.one("aws:iam/role:Role", new RegExp(`-${suffix}-role$`)).inputs.assumeRolePolicy)[0];
            for (const [suffix, service] of [["training", "sagemaker.amazonaws.com"], ["train", "codebuild.amazonaws.com"], ["evaluate", "codebuild.amazonaws.com"]]) {
                const t = trust(suffix) as any;
                assert.deepEqual(t.Principal, { Service: service }, suffix);
                assert.equal(t.Condition.StringEquals["aws:SourceAccount"], ACCOUNT_ID, suffix);
            }
        });

        it("scopes the training role to the curated and models buckets, the key, the image repository and its logs", () => {
            const policy = policyOf(graph, "training");
            const curated = graph.one("aws:s3/bucket:Bucket", /curated$/).state.arn;
            const models = graph.one("aws:s3/bucket:Bucket", /models$/).state.arn;
            assert.deepEqual(granting(policy, "s3:GetObject").flatMap(resources).sort(), [`${curated}/*`, `${models}/training/*`].sort());
            assert.deepEqual(granting(policy, "s3:PutObject").flatMap(resources), [`${models}/training/*`]);
            assert.deepEqual(granting(policy, "kms:Decrypt").flatMap(resources), [key]);
            assert.equal(granting(policy, "kms:CreateGrant")[0].Condition.Bool["kms:GrantIsForAWSResource"], true);
            assert.deepEqual(granting(policy, "ecr:BatchGetImage").flatMap(resources), [REPO_ARN]);
            assert.deepEqual(granting(policy, "logs:PutLogEvents").flatMap(resources), [`arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:/aws/sagemaker/TrainingJobs:*`]);
            assert.ok(!policy.some((s) => actions(s).some((a) => a.startsWith("sagemaker:"))), "the job role needs no sagemaker: actions");
        });

        it("never grants '*' or 'service:*' actions, and every '*' resource is one AWS only accepts as '*'", () => {
            const allowedStar = new Set(["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "sagemaker:ListModelPackages"]);
            for (const rp of graph.ofType("aws:iam/rolePolicy:RolePolicy")) {
                for (const s of statements(rp.inputs.policy)) {
                    for (const a of actions(s)) assert.ok(a !== "*" && !a.endsWith(":*"), `${rp.name} ${s.Sid} grants ${a}`);
                    if (resources(s).includes("*")) {
                        assert.ok(actions(s).every((a) => allowedStar.has(a)), `${rp.name} ${s.Sid} uses Resource "*" for ${actions(s)}`);
                    }
                }
            }
            const putMetric = granting(policyOf(graph, "training"), "cloudwatch:PutMetricData")[0];
            assert.equal(putMetric.Condition.StringEquals["cloudwatch:namespace"], "/aws/sagemaker/TrainingJobs");
        });

        it("train role: training jobs of our prefix only, our group's versions, PassRole only for the training role to SageMaker", () => {
            const policy = policyOf(graph, "train");
            const jobs = granting(policy, "sagemaker:CreateTrainingJob");
            assert.deepEqual(jobs.flatMap(resources), [`arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:training-job/mlops-${stack}-churn-*`]);
            assert.deepEqual(actions(jobs[0]).sort(), ["sagemaker:AddTags", "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"]);
            // The names steps/train generates fall under that pattern.
            const name = trainingJobName(`mlops-${stack}-churn`, "any-execution");
            assert.match(`training-job/${name}`, /^training-job\/mlops-(platform|prod)-churn-/);
            assert.deepEqual(granting(policy, "sagemaker:CreateModelPackage").flatMap(resources), [
                `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package-group/mlops-${stack}-churn`,
                `arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-${stack}-churn/*`,
            ]);
            const pass = granting(policy, "iam:PassRole");
            assert.equal(pass.length, 1);
            assert.deepEqual(resources(pass[0]), [graph.one("aws:iam/role:Role", /-training-role$/).state.arn]);
            assert.deepEqual(pass[0].Condition, { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } });
            assert.equal(granting(policy, "sagemaker:UpdateModelPackage").length, 0, "train must not approve versions");
            assert.equal(granting(policy, "sagemaker:InvokeEndpoint").length, 0);
        });

        it("evaluate role: invokes only the dev endpoint, updates only our group's versions, writes only reports", () => {
            const policy = policyOf(graph, "evaluate");
            assert.deepEqual(granting(policy, "sagemaker:InvokeEndpoint").flatMap(resources), [`arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:endpoint/mlops-${stack}-churn`]);
            assert.deepEqual(granting(policy, "sagemaker:UpdateModelPackage").flatMap(resources), [`arn:aws:sagemaker:us-east-1:${ACCOUNT_ID}:model-package/mlops-${stack}-churn/*`]);
            const artifacts = graph.one("aws:s3/bucket:Bucket", /artifacts$/).state.arn;
            assert.deepEqual(granting(policy, "s3:PutObject").flatMap(resources), [`${artifacts}/evaluations/*`]);
            const reportGroup = graph.one("aws:codebuild/reportGroup:ReportGroup");
            assert.deepEqual(granting(policy, "codebuild:BatchPutTestCases").flatMap(resources), [reportGroup.state.arn]);
            assert.equal(granting(policy, "iam:PassRole").length, 0);
            assert.equal(granting(policy, "sagemaker:CreateTrainingJob").length, 0);
        });

        it("projects: managed image, our key, not privileged, explicit KMS log groups with the stack's retention", () => {
            const retention = loadStackFile(stack).logRetentionDays;
            for (const step of ["train", "evaluate"]) {
                const project = graph.one("aws:codebuild/project:Project", new RegExp(`-${step}$`));
                assert.equal(project.inputs.name, `mlops-${stack}-churn-${step}`);
                assert.equal(project.inputs.environment.image, "aws/codebuild/standard:7.0");
                assert.equal(project.inputs.environment.privilegedMode, false);
                assert.equal(project.inputs.encryptionKey, key);
                assert.equal(project.inputs.serviceRole, graph.one("aws:iam/role:Role", new RegExp(`-${step}-role$`)).state.arn);
                const logs = graph.one("aws:cloudwatch/logGroup:LogGroup", new RegExp(`-${step}-logs$`));
                assert.equal(logs.inputs.name, `/aws/codebuild/mlops-${stack}-churn-${step}`);
                assert.equal(logs.inputs.kmsKeyId, key);
                assert.equal(logs.inputs.retentionInDays, retention);
                assert.equal(project.inputs.logsConfig.cloudwatchLogs.groupName, logs.inputs.name);
                assert.equal(project.inputs.logsConfig.cloudwatchLogs.status, "ENABLED");
                for (const v of project.inputs.environment.environmentVariables) {
                    assert.equal(v.type, "PLAINTEXT");
                    assert.doesNotMatch(v.name, /SECRET|TOKEN|PASSWORD/);
                }
            }
            // SageMaker's account-wide training log group is not owned by default (config accountResources).
            assert.equal(graph.ofType("aws:cloudwatch/logGroup:LogGroup").filter((g) => g.inputs.name === TRAINING_LOG_GROUP).length, 0);
        });

        it("gives the steps their arguments through the environment (config as JSON, no secrets)", () => {
            const train = envOf(graph.one("aws:codebuild/project:Project", /-train$/));
            assert.equal(train.STEP_BACKEND, "aws");
            assert.equal(train.MODEL_PACKAGE_GROUP, `mlops-${stack}-churn`);
            assert.equal(train.TRAINING_JOB_PREFIX, `mlops-${stack}-churn`);
            assert.equal(train.TRAINING_ROLE_ARN, graph.one("aws:iam/role:Role", /-training-role$/).state.arn);
            assert.equal(train.KMS_KEY_ID, key);
            assert.match(train.MODEL_OUTPUT_PREFIX, new RegExp(`^s3://mlops-${stack}-models-${ACCOUNT_ID}-us-east-1/training$`));
            const trainingConfig = JSON.parse(train.TRAINING_CONFIG);
            assert.equal(trainingConfig.maxRuntimeSeconds, 3600);
            const evaluate = envOf(graph.one("aws:codebuild/project:Project", /-evaluate$/));
            // The evaluate step sizes its scoring requests by the host endpoint's payload limit.
            assert.equal(evaluate.ENDPOINT_KIND, "serverless");
            assert.equal(evaluate.ENDPOINT_NAME, `mlops-${stack}-churn`);
            assert.equal(JSON.parse(evaluate.EVALUATION_CONFIG).maxLogLoss, 0.6);
            assert.match(evaluate.REPORT_PREFIX, new RegExp(`^s3://mlops-${stack}-artifacts-${ACCOUNT_ID}-us-east-1/evaluations$`));
        });

        it("buildspecs install with npm ci, run the steps with ts-node, export the ARN and report the gate", () => {
            const train = YAML.parse(graph.one("aws:codebuild/project:Project", /-train$/).inputs.source.buildspec);
            assert.deepEqual(train.env["exported-variables"], ["MODEL_PACKAGE_ARN", "reused"]);
            assert.ok(train.phases.install.commands.includes("npm ci --no-audit --no-fund"));
            assert.ok(train.phases.build.commands.some((c: string) => c.startsWith("npx ts-node --transpile-only steps/train/main.ts")));
            // The export lines really read the step's output file: run them in bash over a train.json like the step's.
            const exports = train.phases.build.commands.filter((c: string) => c.startsWith("export ") && !c.includes("DATA_PREFIX"));
            for (const reused of [true, false, undefined]) {
                const dir = fs.mkdtempSync(path.join(os.tmpdir(), "train-buildspec-"));
                try {
                    fs.mkdirSync(path.join(dir, "reports"));
                    fs.writeFileSync(path.join(dir, "reports", "train.json"), JSON.stringify({ modelPackageArn: "arn:aws:sagemaker:us-east-1:1:model-package/g/3", reused }));
                    const out = execFileSync("bash", ["-c", `${exports.join("\n")}\necho "$MODEL_PACKAGE_ARN $reused"`], { cwd: dir, encoding: "utf8" });
                    assert.equal(out.trim(), `arn:aws:sagemaker:us-east-1:1:model-package/g/3 ${reused === true}`);
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            }
            const evaluate = YAML.parse(graph.one("aws:codebuild/project:Project", /-evaluate$/).inputs.source.buildspec);
            assert.ok(evaluate.phases.build.commands.some((c: string) => c.startsWith("npx ts-node --transpile-only steps/evaluate/main.ts --report-dir reports")));
            const reportGroup = graph.one("aws:codebuild/reportGroup:ReportGroup");
            assert.deepEqual(evaluate.reports[reportGroup.state.arn], { files: ["junit.xml"], "base-directory": "reports", "file-format": "JUNITXML" });
        });

        it("a TEST report group exporting to the artifacts bucket with our key", () => {
            const group = graph.one("aws:codebuild/reportGroup:ReportGroup");
            assert.equal(group.inputs.type, "TEST");
            assert.equal(group.inputs.exportConfig.type, "S3");
            assert.equal(group.inputs.exportConfig.s3Destination.bucket, graph.one("aws:s3/bucket:Bucket", /artifacts$/).state.bucket);
            assert.equal(group.inputs.exportConfig.s3Destination.encryptionKey, key);
            assert.equal(group.inputs.deleteReports, !loadStackFile(stack).protectData);
        });

        it("times the train build out after the training job could have (spot wait included)", () => {
            const train = graph.one("aws:codebuild/project:Project", /-train$/);
            // platform: spot with maxWait 7200 s → 120 + 30 min; prod: defaults (no spot, 3600 s) → 60 + 30 min.
            assert.equal(train.inputs.buildTimeout, stack === "platform" ? 150 : 90);
        });
    });
}

describe("TrainingSteps: distributed training", () => {
    /** The CreateTrainingJob request the train step builds from the config this graph hands its CodeBuild project. */
    async function requestFor(instanceCount: number, trainShards: number) {
        const { graph, error } = await evaluateComponent("platform", { training: { ...testBed().config.training, instanceCount } });
        assert.ifError(error);
        const config = parseJsonConfig(trainingSchema, envOf(graph.one("aws:codebuild/project:Project", /-train$/)).TRAINING_CONFIG, "training config");
        const data = "s3://curated/datasets/run-1/";
        const run = { manifestUri: `${data}manifest.json`, manifest: { features: ["a"], trainShards }, splitUri: (s: string) => `${data}${s}/` };
        const options = {
            modelName: "churn", jobPrefix: "mlops-platform-churn", executionId: "e1", dataPrefix: data, outputPrefix: "s3://models/training",
            imageUri: "img", roleArn: "arn:aws:iam::123456789012:role/r", modelPackageGroup: "g", training: config,
        };
        return SageMakerTraining.createInput(trainingRequest(options, "mlops-platform-churn-job", run));
    }
    const distributionOf = (input: Awaited<ReturnType<typeof requestFor>>) =>
        Object.fromEntries(input.InputDataConfig!.map((c) => [c.ChannelName, c.DataSource?.S3DataSource?.S3DataDistributionType]));

    it("one instance: the train channel is FullyReplicated", async () => {
        const input = await requestFor(1, 4);
        assert.equal(input.ResourceConfig?.InstanceCount, 1);
        assert.deepEqual(distributionOf(input), { train: "FullyReplicated", validation: "FullyReplicated", manifest: "FullyReplicated" });
    });

    it("two instances are accepted and shard the train channel by S3 key; validation stays replicated", async () => {
        const input = await requestFor(2, 4);
        assert.equal(input.ResourceConfig?.InstanceCount, 2);
        assert.deepEqual(distributionOf(input), { train: "ShardedByS3Key", validation: "FullyReplicated", manifest: "FullyReplicated" });
    });

    it("more instances than the ETL run's train shards: refused before any job starts", async () => {
        await assert.rejects(requestFor(3, 2), /training\.instanceCount is 3 but the ETL run .* wrote the train split as 2 file\(s\)/);
    });
});

describe("TrainingSteps: validation", () => {
    it("refuses a report prefix with slashes", async () => {
        const { error } = await evaluateComponent("platform", { reportsPrefix: "a/b" });
        assert.match(String(error), /reportsPrefix "a\/b" is invalid/);
    });
});

describe("program wiring: training steps", () => {
    it("the host (platform) stack has them, wired to the shared image and registry; prod has none", async () => {
        const dev = await stackGraph("platform");
        const component = dev.graph.one("mlops:steps:TrainingSteps");
        assert.equal(component.name, "training-steps");
        const train = envOf(dev.graph.one("aws:codebuild/project:Project", /^training-steps-train$/));
        assert.equal(train.MODEL_PACKAGE_GROUP, dev.graph.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup").inputs.modelPackageGroupName);
        assert.equal(dev.outputs.trainProjectName, "mlops-platform-churn-train");
        assert.equal(dev.outputs.evaluateProjectName, "mlops-platform-churn-evaluate");
        assert.match(dev.outputs.trainingRoleArn, /^arn:aws:iam:[^:]*:123456789012:role\/mlops-platform-churn-training$/);
        // The challenger is evaluated on the dev environment's endpoint, named by the naming rules (not the platform's own).
        const evaluate = envOf(dev.graph.one("aws:codebuild/project:Project", /^training-steps-evaluate$/));
        assert.equal(evaluate.ENDPOINT_NAME, "mlops-dev-churn");
        const prod = await stackGraph("prod");
        assert.equal(prod.graph.ofType("mlops:steps:TrainingSteps").length, 0);
        assert.equal(prod.outputs.trainProjectName, undefined);
    });
});
