/**
 * Prod in its own AWS account (config `consumerAccounts` on the host, the platform stack): the host stack and the
 * consuming (prod) stack are evaluated in two different accounts, the prod stack reading the host's real `shared`
 * output, and
 *
 * (a) each resource policy the host adds admits exactly the prod roles that read that resource, found by what the
 *     prod graph uses them for (the model's execution role, the monitoring jobs' role, the deployments role);
 * (b) IAM simulation (@cloud-copilot/iam-simulate, with the host's resource policies and the prod roles' identity
 *     policies as the graphs record them): those roles can read the model artifact, decrypt it, pull the image,
 *     read the baseline and describe the model package across accounts; another principal of the prod account with
 *     the very same identity policies cannot, nor can the prod roles without the host's resource policies;
 * (c) with the switch off the host's graph has no grant to any other account, and turning it on only adds the two
 *     policy resources and changes the key policy and two bucket policies (graph-snapshot.test.ts keeps the URNs of
 *     the defined stacks);
 *     The pipeline's prod deployer (`mlops-platform-deploy-prod`) is a role of the host's account: it reads the registry
 *     by its identity policy alone and no grant names it. With dev in a third account too, each consumer account
 *     gets its own statements, confined to that environment's roles;
 * (d) the switch is validated: only on the host, only 12-digit ids given as text, never the host's own environment
 *     (platform);
 * (e) the consuming side (config `hostAccount`) addresses the host's registry by ARN, without which SageMaker looks
 *     the group's name up in prod's own account and finds nothing to serve.
 */
import { strict as assert } from "assert";
import {
    DescribeEndpointCommand,
    DescribeModelPackageCommand,
    DescribeModelPackageGroupCommand,
    ListModelPackagesCommand,
    ListTagsCommand,
    SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { mockClient } from "aws-sdk-client-mock";
import { resolveDeployInputs } from "../../infra/deploy-inputs";
import { decodeProjectConfig, ConfigError, parseConfig } from "../../infra/config";
import { CONSUMER_ROLE_PARTS } from "../../infra/lib/cross-account";
import { policies } from "../../policy/rules";
import { runPolicies, toPolicyResources } from "../harness/policy-runner";
import { decide, NamedPolicy, policiesOfRole, Request, ResourcePolicies, unknownActions } from "../harness/iam-oracle";
import {
    ACCOUNT_ID, emulateState, evaluateStack, evaluateStackOk, hostSharedFixture, MockOverrides, modelVersionFixture, readStackConfig, RecordedResource, StackGraph,
} from "../harness/pulumi-harness";
import { modelPackageGroupRef, ModelVersion, REGISTRY_METADATA } from "../../contracts/registry";

/* eslint-disable @typescript-eslint/no-explicit-any */
const REGION = "us-east-1";
// Two accounts, both different from the harness's default one, so a value the mocks invented in the default
// account cannot pass for either.
const HOST = "111111111111";
const PROD = "222222222222";
const CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity";

/**
 * Mocks for a stack deployed in `accountId`: the caller identity AWS reports (the program's `context.accountId`) and
 * the ARNs and URLs AWS would give its resources; with `hostShared`, the host's `shared` output a stack reference reads.
 */
function inAccount(accountId: string, hostShared?: Record<string, string>): MockOverrides {
    return {
        state(type, name, inputs) {
            if (type === "pulumi:pulumi:StackReference") return hostShared ? { outputs: { shared: hostShared } } : undefined;
            const { state } = emulateState(type, name, inputs, REGION);
            return JSON.parse(JSON.stringify(state).split(ACCOUNT_ID).join(accountId));
        },
        call(token) {
            return token === CALLER_IDENTITY
                ? { accountId, arn: `arn:aws:iam::${accountId}:user/test`, userId: "AIDTEST", id: accountId }
                : undefined;
        },
    };
}

/** The version both stacks serve, registered in the host's account. */
const hostVersion: ModelVersion = JSON.parse(JSON.stringify(modelVersionFixture()).split(ACCOUNT_ID).join(HOST));

function parse(document: unknown): NamedPolicy["policy"] {
    return typeof document === "string" ? JSON.parse(document) : document as NamedPolicy["policy"];
}

const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]) as string[];

/** Every AWS principal an Allow statement names, other than the host's own account and services. */
function foreignStatements(policy: NamedPolicy["policy"]): any[] {
    return policy.Statement.filter((s: any) => s.Effect === "Allow" && s.Principal !== undefined &&
        (s.Principal === "*" || asList(s.Principal.AWS).some((p) => !p.startsWith(`arn:aws:iam::${HOST}:`))));
}

/**
 * The roles a resource policy admits from other accounts: each statement must name an account root confined by
 * `ArnEquals aws:PrincipalArn` (a bare account principal would admit every identity of that account).
 */
function admittedRoles(policy: NamedPolicy["policy"]): string[] {
    return foreignStatements(policy).flatMap((s: any) => {
        assert.notEqual(s.Principal, "*", `statement ${s.Sid} admits anyone`);
        assert.deepEqual(asList(s.Principal.AWS), [`arn:aws:iam::${PROD}:root`], `statement ${s.Sid} admits another account than prod's`);
        const roles = asList(s.Condition?.ArnEquals?.["aws:PrincipalArn"]);
        assert.ok(roles.length > 0, `statement ${s.Sid} admits the whole prod account: no ArnEquals aws:PrincipalArn`);
        return roles;
    }).sort();
}

interface Setup {
    readonly host: StackGraph;
    readonly prod: StackGraph;
    readonly hostShared: Record<string, string>;
    /** The prod roles by what the prod graph uses them for. */
    readonly roles: { serving: RecordedResource; monitoring: RecordedResource; deployer: RecordedResource };
    readonly policies: {
        registry: NamedPolicy["policy"]; repository: NamedPolicy["policy"]; models: NamedPolicy["policy"];
        curated: NamedPolicy["policy"]; key: NamedPolicy["policy"];
    };
}

function roleByArn(graph: StackGraph, arn: string, what: string): RecordedResource {
    const found = graph.ofType("aws:iam/role:Role").filter((r) => r.state.arn === arn);
    assert.equal(found.length, 1, `${what}: no single role ${arn} in ${graph.stack}`);
    return found[0];
}

function bucketPolicyOf(graph: StackGraph, bucketName: string): NamedPolicy["policy"] {
    return parse(graph.ofType("aws:s3/bucketPolicy:BucketPolicy").find((p) => p.inputs.bucket === bucketName)?.inputs.policy);
}

async function setUp(): Promise<Setup> {
    const hostRun = await evaluateStackOk("platform", { config: { consumerAccounts: { prod: PROD } }, mocks: inAccount(HOST), modelVersion: hostVersion });
    const hostShared = hostRun.outputs.shared as Record<string, string>;
    const prodRun = await evaluateStackOk("prod", { config: { hostAccount: HOST }, mocks: inAccount(PROD, hostShared), modelVersion: hostVersion });
    const host = hostRun.graph;
    const prod = prodRun.graph;

    const model = prod.one("aws:sagemaker/model:Model");
    const monitor = prod.one("mlops:monitoring:DriftMonitor");
    const settings = prod.one("pulumiservice:index:DeploymentSettings");
    const hostKey = host.one("aws:kms/key:Key");
    return {
        host, prod, hostShared,
        roles: {
            serving: roleByArn(prod, model.inputs.executionRoleArn, "the prod model's execution role"),
            monitoring: roleByArn(prod, monitor.outputs?.roleArn, "the prod monitoring jobs' role"),
            deployer: roleByArn(prod, settings.inputs.operationContext.oidc.aws.roleARN, "the prod Pulumi Deployments role"),
        },
        policies: {
            registry: parse(host.one("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy").inputs.resourcePolicy),
            repository: parse(host.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs.policy),
            models: bucketPolicyOf(host, hostShared.modelsBucketName),
            curated: bucketPolicyOf(host, hostShared.curatedBucketName),
            key: parse(hostKey.inputs.policy),
        },
    };
}

describe("prod in its own account: the host's resource policies (two accounts)", function () {
    this.timeout(120_000);
    let s: Setup;
    before(async () => { s = await setUp(); });

    describe("the evaluations", () => {
        it("run in two accounts: every ARN of the host names the host's account, prod's own ARNs prod's", () => {
            for (const [graph, account] of [[s.host, HOST], [s.prod, PROD]] as const) {
                const text = JSON.stringify(graph.resources.map((r) => r.state));
                assert.ok(!text.includes(ACCOUNT_ID), `${graph.stack} still has values of the harness's default account`);
                const own = graph.resources.filter((r) => r.custom && typeof r.state.arn === "string" && !r.state.arn.startsWith("arn:aws:s3:::"));
                assert.ok(own.length > 20, `${graph.stack}: too few ARNs to check (${own.length})`);
                assert.deepEqual(own.filter((r) => !r.state.arn.includes(`:${account}:`)).map((r) => r.state.arn), []);
            }
            assert.ok(s.hostShared.kmsKeyArn.includes(`:${HOST}:key/`), "the host exports its key in the host's account");
            assert.ok(s.roles.serving.state.arn.startsWith(`arn:aws:iam::${PROD}:role/`));
        });

        it("the prod roles' identity policies name the host's resources (the identity half of cross-account access)", () => {
            const text = (role: RecordedResource) => JSON.stringify(policiesOfRole(s.prod, role).map((p) => p.policy));
            assert.ok(text(s.roles.serving).includes(s.hostShared.kmsKeyArn), "the serving role names the host's key");
            assert.ok(text(s.roles.serving).includes(s.hostShared.imageRepositoryArn), "the serving role names the host's repository");
            assert.ok(text(s.roles.monitoring).includes(s.hostShared.kmsKeyArn), "the monitoring role names the host's key");
            assert.ok(text(s.roles.deployer).includes(s.hostShared.modelPackageGroupArn), "the deployer names the host's registry");
        });
    });

    describe("each resource policy admits exactly the prod roles that read the resource", () => {
        const expected = (roles: readonly ("serving" | "monitoring" | "deployer")[]) => roles.map((r) => s.roles[r].state.arn as string).sort();

        it("model package group: the prod deployer (it resolves the version to serve), read-only actions", () => {
            assert.deepEqual(admittedRoles(s.policies.registry), expected(["deployer"]));
            const actions = foreignStatements(s.policies.registry).flatMap((st: any) => asList(st.Action)).sort();
            assert.deepEqual(actions, ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"]);
        });

        it("image repository: the serving and monitoring roles, pull actions only", () => {
            assert.deepEqual(admittedRoles(s.policies.repository), expected(["serving", "monitoring"]));
            const actions = foreignStatements(s.policies.repository).flatMap((st: any) => asList(st.Action)).sort();
            assert.deepEqual(actions, ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]);
        });

        it("models bucket: the serving role; curated bucket: the monitoring role (baselines only)", () => {
            assert.deepEqual(admittedRoles(s.policies.models), expected(["serving"]));
            assert.deepEqual(admittedRoles(s.policies.curated), expected(["monitoring"]));
            assert.deepEqual(foreignStatements(s.policies.curated).flatMap((st: any) => asList(st.Resource)),
                [`arn:aws:s3:::${s.hostShared.curatedBucketName}/*/baseline/*`]);
        });

        it("host key: the serving and monitoring roles, kms:Decrypt through S3 only", () => {
            assert.deepEqual(admittedRoles(s.policies.key), expected(["serving", "monitoring"]));
            for (const st of foreignStatements(s.policies.key)) {
                assert.deepEqual(asList(st.Action), ["kms:Decrypt"]);
                assert.equal(st.Condition?.StringEquals?.["kms:ViaService"], `s3.${REGION}.amazonaws.com`);
            }
        });

        it("host key: only the models and curated buckets' objects (S3's encryption context), not raw data or artifacts", () => {
            const bucket = (name: string) => [`arn:aws:s3:::${name}`, `arn:aws:s3:::${name}/*`];
            const statements = foreignStatements(s.policies.key);
            assert.ok(statements.length > 0);
            for (const st of statements) {
                assert.deepEqual(asList(st.Condition?.ArnLike?.["kms:EncryptionContext:aws:s3:arn"]),
                    [...bucket(s.hostShared.modelsBucketName), ...bucket(s.hostShared.curatedBucketName)]);
            }
        });

        it("no other policy of the host admits anything of another account", () => {
            const checked = new Set([s.policies.registry, s.policies.repository, s.policies.models, s.policies.curated, s.policies.key].map((p) => JSON.stringify(p)));
            const others = s.host.resources.flatMap((r) => [r.inputs.policy, r.inputs.resourcePolicy, r.inputs.assumeRolePolicy])
                .filter((p): p is string => typeof p === "string" && p.startsWith("{"))
                .filter((p) => !checked.has(JSON.stringify(parse(p))));
            assert.ok(others.length > 10, `too few other policies found (${others.length})`);
            const foreign = others.map(parse).filter((p) => Array.isArray(p.Statement) && foreignStatements(p)
                .some((st: any) => st.Principal === "*" ? st.Effect === "Allow" && !st.Condition : true));
            assert.deepEqual(foreign, []);
        });

        it("every action the grants name exists in AWS's catalogue", async () => {
            for (const [name, policy] of Object.entries(s.policies)) {
                const grants = { Statement: foreignStatements(policy) };
                assert.ok(grants.Statement.length > 0, `${name}: no grant`);
                assert.deepEqual(await unknownActions(grants), [], name);
            }
        });

        it("the project's security checklist (policy pack) accepts both stacks with the switch on", async () => {
            for (const graph of [s.host, s.prod]) {
                const violations = await runPolicies(policies, toPolicyResources(graph.resources));
                assert.deepEqual(violations.map((v) => `${graph.stack}: [${v.policy}] ${v.message}`), []);
            }
        });

        it("the role names the host derives (naming rules) are the ones the prod stack creates", () => {
            assert.equal(s.roles.serving.state.name, `mlops-prod-${CONSUMER_ROLE_PARTS.serving("churn").join("-")}`);
            assert.equal(s.roles.monitoring.state.name, `mlops-prod-${CONSUMER_ROLE_PARTS.monitoring().join("-")}`);
            assert.equal(s.roles.deployer.state.name, `mlops-prod-${CONSUMER_ROLE_PARTS.deployer().join("-")}`);
        });
    });

    describe("IAM simulation across the two accounts", () => {
        const OTHER = `arn:aws:iam::${PROD}:role/mlops-prod-other`;
        const artifactArn = () => `arn:aws:s3:::${hostVersion.modelDataUri.replace(/^s3:\/\//, "")}`;
        const baselineArn = () => `arn:aws:s3:::${hostVersion.properties[REGISTRY_METADATA.baselineStatisticsUri].replace(/^s3:\/\//, "")}`;
        const viaS3 = (bucketName: string) => ({
            "kms:ViaService": `s3.${REGION}.amazonaws.com`,
            "kms:EncryptionContext:aws:s3:arn": `arn:aws:s3:::${bucketName}`,
        });

        /**
         * The key policy without its `kms:EncryptionContext:<key>` conditions: iam-simulate 0.1.173 resolves only
         * `/`-separated variable condition keys (`aws:ResourceTag/<key>`), so a request's `kms:EncryptionContext:aws:s3:arn`
         * is filed under the catalogue's template name and never meets the policy's key. Those conditions are pinned by
         * the structural test "host key: … only the models and curated buckets' objects" instead.
         */
        function withoutEncryptionContext(policy: NamedPolicy["policy"]): NamedPolicy["policy"] {
            return {
                ...policy,
                Statement: policy.Statement.map((st: any) => {
                    if (!st.Condition) return st;
                    const Condition = Object.fromEntries(Object.entries(st.Condition)
                        .map(([op, keys]: [string, any]) => [op, Object.fromEntries(Object.entries(keys).filter(([k]) => !/^kms:EncryptionContext:/i.test(k)))])
                        .filter(([, keys]) => Object.keys(keys).length > 0));
                    return { ...st, Condition };
                }),
            };
        }

        /** The host's resource policy of each resource (with the switch on, or the same-account host's). */
        function resourcePolicies(p: Setup["policies"] | undefined, hostKeyArn: string): ResourcePolicies {
            return (resource) => {
                if (!p) return undefined;
                if (resource === hostKeyArn) return withoutEncryptionContext(p.key);
                if (resource.startsWith(`arn:aws:s3:::${s.hostShared.modelsBucketName}/`)) return p.models;
                if (resource.startsWith(`arn:aws:s3:::${s.hostShared.curatedBucketName}/`)) return p.curated;
                if (resource === s.hostShared.imageRepositoryArn) return p.repository;
                if (resource.startsWith(`arn:aws:sagemaker:${REGION}:${HOST}:model-package`)) return p.registry;
                return undefined;
            };
        }

        function servingRequests(): Request[] {
            return [
                { action: "s3:GetObject", resource: artifactArn() },
                { action: "kms:Decrypt", resource: s.hostShared.kmsKeyArn, context: viaS3(s.hostShared.modelsBucketName) },
                { action: "ecr:BatchGetImage", resource: s.hostShared.imageRepositoryArn },
                { action: "ecr:GetDownloadUrlForLayer", resource: s.hostShared.imageRepositoryArn },
                { action: "ecr:BatchCheckLayerAvailability", resource: s.hostShared.imageRepositoryArn },
            ];
        }
        function monitoringRequests(): Request[] {
            return [
                { action: "s3:GetObject", resource: baselineArn() },
                { action: "kms:Decrypt", resource: s.hostShared.kmsKeyArn, context: viaS3(s.hostShared.curatedBucketName) },
                { action: "ecr:BatchGetImage", resource: s.hostShared.imageRepositoryArn },
                { action: "ecr:GetDownloadUrlForLayer", resource: s.hostShared.imageRepositoryArn },
            ];
        }
        function deployerRequests(): Request[] {
            return [
                { action: "sagemaker:DescribeModelPackage", resource: hostVersion.arn },
                { action: "sagemaker:DescribeModelPackageGroup", resource: s.hostShared.modelPackageGroupArn },
            ];
        }

        /** Decisions of `principal` with `policies` for `requests`, made in the host's account. */
        async function decisions(principal: string, policies: NamedPolicy[], requests: Request[], resource?: ResourcePolicies): Promise<string[]> {
            const out: string[] = [];
            for (const r of requests) {
                // AWS sets aws:PrincipalArn to the role's ARN for its sessions; the simulator takes it from the request.
                const request = { ...r, accountId: HOST, context: { ...r.context, "aws:PrincipalArn": principal } };
                out.push(`${r.action} ${await decide(policies, principal, request, resource)}`);
            }
            return out;
        }
        const allowed = (requests: Request[]) => requests.map((r) => `${r.action} Allowed`);

        for (const [who, requests] of [["serving", servingRequests], ["monitoring", monitoringRequests], ["deployer", deployerRequests]] as const) {
            it(`the prod ${who} role may do what it needs on the host's resources`, async () => {
                const role = s.roles[who];
                const got = await decisions(role.state.arn, policiesOfRole(s.prod, role), requests(), resourcePolicies(s.policies, s.hostShared.kmsKeyArn));
                assert.deepEqual(got, allowed(requests()));
            });

            it(`another principal of the prod account with the ${who} role's very identity policies may not`, async () => {
                const got = await decisions(OTHER, policiesOfRole(s.prod, s.roles[who]), requests(), resourcePolicies(s.policies, s.hostShared.kmsKeyArn));
                assert.deepEqual(got.filter((d) => d.endsWith(" Allowed")), []);
            });

            it(`without the host's resource policies the prod ${who} role may not (both halves are needed)`, async () => {
                const role = s.roles[who];
                const got = await decisions(role.state.arn, policiesOfRole(s.prod, role), requests(), resourcePolicies(undefined, s.hostShared.kmsKeyArn));
                assert.deepEqual(got.filter((d) => d.endsWith(" Allowed")), []);
            });
        }

        it("the pipeline's prod deployer is the host's own role: it reads the registry by its identity policy alone, and no grant names it", async () => {
            // mlops-platform-deploy-prod (CodeBuild, TARGET_STACK=prod) pins and promotes in the registry of its own
            // account: same-account requests need no resource policy, so the grants admit only the other account's roles.
            const project = s.host.ofType("aws:codebuild/project:Project")
                .find((p) => (p.inputs.environment?.environmentVariables ?? []).some((v: any) => v.name === "TARGET_STACK" && v.value === "prod"));
            assert.ok(project, "the host has a deploy project for prod");
            const role = roleByArn(s.host, project.inputs.serviceRole, "the prod deploy project's role");
            assert.equal(role.state.arn, `arn:aws:iam::${HOST}:role/mlops-platform-deploy-prod`);
            assert.ok(!JSON.stringify(s.policies.registry).includes(role.state.arn), "the registry policy names the host's own deploy role");
            const got = await decisions(role.state.arn, policiesOfRole(s.host, role), deployerRequests(), resourcePolicies(undefined, s.hostShared.kmsKeyArn));
            assert.deepEqual(got, allowed(deployerRequests()));
        });

        it("each role reaches only its own resources: serving not the baselines, monitoring not the artifact, neither the registry", async () => {
            const policies = resourcePolicies(s.policies, s.hostShared.kmsKeyArn);
            const serving = await decisions(s.roles.serving.state.arn, policiesOfRole(s.prod, s.roles.serving),
                [{ action: "s3:GetObject", resource: baselineArn() }, ...deployerRequests()], policies);
            const monitoring = await decisions(s.roles.monitoring.state.arn, policiesOfRole(s.prod, s.roles.monitoring),
                [{ action: "s3:GetObject", resource: artifactArn() }, ...deployerRequests()], policies);
            assert.deepEqual([...serving, ...monitoring].filter((d) => d.endsWith(" Allowed")), []);
        });

        it("the key decrypts for the prod roles only through S3", async () => {
            const role = s.roles.serving;
            const policies = resourcePolicies(s.policies, s.hostShared.kmsKeyArn);
            const got = await decisions(role.state.arn, [{ name: "decrypt-anything", policy: { Statement: [{ Effect: "Allow", Action: "kms:Decrypt", Resource: "*" }] } }], [
                { action: "kms:Decrypt", resource: s.hostShared.kmsKeyArn },
                { action: "kms:Decrypt", resource: s.hostShared.kmsKeyArn, context: { "kms:ViaService": `sqs.${REGION}.amazonaws.com` } },
                { action: "kms:Decrypt", resource: s.hostShared.kmsKeyArn, context: viaS3(s.hostShared.modelsBucketName) },
            ], policies);
            assert.deepEqual(got, ["kms:Decrypt ImplicitlyDenied", "kms:Decrypt ImplicitlyDenied", "kms:Decrypt Allowed"]);
        });
    });
});

describe("dev and prod each in an account of its own: one confined statement per consumer account", function () {
    this.timeout(120_000);
    const DEV = "333333333333";

    it("every grant admits, per account, exactly the roles that environment's graph uses (dev: no monitoring role exists)", async () => {
        const hostRun = await evaluateStackOk("platform", { config: { consumerAccounts: { dev: DEV, prod: PROD } }, mocks: inAccount(HOST), modelVersion: hostVersion });
        const host = hostRun.graph;
        const hostShared = hostRun.outputs.shared as Record<string, string>;
        const dev = (await evaluateStackOk("dev", { config: { hostAccount: HOST }, mocks: inAccount(DEV, hostShared), modelVersion: hostVersion })).graph;
        const servingRole = roleByArn(dev, dev.one("aws:sagemaker/model:Model").inputs.executionRoleArn, "the dev model's execution role").state.arn;
        const deployerRole = roleByArn(dev, dev.one("pulumiservice:index:DeploymentSettings").inputs.operationContext.oidc.aws.roleARN, "the dev Deployments role").state.arn;
        assert.equal(dev.ofType("mlops:monitoring:DriftMonitor").length, 0, "dev's stack file has monitoring off");

        /** The roles each statement admits, keyed by the account principal it names. */
        const byAccount = (policy: NamedPolicy["policy"]) => Object.fromEntries(foreignStatements(policy).map((st: any) =>
            [asList(st.Principal.AWS).join(","), asList(st.Condition?.ArnEquals?.["aws:PrincipalArn"]).sort()]));
        const root = (account: string) => `arn:aws:iam::${account}:root`;
        const prodRole = (...parts: string[]) => `arn:aws:iam::${PROD}:role/mlops-prod-${parts.join("-")}`;
        const devMonitoring = `arn:aws:iam::${DEV}:role/mlops-dev-model-monitor`;

        const registry = parse(host.one("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy").inputs.resourcePolicy);
        assert.deepEqual(byAccount(registry), { [root(DEV)]: [deployerRole], [root(PROD)]: [prodRole("pulumi-deployments")] });
        const repository = parse(host.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs.policy);
        assert.deepEqual(byAccount(repository), {
            [root(DEV)]: [servingRole, devMonitoring].sort(),
            [root(PROD)]: [prodRole("churn", "endpoint"), prodRole("model-monitor")].sort(),
        });
        assert.deepEqual(byAccount(bucketPolicyOf(host, hostShared.modelsBucketName)), { [root(DEV)]: [servingRole], [root(PROD)]: [prodRole("churn", "endpoint")] });
        // Statement ids stay unique with two consumers (a key or bucket policy refuses duplicates).
        for (const policy of [registry, repository, parse(host.one("aws:kms/key:Key").inputs.policy)]) {
            const sids = policy.Statement.map((st: any) => st.Sid).filter(Boolean);
            assert.equal(new Set(sids).size, sids.length, JSON.stringify(sids));
        }
    });
});

describe("prod in its own account: the switch off changes nothing, on changes only the grants", function () {
    this.timeout(120_000);

    it("switched on, the host adds two policy resources and changes only its key policy and two bucket policies", async () => {
        const off = (await evaluateStackOk("platform")).graph;
        const on = (await evaluateStackOk("platform", { config: { consumerAccounts: { prod: PROD } } })).graph;
        const offUrns = new Set(off.resources.map((r) => r.urn));
        const added = on.resources.filter((r) => !offUrns.has(r.urn)).map((r) => r.type).sort();
        assert.deepEqual(added, ["aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"]);
        assert.equal(on.resources.length - added.length, off.resources.length, "no resource disappears");
        // Custom resources only: a component's recorded inputs are its args, which the engine neither diffs nor deploys.
        const changed = on.resources.filter((r) => r.custom && offUrns.has(r.urn))
            .filter((r) => JSON.stringify(r.inputs) !== JSON.stringify(off.byUrn(r.urn)!.inputs))
            .map((r) => r.urn.split("::").pop()).sort();
        assert.deepEqual(changed, ["baseline-curated-policy", "baseline-key", "baseline-models-policy"]);
    });

    it("switched off (the default), no policy of the host admits another account", async () => {
        const off = (await evaluateStackOk("platform")).graph;
        const foreign = off.resources.flatMap((r) => [r.inputs.policy, r.inputs.resourcePolicy])
            .filter((p): p is string => typeof p === "string" && p.includes(":iam::") && !p.includes("sts:AssumeRole"))
            .filter((p) => [...p.matchAll(/arn:aws:iam::(\d{12}):/g)].some((m) => m[1] !== ACCOUNT_ID));
        assert.deepEqual(foreign, []);
        assert.equal(off.ofType("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy").length, 0);
        assert.equal(off.ofType("aws:ecr/repositoryPolicy:RepositoryPolicy").length, 0);
    });
});

describe("config consumerAccounts", () => {
    const platform = decodeProjectConfig(readStackConfig("platform"));
    const dev = decodeProjectConfig(readStackConfig("dev"));
    const prod = decodeProjectConfig(readStackConfig("prod"));
    const problems = (raw: Record<string, unknown>, stack: string): string[] => {
        try {
            parseConfig(raw, { stack, region: REGION });
            return [];
        } catch (e) {
            assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
            return e.problems;
        }
    };

    it("defaults to {} (same account) and accepts any environment's 12-digit account on the host (the platform)", () => {
        assert.deepEqual(parseConfig(platform, { stack: "platform", region: REGION }).consumerAccounts, {});
        const all = { dev: "333333333333", prod: PROD, staging: "012345678901" };
        assert.deepEqual(parseConfig({ ...platform, consumerAccounts: all }, { stack: "platform", region: REGION }).consumerAccounts, all);
    });

    it("refuses it on a consuming stack (dev or prod), naming the key and where it belongs", () => {
        for (const [stack, raw] of [["dev", dev], ["prod", prod]] as const) {
            const found = problems({ ...raw, consumerAccounts: { prod: PROD } }, stack);
            assert.equal(found.length, 1, `${stack}: ${found.join("; ")}`);
            assert.match(found[0], /^mlops:consumerAccounts\.prod: got "222222222222"; only the host stack .* host's stack file/);
        }
    });

    it("refuses the host's own environment (platform), a malformed id, an unquoted number and an unknown environment", () => {
        assert.match(problems({ ...platform, consumerAccounts: { platform: PROD } }, "platform").join("\n"), /mlops:consumerAccounts\.platform: .*host's own environment/);
        assert.match(problems({ ...platform, consumerAccounts: { prod: "22222222222" } }, "platform").join("\n"), /mlops:consumerAccounts\.prod: got "22222222222"; expected a 12-digit AWS account id/);
        assert.match(problems({ ...platform, consumerAccounts: { prod: 222222222222 } }, "platform").join("\n"), /mlops:consumerAccounts\.prod: .*quoted string/);
        assert.match(problems({ ...platform, consumerAccounts: { qa: PROD } }, "platform").join("\n"), /mlops:consumerAccounts/);
        // Review stacks' roles are named after each stack (nameSegment), not `mlops-review-…`: a grant could admit none.
        assert.match(problems({ ...platform, consumerAccounts: { review: PROD } }, "platform").join("\n"), /mlops:consumerAccounts\.review: got "222222222222"; review stacks name their roles after their own stack/);
    });
});

describe("the consuming side: prod addresses the host's registry by ARN (config hostAccount)", () => {
    const sagemaker = mockClient(SageMakerClient);
    const client = new SageMakerClient({ region: REGION });
    beforeEach(() => sagemaker.reset());
    after(() => sagemaker.restore());
    const prodConfig = (extra: Record<string, unknown> = {}) =>
        parseConfig({ ...decodeProjectConfig(readStackConfig("prod")), ...extra }, { stack: "prod", region: REGION });
    const GROUP_ARN = `arn:aws:sagemaker:${REGION}:${HOST}:model-package-group/mlops-platform-churn`;

    /** A registry that answers only requests addressing the group as `ref`; anything else is AWS's "not found". */
    function registryAt(ref: string): void {
        const notFound = Object.assign(new Error("ModelPackageGroup mlops-platform-churn does not exist."), { name: "ValidationException" });
        sagemaker.on(DescribeModelPackageGroupCommand).rejects(notFound);
        sagemaker.on(ListModelPackagesCommand).rejects(notFound);
        sagemaker.on(DescribeEndpointCommand).rejects(Object.assign(new Error("Could not find endpoint"), { name: "ValidationException" }));
        sagemaker.on(DescribeModelPackageGroupCommand, { ModelPackageGroupName: ref }).resolves({
            ModelPackageGroupName: "mlops-platform-churn", ModelPackageGroupArn: GROUP_ARN, CreationTime: new Date(), CreatedBy: {}, ModelPackageGroupStatus: "Completed",
        });
        sagemaker.on(ListTagsCommand, { ResourceArn: GROUP_ARN }).resolves({ Tags: [] });
        sagemaker.on(ListModelPackagesCommand, { ModelPackageGroupName: ref }).resolves({ ModelPackageSummaryList: [{
            ModelPackageArn: hostVersion.arn, ModelPackageGroupName: "mlops-platform-churn", ModelPackageVersion: 3, CreationTime: new Date(),
            ModelPackageStatus: "Completed", ModelApprovalStatus: "Approved",
        }] });
        sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: hostVersion.arn }).resolves({
            ModelPackageArn: hostVersion.arn, ModelPackageGroupName: "mlops-platform-churn", ModelPackageVersion: 3, ModelPackageStatus: "Completed",
            ModelApprovalStatus: "Approved", CreationTime: new Date(),
            InferenceSpecification: { Containers: [{ Image: hostVersion.imageUri, ModelDataUrl: hostVersion.modelDataUri }], SupportedContentTypes: ["text/csv"], SupportedResponseMIMETypes: ["application/json"] },
        });
    }

    it("with hostAccount, the version is found in the host's account (the calls carry the group's ARN)", async () => {
        registryAt(GROUP_ARN);
        const inputs = await resolveDeployInputs(prodConfig({ hostAccount: HOST }), { client });
        assert.equal(inputs.modelVersion?.arn, hostVersion.arn);
        const refs = sagemaker.commandCalls(DescribeModelPackageGroupCommand).map((c) => c.args[0].input.ModelPackageGroupName);
        assert.deepEqual(refs, [GROUP_ARN]);
        assert.deepEqual(sagemaker.commandCalls(ListModelPackagesCommand).map((c) => c.args[0].input.ModelPackageGroupName), [GROUP_ARN]);
    });

    it("without it, a bare name is looked up in the caller's own account: nothing to serve there", async () => {
        registryAt(GROUP_ARN);
        const inputs = await resolveDeployInputs(prodConfig(), { client });
        assert.equal(inputs.modelVersion, null);
    });

    it("a consumer whose host runs in another account fails to deploy without hostAccount, or with a wrong one", async () => {
        const hostShared = JSON.parse(JSON.stringify(hostSharedFixture()).split(ACCOUNT_ID).join(HOST));
        const without = await evaluateStack("prod", { mocks: inAccount(PROD, hostShared), modelVersion: hostVersion });
        assert.match(String(without.error), /is in account 111111111111, this stack runs in 222222222222: set mlops:hostAccount: "111111111111"/);
        const wrong = await evaluateStack("prod", { config: { hostAccount: "333333333333" }, mocks: inAccount(PROD, hostShared), modelVersion: hostVersion });
        assert.match(String(wrong.error), /mlops:hostAccount is 333333333333, but the host's model registry .* is in account 111111111111/);
        const right = await evaluateStack("prod", { config: { hostAccount: HOST }, mocks: inAccount(PROD, hostShared), modelVersion: hostVersion });
        assert.equal(right.error, undefined);
    });

    it("the partition follows the region", () => {
        const ref = (region: string) => modelPackageGroupRef({ project: "mlops", environment: "prod", modelName: "churn", hostStack: "o/mlops/platform", hostAccount: HOST, region });
        assert.equal(ref("cn-north-1"), `arn:aws-cn:sagemaker:cn-north-1:${HOST}:model-package-group/mlops-platform-churn`);
        assert.equal(ref("us-gov-west-1"), `arn:aws-us-gov:sagemaker:us-gov-west-1:${HOST}:model-package-group/mlops-platform-churn`);
        assert.equal(modelPackageGroupRef({ project: "mlops", environment: "prod", modelName: "churn", hostStack: "o/mlops/platform", region: REGION }), "mlops-platform-churn");
    });

    it("hostAccount is text (leading zeros survive) and only for a consuming stack", () => {
        assert.equal(decodeProjectConfig({ "mlops:hostAccount": "012345678901" }).hostAccount, "012345678901");
        assert.equal(prodConfig({ hostAccount: "012345678901" }).hostAccount, "012345678901");
        assert.equal(parseConfig({ ...decodeProjectConfig(readStackConfig("dev")), hostAccount: HOST }, { stack: "dev", region: REGION }).hostAccount, HOST);
        assert.throws(() => parseConfig({ ...decodeProjectConfig(readStackConfig("platform")), hostAccount: HOST }, { stack: "platform", region: REGION }),
            (e: unknown) => e instanceof ConfigError && /^mlops:hostAccount: got "111111111111"; only a consuming stack/.test(e.problems.join("\n")));
        assert.throws(() => prodConfig({ hostAccount: "1234" }), /mlops:hostAccount: got "1234"; expected a 12-digit AWS account id/);
    });
});
