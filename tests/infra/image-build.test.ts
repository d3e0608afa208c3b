/**
 * The pipeline builds the model image; no stack does. Graph tests over both real stacks (dev with its pipeline,
 * prod), the image builder's permissions proven with an IAM policy simulator, and the component's options.
 */
import { strict as assert } from "assert";
import * as YAML from "yaml";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { ImageBuild, IMAGE_OUTPUT_FILE, ImageBuildArgs } from "../../infra/components/image-build";
import { ACTIONS, STAGES } from "../../contracts/delivery";
import { testBed } from "../harness/fixtures";
import { isBoundaryPolicy } from "../harness/iam-oracle";
import { ACCOUNT_ID, definedStacks, evaluate, evaluateStackOk, RecordedResource, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REGION = "us-east-1";
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${resource}`;
/** Log groups with real ARNs (the default mock's generic ARN has no `log-group:` part), so simulation can match streams. */
const mocks = {
    state: (type: string, _name: string, inputs: Record<string, any>) =>
        type === "aws:cloudwatch/logGroup:LogGroup" ? { arn: arn("logs", `log-group:${inputs.name}`) } : undefined,
};
const projects = (graph: StackGraph) => graph.ofType("aws:codebuild/project:Project");
const projectNamed = (graph: StackGraph, name: string) => projects(graph).find((p) => p.inputs.name === name)!;
const envOf = (p: RecordedResource) => Object.fromEntries((p.inputs.environment.environmentVariables as any[]).map((v) => [v.name, v.value]));
/** Types of resources that build or push images: awsx's Image, and anything of the docker / docker-build providers. */
const IMAGE_BUILDING_TYPE = /^awsx:ecr:Image$|^docker(-build)?:|^awsx:.*[Ii]mage/;

describe("image build: no stack builds an image, the pipeline does", () => {
    const graphs: Record<string, StackGraph> = {};
    const outputs: Record<string, any> = {};
    before(async () => {
        for (const stack of definedStacks()) {
            const result = await evaluateStackOk(stack, { mocks });
            graphs[stack] = result.graph;
            outputs[stack] = result.outputs;
        }
    });

    it("registers no image build (awsx:ecr:Image, docker, docker-build) in any stack, and no provider for one", () => {
        assert.deepEqual(Object.keys(graphs), ["dev", "platform", "pr", "prod"]);
        for (const [stack, graph] of Object.entries(graphs)) {
            assert.ok(graph.resources.length > 40, `${stack} was evaluated`);
            const building = graph.resources.filter((r) => IMAGE_BUILDING_TYPE.test(r.type) || /^pulumi:providers:(docker|docker-build)$/.test(r.type));
            assert.deepEqual(building.map((r) => `${r.type} ${r.name}`), [], stack);
        }
        // The repository stays, in the host only.
        assert.equal(graphs.platform.ofType("aws:ecr/repository:Repository").length, 1);
        assert.equal(graphs.prod.ofType("aws:ecr/repository:Repository").length, 0);
        assert.equal(graphs.dev.ofType("aws:ecr/repository:Repository").length, 0);
    });

    it("has exactly one privileged CodeBuild project in the whole program: the image builder in the host", () => {
        const privileged = Object.values(graphs).flatMap((g) => projects(g).filter((p) => p.inputs.environment.privilegedMode === true));
        assert.deepEqual(privileged.map((p) => p.inputs.name), ["mlops-platform-image"]);
        assert.equal(graphs.platform.parentOf(privileged[0])?.type, "mlops:delivery:ImageBuild");
        const unprivileged = projects(graphs.platform).filter((p) => p !== privileged[0]);
        assert.ok(unprivileged.length >= 4, "train, evaluate and both deploy projects exist and are checked");
        for (const p of unprivileged) assert.equal(p.inputs.environment.privilegedMode, false, p.inputs.name);
    });

    it("the pipeline's Image action runs the image project, and Train receives its exported image URI", () => {
        const pipeline = graphs.platform.one("aws:codepipeline/pipeline:Pipeline");
        const prepare = pipeline.inputs.stages.find((s: any) => s.name === STAGES.prepare);
        const image = prepare.actions.find((a: any) => a.name === ACTIONS.image);
        assert.equal(image.configuration.ProjectName, "mlops-platform-image");
        const train = pipeline.inputs.stages.find((s: any) => s.name === STAGES.train).actions[0];
        const trainVariables = Object.fromEntries(JSON.parse(train.configuration.EnvironmentVariables).map((v: any) => [v.name, v.value]));
        assert.equal(trainVariables.IMAGE_URI, `#{${image.namespace}.IMAGE_URI}`);
        // The train project has no image of its own: without the pipeline's, steps/train refuses to start.
        assert.equal(envOf(projectNamed(graphs.platform, "mlops-platform-churn-train")).IMAGE_URI, undefined);
        const spec = YAML.parse(projectNamed(graphs.platform, "mlops-platform-image").inputs.source.buildspec);
        assert.ok(spec.env["exported-variables"].includes("IMAGE_URI"), "the build exports IMAGE_URI to the pipeline");
    });

    it("the builder runs the one project script on the pipeline's source, pushing to the model repository", () => {
        const project = projectNamed(graphs.platform, "mlops-platform-image");
        const repo = graphs.platform.one("aws:ecr/repository:Repository");
        assert.deepEqual(envOf(project), { IMAGE_REPOSITORY_URI: repo.state.repositoryUrl, FAIL_ON_SEVERITY: "CRITICAL", IMAGE_OUTPUT: IMAGE_OUTPUT_FILE });
        assert.equal(project.inputs.source.type, "CODEPIPELINE");
        const spec = YAML.parse(project.inputs.source.buildspec);
        assert.deepEqual(spec.phases.build.commands[0], "bash scripts/build-image.sh");
        assert.equal(spec.phases.build.commands.length, 2);
        assert.match(spec.phases.build.commands[1], new RegExp(`^\\. \\./${IMAGE_OUTPUT_FILE.replace(".", "\\.")} && export IMAGE_TAG IMAGE_URI$`));
        assert.equal(project.inputs.encryptionKey, outputs.platform.kmsKeyArn);
        assert.match(project.inputs.environment.image, /^aws\/codebuild\/standard:/);
        assert.equal(project.inputs.concurrentBuildLimit, 1);
        const group = graphs.platform.ofType("aws:cloudwatch/logGroup:LogGroup").find((g) => g.inputs.name === project.inputs.logsConfig.cloudwatchLogs.groupName);
        assert.equal(group?.inputs.kmsKeyId, outputs.platform.kmsKeyArn);
    });
});

describe("image build: the builder's role is least privilege (IAM policy simulation)", () => {
    let graph: StackGraph;
    let outputs: Record<string, any>;
    let policy: any;
    let roleArn: string;
    before(async () => {
        ({ graph, outputs } = await evaluateStackOk("platform", { mocks }));
        const role = graph.ofType("aws:iam/role:Role").find((r) => r.inputs.name === "mlops-platform-image-build")!;
        roleArn = role.state.arn;
        const policies = graph.ofType("aws:iam/rolePolicy:RolePolicy").filter((p) => p.inputs.role === `${role.name}-id`);
        assert.equal(policies.length, 1, "one inline policy");
        policy = JSON.parse(policies[0].inputs.policy);
        assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement.map((s: any) => s.Principal), [{ Service: "codebuild.amazonaws.com" }]);
        assert.equal(graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => [`${role.name}-id`, role.inputs.name].includes(a.inputs.role)).length, 0,
            "no managed policy attached");
    });

    async function simulate(action: string, resource: string, resourcePolicy?: unknown): Promise<string> {
        const result: any = await runSimulation({
            identityPolicies: [{ name: "image-build", policy }],
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            resourcePolicy,
            request: { action, resource: { resource, accountId: ACCOUNT_ID }, principal: roleArn, contextVariables: {} },
        } as any, {});
        // An unknown action or malformed ARN is a broken test, not a denial.
        assert.notEqual(result.resultType, "error", `${action} on ${resource}: ${JSON.stringify(result.errors)}`);
        return result.overallResult;
    }

    const repo = () => graph.one("aws:ecr/repository:Repository").state.arn as string;
    const PUSH = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchCheckLayerAvailability", "ecr:PutImage"];

    it("may push to the model repository and look up its tags and scan findings", async () => {
        assert.equal(repo(), arn("ecr", "repository/mlops-platform-model"));
        for (const action of [...PUSH, "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:DescribeImageScanFindings"]) {
            assert.equal(await simulate(action, repo()), "Allowed", action);
        }
        assert.equal(await simulate("ecr:GetAuthorizationToken", "*"), "Allowed");
    });

    it("may not push anywhere else, nor delete, retag policy or rescan in its own repository", async () => {
        for (const other of [arn("ecr", "repository/mlops-prod-model"), arn("ecr", "repository/another-team"),
            `arn:aws:ecr:eu-west-1:${ACCOUNT_ID}:repository/mlops-platform-model`, "arn:aws:ecr:us-east-1:210987654321:repository/mlops-platform-model"]) {
            for (const action of PUSH) assert.equal(await simulate(action, other), "ImplicitlyDenied", `${action} on ${other}`);
        }
        for (const action of ["ecr:BatchDeleteImage", "ecr:DeleteRepository", "ecr:SetRepositoryPolicy", "ecr:PutImageTagMutability",
            "ecr:PutLifecyclePolicy", "ecr:StartImageScan", "ecr:PutImageScanningConfiguration"]) {
            assert.equal(await simulate(action, repo()), "ImplicitlyDenied", action);
        }
    });

    it("reads the pipeline's artifacts and writes only its own logs", async () => {
        const artifacts = `arn:aws:s3:::${outputs.buckets.artifacts}`;
        assert.equal(await simulate("s3:GetObject", `${artifacts}/mlops-platform-churn/code/abc.zip`), "Allowed");
        assert.equal(await simulate("s3:PutObject", `${artifacts}/mlops-platform-churn/code/abc.zip`), "ImplicitlyDenied");
        assert.equal(await simulate("s3:DeleteObject", `${artifacts}/mlops-platform-churn/code/abc.zip`), "ImplicitlyDenied");
        const own = arn("logs", "log-group:/aws/codebuild/mlops-platform-image:log-stream:build-1");
        assert.equal(await simulate("logs:PutLogEvents", own), "Allowed");
        for (const other of ["mlops-platform-churn-train", "mlops-platform-deploy-prod"]) {
            assert.equal(await simulate("logs:PutLogEvents", arn("logs", `log-group:/aws/codebuild/${other}:log-stream:build-1`)), "ImplicitlyDenied", other);
        }
    });

    it("has no access to the data buckets, the deploy roles, the token, SageMaker or the key beyond decrypting", async () => {
        for (const bucket of ["raw", "curated", "models", "capture"]) {
            const name = outputs.buckets[bucket];
            assert.ok(name, `bucket ${bucket} exists in dev`);
            for (const action of ["s3:GetObject", "s3:PutObject"]) {
                assert.equal(await simulate(action, `arn:aws:s3:::${name}/any/key`), "ImplicitlyDenied", `${action} on ${bucket}`);
            }
            assert.equal(await simulate("s3:ListBucket", `arn:aws:s3:::${name}`), "ImplicitlyDenied", bucket);
        }
        for (const role of ["mlops-platform-deploy-dev", "mlops-platform-deploy-prod", "mlops-platform-churn-training"]) {
            const roleArnOther = `arn:aws:iam::${ACCOUNT_ID}:role/${role}`;
            assert.equal(await simulate("sts:AssumeRole", roleArnOther), "ImplicitlyDenied", role);
            assert.equal(await simulate("iam:PassRole", roleArnOther), "ImplicitlyDenied", role);
        }
        assert.equal(await simulate("secretsmanager:GetSecretValue", arn("secretsmanager", "secret:mlops-platform-pulumi-access-token-AbCdEf")), "ImplicitlyDenied");
        assert.equal(await simulate("sagemaker:CreateTrainingJob", arn("sagemaker", "training-job/mlops-platform-churn-1")), "ImplicitlyDenied");
        assert.equal(await simulate("codepipeline:StartPipelineExecution", arn("codepipeline", "mlops-platform-churn")), "ImplicitlyDenied");
        const key = outputs.kmsKeyArn as string;
        // KMS needs the key policy too (the simulator models that): the stack key's own policy, from the graph.
        const keyPolicy = JSON.parse(graph.one("aws:kms/key:Key").inputs.policy);
        assert.equal(await simulate("kms:Decrypt", key, keyPolicy), "Allowed");
        for (const action of ["kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:ScheduleKeyDeletion"]) {
            assert.equal(await simulate(action, key, keyPolicy), "ImplicitlyDenied", action);
        }
    });

    it("is the only identity of the program that may push the model image (deployers included)", async () => {
        const documents = [
            ...graph.ofType("aws:iam/rolePolicy:RolePolicy").map((p) => ({ who: `${p.name} (inline)`, policy: JSON.parse(p.inputs.policy) })),
            // Permissions boundaries are ceilings that grant nothing, never identity policies.
            ...graph.ofType("aws:iam/policy:Policy").filter((p) => !isBoundaryPolicy(p)).map((p) => ({ who: `${p.name} (managed)`, policy: JSON.parse(p.inputs.policy) })),
        ];
        assert.ok(documents.length > 15, `only ${documents.length} policies found`);
        const pushers: string[] = [];
        for (const { who, policy: document } of documents) {
            const result: any = await runSimulation({
                identityPolicies: [{ name: who, policy: document }], serviceControlPolicies: [], resourceControlPolicies: [], resourcePolicy: undefined,
                request: { action: "ecr:PutImage", resource: { resource: repo(), accountId: ACCOUNT_ID }, principal: roleArn, contextVariables: {} },
            } as any, {});
            assert.notEqual(result.resultType, "error", who);
            if (result.overallResult === "Allowed") pushers.push(who);
        }
        assert.deepEqual(pushers, ["image-build-policy (inline)"]);
    });

    it("names every action and justifies its only wildcard resource (ECR login)", () => {
        for (const s of policy.Statement) {
            for (const action of [s.Action].flat()) assert.doesNotMatch(action, /\*/, `${s.Sid}: ${action}`);
            if ([s.Resource].flat().includes("*")) assert.deepEqual([s.Action].flat(), ["ecr:GetAuthorizationToken"], s.Sid);
        }
    });
});

describe("image build: options", () => {
    function program(overrides: Partial<ImageBuildArgs>) {
        return () => {
            const { context, baseline, opts } = testBed();
            const build = new ImageBuild("image-build", {
                context,
                kmsKeyArn: baseline.kmsKeyArn,
                repository: { arn: arn("ecr", "repository/mlops-platform-model"), url: `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/mlops-platform-model` },
                artifactsBucketArn: baseline.buckets.artifacts.arn,
                ...overrides,
            }, opts);
            return { name: build.projectName };
        };
    }

    it("takes the severity from the stack's config (mlops:imageScanFailOnSeverity)", async () => {
        const { graph } = await evaluateStackOk("platform", { config: { imageScanFailOnSeverity: "MEDIUM" } });
        assert.equal(envOf(projectNamed(graph, "mlops-platform-image")).FAIL_ON_SEVERITY, "MEDIUM");
    });

    it("fails the stage at the configured severity", async () => {
        const { graph, error } = await evaluate("platform", program({ failOnSeverity: "HIGH", timeoutMinutes: 90 }));
        assert.equal(error, undefined);
        const project = graph.one("aws:codebuild/project:Project");
        assert.equal(envOf(project).FAIL_ON_SEVERITY, "HIGH");
        assert.equal(project.inputs.buildTimeout, 90);
    });

    for (const [what, overrides, message] of [
        ["an unknown severity", { failOnSeverity: "SEVERE" as any }, /failOnSeverity "SEVERE" is invalid; expected one of CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED, NONE/],
        ["a timeout CodeBuild refuses", { timeoutMinutes: 3000 }, /timeoutMinutes 3000 is invalid; expected a whole number from 5 to 2160/],
    ] as const) {
        it(`refuses ${what}, naming the argument and what is allowed`, async () => {
            const { error } = await evaluate("platform", program(overrides));
            assert.match(String(error), message);
        });
    }
});
