/**
 * The one kind of alarm the program raises to the alerts topic: "it happened at least once in five minutes" (an
 * error, a dead letter, a failed recording). A missing datapoint means nothing happened, so it is not breaching.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface AlertAlarmArgs {
    /** Physical name (built with the stack's Namer, kind `alarm`). */
    readonly alarmName: string;
    /** What happened and where to look. */
    readonly description: string;
    readonly namespace: string;
    readonly metricName: string;
    /** @default undefined — the metric has no dimensions */
    readonly dimensions?: Record<string, pulumi.Input<string>>;
    /** How the five minutes' datapoints combine: `Sum` of counts, `Maximum` of a gauge. */
    readonly statistic: "Sum" | "Maximum";
    readonly alertsTopicArn: pulumi.Input<string>;
    /**
     * Tell the topic when the alarm clears too.
     * @default true
     */
    readonly notifyOk?: boolean;
}

/** `name`: an alarm to the alerts topic as soon as the metric reaches 1 in a five-minute period. */
export function createAlertAlarm(name: string, args: AlertAlarmArgs, opts: pulumi.CustomResourceOptions): aws.cloudwatch.MetricAlarm {
    return new aws.cloudwatch.MetricAlarm(name, {
        name: args.alarmName,
        alarmDescription: args.description,
        namespace: args.namespace,
        metricName: args.metricName,
        ...(args.dimensions !== undefined ? { dimensions: args.dimensions } : {}),
        statistic: args.statistic,
        period: 300,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [args.alertsTopicArn],
        ...(args.notifyOk ?? true ? { okActions: [args.alertsTopicArn] } : {}),
    }, opts);
}
