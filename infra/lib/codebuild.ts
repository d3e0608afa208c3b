/**
 * What every CodeBuild project of the pipeline shares (the train, evaluate and deploy steps): its own log group,
 * encrypted with the stack's key and kept for the stack's retention, and the two statements every build needs.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "./context";
import { PolicyStatement } from "./policy";

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
