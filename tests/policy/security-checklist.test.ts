import { strict as assert } from "assert";
import { policies } from "../../policy/rules";
import { runPolicies, toPolicyResources, Violation } from "../harness/policy-runner";
import { definedStacks, RecordedResource, stackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fake = Pick<RecordedResource, "urn" | "type" | "name" | "inputs" | "parentUrn" | "protect">;
let counter = 0;
function fake(type: string, inputs: Record<string, any>, parentUrn = "urn:parent"): Fake {
    counter++;
    return { urn: `urn:${type}:${counter}`, type, name: `r${counter}`, inputs, parentUrn, protect: false };
}
const policyDoc = (statements: any[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });

/** Adds the parent components the fakes name, as a real graph would have them. */
async function violationsOf(resources: Fake[]): Promise<Violation[]> {
    const parents = [...new Set(resources.map((r) => r.parentUrn!))]
        .map((urn): Fake => ({ urn, type: "mlops:test:Component", name: urn, inputs: {}, parentUrn: undefined, protect: false }));
    return runPolicies(policies, toPolicyResources([...parents, ...resources] as RecordedResource[]));
}
async function assertViolation(resources: Fake[], pattern: RegExp): Promise<void> {
    const violations = await violationsOf(resources);
    assert.ok(violations.some((v) => pattern.test(v.message)),
        `expected a violation matching ${pattern}, got:\n  ${violations.map((v) => v.message).join("\n  ") || "(none)"}`);
}

for (const stack of definedStacks()) {
    describe(`stack ${stack}: security checklist policies`, () => {
        it("has no violations", async () => {
            const { graph } = await stackGraph(stack);
            const violations = await runPolicies(policies, toPolicyResources(graph.resources));
            assert.deepEqual(violations.map((v) => `[${v.policy}] ${v.message}`), []);
        });
    });
}

describe("security checklist policies catch violations", () => {
    it("KMS: rotation off, bare * principal, kms:*", async () => {
        const key = fake("aws:kms/key:Key", {
            enableKeyRotation: false,
            policy: policyDoc([{ Sid: "Open", Effect: "Allow", Principal: "*", Action: "kms:*", Resource: "*" }]),
        });
        await assertViolation([key], /key rotation must be on/);
        await assertViolation([key], /statement Open allows a bare \* principal/);
        await assertViolation([key], /statement Open grants kms:\*/);
    });

    it("S3: a bare bucket fails every hardening rule", async () => {
        const bucket = fake("aws:s3/bucket:Bucket", {}, "urn:bare");
        for (const pattern of [/public access block/, /versioning/, /SSE-KMS/, /BucketOwnerEnforced/, /incomplete multipart/, /deny requests without TLS/]) {
            await assertViolation([bucket], pattern);
        }
    });

    it("S3: a public-principal Allow and a second unlogged bucket", async () => {
        const parent = "urn:b";
        const bucket = fake("aws:s3/bucket:Bucket", {}, parent);
        const policy = fake("aws:s3/bucketPolicy:BucketPolicy", { policy: policyDoc([{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "x" }]) }, parent);
        await assertViolation([bucket, policy, fake("aws:s3/bucket:Bucket", {}, "urn:c")], /only the access-log bucket may go without server access logging/);
        await assertViolation([bucket, policy], /allows a \* principal/);
    });

    it("IAM: wildcard actions, unjustified * resources, unconditioned PassRole, users, managed policies, AWS principals in trust", async () => {
        const rolePolicy = fake("aws:iam/rolePolicy:RolePolicy", {
            policy: policyDoc([
                { Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::b/*" },
                { Effect: "Allow", Action: ["s3:GetObject"], Resource: "*" },
                { Effect: "Allow", Action: "iam:PassRole", Resource: "arn:aws:iam::1:role/x" },
            ]),
        });
        await assertViolation([rolePolicy], /action s3:\* is a service-wide wildcard/);
        await assertViolation([rolePolicy], /Resource "\*" for s3:GetObject/);
        await assertViolation([rolePolicy], /iam:PassRole needs an iam:PassedToService condition/);
        await assertViolation([fake("aws:iam/user:User", {})], /IAM users are not allowed/);
        await assertViolation([fake("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })], /AWS-managed policy/);
        await assertViolation([fake("aws:iam/role:Role", { assumeRolePolicy: policyDoc([{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::1:root" }, Action: "sts:AssumeRole" }]) })],
            /service \(or OIDC\) principals only/);
        await assertViolation([fake("aws:iam/role:Role", { assumeRolePolicy: policyDoc([{ Effect: "Allow", Principal: { Federated: "arn:oidc" }, Action: "sts:AssumeRoleWithWebIdentity" }]) })],
            /federated trust needs audience\/subject conditions/);
    });

    it("IAM: justified wildcard resources pass", async () => {
        const ok = fake("aws:iam/rolePolicy:RolePolicy", { policy: policyDoc([{ Effect: "Allow", Action: ["ecr:GetAuthorizationToken", "xray:PutTraceSegments"], Resource: "*" }]) });
        assert.deepEqual(await violationsOf([ok]), []);
    });

    it("Lambda: old runtime, no limits, no tracing, plain env, no DLQ, no log group, permission without sourceArn", async () => {
        const fn = fake("aws:lambda/function:Function", { runtime: "nodejs18.x", environment: { variables: { A: "b" } } }, "urn:fn");
        for (const pattern of [/runtime nodejs18.x/, /timeout and memorySize/, /reserved concurrency/, /active tracing/, /encrypted with our key/, /DLQ or an on-failure destination/, /explicit log group/]) {
            await assertViolation([fn], pattern);
        }
        await assertViolation([fake("aws:lambda/permission:Permission", { action: "lambda:InvokeFunction", principal: "events.amazonaws.com" })], /must carry sourceArn/);
    });

    it("IAM: a role without a permissions boundary, a boundary attached as a policy, a boundary that grants", async () => {
        await assertViolation([fake("aws:iam/role:Role", {})], /every role needs a permissions boundary/);
        await assertViolation([fake("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { policyArn: "arn:aws:iam::1:policy/mlops/boundary/mlops-dev-permissions-boundary" })],
            /attaches the permissions boundary/);
        const boundary = (statements: any[]) => fake("aws:iam/policy:Policy", { path: "/mlops/boundary/", policy: policyDoc(statements) });
        await assertViolation([boundary([{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }])], /a boundary's Allow is a ceiling/);
        await assertViolation([boundary([{ Effect: "Allow", Action: "*", Resource: "*" }])], /may not allow every service/);
        // A whole-service ceiling is what a boundary is; the same document as an identity policy is a violation.
        const ceiling = [{ Effect: "Allow", Action: ["s3:*"], Resource: "*" }];
        assert.deepEqual(await violationsOf([boundary(ceiling)]), []);
        await assertViolation([fake("aws:iam/policy:Policy", { policy: policyDoc(ceiling) })], /action s3:\* is a service-wide wildcard/);
    });

    it("logs, alarms, topics, queues, event targets", async () => {
        await assertViolation([fake("aws:cloudwatch/logGroup:LogGroup", {})], /log group must be KMS-encrypted/);
        await assertViolation([fake("aws:cloudwatch/logGroup:LogGroup", { kmsKeyId: "k" })], /needs a retention/);
        await assertViolation([fake("aws:cloudwatch/metricAlarm:MetricAlarm", {})], /alarm has no actions/);
        await assertViolation([fake("aws:sns/topic:Topic", {})], /topic must be KMS-encrypted/);
        await assertViolation([fake("aws:sqs/queue:Queue", {})], /queue must be KMS-encrypted/);
        const target = fake("aws:cloudwatch/eventTarget:EventTarget", {});
        await assertViolation([target], /retry policy/);
        await assertViolation([target], /dead-letter queue/);
    });

    it("ECR, CodeBuild, CodePipeline, Glue", async () => {
        const repo = fake("aws:ecr/repository:Repository", { imageTagMutability: "MUTABLE" });
        for (const pattern of [/immutable/, /scan on push/, /must be KMS-encrypted/, /lifecycle policy/]) await assertViolation([repo], pattern);
        const project = fake("aws:codebuild/project:Project", {
            environment: { privilegedMode: true, environmentVariables: [{ name: "PULUMI_ACCESS_TOKEN", value: "pul-123" }] },
        });
        for (const pattern of [/needs our KMS key/, /CloudWatch logs must be on/, /privileged mode only/, /PULUMI_ACCESS_TOKEN looks like a secret/]) await assertViolation([project], pattern);
        const pipeline = fake("aws:codepipeline/pipeline:Pipeline", { pipelineType: "V1", artifactStores: [{ location: "b", type: "S3" }] });
        await assertViolation([pipeline], /must be a V2 pipeline/);
        await assertViolation([pipeline], /artifact store must use our KMS key/);
        const job = fake("aws:glue/job:Job", {});
        for (const pattern of [/needs a security configuration/, /needs a timeout/, /set maxRetries/]) await assertViolation([job], pattern);
        const sc = fake("aws:glue/securityConfiguration:SecurityConfiguration", { encryptionConfiguration: { s3Encryption: [{ s3EncryptionMode: "DISABLED" }] } });
        for (const pattern of [/S3 encryption must be SSE-KMS/, /bookmarks must be CSE-KMS/, /CloudWatch logs must be SSE-KMS/]) await assertViolation([sc], pattern);
    });

    it("SageMaker: isolation, endpoint and capture encryption (NVMe exempt), monitoring jobs", async () => {
        await assertViolation([fake("aws:sagemaker/model:Model", {})], /network isolation must be on/);
        // Serverless endpoints cannot isolate their models: a model served only serverless is exempt.
        const serverlessModel = fake("aws:sagemaker/model:Model", {}, "urn:ep");
        const serverlessConfig = fake("aws:sagemaker/endpointConfiguration:EndpointConfiguration", { productionVariants: [{ serverlessConfig: { maxConcurrency: 1 } }] }, "urn:ep");
        assert.deepEqual(await violationsOf([serverlessModel, serverlessConfig]), []);
        await assertViolation([fake("aws:sagemaker/endpointConfiguration:EndpointConfiguration", { productionVariants: [{ instanceType: "ml.m5.large" }] })], /needs kmsKeyArn/);
        const nvme = fake("aws:sagemaker/endpointConfiguration:EndpointConfiguration", { productionVariants: [{ instanceType: "ml.m5d.large" }] });
        assert.deepEqual(await violationsOf([nvme]), []);
        await assertViolation([fake("aws:sagemaker/endpointConfiguration:EndpointConfiguration", {
            kmsKeyArn: "k", productionVariants: [{ instanceType: "ml.m5.large" }], dataCaptureConfig: { enableCapture: true },
        })], /data capture must be KMS-encrypted/);
        const job = fake("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", { networkConfig: {} });
        for (const pattern of [/outputs must be KMS-encrypted/, /volumes must be KMS-encrypted/, /network isolation must be on/, /inter-container traffic must be encrypted/]) {
            await assertViolation([job], pattern);
        }
        // The same job defined in a CloudFormation stack (the data-quality job with our container).
        const body = (props: object) => JSON.stringify({ Resources: { Job: { Type: "AWS::SageMaker::DataQualityJobDefinition", Properties: props } } });
        const cfnJob = fake("aws:cloudformation/stack:Stack", { templateBody: body({ NetworkConfig: {} }) });
        for (const pattern of [/Job: outputs must be KMS-encrypted/, /Job: volumes must be KMS-encrypted/, /Job: network isolation must be on/, /Job: inter-container traffic must be encrypted/]) {
            await assertViolation([cfnJob], pattern);
        }
        const good = fake("aws:cloudformation/stack:Stack", { templateBody: body({
            DataQualityJobOutputConfig: { KmsKeyId: "k" }, JobResources: { ClusterConfig: { VolumeKmsKeyId: "k" } },
            NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true },
        }) });
        assert.deepEqual(await violationsOf([good]), []);
    });
});
