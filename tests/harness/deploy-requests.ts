/**
 * The AWS requests `pulumi up` and `pulumi destroy` make for each resource of a recorded graph, on the ARN AWS
 * would authorize them against (Service Authorization Reference, "Resource types" of each service), computed from
 * the physical names in the graph rather than from the mock's emulated ARNs.
 *
 * Every AWS resource type the program registers must be listed here (a type without an entry fails the test
 * that uses this), so a new kind of resource cannot slip past the deploy-permission checks.
 */
import { ACCOUNT_ID, RecordedResource, StackGraph } from "./pulumi-harness";
import { isBoundaryPolicy, Request } from "./iam-oracle";

const REGION = "us-east-1";
const arn = (service: string, resource: string, global = false) => `arn:aws:${service}:${global ? "" : REGION}:${ACCOUNT_ID}:${resource}`;

export interface DeployRequests {
    readonly requests: Request[];
    /** Resource types this graph holds that need no deployer permission of their own, with the reason. */
    readonly exempt: { type: string; name: string; reason: string }[];
}

/** Exempt types: not created through the AWS API by the deployer, or created only at bootstrap (documented). */
const EXEMPT: Record<string, string> = {
    "aws:kms/key:Key#create": "kms:CreateKey is a bootstrap action (infra/lib/stack-deploy-policy.ts, docs/delivery.md)",
    "aws:glue/securityConfiguration:SecurityConfiguration": "created and replaced only at bootstrap (infra/lib/stack-deploy-policy.ts)",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "account setup step unless the host opts in (checked separately)",
    "permissions-boundary": "permissions boundaries are created and changed by platform administrators only; every deployer is denied (infra/components/permissions-boundary.ts)",
};

export function deployRequests(graph: StackGraph, environment: string): DeployRequests {
    const requests: Request[] = [];
    const exempt: DeployRequests["exempt"] = [];
    const tagged = { "aws:ResourceTag/environment": environment, "aws:RequestTag/environment": environment };
    const add = (resource: string, actions: string[], context: Record<string, string | string[]> = {}) => {
        for (const action of actions) requests.push({ action, resource, context });
    };
    const roleOf = (ref: string) => {
        const role = graph.ofType("aws:iam/role:Role").find((r) => r.state.name === ref || `${r.name}-id` === ref);
        if (!role) throw new Error(`no role ${ref} in the graph`);
        return role;
    };
    const roleArnOf = (ref: string) => arn("iam", `role/${roleOf(ref).state.name}`, true);
    // IAM puts the role's permissions boundary (or the one CreateRole sets) in `iam:PermissionsBoundary`.
    const boundaryOf = (role: RecordedResource): Record<string, string> =>
        role.inputs.permissionsBoundary ? { "iam:PermissionsBoundary": role.inputs.permissionsBoundary } : {};
    const passRole = (roleArn: string | undefined, service: string) => {
        if (roleArn) add(roleArn, ["iam:PassRole"], { "iam:PassedToService": service });
    };
    const bucket = (r: RecordedResource) => `arn:aws:s3:::${r.inputs.bucket}`;

    for (const r of graph.resources.filter((x) => x.custom && x.type.startsWith("aws:"))) {
        const name: string = r.inputs.name ?? r.state.name;
        switch (r.type) {
            case "aws:kms/key:Key":
                exempt.push({ type: r.type, name: r.name, reason: EXEMPT["aws:kms/key:Key#create"] });
                add(r.state.arn, ["kms:DescribeKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:TagResource", "kms:ScheduleKeyDeletion"], tagged);
                break;
            case "aws:kms/alias:Alias":
                add(arn("kms", name), ["kms:CreateAlias", "kms:DeleteAlias"]);
                add(graph.ofType("aws:kms/key:Key").find((k) => k.state.keyId === r.inputs.targetKeyId || k.state.arn === r.inputs.targetKeyId)?.state.arn ?? r.inputs.targetKeyId,
                    ["kms:CreateAlias", "kms:DeleteAlias"], tagged);
                break;
            case "aws:sns/topic:Topic":
                add(arn("sns", name), ["sns:CreateTopic", "sns:SetTopicAttributes", "sns:TagResource", "sns:DeleteTopic"]);
                break;
            case "aws:sns/topicPolicy:TopicPolicy":
                add(r.inputs.arn, ["sns:SetTopicAttributes", "sns:GetTopicAttributes"]);
                break;
            case "aws:sns/topicSubscription:TopicSubscription":
                add(r.inputs.topic, ["sns:Subscribe", "sns:Unsubscribe"]);
                break;
            case "aws:sqs/queue:Queue":
                add(arn("sqs", name), ["sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:DeleteQueue"]);
                break;
            case "aws:sqs/queuePolicy:QueuePolicy": {
                const queueArn = [JSON.parse(r.inputs.policy).Statement].flat()[0].Resource;
                add(queueArn, ["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"]);
                break;
            }
            case "aws:s3/bucket:Bucket":
                add(`arn:aws:s3:::${r.state.bucket}`, ["s3:CreateBucket", "s3:PutBucketTagging", "s3:ListBucket", "s3:DeleteBucket"]);
                break;
            case "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
                add(bucket(r), ["s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"]);
                break;
            case "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
                add(bucket(r), ["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"]);
                break;
            case "aws:s3/bucketVersioning:BucketVersioning":
                add(bucket(r), ["s3:PutBucketVersioning", "s3:GetBucketVersioning"]);
                break;
            case "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
                add(bucket(r), ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"]);
                break;
            case "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
                add(bucket(r), ["s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"]);
                break;
            case "aws:s3/bucketLogging:BucketLogging":
                add(bucket(r), ["s3:PutBucketLogging", "s3:GetBucketLogging"]);
                break;
            case "aws:s3/bucketPolicy:BucketPolicy":
                add(bucket(r), ["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"]);
                break;
            case "aws:s3/bucketNotification:BucketNotification":
                add(bucket(r), ["s3:PutBucketNotification", "s3:GetBucketNotification"]);
                break;
            case "aws:s3/bucketObjectv2:BucketObjectv2":
                add(`arn:aws:s3:::${r.inputs.bucket}/${r.inputs.key}`, ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]);
                break;
            case "aws:iam/role:Role":
                add(arn("iam", `role/${name}`, true), ["iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:GetRole", "iam:DeleteRole"], boundaryOf(r));
                break;
            case "aws:iam/rolePolicy:RolePolicy":
                add(roleArnOf(r.inputs.role), ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"], boundaryOf(roleOf(r.inputs.role)));
                break;
            case "aws:iam/policy:Policy":
                if (isBoundaryPolicy(r)) {
                    exempt.push({ type: r.type, name: r.name, reason: EXEMPT["permissions-boundary"] });
                    break;
                }
                add(arn("iam", `policy/${name}`, true), ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:GetPolicy", "iam:DeletePolicy"]);
                break;
            case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
                add(roleArnOf(r.inputs.role), ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                    { "iam:PolicyARN": policyArnOf(graph, r.inputs.policyArn), ...boundaryOf(roleOf(r.inputs.role)) });
                break;
            case "aws:lambda/function:Function":
                add(arn("lambda", `function:${name}`), [
                    "lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                    "lambda:GetFunction", "lambda:DeleteFunction",
                    ...(r.inputs.reservedConcurrentExecutions !== undefined && r.inputs.reservedConcurrentExecutions >= 0 ? ["lambda:PutFunctionConcurrency"] : []),
                ]);
                passRole(r.inputs.role && roleArnOfArn(graph, r.inputs.role), "lambda.amazonaws.com");
                break;
            case "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig":
                add(arn("lambda", `function:${r.inputs.functionName}`), ["lambda:PutFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig"]);
                break;
            case "aws:lambda/permission:Permission":
                add(arn("lambda", `function:${r.inputs.function}`), ["lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy"]);
                break;
            case "aws:cloudwatch/logGroup:LogGroup":
                add(arn("logs", `log-group:${name}`), ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:AssociateKmsKey", "logs:TagResource", "logs:DeleteLogGroup"]);
                break;
            case "aws:cloudwatch/logMetricFilter:LogMetricFilter":
                add(arn("logs", `log-group:${r.inputs.logGroupName}`), ["logs:PutMetricFilter", "logs:DescribeMetricFilters", "logs:DeleteMetricFilter"]);
                break;
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                add(arn("cloudwatch", `alarm:${name}`), ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:TagResource", "cloudwatch:DeleteAlarms"]);
                break;
            case "aws:cloudwatch/dashboard:Dashboard":
                add(arn("cloudwatch", `dashboard/${r.inputs.dashboardName}`, true), ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"]);
                break;
            case "aws:cloudwatch/eventRule:EventRule":
                add(arn("events", `rule/${name}`), ["events:PutRule", "events:DescribeRule", "events:TagResource", "events:DeleteRule"]);
                break;
            case "aws:cloudwatch/eventTarget:EventTarget":
                add(arn("events", `rule/${r.inputs.rule}`), ["events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"]);
                if (r.inputs.roleArn) passRole(r.inputs.roleArn, "events.amazonaws.com");
                break;
            case "aws:codebuild/project:Project":
                add(arn("codebuild", `project/${name}`), ["codebuild:CreateProject", "codebuild:UpdateProject", "codebuild:BatchGetProjects", "codebuild:DeleteProject"]);
                passRole(roleArnOfArn(graph, r.inputs.serviceRole), "codebuild.amazonaws.com");
                break;
            case "aws:codebuild/reportGroup:ReportGroup":
                add(arn("codebuild", `report-group/${name}`), ["codebuild:CreateReportGroup", "codebuild:UpdateReportGroup", "codebuild:BatchGetReportGroups", "codebuild:DeleteReportGroup"]);
                break;
            case "aws:codepipeline/pipeline:Pipeline":
                add(arn("codepipeline", name), ["codepipeline:CreatePipeline", "codepipeline:UpdatePipeline", "codepipeline:GetPipeline", "codepipeline:TagResource", "codepipeline:DeletePipeline"]);
                passRole(roleArnOfArn(graph, r.inputs.roleArn), "codepipeline.amazonaws.com");
                break;
            case "aws:ecr/repository:Repository":
                add(arn("ecr", `repository/${name}`), ["ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:TagResource", "ecr:DeleteRepository"]);
                break;
            case "aws:ecr/lifecyclePolicy:LifecyclePolicy":
                add(arn("ecr", `repository/${r.inputs.repository}`), ["ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy"]);
                break;
            case "aws:glue/job:Job":
                add(arn("glue", `job/${name}`), ["glue:CreateJob", "glue:UpdateJob", "glue:GetJob", "glue:TagResource", "glue:DeleteJob"]);
                passRole(roleArnOfArn(graph, r.inputs.roleArn), "glue.amazonaws.com");
                break;
            case "aws:secretsmanager/secret:Secret":
                add(arn("secretsmanager", `secret:${name}-AbCdEf`), ["secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:TagResource", "secretsmanager:DeleteSecret"]);
                break;
            case "aws:sagemaker/model:Model":
                add(arn("sagemaker", `model/${name}`), ["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:AddTags"]);
                add(arn("sagemaker", `model/${name}`), ["sagemaker:DeleteModel"], tagged);
                passRole(roleArnOfArn(graph, r.inputs.executionRoleArn), "sagemaker.amazonaws.com");
                break;
            case "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
                add(arn("sagemaker", `endpoint-config/${name}`), ["sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags"]);
                add(arn("sagemaker", `endpoint-config/${name}`), ["sagemaker:DeleteEndpointConfig"], tagged);
                break;
            case "aws:sagemaker/endpoint:Endpoint":
                add(arn("sagemaker", `endpoint/${name}`), ["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:AddTags", "sagemaker:DeleteEndpoint"]);
                break;
            case "aws:sagemaker/modelPackageGroup:ModelPackageGroup":
                add(arn("sagemaker", `model-package-group/${r.inputs.modelPackageGroupName}`), ["sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup", "sagemaker:AddTags", "sagemaker:DeleteModelPackageGroup"]);
                break;
            case "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition":
                add(arn("sagemaker", `data-quality-job-definition/${name}`), ["sagemaker:CreateDataQualityJobDefinition", "sagemaker:DescribeDataQualityJobDefinition", "sagemaker:AddTags", "sagemaker:DeleteDataQualityJobDefinition"]);
                passRole(roleArnOfArn(graph, r.inputs.roleArn), "sagemaker.amazonaws.com");
                break;
            case "aws:sagemaker/monitoringSchedule:MonitoringSchedule":
                add(arn("sagemaker", `monitoring-schedule/${name}`), ["sagemaker:CreateMonitoringSchedule", "sagemaker:UpdateMonitoringSchedule", "sagemaker:DescribeMonitoringSchedule", "sagemaker:AddTags", "sagemaker:DeleteMonitoringSchedule"]);
                break;
            case "aws:cloudformation/stack:Stack": {
                add(arn("cloudformation", `stack/${name}/0a1b2c3d-0000-0000-0000-000000000000`), ["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks", "cloudformation:DeleteStack"]);
                // CloudFormation creates the template's resources with the caller's credentials.
                const template = JSON.parse(r.inputs.templateBody);
                const definition = template.Resources.JobDefinition.Properties;
                add(arn("sagemaker", `model-quality-job-definition/${definition.JobDefinitionName}`), ["sagemaker:CreateModelQualityJobDefinition", "sagemaker:DeleteModelQualityJobDefinition"]);
                add(arn("sagemaker", `monitoring-schedule/${template.Resources.Schedule.Properties.MonitoringScheduleName}`), ["sagemaker:CreateMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule"]);
                passRole(roleArnOfArn(graph, definition.RoleArn), "sagemaker.amazonaws.com");
                break;
            }
            case "aws:appautoscaling/target:Target":
            case "aws:appautoscaling/policy:Policy":
                // Scalable targets are identified by service-generated ids (no name in the ARN).
                add(arn("application-autoscaling", "scalable-target/0123456789abcdef0123456789abcdef"),
                    r.type.endsWith("Target")
                        ? ["application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget"]
                        : ["application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy"],
                    // Scalable targets carry the provider's default tags (the environment tag among them).
                    { "application-autoscaling:service-namespace": "sagemaker", ...tagged });
                break;
            default: {
                const reason = EXEMPT[r.type];
                if (!reason) throw new Error(`deployRequests: no deploy requests known for ${r.type} (${r.name}); add them to tests/harness/deploy-requests.ts`);
                exempt.push({ type: r.type, name: r.name, reason });
            }
        }
    }
    for (const image of graph.ofType("awsx:ecr:Image")) {
        const repository = String(image.inputs.repositoryUrl).split("/").pop();
        add(arn("ecr", `repository/${repository}`), ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchCheckLayerAvailability"]);
        add("*", ["ecr:GetAuthorizationToken"]);
    }
    return { requests, exempt };
}

/** A role ARN as the graph's mocks return it (`arn:aws:iam:<region>:…:role/<name>`), made the real, global form. */
function roleArnOfArn(graph: StackGraph, value: string | undefined): string | undefined {
    if (!value) return undefined;
    const role = graph.ofType("aws:iam/role:Role").find((r) => r.state.arn === value);
    return role ? arn("iam", `role/${role.state.name}`, true) : value;
}

function policyArnOf(graph: StackGraph, value: string): string {
    const policy = graph.ofType("aws:iam/policy:Policy").find((p) => p.state.arn === value);
    return policy ? arn("iam", `policy/${policy.state.name ?? policy.inputs.name}`, true) : value;
}

/** A request on another environment's resources that is harmless, and why. */
export interface HarmlessCrossing {
    readonly match: (r: Request) => boolean;
    readonly reason: string;
}

/**
 * Requests any environment's deployer may make on another environment's resources because they touch none of its
 * state: the isolation and the policy simulations each add the few of their own.
 */
export const HARMLESS_CROSSINGS: readonly HarmlessCrossing[] = [
    {
        match: (r) => /^sagemaker:(CreateModel|DescribeModel|CreateEndpointConfig|DescribeEndpointConfig|AddTags)$/.test(r.action) &&
            /:(model|endpoint-config)\//.test(r.resource),
        reason: "models and endpoint configs are autonamed (no prefix); creating or reading one touches no other environment, deleting is tag-scoped",
    },
    {
        match: (r) => r.action.startsWith("application-autoscaling:"),
        reason: "scalable targets have service-generated ids; the deployer is confined to SageMaker variants by condition",
    },
    { match: (r) => r.action === "ecr:GetAuthorizationToken", reason: "registry login has no resource-level permission" },
];
