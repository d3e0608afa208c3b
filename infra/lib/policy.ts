/**
 * IAM / resource policy documents as plain typed objects. Building JSON directly (rather than through the
 * getPolicyDocument data source) keeps policies readable in tests and needs no provider call.
 */
import * as pulumi from "@pulumi/pulumi";

export type Principal =
    | { Service: string | string[] }
    | { AWS: pulumi.Input<string> | pulumi.Input<string>[] }
    | { Federated: pulumi.Input<string> };

export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: Principal | "*";
    Action: string | string[];
    Resource?: pulumi.Input<string> | pulumi.Input<string>[];
    Condition?: Record<string, Record<string, pulumi.Input<string> | pulumi.Input<string>[] | boolean>>;
}

/**
 * A Deny of everything but `NotAction` (or on everything but `NotResource`): how a permissions boundary carves one
 * exception out of a denial. Only ever a Deny: an Allow with NotAction grants every other action.
 */
export interface DenyExceptStatement {
    Sid?: string;
    Effect: "Deny";
    Action?: string[];
    NotAction?: string[];
    Resource?: pulumi.Input<string> | pulumi.Input<string>[];
    NotResource?: pulumi.Input<string>[];
    Condition?: PolicyStatement["Condition"];
}

/** A policy document JSON string; nested Outputs are resolved. */
export function policyDocument(statements: (PolicyStatement | DenyExceptStatement)[]): pulumi.Output<string> {
    return pulumi.jsonStringify(pulumi.output({ Version: "2012-10-17", Statement: statements }));
}

/** Trust policy letting one AWS service assume a role, confined to our account. */
export function serviceTrustPolicy(service: string, accountId: pulumi.Input<string>): pulumi.Output<string> {
    return policyDocument([
        {
            Effect: "Allow",
            Principal: { Service: service },
            Action: "sts:AssumeRole",
            Condition: { StringEquals: { "aws:SourceAccount": accountId } },
        },
    ]);
}

/** Denies any request to the bucket or its objects that is not made over TLS. */
export function denyInsecureTransport(bucketArn: pulumi.Input<string>): PolicyStatement {
    return {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, pulumi.interpolate`${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": false } },
    };
}

/** Logging in to ECR (image pulls and pushes need the token first). */
export function ecrLoginStatement(): PolicyStatement {
    return {
        Sid: "EcrLogin",
        Effect: "Allow",
        Action: "ecr:GetAuthorizationToken",
        // GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
        Resource: "*",
    };
}

/** Listing a registry group's versions (the steps filter by group themselves). */
export function listModelPackagesStatement(): PolicyStatement {
    return {
        Sid: "ListModelVersions",
        Effect: "Allow",
        Action: "sagemaker:ListModelPackages",
        // List actions have no resource-level permissions in SageMaker ("*" only); the step filters by group.
        Resource: "*",
    };
}

/** Writing a SageMaker job family's logs (`/aws/sagemaker/TrainingJobs`, `/aws/sagemaker/ProcessingJobs`). */
export function sagemakerJobLogsStatement(sid: string, logGroupArn: pulumi.Input<string>): PolicyStatement {
    return {
        Sid: sid,
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        Resource: pulumi.interpolate`${logGroupArn}:*`,
    };
}
