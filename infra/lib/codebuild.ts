/**
 * What every CodeBuild project of the pipeline shares (the image build, the train, evaluate and deploy steps): its
 * own log group, encrypted with the stack's key and kept for the stack's retention; a service role only CodeBuild
 * in our account may assume, holding the project's own statements; the two statements every build needs; and the
 * project body (our key, a managed image, logs to that group, the pipeline as source and artifact).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "./context";
import { policyDocument, PolicyStatement, serviceTrustPolicy } from "./policy";

/** CodeBuild's managed Ubuntu image with Node 20 and Docker ("Docker images provided by CodeBuild"). */
export const DEFAULT_BUILD_IMAGE = "aws/codebuild/standard:7.0";

/** `/aws/codebuild/<projectName>`, registered as `resourceName`. */
export function createBuildLogGroup(
    resourceName: string,
    projectName: string,
    context: StackContext,
    kmsKeyArn: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): aws.cloudwatch.LogGroup {
    return new aws.cloudwatch.LogGroup(resourceName, {
        name: `/aws/codebuild/${projectName}`,
        retentionInDays: context.logRetentionDays,
        kmsKeyId: kmsKeyArn,
    }, opts);
}

/** Write the build's own logs; read the pipeline's artifacts (the source the build runs). */
export function buildBaseStatements(logGroupArn: pulumi.Input<string>, artifactsBucketArn: pulumi.Input<string>): PolicyStatement[] {
    return [
        {
            Sid: "WriteBuildLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: pulumi.interpolate`${logGroupArn}:*`,
        },
        {
            Sid: "ReadPipelineArtifacts",
            Effect: "Allow",
            Action: ["s3:GetObject", "s3:GetObjectVersion"],
            Resource: pulumi.interpolate`${artifactsBucketArn}/*`,
        },
    ];
}

export interface BuildRoleArgs {
    /** Logical names of the role and of its inline policy. */
    readonly resourceNames: { readonly role: string; readonly policy: string };
    /** Physical role name (built with the stack's Namer, kind `iamRole`). */
    readonly roleName: string;
    readonly description: string;
    /** Everything the build may do. */
    readonly statements: PolicyStatement[];
    /**
     * The role's permissions boundary, for a build acting for another environment than the stack's.
     * @default the stack's environment's boundary (set on every role by infra/program.ts)
     */
    readonly permissionsBoundary?: pulumi.Input<string>;
}

/** A project's service role: only CodeBuild in this account may assume it; its one inline policy holds `statements`. */
export function createBuildRole(context: StackContext, args: BuildRoleArgs, opts: pulumi.CustomResourceOptions): { role: aws.iam.Role; policy: aws.iam.RolePolicy } {
    const role = new aws.iam.Role(args.resourceNames.role, {
        name: args.roleName,
        description: args.description,
        assumeRolePolicy: serviceTrustPolicy("codebuild.amazonaws.com", context.accountId),
        ...(args.permissionsBoundary !== undefined ? { permissionsBoundary: args.permissionsBoundary } : {}),
    }, opts);
    const policy = new aws.iam.RolePolicy(args.resourceNames.policy, { role: role.id, policy: policyDocument(args.statements) }, opts);
    return { role, policy };
}

/** Plain-text environment variables of a project or action, in the order given. */
export function plaintextVariables(variables: Readonly<Record<string, pulumi.Input<string>>>): aws.types.input.codebuild.ProjectEnvironmentEnvironmentVariable[] {
    return Object.entries(variables).map(([name, value]) => ({ name, value, type: "PLAINTEXT" }));
}

export interface BuildProjectArgs {
    /** Physical project name (built with the stack's Namer, kind `codebuild`). */
    readonly projectName: string;
    readonly description: string;
    readonly serviceRoleArn: pulumi.Input<string>;
    /** Encrypts the project's artifacts (and is the key of its log group). */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** Build timeout in minutes (CodeBuild allows 5 to 2160). */
    readonly timeoutMinutes: number;
    readonly buildspec: pulumi.Input<string>;
    /** The project's log group (see {@link createBuildLogGroup}). */
    readonly logGroupName: pulumi.Input<string>;
    readonly environmentVariables: aws.types.input.codebuild.ProjectEnvironmentEnvironmentVariable[];
    /**
     * CodeBuild compute type.
     * @default "BUILD_GENERAL1_SMALL"
     */
    readonly computeType?: string;
    /**
     * CodeBuild managed image.
     * @default {@link DEFAULT_BUILD_IMAGE}
     */
    readonly image?: string;
    /**
     * Docker daemon access: only a project that builds images needs it.
     * @default false
     */
    readonly privilegedMode?: boolean;
    /**
     * At most this many builds of the project at once.
     * @default undefined — no limit but the account's
     */
    readonly concurrentBuildLimit?: number;
}

/** A project run by a pipeline action: its source and artifacts are the pipeline's, its logs go to CloudWatch only. */
export function createBuildProject(resourceName: string, args: BuildProjectArgs, opts: pulumi.CustomResourceOptions): aws.codebuild.Project {
    return new aws.codebuild.Project(resourceName, {
        name: args.projectName,
        description: args.description,
        serviceRole: args.serviceRoleArn,
        encryptionKey: args.kmsKeyArn,
        buildTimeout: args.timeoutMinutes,
        queuedTimeout: 60,
        ...(args.concurrentBuildLimit !== undefined ? { concurrentBuildLimit: args.concurrentBuildLimit } : {}),
        source: { type: "CODEPIPELINE", buildspec: args.buildspec },
        artifacts: { type: "CODEPIPELINE" },
        environment: {
            type: "LINUX_CONTAINER",
            computeType: args.computeType ?? "BUILD_GENERAL1_SMALL",
            image: args.image ?? DEFAULT_BUILD_IMAGE,
            imagePullCredentialsType: "CODEBUILD",
            privilegedMode: args.privilegedMode ?? false,
            environmentVariables: args.environmentVariables,
        },
        logsConfig: {
            cloudwatchLogs: { status: "ENABLED", groupName: args.logGroupName },
            s3Logs: { status: "DISABLED" },
        },
    }, opts);
}
