/**
 * IAM as AWS would evaluate it (@cloud-copilot/iam-simulate with AWS's action catalogue, offline), on the policies
 * the stacks really create and the ARNs of the resources they really register:
 *
 * (a) every action of every policy exists in AWS's catalogue;
 * (b) each role can do what its code does, on the real ARNs;
 * (c) each identity that deploys a stack may create, update and delete every resource of that stack;
 * (d) one environment's deployers are denied on another's resources, and on the platform's, except what is documented
 *     (the paths by which dev could reach prod one by one: environment-isolation.test.ts).
 */
import { strict as assert } from "assert";
import { allPolicies, decide, keyPolicies, NamedPolicy, notAllowed, policiesOfRole, Request, rolesNamed, unknownActions } from "../harness/iam-oracle";
import { deployRequests, HARMLESS_CROSSINGS, HarmlessCrossing } from "../harness/deploy-requests";
import { ACCOUNT_ID, evaluateStackOk, hostSharedFixture, stackGraph, StackGraph } from "../harness/pulumi-harness";
import { trainingJobName } from "../../steps/lib/naming";
import { boundaryPolicyName } from "../../infra/components/permissions-boundary";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REGION = "us-east-1";
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${resource}`;

interface Identity {
    readonly principal: string;
    readonly policies: NamedPolicy[];
}

function identity(graph: StackGraph, roleName: string): Identity {
    const [role] = rolesNamed(graph, new RegExp(`^${roleName}$`));
    assert.ok(role, `role ${roleName} is not in ${graph.stack}`);
    const policies = policiesOfRole(graph, role);
    assert.ok(policies.length > 0, `role ${roleName} has no policy`);
    return { principal: role.state.arn, policies };
}

/** Requests a deployer of another environment may make too, each with the reason it is harmless. */
const CROSS_ENVIRONMENT_ALLOWED: readonly HarmlessCrossing[] = [
    ...HARMLESS_CROSSINGS,
    {
        match: (r) => /^sagemaker:Describe(ModelPackageGroup|ModelPackage)$/.test(r.action) && r.resource.includes(":model-package-group/mlops-platform-"),
        reason: "every stack resolves the version it serves from the host's registry (ReadSharedModelRegistry)",
    },
];

/**
 * The pipeline's deploy projects read their input artifacts (the source) from the platform's artifacts bucket, which
 * the platform's key encrypts (infra/lib/codebuild.ts buildBaseStatements).
 */
const PIPELINE_ARTIFACT_READS = (who: string, hostKeyArn: string) => (r: Request) =>
    who.startsWith("mlops-platform-deploy-") && (
        (/^s3:GetObject/.test(r.action) && r.resource.startsWith("arn:aws:s3:::mlops-platform-artifacts-")) ||
        (/^kms:(Decrypt|DescribeKey|GenerateDataKey)$/.test(r.action) && r.resource === hostKeyArn));

/** A request on a role whose permissions boundary is not `environment`'s. */
function carriesAnotherBoundary(r: Request, environment: string): boolean {
    const boundary = r.context?.["iam:PermissionsBoundary"];
    return boundary !== undefined && !String(boundary).endsWith(`/${boundaryPolicyName("mlops", environment)}`);
}

describe("IAM simulation of the stacks' policies (oracle: AWS's catalogue and evaluation logic)", function () {
    this.timeout(300_000);
    /** The host: pipeline, deploy projects, registry, training and evaluation steps. */
    let platform: StackGraph;
    let dev: StackGraph;
    let prod: StackGraph;
    /** prod with model-quality monitoring, so the CloudFormation stack is part of what the deployers must manage. */
    let prodFull: StackGraph;
    /** Key policies of every stack; the host's key (hostSharedFixture's ARN) has the platform's key policy. */
    const keys = () => {
        const fromGraphs = keyPolicies(platform, dev, prod, prodFull);
        return (resource: string) => fromGraphs(resource) ??
            (resource === hostSharedFixture().kmsKeyArn ? fromGraphs(platform.one("aws:kms/key:Key").state.arn) : undefined);
    };
    before(async () => {
        platform = (await stackGraph("platform")).graph;
        dev = (await stackGraph("dev")).graph;
        prod = (await stackGraph("prod")).graph;
        prodFull = (await evaluateStackOk("prod", {
            config: {
                monitoring: { enabled: true, modelQuality: { enabled: true } },
                accountResources: { processingJobsLogGroup: true },
            },
        })).graph;
    });

    it("(a) every action in every policy the stacks create exists in AWS's catalogue", async () => {
        let policies = 0;
        let actions = 0;
        const unknown: string[] = [];
        for (const graph of [platform, dev, prod, prodFull]) {
            for (const p of allPolicies(graph)) {
                policies++;
                actions += p.policy.Statement.flatMap((s: any) => [s.Action].flat()).length;
                for (const a of await unknownActions(p.policy)) unknown.push(`${graph.stack} ${p.name}: ${a}`);
            }
        }
        console.log(`      checked ${actions} actions in ${policies} policies`);
        assert.ok(policies >= 25, `only ${policies} policies`);
        assert.deepEqual(unknown, []);
    });

    it("(a) the catalogue check can fail: an invented action is reported", async () => {
        assert.deepEqual(await unknownActions({ Statement: [{ Effect: "Allow", Action: ["sagemaker:CreateModel", "sagemaker:CreateModelz", "s3:*"], Resource: "*" }] }),
            ["sagemaker:CreateModelz", "s3:*"]);
    });

    describe("(b) each role may do what its code does, on the real ARNs", () => {
        const shared = hostSharedFixture();
        const job = trainingJobName("mlops-platform-churn", "0b7a3c9e-1f2d-4e5a-9b8c-7d6e5f4a3b2c");
        const bucketOf = (graph: StackGraph, purpose: string) => graph.ofType("aws:s3/bucket:Bucket").find((b) => b.name === `baseline-${purpose}`)!.state.bucket;
        const keyOf = (graph: StackGraph) => graph.one("aws:kms/key:Key").state.arn;

        const tables: { role: string; graph: () => StackGraph; requests: () => Request[] }[] = [
            {
                role: "mlops-platform-churn-train",
                graph: () => platform,
                requests: () => [
                    { action: "sagemaker:CreateTrainingJob", resource: arn("sagemaker", `training-job/${job}`) },
                    { action: "sagemaker:DescribeTrainingJob", resource: arn("sagemaker", `training-job/${job}`) },
                    { action: "sagemaker:AddTags", resource: arn("sagemaker", `training-job/${job}`) },
                    { action: "iam:PassRole", resource: `arn:aws:iam::${ACCOUNT_ID}:role/mlops-platform-churn-training`, context: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
                    { action: "sagemaker:CreateModelPackage", resource: arn("sagemaker", "model-package/mlops-platform-churn/5") },
                    { action: "sagemaker:DescribeModelPackage", resource: arn("sagemaker", "model-package/mlops-platform-churn/4") },
                    { action: "s3:GetObject", resource: `arn:aws:s3:::${bucketOf(platform, "curated")}/run-42/manifest.json` },
                ],
            },
            {
                role: "mlops-platform-churn-training",
                graph: () => platform,
                requests: () => [
                    { action: "s3:GetObject", resource: `arn:aws:s3:::${bucketOf(platform, "curated")}/run-42/train/part-0.csv` },
                    { action: "s3:PutObject", resource: `arn:aws:s3:::${bucketOf(platform, "models")}/training/${job}/output/model.tar.gz` },
                    { action: "kms:GenerateDataKey", resource: keyOf(platform) },
                    { action: "kms:Decrypt", resource: keyOf(platform) },
                    // OutputDataConfig.KmsKeyId: the role encrypts the model artifact with the key (CreateTrainingJob API reference).
                    { action: "kms:Encrypt", resource: keyOf(platform) },
                    { action: "ecr:BatchGetImage", resource: arn("ecr", "repository/mlops-platform-model") },
                    { action: "ecr:GetAuthorizationToken", resource: "*" },
                    { action: "logs:CreateLogStream", resource: arn("logs", `log-group:/aws/sagemaker/TrainingJobs:log-stream:${job}/algo-1`) },
                    { action: "logs:PutLogEvents", resource: arn("logs", `log-group:/aws/sagemaker/TrainingJobs:log-stream:${job}/algo-1`) },
                ],
            },
            {
                role: "mlops-platform-churn-evaluate",
                graph: () => platform,
                requests: () => [
                    // The dev environment's endpoint: the challenger is deployed there before it is evaluated.
                    { action: "sagemaker:InvokeEndpoint", resource: arn("sagemaker", "endpoint/mlops-dev-churn") },
                    { action: "sagemaker:UpdateModelPackage", resource: arn("sagemaker", "model-package/mlops-platform-churn/4") },
                    { action: "sagemaker:ListModelPackages", resource: "*" },
                    { action: "s3:PutObject", resource: `arn:aws:s3:::${bucketOf(platform, "artifacts")}/evaluations/run-1/evaluation.json` },
                    // The report group's export: CodeBuild writes it with this project's role.
                    { action: "s3:PutObject", resource: `arn:aws:s3:::${bucketOf(platform, "artifacts")}/${platform.one("aws:codebuild/reportGroup:ReportGroup").inputs.exportConfig.s3Destination.path}/report-1/junit.xml` },
                    { action: "codebuild:BatchPutTestCases", resource: platform.one("aws:codebuild/reportGroup:ReportGroup").state.arn },
                ],
            },
            {
                role: "mlops-platform-etl-trigger-lambda",
                graph: () => platform,
                requests: () => [
                    { action: "glue:StartJobRun", resource: arn("glue", "job/mlops-platform-etl") },
                    { action: "glue:GetJobRun", resource: arn("glue", "job/mlops-platform-etl") },
                    { action: "codepipeline:PutJobSuccessResult", resource: "*" },
                    { action: "codepipeline:PutJobFailureResult", resource: "*" },
                ],
            },
            {
                role: "mlops-prod-model-monitor",
                graph: () => prod,
                requests: () => [
                    { action: "s3:GetObject", resource: `arn:aws:s3:::${shared.curatedBucketName}/runs/2026-11-01T00-00-00Z/baseline/statistics.json` },
                    { action: "kms:Decrypt", resource: shared.kmsKeyArn },
                    { action: "cloudwatch:PutMetricData", resource: "*", context: { "cloudwatch:namespace": "aws/sagemaker/Endpoints/data-metrics" } },
                    { action: "logs:PutLogEvents", resource: arn("logs", "log-group:/aws/sagemaker/ProcessingJobs:log-stream:job/algo-1") },
                ],
            },
            {
                role: "mlops-prod-retrain-trigger-lambda",
                graph: () => prod,
                requests: () => [
                    { action: "codepipeline:StartPipelineExecution", resource: shared.pipelineArn },
                    { action: "codepipeline:ListPipelineExecutions", resource: shared.pipelineArn },
                ],
            },
        ];

        for (const table of tables) {
            it(`${table.role}`, async () => {
                const who = identity(table.graph(), table.role);
                const requests = table.requests();
                assert.deepEqual(await notAllowed(who.policies, who.principal, requests, keys()), []);
                console.log(`      ${table.role}: ${requests.length} requests Allowed`);
            });
        }

        it("each deployer may pin its own environment's version on the platform's registry, not the other's", async () => {
            const group = arn("sagemaker", "model-package-group/mlops-platform-churn");
            for (const [who, own, other, graph] of [["mlops-platform-deploy-prod", "prod", "dev", () => platform], ["mlops-prod-pulumi-deployments", "prod", "dev", () => prodFull],
                ["mlops-platform-deploy-dev", "dev", "prod", () => platform], ["mlops-dev-pulumi-deployments", "dev", "prod", () => dev]] as const) {
                const id = identity(graph(), who);
                const tagging = (env: string, action: string) => ({ action, resource: group, context: { "aws:TagKeys": [`mlops:pin:${env}`] } });
                assert.deepEqual(await notAllowed(id.policies, id.principal, [tagging(own, "sagemaker:AddTags"), tagging(own, "sagemaker:DeleteTags")]), [], who);
                assert.notEqual(await decide(id.policies, id.principal, tagging(other, "sagemaker:AddTags")), "Allowed", `${who} may pin ${other}`);
            }
        });

        it("the table can fail: the training role may not write outside its prefix nor pass itself", async () => {
            const who = identity(platform, "mlops-platform-churn-training");
            assert.equal(await decide(who.policies, who.principal, { action: "s3:PutObject", resource: `arn:aws:s3:::${bucketOf(platform, "models")}/elsewhere/x` }), "ImplicitlyDenied");
            assert.equal(await decide(who.policies, who.principal, { action: "iam:PassRole", resource: who.principal }), "ImplicitlyDenied");
        });
    });

    describe("(c) each deploy identity may create, update and delete every resource of its stack", () => {
        const cases: { who: string; graph: () => StackGraph; identityGraph: () => StackGraph; environment: string }[] = [
            { who: "mlops-platform-deploy-dev", graph: () => dev, identityGraph: () => platform, environment: "dev" },
            { who: "mlops-dev-pulumi-deployments", graph: () => dev, identityGraph: () => dev, environment: "dev" },
            { who: "mlops-platform-deploy-prod", graph: () => prodFull, identityGraph: () => platform, environment: "prod" },
            { who: "mlops-prod-pulumi-deployments", graph: () => prodFull, identityGraph: () => prodFull, environment: "prod" },
            { who: "mlops-platform-pulumi-deployments", graph: () => platform, identityGraph: () => platform, environment: "platform" },
        ];
        for (const c of cases) {
            it(`${c.who} on the ${c.environment} stack`, async () => {
                const { requests, exempt } = deployRequests(c.graph(), c.environment);
                // The pipeline's prod deployer does not know prod's opt-ins; owned account resources are the admin's.
                const opted = c.who === "mlops-platform-deploy-prod" ? requests.filter((r) => !r.resource.includes(":log-group:/aws/sagemaker/")) : requests;
                // A role acting for another environment (the platform's deploy roles) carries that environment's
                // boundary: only an administrator changes it (tests/infra/permissions-boundary.test.ts proves the denial).
                const relevant = opted.filter((r) => !carriesAnotherBoundary(r, c.environment));
                const who = identity(c.identityGraph(), c.who);
                const refused = await notAllowed(who.policies, who.principal, relevant, keys());
                console.log(`      ${c.who}: ${relevant.length} deploy requests on ${new Set(relevant.map((r) => r.resource)).size} ARNs; exempt: ${exempt.map((e) => e.type).join(", ")}`);
                assert.deepEqual(refused, []);
            });
        }
    });

    describe("(d) one environment's deployer is denied on another's resources and on the platform's", () => {
        const cases = [
            { who: "mlops-platform-deploy-dev", identityGraph: () => platform, target: () => prodFull, environment: "prod" },
            { who: "mlops-dev-pulumi-deployments", identityGraph: () => dev, target: () => prodFull, environment: "prod" },
            { who: "mlops-platform-deploy-prod", identityGraph: () => platform, target: () => dev, environment: "dev" },
            { who: "mlops-prod-pulumi-deployments", identityGraph: () => prodFull, target: () => dev, environment: "dev" },
            // Neither environment's deployers may change the platform (the pipeline, the deploy projects, the registry).
            { who: "mlops-platform-deploy-prod", identityGraph: () => platform, target: () => platform, environment: "platform" },
            { who: "mlops-prod-pulumi-deployments", identityGraph: () => prodFull, target: () => platform, environment: "platform" },
            { who: "mlops-platform-deploy-dev", identityGraph: () => platform, target: () => platform, environment: "platform" },
            { who: "mlops-dev-pulumi-deployments", identityGraph: () => dev, target: () => platform, environment: "platform" },
        ];
        for (const c of cases) {
            it(`${c.who} on the ${c.environment} stack`, async () => {
                const { requests } = deployRequests(c.target(), c.environment);
                const who = identity(c.identityGraph(), c.who);
                const crossing = requests.filter((r) => !CROSS_ENVIRONMENT_ALLOWED.some((a) => a.match(r)) && !PIPELINE_ARTIFACT_READS(c.who, platform.one("aws:kms/key:Key").state.arn)(r));
                const allowed: string[] = [];
                for (const r of crossing) {
                    if (await decide(who.policies, who.principal, r, keys()) === "Allowed") allowed.push(`${r.action} on ${r.resource}`);
                }
                console.log(`      ${c.who}: ${crossing.length} requests on ${c.environment} resources denied`);
                assert.ok(crossing.length > 50);
                assert.deepEqual(allowed, []);
            });
        }
    });
});
