import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "../lib/aliases";
import { arnOf, StackContext } from "../lib/context";
import { policyDocument, serviceTrustPolicy } from "../lib/policy";
import { createDeadLetterQueue } from "./pipeline-function";

/**
 * What starts the delivery pipeline and what reports on it: S3's EventBridge notifications of the raw bucket, a
 * rule that starts the pipeline when the dataset object gets a new version, a rule that alerts on failed
 * executions, and the dead-letter queue (with its alarm) for the events EventBridge could not deliver. Host only.
 */
export interface DeliveryTriggersArgs {
    readonly context: StackContext;
    /** Encrypts the dead-letter queue. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** Receives failed executions and the undelivered-events alarm. */
    readonly alertsTopicArn: pulumi.Input<string>;
    /** The pipeline's physical name (failure events name the pipeline by it). */
    readonly pipelineName: pulumi.Input<string>;
    /** The pipeline the data rule starts (the rule's target). */
    readonly pipelineArn: pulumi.Input<string>;
    /** The bucket datasets land in; its EventBridge notifications are switched on here. */
    readonly rawBucketName: pulumi.Input<string>;
    /** The object whose new versions start the pipeline (the pipeline's S3 data source). */
    readonly dataObjectKey: string;
    /**
     * URN of the component that created these resources before they had a component of their own (the
     * DeliveryPipeline of the same name): each gets an alias to its URN there, so an existing stack keeps it.
     * @default undefined — no aliases (a stack created after the split)
     */
    readonly formerParent?: pulumi.Input<string>;
}

/** EventBridge's retries before an event goes to the dead-letter queue. */
const RETRY_POLICY = { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 };

export class DeliveryTriggers extends pulumi.ComponentResource {
    readonly dataLandedRule: aws.cloudwatch.EventRule;
    readonly failureRule: aws.cloudwatch.EventRule;
    /** Trigger and notification events EventBridge could not deliver. */
    readonly deadLetterQueue: aws.sqs.Queue;

    constructor(name: string, args: DeliveryTriggersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:DeliveryTriggers", name, args, opts);
        const parent = this;
        const childOpts = childOptions(parent, args.formerParent);
        const problem = objectKeyProblem(args.dataObjectKey);
        if (problem) throw new pulumi.ResourceError(`DeliveryTriggers ${name}: dataObjectKey ${problem}`, parent);

        const rawNotifications = enableRawBucketEvents(name, args, childOpts);
        this.dataLandedRule = new aws.cloudwatch.EventRule(`${name}-data-landed`, {
            name: args.context.namer.name("eventRule", "data-landed"),
            description: `Starts the delivery pipeline when s3://<raw>/${args.dataObjectKey} gets a new version`,
            eventPattern: pulumi.jsonStringify({
                source: ["aws.s3"],
                "detail-type": ["Object Created"],
                detail: { bucket: { name: [args.rawBucketName] }, object: { key: [args.dataObjectKey] } },
            }),
        }, { ...childOpts, dependsOn: [rawNotifications] });
        this.failureRule = new aws.cloudwatch.EventRule(`${name}-failed`, {
            name: args.context.namer.name("eventRule", "pipeline-failed"),
            description: "Alerts when a delivery pipeline execution fails (a rejected candidate fails the Dev stage too)",
            eventPattern: pulumi.jsonStringify({
                source: ["aws.codepipeline"],
                "detail-type": ["CodePipeline Pipeline Execution State Change"],
                detail: { pipeline: [args.pipelineName], state: ["FAILED"] },
            }),
        }, childOpts);
        this.deadLetterQueue = createDeadLetterQueue(`${name}-events-dlq`, {
            context: args.context,
            kmsKeyArn: args.kmsKeyArn,
            queueName: args.context.namer.name("sqsQueue", "delivery-events-dlq"),
            senders: [
                { principal: "events.amazonaws.com", sourceArn: this.dataLandedRule.arn },
                { principal: "events.amazonaws.com", sourceArn: this.failureRule.arn },
            ],
            alarm: {
                alarmName: args.context.namer.name("alarm", "delivery-events-undelivered"),
                description: "EventBridge could not start the pipeline or deliver a failure alert: see the dead-letter queue",
                alertsTopicArn: args.alertsTopicArn,
            },
        }, childOpts);
        startPipelineOnNewData(name, args, this.dataLandedRule, this.deadLetterQueue, childOpts);
        alertOnFailure(name, args, this.failureRule, this.deadLetterQueue, childOpts);

        this.registerOutputs({
            dataLandedRuleArn: this.dataLandedRule.arn,
            failureRuleArn: this.failureRule.arn,
            deadLetterQueueArn: this.deadLetterQueue.arn,
            rawBucketNotification: rawNotifications.id,
        });
    }
}

/**
 * Why `key` cannot be an S3 object key of the pipeline's sources, or undefined when it can: letters, digits, '.',
 * '_', '-' and '/' separators, without leading or trailing '/'.
 */
export function objectKeyProblem(key: string): string | undefined {
    return /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(key) ? undefined
        : `${JSON.stringify(key)} is invalid; expected an object key of letters, digits, '.', '_', '-' and '/' separators, without leading or trailing '/', e.g. incoming/churn.csv`;
}

/**
 * S3 delivers the raw bucket's events to EventBridge only with this switched on. A bucket has a single
 * notification configuration: this is the only place in the program that sets the raw bucket's.
 */
function enableRawBucketEvents(name: string, args: DeliveryTriggersArgs, opts: pulumi.CustomResourceOptions) {
    return new aws.s3.BucketNotification(`${name}-raw-events`, { bucket: args.rawBucketName, eventbridge: true }, opts);
}

function startPipelineOnNewData(name: string, args: DeliveryTriggersArgs, rule: aws.cloudwatch.EventRule, deadLetterQueue: aws.sqs.Queue,
    opts: pulumi.CustomResourceOptions) {
    const { context } = args;
    const role = new aws.iam.Role(`${name}-start-role`, {
        name: context.namer.name("iamRole", "pipeline-start"),
        description: "Lets EventBridge start the delivery pipeline when a dataset lands",
        assumeRolePolicy: serviceTrustPolicy("events.amazonaws.com", context.accountId),
    }, opts);
    new aws.iam.RolePolicy(`${name}-start-role-policy`, {
        role: role.id,
        policy: policyDocument([{
            Sid: "StartThisPipelineOnly",
            Effect: "Allow",
            Action: "codepipeline:StartPipelineExecution",
            Resource: arnOf(context, "codepipeline", args.pipelineName),
        }]),
    }, opts);
    new aws.cloudwatch.EventTarget(`${name}-data-landed-target`, {
        rule: rule.name,
        arn: args.pipelineArn,
        roleArn: role.arn,
        retryPolicy: RETRY_POLICY,
        deadLetterConfig: { arn: deadLetterQueue.arn },
    }, opts);
}

function alertOnFailure(name: string, args: DeliveryTriggersArgs, rule: aws.cloudwatch.EventRule, deadLetterQueue: aws.sqs.Queue,
    opts: pulumi.CustomResourceOptions) {
    new aws.cloudwatch.EventTarget(`${name}-failed-alert`, {
        rule: rule.name,
        arn: args.alertsTopicArn,
        inputTransformer: {
            inputPaths: { pipeline: "$.detail.pipeline", execution: "$.detail.execution-id" },
            inputTemplate: "\"Delivery pipeline <pipeline> execution <execution> FAILED. A rejected candidate " +
                "fails the Dev stage by design; open the execution to see which action failed and why.\"",
        },
        retryPolicy: RETRY_POLICY,
        deadLetterConfig: { arn: deadLetterQueue.arn },
    }, opts);
}
