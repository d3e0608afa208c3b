/**
 * What `pulumi up` of one stack may do in AWS. Both identities that deploy a stack use exactly these statements:
 * the pipeline's CodeBuild deploy projects (`steps/deploy`) and the role Pulumi Deployments assumes through OIDC.
 *
 * Deploying a stack inherently means creating, changing and deleting every kind of resource the stack holds, IAM
 * roles included, so the policy cannot be narrow in actions. It is narrow in *where*:
 *
 * - actions are listed one by one per service (no `*`, no `service:*`, no `Prefix*` wildcards);
 * - resources are the environment's own: physical names start with `<project>-<environment>-` (every name in the
 *   program comes from `Namer`), or, for the few resources AWS names itself or Pulumi autonames, the
 *   `environment` tag the provider's default tags put on everything;
 * - `iam:PassRole` only hands the environment's roles to the services the program uses;
 * - `iam:AttachRolePolicy` only attaches the environment's own customer-managed policies, never an AWS-managed one
 *   (AdministratorAccess included);
 * - roles are created and changed only with the environment's permissions boundary on them, and no boundary is
 *   ever edited, removed or attached (infra/components/permissions-boundary.ts): whatever a deployer writes into
 *   its environment's role policies, the boundary, which only platform administrators change, caps it.
 *
 * Every statement whose resource is `*` says why in its comment: those actions have no resource-level permissions.
 *
 * Left out on purpose, because they cannot be scoped and are needed only to create an environment or replace its
 * foundations: `kms:CreateKey` and Glue's Create/DeleteSecurityConfiguration. The first `pulumi up` of a stack
 * (bootstrap) and a change that replaces the stack's key or the ETL security configuration are run by a platform
 * administrator; a pipeline deploy that would need them fails with AccessDenied instead of doing it.
 *
 * The remaining risk is stated plainly in docs/delivery.md: whoever can deploy an environment controls that
 * environment, its roles included, up to the environment's boundary. The prefix scoping keeps one environment's
 * deployer out of another's resources, and out of the platform's (`<project>-platform-`): the host statements go only
 * to the platform's own deployer, so no deployer of dev can change the pipeline, the prod deploy project or its role
 * (tests/infra/environment-isolation.test.ts).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName } from "../../contracts/resource-names";
import { pinTagKey } from "../../contracts/registry";
import { policyDocument, PolicyStatement } from "./policy";
import { StackContext } from "./context";
import { allBoundariesArnPattern, BOUNDED_ROLE_ACTIONS, permissionsBoundaryArn, POLICY_EDIT_ACTIONS } from "../components/permissions-boundary";

/** Which environment a deployer deploys, and what of the host it reads. */
export interface StackDeployScope {
    /** The environment deployed: its resources are named `<project>-<environment>-*` and tagged `environment`. */
    readonly environment: string;
    /**
     * The host (the platform stack) also owns the image repository, the Glue job, the pipeline, its deploy projects,
     * the registry and, by opt-in, the OIDC provider. No environment's deployer is the host's.
     */
    readonly isHost: boolean;
    /** The model package group every stack resolves its serving version from (the host's). */
    readonly modelPackageGroupArn: pulumi.Input<string>;
    /**
     * Host only: the CodeStar connection the pipeline's source action uses (creating the pipeline passes it).
     * @default undefined — no connection
     */
    readonly connectionArn?: pulumi.Input<string>;
    /**
     * The account-wide, fixed-name resources this stack owns by opt-in (config `accountResources`): only then may
     * its deployer manage them.
     * @default none owned
     */
    readonly accountResources?: {
        readonly trainingJobsLogGroup?: boolean;
        readonly processingJobsLogGroup?: boolean;
        readonly pulumiOidcProvider?: boolean;
    };
    /**
     * The second part of the physical names the deployer manages (`<project>-<nameSegment>-*`), when it is not the
     * environment: `pr` for the review stacks' deployer, whose stacks are named `<project>-pr-<…>-…` and tagged
     * `environment: review`.
     * @default environment
     */
    readonly nameSegment?: string;
    /**
     * The deployer of review stacks, which Pulumi Deployments creates and destroys with no administrator: it may
     * also create the stack's key (only tagged with its environment; it may not retag another environment's key),
     * and may deregister only scalable targets tagged with its environment (infra/components/review-stacks.ts).
     * @default false
     */
    readonly reviewStacks?: boolean;
}

/** SageMaker's fixed, account-wide log groups (created by SageMaker on the account's first job of each kind). */
export const SAGEMAKER_TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs";
export const SAGEMAKER_PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs";

/** Services the environment's roles may be handed to (`iam:PassedToService`). */
export const PASSABLE_TO_SERVICES = [
    "sagemaker.amazonaws.com",
    "lambda.amazonaws.com",
    "glue.amazonaws.com",
    "codebuild.amazonaws.com",
    "codepipeline.amazonaws.com",
    "events.amazonaws.com",
] as const;

/** The issuer Pulumi Cloud signs deployment OIDC tokens with, without the scheme (IAM's provider path). */
export const PULUMI_OIDC_ISSUER = "api.pulumi.com/oidc";

/** `<project>-<environment>`: the prefix every physical name of the environment starts with. */
export function environmentPrefix(context: StackContext, environment: string): string {
    return `${context.namer.project}-${environment}`;
}

/** Application Auto Scaling actions that remove a scaling setup: what `pulumi destroy` of an autoscaled endpoint calls first. */
const AUTOSCALING_TEARDOWN_ACTIONS = ["application-autoscaling:DeregisterScalableTarget", "application-autoscaling:DeleteScalingPolicy"];

export function stackDeployPolicyStatements(context: StackContext, scope: StackDeployScope): PolicyStatement[] {
    const { partition, region, accountId } = context;
    const prefix = environmentPrefix(context, scope.nameSegment ?? scope.environment);
    const arn = (service: string, resource: string, opts?: { global?: boolean }) =>
        pulumi.interpolate`arn:${partition}:${service}:${opts?.global ? "" : region}:${accountId}:${resource}`;
    const s3 = (resource: string) => pulumi.interpolate`arn:${partition}:s3:::${resource}`;
    // The environment's permissions boundary, by the naming rules (the host creates it).
    const boundaryArn = permissionsBoundaryArn(context, scope.environment);
    const taggedForEnvironment = { StringEquals: { "aws:ResourceTag/environment": scope.environment } };
    const packagesOfGroup = pulumi.output(scope.modelPackageGroupArn)
        .apply((groupArn) => `${groupArn.replace(":model-package-group/", ":model-package/")}/*`);

    const statements: PolicyStatement[] = [
        {
            // These reads have no resource-level permissions in IAM (account-wide listings and describes); they
            // return configuration, never data.
            Sid: "ReadAccountLevelListings",
            Effect: "Allow",
            Action: [
                "kms:ListAliases",
                "logs:DescribeLogGroups",
                "sagemaker:ListModelPackages",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingPolicies",
            ],
            Resource: "*",
        },
        {
            // Key ARNs are random ids: the environment's keys are the ones tagged with it.
            Sid: "ManageEnvironmentKeys",
            Effect: "Allow",
            Action: [
                "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags",
                "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:UpdateKeyDescription", "kms:TagResource",
                "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
                // Creating encrypted resources (ECR, SageMaker, Lambda environment) uses the key on the caller's behalf.
                "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:RetireGrant",
            ],
            Resource: arn("kms", "key/*"),
            Condition: taggedForEnvironment,
        },
        {
            Sid: "GrantEnvironmentKeysToServices",
            Effect: "Allow",
            Action: "kms:CreateGrant",
            Resource: arn("kms", "key/*"),
            Condition: { ...taggedForEnvironment, Bool: { "kms:GrantIsForAWSResource": true } },
        },
        {
            // The baseline's alias is `alias/<project>-<environment>`.
            Sid: "ManageEnvironmentKeyAliases",
            Effect: "Allow",
            Action: ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
            Resource: [arn("kms", `alias/${prefix}`), arn("kms", `alias/${prefix}-*`)],
        },
        {
            Sid: "ManageEnvironmentBuckets",
            Effect: "Allow",
            Action: [
                "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:ListBucketVersions",
                "s3:GetBucketLocation", "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketWebsite",
                "s3:GetBucketRequestPayment", "s3:GetBucketObjectLockConfiguration", "s3:GetAccelerateConfiguration",
                "s3:GetReplicationConfiguration",
                "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                "s3:GetBucketVersioning", "s3:PutBucketVersioning",
                "s3:GetBucketTagging", "s3:PutBucketTagging",
                "s3:GetBucketLogging", "s3:PutBucketLogging",
                "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls",
                "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
                "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
                "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
                "s3:GetBucketNotification", "s3:PutBucketNotification",
            ],
            Resource: s3(`${prefix}-*`),
        },
        {
            // Objects the stack itself manages (the Glue script, its modules) and, in buckets that are not
            // protected, the objects `pulumi destroy` empties them of. Whoever sets these buckets' policies could
            // grant itself this anyway.
            Sid: "ManageEnvironmentBucketObjects",
            Effect: "Allow",
            Action: [
                "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging",
                "s3:DeleteObject", "s3:DeleteObjectVersion",
            ],
            Resource: s3(`${prefix}-*/*`),
        },
        {
            // Subscription ARNs are `<topic ARN>:<id>`, so the topic prefix covers them.
            Sid: "ManageEnvironmentTopics",
            Effect: "Allow",
            Action: [
                "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
                "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes",
                "sns:ListSubscriptionsByTopic", "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource",
            ],
            Resource: arn("sns", `${prefix}-*`),
        },
        {
            Sid: "ManageEnvironmentQueues",
            Effect: "Allow",
            Action: [
                "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes",
                "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
            ],
            Resource: arn("sqs", `${prefix}-*`),
        },
        {
            Sid: "ManageEnvironmentRoles",
            Effect: "Allow",
            Action: [
                "iam:GetRole", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:GetRolePolicy",
                "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
            ],
            Resource: arn("iam", `role/${prefix}-*`, { global: true }),
        },
        {
            // Creating a role, changing what it may do or who may assume it, and deleting it: only for roles that
            // carry the environment's permissions boundary (the key holds the boundary a CreateRole or
            // PutRolePermissionsBoundary sets, otherwise the one the role has; infra/components/permissions-boundary.ts),
            // so no role the deployer makes or edits can do more than the boundary allows.
            Sid: "ManageEnvironmentRolesWithinBoundary",
            Effect: "Allow",
            Action: [...BOUNDED_ROLE_ACTIONS.filter((a) => a !== "iam:AttachRolePolicy" && a !== "iam:DetachRolePolicy")],
            Resource: arn("iam", `role/${prefix}-*`, { global: true }),
            Condition: { StringEquals: { "iam:PermissionsBoundary": boundaryArn } },
        },
        {
            Sid: "ManageEnvironmentManagedPolicies",
            Effect: "Allow",
            Action: [
                "iam:CreatePolicy", "iam:DeletePolicy", "iam:GetPolicy", "iam:GetPolicyVersion",
                "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:ListPolicyVersions",
                "iam:TagPolicy", "iam:UntagPolicy",
            ],
            Resource: arn("iam", `policy/${prefix}-*`, { global: true }),
        },
        {
            // Only the environment's own customer-managed policies: never an AWS-managed one such as AdministratorAccess.
            Sid: "AttachOnlyEnvironmentPolicies",
            Effect: "Allow",
            Action: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            Resource: arn("iam", `role/${prefix}-*`, { global: true }),
            Condition: {
                ArnLike: { "iam:PolicyARN": arn("iam", `policy/${prefix}-*`, { global: true }) },
                StringEquals: { "iam:PermissionsBoundary": boundaryArn },
            },
        },
        {
            // Boundaries are the platform administrators' (the host stack's): no deployer edits one, removes one from
            // a role, or attaches one as a policy (its ceiling would become a grant). On `*` where the boundary
            // policies are not the resource: no role of any environment may lose its boundary.
            Sid: "ProtectPermissionsBoundaries",
            Effect: "Deny",
            Action: [...POLICY_EDIT_ACTIONS],
            Resource: allBoundariesArnPattern(context),
        },
        {
            Sid: "KeepRoleBoundaries",
            Effect: "Deny",
            Action: "iam:DeleteRolePermissionsBoundary",
            Resource: "*",
        },
        {
            Sid: "NeverAttachBoundaries",
            Effect: "Deny",
            Action: "iam:AttachRolePolicy",
            Resource: "*",
            Condition: { ArnLike: { "iam:PolicyARN": allBoundariesArnPattern(context) } },
        },
        {
            Sid: "PassEnvironmentRolesToItsServices",
            Effect: "Allow",
            Action: "iam:PassRole",
            Resource: arn("iam", `role/${prefix}-*`, { global: true }),
            Condition: { StringEquals: { "iam:PassedToService": [...PASSABLE_TO_SERVICES] } },
        },
        {
            // Registering an endpoint variant with Application Auto Scaling creates this service-linked role once.
            Sid: "CreateSageMakerAutoscalingServiceLinkedRole",
            Effect: "Allow",
            Action: "iam:CreateServiceLinkedRole",
            Resource: arn("iam",
                "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                { global: true }),
            Condition: { StringEquals: { "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com" } },
        },
        {
            Sid: "ManageEnvironmentFunctions",
            Effect: "Allow",
            Action: [
                "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:ListVersionsByFunction",
                "lambda:GetFunctionCodeSigningConfig", "lambda:GetRuntimeManagementConfig",
                "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
                "lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig",
                "lambda:GetFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig",
                "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy",
                "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
            ],
            Resource: arn("lambda", `function:${prefix}-*`),
        },
        {
            // Log group names carry the environment prefix after a service path (`/aws/lambda/<prefix>-…`,
            // `/aws-glue/jobs/<prefix>-…`), hence the leading wildcard.
            Sid: "ManageEnvironmentLogGroups",
            Effect: "Allow",
            Action: [
                "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
                "logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource",
                "logs:ListTagsForResource", "logs:TagLogGroup", "logs:UntagLogGroup", "logs:ListTagsLogGroup",
                // Metric filters on the environment's log groups (the delivery metrics' failure alarm).
                "logs:PutMetricFilter", "logs:DeleteMetricFilter", "logs:DescribeMetricFilters",
            ],
            Resource: arn("logs", `log-group:*${prefix}-*`),
        },
        {
            Sid: "ManageEnvironmentEventRules",
            Effect: "Allow",
            Action: [
                "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:EnableRule", "events:DisableRule",
                "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule",
                "events:TagResource", "events:UntagResource", "events:ListTagsForResource",
            ],
            Resource: arn("events", `rule/${prefix}-*`),
        },
        {
            // Target-tracking scaling policies create their own alarms, named `TargetTracking-<resource id>-…`.
            Sid: "ManageEnvironmentAlarms",
            Effect: "Allow",
            Action: [
                "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource",
                "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
            ],
            Resource: [arn("cloudwatch", `alarm:${prefix}-*`), arn("cloudwatch", `alarm:TargetTracking-endpoint/${prefix}-*`)],
        },
        {
            Sid: "ManageEnvironmentDashboards",
            Effect: "Allow",
            Action: ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
            Resource: arn("cloudwatch", `dashboard/${prefix}-*`, { global: true }),
        },
        {
            // Scalable targets are identified by service-generated ids, so no name can scope them; the condition
            // keeps the deployer to SageMaker variants.
            Sid: "ScaleSageMakerVariants",
            Effect: "Allow",
            Action: [
                "application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy",
                ...(scope.reviewStacks ? [] : AUTOSCALING_TEARDOWN_ACTIONS),
            ],
            Resource: arn("application-autoscaling", "scalable-target/*"),
            Condition: { StringEquals: { "application-autoscaling:service-namespace": "sagemaker" } },
        },
        ...(scope.reviewStacks ? [{
            // The review stacks' deployer runs any pull request's code: it may take apart only the scaling of its own
            // environment's variants (scalable targets carry the provider's default tags; the ScalableTarget
            // resource type supports aws:ResourceTag, Service Authorization Reference).
            Sid: "TearDownEnvironmentScaling",
            Effect: "Allow" as const,
            Action: AUTOSCALING_TEARDOWN_ACTIONS,
            Resource: arn("application-autoscaling", "scalable-target/*"),
            Condition: { StringEquals: { "application-autoscaling:service-namespace": "sagemaker", "aws:ResourceTag/environment": scope.environment } },
        }] : []),
        {
            Sid: "TagScalableTargets",
            Effect: "Allow",
            Action: [
                "application-autoscaling:TagResource", "application-autoscaling:UntagResource",
                "application-autoscaling:ListTagsForResource",
            ],
            Resource: arn("application-autoscaling", "scalable-target/*"),
        },
        {
            Sid: "ManageEnvironmentEndpointsAndMonitoring",
            Effect: "Allow",
            Action: [
                "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint",
                "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities",
                "sagemaker:CreateDataQualityJobDefinition", "sagemaker:DescribeDataQualityJobDefinition",
                "sagemaker:DeleteDataQualityJobDefinition",
                "sagemaker:CreateModelQualityJobDefinition", "sagemaker:DescribeModelQualityJobDefinition",
                "sagemaker:DeleteModelQualityJobDefinition",
                "sagemaker:CreateMonitoringSchedule", "sagemaker:UpdateMonitoringSchedule",
                "sagemaker:DescribeMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule",
                "sagemaker:StartMonitoringSchedule", "sagemaker:StopMonitoringSchedule",
                "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags",
            ],
            Resource: [
                arn("sagemaker", `endpoint/${prefix}-*`),
                arn("sagemaker", `data-quality-job-definition/${prefix}-*`),
                arn("sagemaker", `model-quality-job-definition/${prefix}-*`),
                arn("sagemaker", `monitoring-schedule/${prefix}-*`),
            ],
        },
        {
            // Model-quality monitoring is a CloudFormation stack (infra/components/drift-monitor.ts) named with the
            // prefix; CloudFormation calls SageMaker with the caller's permissions (no service role), which the
            // statement above grants. Stack ARNs are `stack/<name>/<id>` (Service Authorization Reference).
            Sid: "ManageEnvironmentCloudFormationStacks",
            Effect: "Allow",
            Action: [
                "cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:GetTemplate",
                "cloudformation:TagResource", "cloudformation:UntagResource",
            ],
            Resource: arn("cloudformation", `stack/${prefix}-*/*`),
        },
        {
            // Models and endpoint configurations keep Pulumi's autonaming (fixed names break create-before-delete
            // replacement), so they have no name prefix. Creating and reading cannot touch another environment.
            Sid: "CreateAutonamedModelsAndEndpointConfigs",
            Effect: "Allow",
            Action: [
                "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
                "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags", "sagemaker:ListTags",
            ],
            Resource: [arn("sagemaker", "model/*"), arn("sagemaker", "endpoint-config/*")],
        },
        {
            // ...deleting them can, so deletes are limited to those tagged with this environment.
            Sid: "DeleteEnvironmentModelsAndEndpointConfigs",
            Effect: "Allow",
            Action: ["sagemaker:DeleteModel", "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteTags"],
            Resource: [arn("sagemaker", "model/*"), arn("sagemaker", "endpoint-config/*")],
            Condition: taggedForEnvironment,
        },
        {
            // A promotion pins the version for this environment on the host's group (steps/deploy/pin.ts); the
            // condition keeps each deployer to its own environment's pin tag.
            Sid: "PinServedVersionInRegistry",
            Effect: "Allow",
            Action: ["sagemaker:AddTags", "sagemaker:DeleteTags"],
            Resource: scope.modelPackageGroupArn,
            // ForAllValues is also true when a request carries no tag keys: the Null check requires some.
            Condition: {
                "ForAllValues:StringEquals": { "aws:TagKeys": [pinTagKey(scope.environment)] },
                Null: { "aws:TagKeys": "false" },
            },
        },
        {
            // Every stack resolves the version it serves from the host's registry (infra/model-version.ts).
            Sid: "ReadSharedModelRegistry",
            Effect: "Allow",
            Action: ["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage", "sagemaker:ListTags"],
            Resource: [scope.modelPackageGroupArn, packagesOfGroup],
        },
    ];
    const ownedLogGroups = [
        ...(scope.accountResources?.trainingJobsLogGroup ? [SAGEMAKER_TRAINING_LOG_GROUP] : []),
        ...(scope.accountResources?.processingJobsLogGroup ? [SAGEMAKER_PROCESSING_LOG_GROUP] : []),
    ];
    if (ownedLogGroups.length > 0) {
        statements.push({
            // Opted in: this stack owns SageMaker's fixed-name log group(s) (config accountResources).
            Sid: "ManageOwnedSageMakerLogGroups",
            Effect: "Allow",
            Action: [
                "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
                "logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource",
                "logs:ListTagsForResource", "logs:TagLogGroup", "logs:UntagLogGroup", "logs:ListTagsLogGroup",
            ],
            Resource: ownedLogGroups.flatMap((g) => [arn("logs", `log-group:${g}`), arn("logs", `log-group:${g}:*`)]),
        });
    }
    if (scope.reviewStacks) statements.push(...reviewStackKeyStatements());
    if (scope.isHost) statements.push(...hostStatements());
    return statements;

    /**
     * Review stacks are created by Pulumi Deployments, not by an administrator, so their deployer creates their key.
     * KMS requires kms:TagResource on all keys to tag a key at creation ("Controlling access to tags", AWS KMS
     * developer guide); the deny keeps that from retagging a key of another environment into this one.
     */
    function reviewStackKeyStatements(): PolicyStatement[] {
        return [
            {
                // CreateKey has no resource type: "*" is the only resource. Only keys tagged with this environment.
                Sid: "CreateEnvironmentKeys",
                Effect: "Allow",
                Action: "kms:CreateKey",
                Resource: "*",
                Condition: { StringEquals: { "aws:RequestTag/environment": scope.environment } },
            },
            {
                // Tagging a key at creation needs kms:TagResource on every key of the account and region.
                Sid: "TagNewEnvironmentKeys",
                Effect: "Allow",
                Action: "kms:TagResource",
                Resource: arn("kms", "key/*"),
                Condition: { StringEquals: { "aws:RequestTag/environment": scope.environment } },
            },
            {
                Sid: "DenyRetaggingOtherKeys",
                Effect: "Deny",
                Action: ["kms:TagResource", "kms:UntagResource"],
                Resource: arn("kms", "key/*"),
                Condition: {
                    StringNotEquals: { "aws:ResourceTag/environment": scope.environment },
                    Null: { "aws:ResourceTag/environment": "false" },
                },
            },
        ];
    }

    function hostStatements(): PolicyStatement[] {
        const host: PolicyStatement[] = [
            {
                Sid: "ManageModelRegistry",
                Effect: "Allow",
                Action: [
                    "sagemaker:CreateModelPackageGroup", "sagemaker:DeleteModelPackageGroup",
                    "sagemaker:DescribeModelPackageGroup", "sagemaker:GetModelPackageGroupPolicy",
                    "sagemaker:PutModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroupPolicy",
                    "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags",
                ],
                Resource: arn("sagemaker", `model-package-group/${prefix}-*`),
            },
            {
                Sid: "ManageImageRepository",
                Effect: "Allow",
                Action: [
                    "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeRepositories",
                    "ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy",
                    "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability",
                    "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy",
                    "ecr:TagResource", "ecr:UntagResource", "ecr:ListTagsForResource",
                    // No image actions: the pipeline's image build pushes images, no deployment does.
                ],
                Resource: arn("ecr", `repository/${prefix}-*`),
            },
            {
                // Glue security configurations have no resource-level permissions.
                Sid: "ReadGlueSecurityConfigurations",
                Effect: "Allow",
                Action: ["glue:GetSecurityConfiguration"],
                Resource: "*",
            },
            {
                Sid: "ManageEtlJob",
                Effect: "Allow",
                Action: [
                    "glue:CreateJob", "glue:UpdateJob", "glue:DeleteJob", "glue:GetJob",
                    "glue:TagResource", "glue:UntagResource", "glue:GetTags",
                ],
                Resource: arn("glue", `job/${prefix}-*`),
            },
            {
                Sid: "ManageBuildProjects",
                Effect: "Allow",
                Action: [
                    "codebuild:CreateProject", "codebuild:UpdateProject", "codebuild:DeleteProject", "codebuild:BatchGetProjects",
                    // The evaluation report group (infra/components/training-steps.ts).
                    "codebuild:CreateReportGroup", "codebuild:UpdateReportGroup", "codebuild:DeleteReportGroup",
                    "codebuild:BatchGetReportGroups",
                ],
                Resource: [arn("codebuild", `project/${prefix}-*`), arn("codebuild", `report-group/${prefix}-*`)],
            },
            {
                Sid: "ManagePipeline",
                Effect: "Allow",
                Action: [
                    "codepipeline:CreatePipeline", "codepipeline:UpdatePipeline", "codepipeline:DeletePipeline",
                    "codepipeline:GetPipeline", "codepipeline:TagResource", "codepipeline:UntagResource",
                    "codepipeline:ListTagsForResource",
                ],
                Resource: arn("codepipeline", `${prefix}-*`),
            },
            {
                // The secret's value is set out of band and never read by a deployment.
                Sid: "ManageSecretsMetadata",
                Effect: "Allow",
                Action: [
                    "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
                    "secretsmanager:UpdateSecret", "secretsmanager:GetResourcePolicy",
                    "secretsmanager:TagResource", "secretsmanager:UntagResource",
                ],
                Resource: arn("secretsmanager", `secret:${prefix}-*`),
            },
        ];
        if (scope.accountResources?.pulumiOidcProvider) {
            host.push({
                // Opted in: one provider per account and URL, and this host registers it for every stack.
                Sid: "ManagePulumiOidcProvider",
                Effect: "Allow",
                Action: [
                    "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
                    "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
                    "iam:RemoveClientIDFromOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
                    "iam:UntagOpenIDConnectProvider",
                ],
                Resource: arn("iam", `oidc-provider/${PULUMI_OIDC_ISSUER}`, { global: true }),
            });
        }
        if (scope.connectionArn !== undefined) {
            // The same permission under the service's old and new prefix; each checks its own condition key.
            for (const service of ["codestar-connections", "codeconnections"]) {
                host.push({
                    Sid: service === "codeconnections" ? "PassSourceConnectionToPipeline" : "PassSourceConnectionToPipelineLegacyPrefix",
                    Effect: "Allow",
                    Action: `${service}:PassConnection`,
                    Resource: scope.connectionArn,
                    Condition: { StringEquals: { [`${service}:PassedToService`]: "codepipeline.amazonaws.com" } },
                });
            }
        }
        return host;
    }
}

/**
 * The deploy policy is larger than IAM allows inline (10,240 characters per role), so it is split into managed
 * policies of at most 6,144 characters each, one per part.
 */
export const DEPLOY_POLICY_PARTS = ["storage", "identity", "serving", "host"] as const;
export type DeployPolicyPart = (typeof DEPLOY_POLICY_PARTS)[number];

const PART_OF_STATEMENT: Readonly<Record<string, DeployPolicyPart>> = {
    ReadAccountLevelListings: "storage",
    ManageEnvironmentKeys: "storage",
    GrantEnvironmentKeysToServices: "storage",
    ManageEnvironmentKeyAliases: "storage",
    ManageEnvironmentBuckets: "storage",
    ManageEnvironmentBucketObjects: "storage",
    ManageEnvironmentTopics: "storage",
    ManageEnvironmentQueues: "storage",
    ManageEnvironmentRoles: "identity",
    ManageEnvironmentRolesWithinBoundary: "identity",
    ManageEnvironmentManagedPolicies: "identity",
    AttachOnlyEnvironmentPolicies: "identity",
    ProtectPermissionsBoundaries: "identity",
    KeepRoleBoundaries: "identity",
    NeverAttachBoundaries: "identity",
    PassEnvironmentRolesToItsServices: "identity",
    CreateSageMakerAutoscalingServiceLinkedRole: "identity",
    ManageEnvironmentFunctions: "identity",
    ManageEnvironmentLogGroups: "identity",
    ManageOwnedSageMakerLogGroups: "identity",
    ManageEnvironmentEventRules: "identity",
    ManageEnvironmentAlarms: "identity",
    ManageEnvironmentDashboards: "identity",
    ScaleSageMakerVariants: "serving",
    TearDownEnvironmentScaling: "serving",
    CreateEnvironmentKeys: "storage",
    TagNewEnvironmentKeys: "storage",
    DenyRetaggingOtherKeys: "storage",
    TagScalableTargets: "serving",
    ManageEnvironmentEndpointsAndMonitoring: "serving",
    ManageEnvironmentCloudFormationStacks: "serving",
    CreateAutonamedModelsAndEndpointConfigs: "serving",
    DeleteEnvironmentModelsAndEndpointConfigs: "serving",
    ReadSharedModelRegistry: "serving",
    PinServedVersionInRegistry: "serving",
    ManageModelRegistry: "host",
    ManageImageRepository: "host",
    ReadGlueSecurityConfigurations: "host",
    ManageEtlJob: "host",
    ManageBuildProjects: "host",
    ManagePipeline: "host",
    ManageSecretsMetadata: "host",
    ManagePulumiOidcProvider: "host",
    PassSourceConnectionToPipeline: "host",
    PassSourceConnectionToPipelineLegacyPrefix: "host",
};

/** {@link stackDeployPolicyStatements}, grouped into the parts that become one managed policy each. */
export function stackDeployPolicyParts(context: StackContext, scope: StackDeployScope): Partial<Record<DeployPolicyPart, PolicyStatement[]>> {
    const parts: Partial<Record<DeployPolicyPart, PolicyStatement[]>> = {};
    for (const statement of stackDeployPolicyStatements(context, scope)) {
        const part = PART_OF_STATEMENT[statement.Sid ?? ""];
        if (!part) throw new Error(`deploy policy statement ${statement.Sid ?? "(no Sid)"} is assigned to no part; add it to PART_OF_STATEMENT`);
        (parts[part] ??= []).push(statement);
    }
    return parts;
}

export interface DeployPolicyAttachmentArgs {
    readonly context: StackContext;
    readonly scope: StackDeployScope;
    /** The role that deploys. */
    readonly role: aws.iam.Role;
    /** Physical name of the policies before `-<part>`; must start with the role's environment prefix. */
    readonly policyNamePrefix: string;
}

/**
 * Creates the deploy policy's managed policies (children `<name>-<part>`) and attaches them to the role. Shared by
 * every identity that deploys a stack, so they cannot drift apart.
 */
export function attachStackDeployPolicies(name: string, args: DeployPolicyAttachmentArgs, opts: pulumi.CustomResourceOptions):
    { policies: aws.iam.Policy[]; attachments: aws.iam.RolePolicyAttachment[] } {
    const parts = stackDeployPolicyParts(args.context, args.scope);
    const policies: aws.iam.Policy[] = [];
    const attachments: aws.iam.RolePolicyAttachment[] = [];
    for (const part of DEPLOY_POLICY_PARTS.filter((p) => parts[p] !== undefined)) {
        const policy = new aws.iam.Policy(`${name}-${part}`, {
            name: physicalName("iamPolicy", [args.policyNamePrefix, part]),
            description: `pulumi up of the ${args.scope.environment} stack: ${part} resources`,
            policy: policyDocument(parts[part]!),
        }, opts);
        policies.push(policy);
        attachments.push(new aws.iam.RolePolicyAttachment(`${name}-${part}-attachment`, { role: args.role.name, policyArn: policy.arn }, opts));
    }
    return { policies, attachments };
}
