import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "../lib/context";
import { policyDocument, PolicyStatement } from "../lib/policy";
import { SecureBucket } from "./secure-bucket";

/** The data buckets every stack has; each is a {@link SecureBucket} encrypted with the stack's key. */
export const DATA_BUCKETS = ["raw", "curated", "artifacts", "models", "capture"] as const;
export type DataBucketName = (typeof DATA_BUCKETS)[number];

/** The stack's key, buckets and alerts topic: what every other component is built on. */
export interface SecurityBaselineArgs {
    readonly context: StackContext;
    /** Receives every alarm and pipeline failure (an SNS e-mail subscription, confirmed by the recipient). */
    readonly alertEmail: string;
    /**
     * Days before a deleted key is destroyed.
     * @default 30 when data is protected, else 7
     */
    readonly keyDeletionWindowDays?: number;
    /**
     * Days server access logs are kept.
     * @default the stack's log retention
     */
    readonly accessLogExpirationDays?: number;
    /**
     * Statements added to the key policy, given the data buckets' ARNs (known from their names before the buckets
     * exist, which need the key first): the host's grants to consuming environments in other accounts.
     * @default none
     */
    readonly keyPolicyStatements?: (bucketArns: Readonly<Record<DataBucketName, pulumi.Output<string>>>) => PolicyStatement[];
    /**
     * Statements added to a data bucket's policy, given its ARN (after the TLS-only statement).
     * @default none
     */
    readonly bucketPolicyStatements?: Partial<Record<DataBucketName, (bucketArn: pulumi.Output<string>) => PolicyStatement[]>>;
}

export class SecurityBaseline extends pulumi.ComponentResource {
    readonly key: aws.kms.Key;
    readonly kmsKeyArn: pulumi.Output<string>;
    readonly accessLogBucket: SecureBucket;
    readonly buckets: Readonly<Record<DataBucketName, SecureBucket>>;
    readonly alertsTopic: aws.sns.Topic;
    readonly alertsTopicArn: pulumi.Output<string>;

    constructor(name: string, args: SecurityBaselineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:security:SecurityBaseline", name, args, opts);
        const parent = this;
        const { context } = args;

        this.key = createKey();
        this.kmsKeyArn = this.key.arn;
        createKeyAlias();
        this.accessLogBucket = createAccessLogBucket();
        this.buckets = createDataBuckets();
        this.alertsTopic = createAlertsTopic();
        this.alertsTopicArn = this.alertsTopic.arn;

        this.registerOutputs({
            kmsKeyArn: this.kmsKeyArn,
            alertsTopicArn: this.alertsTopicArn,
            accessLogBucket: this.accessLogBucket.name,
            ...Object.fromEntries(DATA_BUCKETS.map((b) => [`${b}Bucket`, this.buckets[b].name])),
        });

        function createKey() {
            return new aws.kms.Key(`${name}-key`, {
                description: `${context.namer.project}-${context.environment}: data, logs, topics and models`,
                enableKeyRotation: true,
                deletionWindowInDays: args.keyDeletionWindowDays ?? (context.protectData ? 30 : 7),
                policy: policyDocument([...keyPolicyStatements(context), ...(args.keyPolicyStatements?.(dataBucketArns()) ?? [])]),
            }, { parent, protect: context.protectData });
        }

        function dataBucketArns(): Record<DataBucketName, pulumi.Output<string>> {
            return Object.fromEntries(DATA_BUCKETS.map((purpose) => [purpose,
                pulumi.interpolate`arn:${context.partition}:s3:::${context.accountId.apply(context.namer.bucketName(purpose, context.region))}`,
            ])) as Record<DataBucketName, pulumi.Output<string>>;
        }

        function createKeyAlias() {
            return new aws.kms.Alias(`${name}-key-alias`, {
                name: `alias/${context.namer.name("kmsAlias")}`,
                targetKeyId: parent.key.keyId,
            }, { parent });
        }

        function createAccessLogBucket() {
            return new SecureBucket(`${name}-access-logs`, {
                context,
                purpose: "access-logs",
                protect: context.protectData,
                expirationDays: args.accessLogExpirationDays ?? context.logRetentionDays,
                policyStatements: (bucketArn) => [{
                    Sid: "AllowS3ServerAccessLogDelivery",
                    Effect: "Allow",
                    Principal: { Service: "logging.s3.amazonaws.com" },
                    Action: "s3:PutObject",
                    Resource: pulumi.interpolate`${bucketArn}/*`,
                    Condition: {
                        StringEquals: { "aws:SourceAccount": context.accountId },
                        ArnLike: { "aws:SourceArn": pulumi.interpolate`arn:${context.partition}:s3:::${context.namer.project}-${context.namer.environment}-*` },
                    },
                }],
            }, { parent });
        }

        function createDataBuckets(): Record<DataBucketName, SecureBucket> {
            const entries = DATA_BUCKETS.map((purpose) => [purpose, new SecureBucket(`${name}-${purpose}`, {
                context,
                purpose,
                kmsKeyArn: parent.key.arn,
                accessLogBucket: parent.accessLogBucket.name,
                protect: context.protectData,
                policyStatements: args.bucketPolicyStatements?.[purpose],
            }, { parent })] as const);
            return Object.fromEntries(entries) as Record<DataBucketName, SecureBucket>;
        }

        function createAlertsTopic() {
            const topic = new aws.sns.Topic(`${name}-alerts`, {
                name: context.namer.name("snsTopic", "alerts"),
                kmsMasterKeyId: parent.key.arn,
            }, { parent });
            new aws.sns.TopicPolicy(`${name}-alerts-policy`, {
                arn: topic.arn,
                policy: policyDocument([
                    {
                        Sid: "AllowAlarmsAndEventsToPublish",
                        Effect: "Allow",
                        Principal: { Service: ["cloudwatch.amazonaws.com", "events.amazonaws.com"] },
                        Action: "sns:Publish",
                        Resource: topic.arn,
                        Condition: { StringEquals: { "aws:SourceAccount": context.accountId } },
                    },
                    {
                        Sid: "DenyInsecureTransport",
                        Effect: "Deny",
                        Principal: "*",
                        Action: "sns:Publish",
                        Resource: topic.arn,
                        Condition: { Bool: { "aws:SecureTransport": false } },
                    },
                ]),
            }, { parent });
            new aws.sns.TopicSubscription(`${name}-alerts-email`, {
                topic: topic.arn,
                protocol: "email",
                endpoint: args.alertEmail,
            }, { parent });
            return topic;
        }
    }
}

/**
 * The key policy. Administration and use stay with the account's IAM policies (no bare `*` principal); the
 * services that encrypt with the key on their own behalf — CloudWatch Logs for log groups, CloudWatch alarms and
 * EventBridge for the encrypted alerts topic — get only the data-key actions they need, confined to our account.
 */
export function keyPolicyStatements(context: StackContext): PolicyStatement[] {
    const accountRoot = pulumi.interpolate`arn:${context.partition}:iam::${context.accountId}:root`;
    return [
        {
            Sid: "AccountAdministersAndUsesKeyThroughIam",
            Effect: "Allow",
            Principal: { AWS: accountRoot },
            Action: [
                "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
                "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
                "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
            ],
            // In a key policy "*" means "this key".
            Resource: "*",
        },
        {
            Sid: "AllowCloudWatchLogsForThisAccount",
            Effect: "Allow",
            Principal: { Service: `logs.${context.region}.amazonaws.com` },
            Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            Resource: "*",
            Condition: {
                ArnLike: {
                    "kms:EncryptionContext:aws:logs:arn":
                        pulumi.interpolate`arn:${context.partition}:logs:${context.region}:${context.accountId}:log-group:*`,
                },
            },
        },
        {
            Sid: "AllowAlarmsAndEventsToUseEncryptedTopics",
            Effect: "Allow",
            Principal: { Service: ["cloudwatch.amazonaws.com", "events.amazonaws.com"] },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
            Resource: "*",
            Condition: { StringEquals: { "aws:SourceAccount": context.accountId } },
        },
    ];
}
