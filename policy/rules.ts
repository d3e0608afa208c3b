/**
 * The project's security and reliability checklist (docs: ../shared FIELD-NOTES, derived from cdk-nag, checkov
 * and AWS Config rules) as Pulumi stack policies. They run in `pulumi preview --policy-pack policy` and, in
 * tests, over the recorded graph of every stack, so a component that breaks the checklist fails `npm test`.
 *
 * Policies look at resource inputs. Resources that belong together (a bucket and its public access block) are
 * matched through their common parent component, which is known at preview time, unlike physical names.
 */
import { EnforcementLevel, PolicyResource, ReportViolation, StackValidationPolicy } from "@pulumi/policy";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Statement = { Sid?: string; Effect: string; Principal?: any; Action?: string | string[]; NotAction?: unknown; Resource?: unknown; Condition?: any };

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const parse = (doc: unknown): { Statement?: Statement | Statement[] } | undefined => {
    if (typeof doc === "string") {
        try {
            return JSON.parse(doc);
        } catch {
            return undefined;
        }
    }
    return doc as any;
};
const statementsOf = (doc: unknown): Statement[] => list(parse(doc)?.Statement);
const label = (r: PolicyResource) => `${r.type} ${r.name}`;
const siblings = (all: PolicyResource[], r: PolicyResource, type: string) =>
    all.filter((o) => o.type === type && o.parent?.urn !== undefined && o.parent.urn === r.parent?.urn);

/**
 * Actions that AWS does not let you scope to a resource ARN, so `Resource: "*"` is the only option. Each
 * entry says why; anything else with `Resource: "*"` is a violation.
 */
export const RESOURCE_WILDCARD_ALLOWED: Readonly<Record<string, string>> = {
    "ecr:GetAuthorizationToken": "registry-wide token; no resource-level permission exists",
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
    "cloudwatch:PutMetricData": "no resource-level permission; scoped with a cloudwatch:namespace condition",
    "sagemaker:ListModelPackages": "List actions take no resource ARN",
    "sagemaker:ListTrainingJobs": "List actions take no resource ARN",
    "codepipeline:ListPipelineExecutions": "scoped by pipeline ARN where possible; listed for completeness",
    "logs:DescribeLogGroups": "Describe actions take no resource ARN",
    "glue:GetSecurityConfiguration": "no resource-level permission",
    "glue:GetSecurityConfigurations": "no resource-level permission",
    "kms:ListAliases": "List actions take no resource ARN",
    "kms:CreateKey": "the key does not exist yet (no resource type); the review deployer's is conditioned on aws:RequestTag/environment",
    "application-autoscaling:DescribeScalableTargets": "Describe actions take no resource ARN",
    "application-autoscaling:DescribeScalingPolicies": "Describe actions take no resource ARN",
    "codepipeline:PutJobSuccessResult": "job results take no resource ARN (the job id is the scope)",
    "codepipeline:PutJobFailureResult": "job results take no resource ARN (the job id is the scope)",
};

/** Permissions boundaries are managed policies under the IAM path `/<project>/boundary/` (infra/components/permissions-boundary.ts). */
const BOUNDARY_PATH = /^\/[\w.-]+\/boundary\/$/;
const BOUNDARY_ARN = /:policy\/[\w.-]+\/boundary\//;
const isBoundaryPolicy = (r: PolicyResource) => r.type === "aws:iam/policy:Policy" && BOUNDARY_PATH.test(String(r.props.path ?? ""));

/** Managed runtimes we accept for Lambda (nodejs20.x is deprecated by AWS). */
export const LAMBDA_RUNTIMES = ["nodejs22.x", "nodejs24.x"];

/** Instance families with local NVMe storage: SageMaker refuses a KMS key for their volumes. */
export const NVME_INSTANCE = /^ml\.(m5d|c5d|r5d|m6id|c6id|r6id|g4dn|g5|g6|p3dn|p4d|p4de|p5|inf2|trn1)\./;

function policy(name: string, description: string, validateStack: (resources: PolicyResource[], report: ReportViolation) => void,
    enforcementLevel: EnforcementLevel = "mandatory"): StackValidationPolicy {
    return { name, description, enforcementLevel, validateStack: (args, report) => validateStack(args.resources, report) };
}

function ofType(resources: PolicyResource[], type: string): PolicyResource[] {
    return resources.filter((r) => r.type === type);
}

export const policies: StackValidationPolicy[] = [
    policy("kms-key-rotation-and-policy", "KMS keys rotate and have an explicit policy without a bare * principal", (resources, report) => {
        for (const key of ofType(resources, "aws:kms/key:Key")) {
            if (key.props.enableKeyRotation !== true) report(`${label(key)}: key rotation must be on`, key.urn);
            const statements = statementsOf(key.props.policy);
            if (statements.length === 0) report(`${label(key)}: needs an explicit key policy`, key.urn);
            for (const s of statements) {
                if (s.Effect === "Allow" && (s.Principal === "*" || s.Principal?.AWS === "*")) report(`${label(key)}: statement ${s.Sid ?? "?"} allows a bare * principal`, key.urn);
                if (list(s.Action).includes("kms:*")) report(`${label(key)}: statement ${s.Sid ?? "?"} grants kms:*`, key.urn);
            }
        }
    }),

    policy("s3-bucket-hardening", "Buckets block public access, are versioned, encrypted, owner-enforced, TLS-only, logged and clean up uploads", (resources, report) => {
        for (const bucket of ofType(resources, "aws:s3/bucket:Bucket")) {
            const one = (type: string) => siblings(resources, bucket, type)[0];
            const pab = one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")?.props;
            if (!pab || !(pab.blockPublicAcls && pab.blockPublicPolicy && pab.ignorePublicAcls && pab.restrictPublicBuckets)) {
                report(`${label(bucket)}: all four public access block flags must be on`, bucket.urn);
            }
            if (one("aws:s3/bucketVersioning:BucketVersioning")?.props.versioningConfiguration?.status !== "Enabled") {
                report(`${label(bucket)}: versioning must be enabled`, bucket.urn);
            }
            const sse = one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")?.props.rules?.[0];
            const algorithm = sse?.applyServerSideEncryptionByDefault?.sseAlgorithm;
            const isLogBucket = siblings(resources, bucket, "aws:s3/bucketLogging:BucketLogging").length === 0;
            if (!(algorithm === "aws:kms" && sse.bucketKeyEnabled === true) && !(isLogBucket && algorithm === "AES256")) {
                report(`${label(bucket)}: needs SSE-KMS with a bucket key (only the access-log bucket may use SSE-S3)`, bucket.urn);
            }
            if (one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")?.props.rule?.objectOwnership !== "BucketOwnerEnforced") {
                report(`${label(bucket)}: object ownership must be BucketOwnerEnforced`, bucket.urn);
            }
            const rules = one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")?.props.rules ?? [];
            if (!rules.some((r: any) => r.status === "Enabled" && r.abortIncompleteMultipartUpload?.daysAfterInitiation > 0)) {
                report(`${label(bucket)}: needs a lifecycle rule aborting incomplete multipart uploads`, bucket.urn);
            }
            const statements = statementsOf(one("aws:s3/bucketPolicy:BucketPolicy")?.props.policy);
            if (!statements.some((s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === false)) {
                report(`${label(bucket)}: bucket policy must deny requests without TLS`, bucket.urn);
            }
            if (statements.some((s) => s.Effect === "Allow" && (s.Principal === "*" || s.Principal?.AWS === "*"))) {
                report(`${label(bucket)}: bucket policy allows a * principal`, bucket.urn);
            }
        }
        const logged = ofType(resources, "aws:s3/bucket:Bucket").filter((b) => siblings(resources, b, "aws:s3/bucketLogging:BucketLogging").length > 0);
        if (ofType(resources, "aws:s3/bucket:Bucket").length - logged.length > 1) {
            report("only the access-log bucket may go without server access logging");
        }
    }),

    policy("iam-least-privilege", "IAM policies name actions, scope resources, and condition PassRole", (resources, report) => {
        const documents = resources.flatMap((r) => {
            // A permissions boundary grants nothing (its whole-service Allow is a ceiling): checked by the next policy.
            if (isBoundaryPolicy(r)) return [];
            if (["aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"].includes(r.type)) return [{ r, doc: r.props.policy }];
            if (r.type === "aws:iam/role:Role") return list(r.props.inlinePolicies).map((p: any) => ({ r, doc: p.policy }));
            return [];
        });
        for (const { r, doc } of documents) {
            for (const s of statementsOf(doc)) {
                if (s.Effect !== "Allow") continue;
                if (s.NotAction !== undefined) report(`${label(r)}: Allow with NotAction is not allowed`, r.urn);
                const actions = list(s.Action);
                for (const action of actions) {
                    if (action === "*" || /^[a-z0-9-]+:\*$/i.test(action)) report(`${label(r)}: action ${action} is a service-wide wildcard`, r.urn);
                }
                if (list(s.Resource).includes("*")) {
                    const unjustified = actions.filter((a) => !(a in RESOURCE_WILDCARD_ALLOWED));
                    if (unjustified.length > 0) report(`${label(r)}: Resource "*" for ${unjustified.join(", ")}; scope them to ARNs or justify them in RESOURCE_WILDCARD_ALLOWED`, r.urn);
                }
                if (actions.includes("iam:PassRole") && !s.Condition?.StringEquals?.["iam:PassedToService"] && !s.Condition?.StringLike?.["iam:PassedToService"]) {
                    report(`${label(r)}: iam:PassRole needs an iam:PassedToService condition`, r.urn);
                }
            }
        }
        for (const user of ofType(resources, "aws:iam/user:User")) report(`${label(user)}: IAM users are not allowed`, user.urn);
        for (const att of ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")) {
            if (/^arn:aws[a-z-]*:iam::aws:policy\//.test(String(att.props.policyArn))) {
                report(`${label(att)}: AWS-managed policy ${att.props.policyArn} attached; write a scoped policy instead`, att.urn);
            }
        }
        for (const role of ofType(resources, "aws:iam/role:Role")) {
            if (list(role.props.managedPolicyArns).length > 0) report(`${label(role)}: managed policy ARNs attached`, role.urn);
            for (const s of statementsOf(role.props.assumeRolePolicy)) {
                const principal = s.Principal ?? {};
                if (s.Effect !== "Allow") continue;
                if (principal === "*" || principal.AWS !== undefined) report(`${label(role)}: trust policy must name service (or OIDC) principals only`, role.urn);
                if (principal.Federated !== undefined && !s.Condition?.StringEquals && !s.Condition?.StringLike) {
                    report(`${label(role)}: a federated trust needs audience/subject conditions`, role.urn);
                }
            }
        }
    }),

    policy("iam-permissions-boundary", "Every role carries a permissions boundary; a boundary is never attached as a policy", (resources, report) => {
        for (const role of ofType(resources, "aws:iam/role:Role")) {
            if (!role.props.permissionsBoundary) report(`${label(role)}: every role needs a permissions boundary (infra/components/permissions-boundary.ts)`, role.urn);
        }
        for (const att of ofType(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")) {
            if (BOUNDARY_ARN.test(String(att.props.policyArn))) report(`${label(att)}: attaches the permissions boundary ${att.props.policyArn} as a policy`, att.urn);
        }
        for (const boundary of resources.filter(isBoundaryPolicy)) {
            for (const s of statementsOf(boundary.props.policy)) {
                if (s.Effect === "Allow" && (s.Condition !== undefined || list(s.Resource as string | string[]).some((x) => x !== "*"))) {
                    report(`${label(boundary)}: a boundary's Allow is a ceiling of whole services on "*"; scope with Deny statements`, boundary.urn);
                }
                if (s.Effect === "Allow" && list(s.Action).includes("*")) report(`${label(boundary)}: a boundary may not allow every service`, boundary.urn);
            }
        }
    }),

    policy("lambda-hardening", "Lambdas use a current runtime, explicit limits, tracing, our key, a DLQ and an explicit log group", (resources, report) => {
        for (const fn of ofType(resources, "aws:lambda/function:Function")) {
            const p = fn.props;
            if (!LAMBDA_RUNTIMES.includes(p.runtime)) report(`${label(fn)}: runtime ${p.runtime}; allowed: ${LAMBDA_RUNTIMES.join(", ")}`, fn.urn);
            if (!(p.timeout > 0) || !(p.memorySize > 0)) report(`${label(fn)}: set timeout and memorySize explicitly`, fn.urn);
            // -1 is an explicit "unreserved" (config lambdaReservedConcurrency off); only an omission is reported.
            if (typeof p.reservedConcurrentExecutions !== "number" || p.reservedConcurrentExecutions < -1) {
                report(`${label(fn)}: set reserved concurrency (-1 to leave it explicitly unreserved)`, fn.urn);
            }
            if (p.tracingConfig?.mode !== "Active") report(`${label(fn)}: X-Ray active tracing must be on`, fn.urn);
            if (p.environment && !p.kmsKeyArn) report(`${label(fn)}: environment must be encrypted with our key`, fn.urn);
            const invokeConfig = ofType(resources, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
                .some((c) => c.parent?.urn === fn.parent?.urn && c.props.destinationConfig?.onFailure?.destination);
            if (!p.deadLetterConfig?.targetArn && !invokeConfig) report(`${label(fn)}: needs a DLQ or an on-failure destination`, fn.urn);
            if (!p.loggingConfig?.logGroup && siblings(resources, fn, "aws:cloudwatch/logGroup:LogGroup").length === 0) {
                report(`${label(fn)}: needs an explicit log group`, fn.urn);
            }
        }
        for (const permission of ofType(resources, "aws:lambda/permission:Permission")) {
            if (!permission.props.sourceArn) report(`${label(permission)}: invoke permissions must carry sourceArn`, permission.urn);
        }
    }),

    policy("logs-alarms-events", "Log groups are encrypted with retention; alarms notify; topics and queues are encrypted; event targets retry with a DLQ", (resources, report) => {
        for (const group of ofType(resources, "aws:cloudwatch/logGroup:LogGroup")) {
            if (!group.props.kmsKeyId) report(`${label(group)}: log group must be KMS-encrypted`, group.urn);
            if (!(group.props.retentionInDays > 0)) report(`${label(group)}: log group needs a retention`, group.urn);
        }
        for (const alarm of ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm")) {
            if (list(alarm.props.alarmActions).length === 0) report(`${label(alarm)}: alarm has no actions`, alarm.urn);
        }
        for (const topic of ofType(resources, "aws:sns/topic:Topic")) {
            if (!topic.props.kmsMasterKeyId) report(`${label(topic)}: topic must be KMS-encrypted`, topic.urn);
        }
        for (const queue of ofType(resources, "aws:sqs/queue:Queue")) {
            if (!queue.props.kmsMasterKeyId) report(`${label(queue)}: queue must be KMS-encrypted with our key`, queue.urn);
        }
        for (const target of ofType(resources, "aws:cloudwatch/eventTarget:EventTarget")) {
            if (!target.props.retryPolicy) report(`${label(target)}: event target needs a retry policy`, target.urn);
            if (!target.props.deadLetterConfig?.arn) report(`${label(target)}: event target needs a dead-letter queue`, target.urn);
        }
    }),

    policy("build-and-delivery", "ECR, CodeBuild, CodePipeline and Glue use our key and safe settings", (resources, report) => {
        for (const repo of ofType(resources, "aws:ecr/repository:Repository")) {
            if (repo.props.imageTagMutability !== "IMMUTABLE") report(`${label(repo)}: tags must be immutable`, repo.urn);
            if (repo.props.imageScanningConfiguration?.scanOnPush !== true) report(`${label(repo)}: scan on push must be on`, repo.urn);
            if (list(repo.props.encryptionConfigurations)[0]?.encryptionType !== "KMS") report(`${label(repo)}: must be KMS-encrypted`, repo.urn);
            if (siblings(resources, repo, "aws:ecr/lifecyclePolicy:LifecyclePolicy").length === 0) report(`${label(repo)}: needs a lifecycle policy`, repo.urn);
        }
        for (const project of ofType(resources, "aws:codebuild/project:Project")) {
            const p = project.props;
            if (!p.encryptionKey) report(`${label(project)}: needs our KMS key`, project.urn);
            if (p.logsConfig?.cloudwatchLogs?.status === "DISABLED" || !p.logsConfig?.cloudwatchLogs) report(`${label(project)}: CloudWatch logs must be on`, project.urn);
            if (p.environment?.privilegedMode === true && !/image/.test(project.name)) report(`${label(project)}: privileged mode only for the image build project`, project.urn);
            for (const v of list(p.environment?.environmentVariables) as any[]) {
                if ((v.type ?? "PLAINTEXT") === "PLAINTEXT" && /(TOKEN|SECRET|PASSWORD|PRIVATE_KEY|ACCESS_KEY)/i.test(v.name)) {
                    report(`${label(project)}: ${v.name} looks like a secret in plaintext; use SECRETS_MANAGER or PARAMETER_STORE`, project.urn);
                }
            }
        }
        for (const pipeline of ofType(resources, "aws:codepipeline/pipeline:Pipeline")) {
            if (pipeline.props.pipelineType !== "V2") report(`${label(pipeline)}: must be a V2 pipeline`, pipeline.urn);
            if (list(pipeline.props.artifactStores).some((s: any) => s.encryptionKey?.type !== "KMS")) report(`${label(pipeline)}: artifact store must use our KMS key`, pipeline.urn);
        }
        for (const job of ofType(resources, "aws:glue/job:Job")) {
            if (!job.props.securityConfiguration) report(`${label(job)}: needs a security configuration`, job.urn);
            if (!(job.props.timeout > 0)) report(`${label(job)}: needs a timeout`, job.urn);
            if (job.props.maxRetries === undefined) report(`${label(job)}: set maxRetries`, job.urn);
        }
        for (const config of ofType(resources, "aws:glue/securityConfiguration:SecurityConfiguration")) {
            const e = config.props.encryptionConfiguration ?? {};
            if (list(e.s3Encryption)[0]?.s3EncryptionMode !== "SSE-KMS") report(`${label(config)}: S3 encryption must be SSE-KMS`, config.urn);
            if (e.jobBookmarksEncryption?.jobBookmarksEncryptionMode !== "CSE-KMS") report(`${label(config)}: bookmarks must be CSE-KMS`, config.urn);
            if (e.cloudwatchEncryption?.cloudwatchEncryptionMode !== "SSE-KMS") report(`${label(config)}: CloudWatch logs must be SSE-KMS`, config.urn);
        }
    }),

    policy("sagemaker-hardening", "Models are isolated; endpoint configs, capture and monitoring jobs are encrypted and isolated", (resources, report) => {
        const isServerless = (config: PolicyResource) =>
            (list(config.props.productionVariants) as any[]).every((v) => v.serverlessConfig);
        for (const model of ofType(resources, "aws:sagemaker/model:Model")) {
            // Serverless endpoints do not support network isolation (nor VPC or KMS): the exception is recorded.
            const configs = siblings(resources, model, "aws:sagemaker/endpointConfiguration:EndpointConfiguration");
            const servesServerless = configs.length > 0 && configs.every(isServerless);
            if (model.props.enableNetworkIsolation !== true && !servesServerless) report(`${label(model)}: network isolation must be on`, model.urn);
        }
        for (const config of ofType(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")) {
            const variants = list(config.props.productionVariants) as any[];
            const nvme = variants.some((v) => NVME_INSTANCE.test(v.instanceType ?? ""));
            const serverless = variants.every((v) => v.serverlessConfig);
            if (!config.props.kmsKeyArn && !nvme && !serverless) report(`${label(config)}: needs kmsKeyArn`, config.urn);
            const capture = config.props.dataCaptureConfig;
            if (capture?.enableCapture && !capture.kmsKeyId) report(`${label(config)}: data capture must be KMS-encrypted`, config.urn);
        }
        const monitoringTypes = ["aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", "aws:sagemaker/modelQualityJobDefinition:ModelQualityJobDefinition"];
        for (const job of resources.filter((r) => monitoringTypes.includes(r.type))) {
            const p = job.props;
            const output = p.dataQualityJobOutputConfig ?? p.modelQualityJobOutputConfig;
            const resourcesConfig = p.jobResources?.clusterConfig;
            if (!output?.kmsKeyId) report(`${label(job)}: outputs must be KMS-encrypted`, job.urn);
            if (!resourcesConfig?.volumeKmsKeyId) report(`${label(job)}: volumes must be KMS-encrypted`, job.urn);
            if (p.networkConfig?.enableNetworkIsolation !== true) report(`${label(job)}: network isolation must be on`, job.urn);
            if (p.networkConfig?.enableInterContainerTrafficEncryption !== true) report(`${label(job)}: inter-container traffic must be encrypted`, job.urn);
        }
        // Job definitions inside CloudFormation stacks (the data-quality job needs ContainerEntrypoint, which only
        // AWS::SageMaker::DataQualityJobDefinition offers): the same four requirements on the template.
        const cfnMonitoringTypes = ["AWS::SageMaker::DataQualityJobDefinition", "AWS::SageMaker::ModelQualityJobDefinition"];
        for (const stack of ofType(resources, "aws:cloudformation/stack:Stack")) {
            let template: any;
            try {
                template = typeof stack.props.templateBody === "string" ? JSON.parse(stack.props.templateBody) : undefined;
            } catch {
                template = undefined; // YAML or not yet known (preview): nothing to check here
            }
            for (const [id, resource] of Object.entries<any>(template?.Resources ?? {})) {
                if (!cfnMonitoringTypes.includes(resource?.Type)) continue;
                const p = resource.Properties ?? {};
                const where = `${label(stack)} ${id}`;
                const output = p.DataQualityJobOutputConfig ?? p.ModelQualityJobOutputConfig;
                if (!output?.KmsKeyId) report(`${where}: outputs must be KMS-encrypted`, stack.urn);
                if (!p.JobResources?.ClusterConfig?.VolumeKmsKeyId) report(`${where}: volumes must be KMS-encrypted`, stack.urn);
                if (p.NetworkConfig?.EnableNetworkIsolation !== true) report(`${where}: network isolation must be on`, stack.urn);
                if (p.NetworkConfig?.EnableInterContainerTrafficEncryption !== true) report(`${where}: inter-container traffic must be encrypted`, stack.urn);
            }
        }
    }),
];
