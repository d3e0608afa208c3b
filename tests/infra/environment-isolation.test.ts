/**
 * Dev cannot reach prod, proven by IAM simulation (@cloud-copilot/iam-simulate, the oracle of the deploy policies)
 * on the policies the stacks really attach and the ARNs of the resources they really register.
 *
 * The identities that deploy dev are found in the graphs, not named here: the dev stack's Pulumi Deployments role
 * (its trust policy admits only dev's deployment tokens) and the role of the pipeline's deploy project whose
 * TARGET_STACK is dev. The prod deploy project, its role, the pipeline, its source and the registry are likewise
 * found in the graph of the stack that holds the pipeline ({@link HOST}). One test per path by which a dev deployer
 * could come to act with prod's deploy permissions or change what prod runs; each asserts that none of the path's
 * requests is Allowed for any dev deployer. With `HOST = "dev"` (the layout before the platform stack) every one of
 * them fails: the dev deployers could do each of these things.
 */
import { strict as assert } from "assert";
import { decide, NamedPolicy, policiesOfRole, Request, ResourcePolicies, unknownActions } from "../harness/iam-oracle";
import { deployRequests, HARMLESS_CROSSINGS, HarmlessCrossing } from "../harness/deploy-requests";
import { ACCOUNT_ID, evaluateStackOk, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The stack that holds the pipeline, the deploy projects and the registry. */
const HOST = "platform";
const REGION = "us-east-1";
const iamArn = (resource: string) => `arn:aws:iam::${ACCOUNT_ID}:${resource}`;
/** A CodeStar connection ARN in the documented format (the platform stack file leaves it unset). */
const CONNECTION_ARN = `arn:aws:codeconnections:${REGION}:${ACCOUNT_ID}:connection/0b7a3c9e-1f2d-4e5a-9b8c-7d6e5f4a3b2c`;

interface Identity {
    readonly label: string;
    readonly principal: string;
    readonly policies: NamedPolicy[];
}

function roleByArn(graph: StackGraph, roleArn: string): RecordedResource {
    const role = graph.ofType("aws:iam/role:Role").find((r) => r.state.arn === roleArn || r.state.name === roleArn || `${r.name}-id` === roleArn);
    assert.ok(role, `no role ${roleArn} in ${graph.stack}`);
    return role;
}

function identityOf(graph: StackGraph, role: RecordedResource, label: string): Identity {
    const policies = policiesOfRole(graph, role);
    assert.ok(policies.length > 0, `${label} has no policy`);
    return { label: `${label} (${role.state.name})`, principal: role.state.arn, policies };
}

/** The pipeline's deploy project that updates `stack` (its TARGET_STACK). */
function deployProject(host: StackGraph, stack: string): RecordedResource {
    const found = host.ofType("aws:codebuild/project:Project").filter((p) =>
        (p.inputs.environment?.environmentVariables ?? []).some((v: any) => v.name === "TARGET_STACK" && v.value === stack));
    assert.equal(found.length, 1, `expected one deploy project for ${stack} in ${host.stack}`);
    return found[0];
}

/** Every way to change what a role may do or who may use it. */
function roleTakeover(roleArn: string, service: string): Request[] {
    const own = iamArn("policy/mlops-dev-takeover");
    return [
        { action: "iam:PutRolePolicy", resource: roleArn },
        { action: "iam:DeleteRolePolicy", resource: roleArn },
        // A policy of the dev deployer's own prefix (it may create those) and an AWS-managed one.
        { action: "iam:AttachRolePolicy", resource: roleArn, context: { "iam:PolicyARN": own } },
        { action: "iam:AttachRolePolicy", resource: roleArn, context: { "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" } },
        { action: "iam:DetachRolePolicy", resource: roleArn, context: { "iam:PolicyARN": own } },
        { action: "iam:UpdateAssumeRolePolicy", resource: roleArn },
        { action: "iam:UpdateRole", resource: roleArn },
        { action: "iam:DeleteRole", resource: roleArn },
        { action: "iam:CreateRole", resource: roleArn },
        { action: "iam:TagRole", resource: roleArn },
        { action: "sts:AssumeRole", resource: roleArn },
        { action: "sts:TagSession", resource: roleArn },
        { action: "iam:PassRole", resource: roleArn, context: { "iam:PassedToService": service } },
    ];
}

/** Replacing a managed policy's document (a new default version) changes every role it is attached to. */
function policyRewrite(policyArns: string[]): Request[] {
    return policyArns.flatMap((p) => ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"]
        .map((action) => ({ action, resource: p })));
}

function managedPoliciesOf(graph: StackGraph, role: RecordedResource): string[] {
    const refs = new Set([role.state.name, `${role.name}-id`]);
    return graph.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => refs.has(a.inputs.role)).map((a) => a.inputs.policyArn);
}

function projectTakeover(projectArn: string): Request[] {
    return ["codebuild:UpdateProject", "codebuild:DeleteProject", "codebuild:CreateProject", "codebuild:StartBuild",
        "codebuild:StartBuildBatch", "codebuild:RetryBuild", "codebuild:CreateWebhook", "codebuild:UpdateWebhook",
        "codebuild:UpdateProjectVisibility"].map((action) => ({ action, resource: projectArn }));
}

describe("dev cannot reach prod (IAM simulation, one path at a time)", function () {
    this.timeout(300_000);
    let host: StackGraph;
    let dev: StackGraph;
    let prodFull: StackGraph;
    let devDeployers: Identity[];
    /** Trust policies (sts:AssumeRole is decided by the role's trust policy too) and key policies. */
    let resourcePolicies: ResourcePolicies;
    let hostEnvironment: string;

    before(async () => {
        host = (await evaluateStackOk(HOST, { config: { source: { repository: "example-org/sagemaker-mlops", branch: "main", connectionArn: CONNECTION_ARN } } })).graph;
        dev = (await stackGraph("dev")).graph;
        prodFull = (await evaluateStackOk("prod", {
            config: { monitoring: { enabled: true, modelQuality: { enabled: true } }, accountResources: { processingJobsLogGroup: true } },
        })).graph;
        hostEnvironment = host.one("aws:kms/key:Key").inputs.tags?.environment ?? HOST;
        const deploymentsRole = dev.ofType("aws:iam/role:Role").filter((r) => /:stack:dev:\*"/.test(typeof r.inputs.assumeRolePolicy === "string" ? r.inputs.assumeRolePolicy : JSON.stringify(r.inputs.assumeRolePolicy)));
        assert.equal(deploymentsRole.length, 1, "the dev stack's Pulumi Deployments role (trusting dev's deployment tokens only)");
        devDeployers = [
            identityOf(dev, deploymentsRole[0], "dev's Pulumi Deployments role"),
            identityOf(host, roleByArn(host, deployProject(host, "dev").inputs.serviceRole), "the deploy-dev project's role"),
        ];
        const trust = new Map<string, any>();
        for (const g of [host, dev, prodFull]) for (const r of g.ofType("aws:iam/role:Role")) trust.set(r.state.arn, JSON.parse(r.inputs.assumeRolePolicy));
        const keys = new Map<string, any>();
        for (const g of [host, dev, prodFull]) for (const k of g.ofType("aws:kms/key:Key")) if (k.inputs.policy) keys.set(k.state.arn, JSON.parse(k.inputs.policy));
        resourcePolicies = (resource) => trust.get(resource) ?? keys.get(resource);
    });

    /** Requests any dev deployer is Allowed (should be none). */
    async function allowedToDevDeployers(requests: Request[]): Promise<string[]> {
        assert.ok(requests.length > 0);
        const allowed: string[] = [];
        for (const who of devDeployers) {
            for (const r of requests) {
                const context = r.context ? ` ${JSON.stringify(r.context)}` : "";
                if (await decide(who.policies, who.principal, r, resourcePolicies) === "Allowed") allowed.push(`${who.label}: ${r.action} on ${r.resource}${context}`);
            }
        }
        console.log(`      ${requests.length} requests × ${devDeployers.length} dev deployers: ${allowed.length} Allowed`);
        return allowed;
    }

    it("finds both dev deployers, and each may deploy dev (the denials below are not an identity that can do nothing)", async () => {
        assert.equal(devDeployers.length, 2);
        const { requests } = deployRequests(dev, "dev");
        for (const who of devDeployers) {
            let allowed = 0;
            for (const r of requests.slice(0, 40)) if (await decide(who.policies, who.principal, r, resourcePolicies) === "Allowed") allowed++;
            assert.equal(allowed, 40, `${who.label} cannot deploy dev`);
        }
    });

    it("every action these paths name exists in AWS's catalogue (a misspelt action would be denied for nothing)", async () => {
        const pipeline = host.one("aws:codepipeline/pipeline:Pipeline");
        const actions = [...pathRequests.pipeline(pipeline), ...projectTakeover("x"), ...roleTakeover("x", "codebuild.amazonaws.com"),
            ...policyRewrite(["x"]), ...pathRequests.source(), ...pathRequests.registry()].map((r) => r.action);
        assert.deepEqual(await unknownActions({ Statement: [{ Effect: "Allow", Action: [...new Set(actions)], Resource: "*" }] }), []);
    });

    const pathRequests = {
        /** (1) the pipeline's definition and what drives it: its stages, approval, transitions, service role. */
        pipeline(pipeline: RecordedResource): Request[] {
            const p = pipeline.state.arn;
            const stage = `${p}/Prod`;
            return [
                ...["codepipeline:UpdatePipeline", "codepipeline:DeletePipeline", "codepipeline:CreatePipeline", "codepipeline:StartPipelineExecution",
                    "codepipeline:StopPipelineExecution", "codepipeline:TagResource"].map((action) => ({ action, resource: p })),
                ...["codepipeline:PutApprovalResult", "codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition",
                    "codepipeline:RetryStageExecution"].map((action) => ({ action, resource: action === "codepipeline:PutApprovalResult" ? `${stage}/Approve` : stage })),
            ];
        },
        /** (4) what the prod deploy project runs: the source artifacts in the pipeline's store, their key, the connection. */
        source(): Request[] {
            const pipeline = host.one("aws:codepipeline/pipeline:Pipeline");
            const store = pipeline.inputs.artifactStores[0];
            const bucket = `arn:aws:s3:::${store.location}`;
            const keyArn: string = store.encryptionKey.id;
            const keyTag = { "aws:ResourceTag/environment": hostEnvironment };
            return [
                ...["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging"].flatMap((action) => [
                    { action, resource: `${bucket}/source/code.zip` },
                    { action, resource: `${bucket}/${pipeline.inputs.name}/code/artifact.zip` },
                ]),
                ...["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning", "s3:PutBucketNotification", "s3:DeleteBucket"]
                    .map((action) => ({ action, resource: bucket })),
                ...["kms:Encrypt", "kms:GenerateDataKey", "kms:PutKeyPolicy", "kms:CreateGrant", "kms:ScheduleKeyDeletion"]
                    .map((action) => ({ action, resource: keyArn, context: keyTag })),
                ...["codestar-connections", "codeconnections"].flatMap((service) => [
                    { action: `${service}:PassConnection`, resource: CONNECTION_ARN.replace("codeconnections", service), context: { [`${service}:PassedToService`]: "codepipeline.amazonaws.com" } },
                    { action: `${service}:UseConnection`, resource: CONNECTION_ARN.replace("codeconnections", service) },
                    { action: `${service}:UpdateConnectionInstallation`, resource: CONNECTION_ARN.replace("codeconnections", service) },
                ]),
            ];
        },
        /** (5) the registry's approval: the group's versions, its policy, prod's pin. */
        registry(): Request[] {
            const group: string = host.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup").state.arn;
            const version = `${group.replace(":model-package-group/", ":model-package/")}/7`;
            return [
                ...["sagemaker:UpdateModelPackage", "sagemaker:CreateModelPackage", "sagemaker:DeleteModelPackage"].map((action) => ({ action, resource: version })),
                ...["sagemaker:PutModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroup", "sagemaker:CreateModelPackageGroup"]
                    .map((action) => ({ action, resource: group })),
                // The prod deploy pins prod's version with this tag (steps/deploy); whoever sets it chooses prod's model.
                ...["sagemaker:AddTags", "sagemaker:DeleteTags"].map((action) => ({ action, resource: group, context: { "aws:TagKeys": ["mlops:pin:prod"] } })),
            ];
        },
    };

    it("(1) the pipeline definition: update, delete, approve, stage transitions, its service role", async () => {
        const pipeline = host.one("aws:codepipeline/pipeline:Pipeline");
        const role = roleByArn(host, pipeline.inputs.roleArn);
        const requests = [...pathRequests.pipeline(pipeline), ...roleTakeover(role.state.arn, "codepipeline.amazonaws.com"),
            ...policyRewrite(managedPoliciesOf(host, role))];
        assert.deepEqual(await allowedToDevDeployers(requests), []);
    });

    it("(2) the prod deploy project: update (buildspec, image, variables), builds with overrides, webhooks", async () => {
        const project = deployProject(host, "prod");
        const requests = projectTakeover(project.state.arn);
        // What the project is handed: the Pulumi access token it deploys with (written, not read: see docs/delivery.md).
        const token = host.ofType("aws:secretsmanager/secret:Secret").map((s) => s.state.arn);
        assert.ok(token.length >= 1);
        for (const t of token) for (const action of ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteSecret"]) {
            requests.push({ action, resource: t });
        }
        assert.deepEqual(await allowedToDevDeployers(requests), []);
    });

    it("(3) the prod deploy project's role: its policies, trust, assuming and passing it", async () => {
        const project = deployProject(host, "prod");
        const role = roleByArn(host, project.inputs.serviceRole);
        const managed = managedPoliciesOf(host, role);
        assert.ok(managed.length >= 3, "the role carries the prod deploy policy's parts");
        const requests = [
            ...roleTakeover(role.state.arn, "codebuild.amazonaws.com"),
            { action: "iam:PassRole", resource: role.state.arn, context: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
            ...policyRewrite(managed),
        ];
        assert.deepEqual(await allowedToDevDeployers(requests), []);
    });

    it("(4) the prod deploy project's source: the pipeline's artifacts (source bundle, stage artifacts, their key) and the connection", async () => {
        assert.deepEqual(await allowedToDevDeployers(pathRequests.source()), []);
    });

    it("(5) the registry approval: versions, the group's policy, prod's pin, and the steps that may approve (their projects and roles)", async () => {
        const requests = pathRequests.registry();
        // Every role of the host that may approve a version, and the project that runs as it.
        const version = `${host.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup").state.arn.replace(":model-package-group/", ":model-package/")}/7`;
        const approvers: RecordedResource[] = [];
        for (const role of host.ofType("aws:iam/role:Role")) {
            const policies = policiesOfRole(host, role);
            if (policies.length > 0 && await decide(policies, role.state.arn, { action: "sagemaker:UpdateModelPackage", resource: version }) === "Allowed") approvers.push(role);
        }
        assert.ok(approvers.length >= 1, "some step approves versions (the evaluate step)");
        for (const role of approvers) {
            requests.push(...roleTakeover(role.state.arn, "codebuild.amazonaws.com"), ...policyRewrite(managedPoliciesOf(host, role)));
            for (const project of host.ofType("aws:codebuild/project:Project").filter((p) => p.inputs.serviceRole === role.state.arn)) {
                requests.push(...projectTakeover(project.state.arn));
            }
        }
        console.log(`      approvers: ${approvers.map((r) => r.state.name).join(", ")}`);
        assert.deepEqual(await allowedToDevDeployers(requests), []);
    });

    it("prod's resources: nothing prod's deploy creates, updates or deletes is Allowed to a dev deployer (documented exceptions aside)", async () => {
        const { requests } = deployRequests(prodFull, "prod");
        const crossing = requests.filter((r) => !HARMLESS.some((h) => h.match(r)));
        assert.ok(crossing.length > 100, `only ${crossing.length} requests`);
        assert.deepEqual(await allowedToDevDeployers(crossing), []);
    });

    it("the platform's resources: nothing its deploy creates, updates or deletes is Allowed to a dev deployer (documented exceptions aside)", async () => {
        const { requests } = deployRequests(host, hostEnvironment);
        const crossing = requests.filter((r) => !HARMLESS.some((h) => h.match(r)));
        assert.ok(crossing.length > 100, `only ${crossing.length} requests`);
        assert.deepEqual(await allowedToDevDeployers(crossing), []);
    });
});

/** Requests any environment's deployer may make on another environment's resources, each with why that is harmless. */
const HARMLESS: readonly HarmlessCrossing[] = [
    ...HARMLESS_CROSSINGS,
    {
        match: (r) => /^sagemaker:(Describe(ModelPackageGroup|ModelPackage)|ListTags)$/.test(r.action) && /:model-package(-group)?\//.test(r.resource),
        reason: "every environment resolves the version it serves from the platform's registry (ReadSharedModelRegistry)",
    },
    {
        match: (r) => /^(kms:DescribeKey|logs:DescribeLogGroups|kms:ListAliases)$/.test(r.action),
        reason: "reads of configuration, never data",
    },
    {
        match: (r) => /^s3:GetObject(Version)?$/.test(r.action) && /^arn:aws:s3:::mlops-[a-z]+-artifacts-/.test(r.resource),
        reason: "the deploy projects read the pipeline's artifacts (the source they run, infra/lib/codebuild.ts); reading changes nothing",
    },
];
