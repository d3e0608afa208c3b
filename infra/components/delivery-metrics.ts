/**
 * Lead time on AWS, every execution: the prod deploy project records it (steps/lib/lead-time.ts) once prod serves
 * the new version. This component gives that project exactly the permissions it needs, shows the figures on a
 * dashboard and alarms when a recording failed (recording never fails a release, so a failure must be seen).
 *
 *   permissions   cloudwatch:PutMetricData only into the delivery namespace (cloudwatch:namespace condition; the
 *                 action has no resource-level permission), GetPipelineExecution and ListActionExecutions on this
 *                 pipeline, s3:PutObject under `executions/` of the artifacts bucket (SSE-KMS by the bucket default)
 *   dashboard     lead time (change → prod serving) per trigger (code, data, drift) over the last 30 days, the
 *                 stages' durations, recording failures
 *   alarm         the `DELIVERY_METRICS_FAILED` marker in the prod deploy's log group → the alerts topic
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DELIVERY_METRICS_NAMESPACE, METRICS_FAILURE_MARKER, TRIGGERS } from "../../contracts/delivery";
import { StackContext } from "../lib/context";
import { PolicyStatement, policyDocument } from "../lib/policy";
import { createAlertAlarm } from "../lib/alarms";

export interface DeliveryMetricsArgs {
    readonly context: StackContext;
    readonly pipelineName: pulumi.Input<string>;
    readonly pipelineArn: pulumi.Input<string>;
    /** The artifacts bucket: the execution summaries go to `executions/<execution id>.json`. */
    readonly artifactsBucket: { readonly name: pulumi.Input<string>; readonly arn: pulumi.Input<string> };
    /** The stack key (the artifacts bucket's default encryption key). */
    readonly kmsKeyArn: pulumi.Input<string>;
    readonly alertsTopicArn: pulumi.Input<string>;
    /** The prod deploy project's role (name) and its log group (name): who records, and where failures show. */
    readonly recorder: { readonly roleName: pulumi.Input<string>; readonly logGroupName: pulumi.Input<string> };
    /**
     * Time range the dashboard shows.
     * @default "-P30D"
     */
    readonly dashboardRange?: string;
}

/** Key prefix of the execution summaries in the artifacts bucket. */
export const EXECUTION_SUMMARY_PREFIX = "executions/";
/** The metric the log metric filter counts recording failures in. */
export const FAILURE_METRIC = "RecordingFailures";

export class DeliveryMetrics extends pulumi.ComponentResource {
    readonly dashboard: aws.cloudwatch.Dashboard;
    readonly failureAlarm: aws.cloudwatch.MetricAlarm;
    readonly recorderPolicy: aws.iam.RolePolicy;
    /** `s3://<artifacts>/executions/`: given to the recorder as EXECUTION_SUMMARY_PREFIX. */
    readonly summaryPrefix: pulumi.Output<string>;

    constructor(name: string, args: DeliveryMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:DeliveryMetrics", name, args, opts);
        const parent = this;
        const { context } = args;
        const range = args.dashboardRange ?? "-P30D";
        if (!/^-P(T?\d+[HMDW])+$/.test(range)) {
            throw new pulumi.ResourceError(`DeliveryMetrics ${name}: dashboardRange ${JSON.stringify(range)} is not a relative ISO 8601 duration such as -P30D or -PT12H`, parent);
        }
        this.summaryPrefix = pulumi.interpolate`s3://${args.artifactsBucket.name}/${EXECUTION_SUMMARY_PREFIX}`;
        this.recorderPolicy = createRecorderPolicy();
        this.failureAlarm = createFailureAlarm();
        this.dashboard = createDashboard();
        this.registerOutputs({ dashboardName: this.dashboard.dashboardName, failureAlarm: this.failureAlarm.name, summaryPrefix: this.summaryPrefix });

        function createRecorderPolicy(): aws.iam.RolePolicy {
            return new aws.iam.RolePolicy(`${name}-recorder-policy`, {
                role: args.recorder.roleName,
                policy: policyDocument(recorderStatements(args)),
            }, { parent });
        }

        function createFailureAlarm(): aws.cloudwatch.MetricAlarm {
            const filter = new aws.cloudwatch.LogMetricFilter(`${name}-failures`, {
                name: context.namer.name("alarm", "delivery-metrics-failures"),
                logGroupName: args.recorder.logGroupName,
                pattern: `"${METRICS_FAILURE_MARKER}"`,
                metricTransformation: { name: FAILURE_METRIC, namespace: DELIVERY_METRICS_NAMESPACE, value: "1", unit: "Count" },
            }, { parent });
            return createAlertAlarm(`${name}-failures-alarm`, {
                alarmName: context.namer.name("alarm", "delivery-metrics-failures"),
                description: `The prod deploy could not record an execution's lead time (${METRICS_FAILURE_MARKER} in its log); the release went on`,
                namespace: DELIVERY_METRICS_NAMESPACE,
                metricName: FAILURE_METRIC,
                statistic: "Sum",
                alertsTopicArn: args.alertsTopicArn,
                // The release went on: only the failure is news.
                notifyOk: false,
            }, { parent, dependsOn: [filter] });
        }

        function createDashboard(): aws.cloudwatch.Dashboard {
            return new aws.cloudwatch.Dashboard(`${name}-dashboard`, {
                dashboardName: context.namer.name("dashboard", "delivery"),
                dashboardBody: pulumi.output(args.pipelineName).apply((pipeline) => JSON.stringify(dashboardBody(context.region, pipeline, range))),
            }, { parent });
        }
    }
}

/** What the prod deploy needs to record an execution; nothing else. */
export function recorderStatements(args: Pick<DeliveryMetricsArgs, "pipelineArn" | "artifactsBucket" | "kmsKeyArn">): PolicyStatement[] {
    return [
        {
            Sid: "PutDeliveryMetrics",
            Effect: "Allow",
            Action: "cloudwatch:PutMetricData",
            // PutMetricData has no resource-level permission (RESOURCE_WILDCARD_ALLOWED): the namespace condition scopes it.
            Resource: "*",
            Condition: { StringEquals: { "cloudwatch:namespace": DELIVERY_METRICS_NAMESPACE } },
        },
        {
            Sid: "ReadPipelineExecution",
            Effect: "Allow",
            Action: ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"],
            Resource: args.pipelineArn,
        },
        {
            Sid: "WriteExecutionSummary",
            Effect: "Allow",
            Action: "s3:PutObject",
            Resource: pulumi.interpolate`${args.artifactsBucket.arn}/${EXECUTION_SUMMARY_PREFIX}*`,
        },
        {
            Sid: "EncryptExecutionSummary",
            Effect: "Allow",
            Action: "kms:GenerateDataKey",
            Resource: args.kmsKeyArn,
        },
    ];
}

/** CloudWatch dashboard body (the documented `widgets` JSON): one point per execution, at its serving time. */
export function dashboardBody(region: string, pipeline: string, range: string): { start: string; widgets: object[] } {
    const ns = DELIVERY_METRICS_NAMESPACE;
    return {
        start: range,
        widgets: [
            {
                type: "metric", x: 0, y: 0, width: 24, height: 8,
                properties: {
                    title: `Lead time: change → prod serving (s), ${pipeline}`,
                    region, view: "timeSeries", stat: "Maximum", period: 3600,
                    metrics: TRIGGERS.map((trigger) => [ns, "LeadTime", "Pipeline", pipeline, "Trigger", trigger, { label: trigger }]),
                    yAxis: { left: { min: 0, label: "seconds" } },
                },
            },
            {
                type: "metric", x: 0, y: 8, width: 16, height: 8,
                properties: {
                    title: "Time per stage (s)",
                    region, view: "timeSeries", stat: "Maximum", period: 3600,
                    metrics: [[{ expression: `SEARCH('{${ns},Pipeline,Trigger,Stage} MetricName="StageDuration" Pipeline="${pipeline}"', 'Maximum', 3600)`, id: "stages" }]],
                },
            },
            {
                type: "metric", x: 16, y: 8, width: 8, height: 8,
                properties: {
                    title: "Lead-time recordings that failed",
                    region, view: "singleValue", stat: "Sum", period: 86400, metrics: [[ns, FAILURE_METRIC]],
                },
            },
        ],
    };
}
