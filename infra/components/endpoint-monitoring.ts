/**
 * What the ModelEndpoint watches: the CloudWatch metrics SageMaker publishes for an endpoint variant, the alarm
 * thresholds derived from config, and the dashboard body. Pure functions, so the numbers are tested directly.
 */

/** SageMaker's invocation metrics (errors, latency, invocations). */
export const INVOCATION_NAMESPACE = "AWS/SageMaker";
/** Per-instance utilization of instance-backed endpoints. */
export const INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints";

/** ModelLatency and OverheadLatency are reported in microseconds. */
export function millisecondsToMicroseconds(ms: number): number {
    return Math.round(ms * 1000);
}

/**
 * vCPUs of a SageMaker instance type, from its size: CPUUtilization is the sum over all cores (0–100 × vCPUs), so
 * a utilization threshold must scale with the core count. `large` = 2, `xlarge` = 4, `<n>xlarge` = 4n holds for
 * the general-purpose, compute and memory families SageMaker hosts; `medium` is 2 (ml.t2.medium).
 */
export function vcpuCount(instanceType: string): number {
    const size = instanceType.split(".")[2] ?? "";
    if (size === "medium" || size === "large") return 2;
    if (size === "xlarge") return 4;
    const multiple = /^(\d+)xlarge$/.exec(size);
    if (multiple) return 4 * Number(multiple[1]);
    throw new Error(`cannot tell the vCPU count of instance type ${instanceType}; expected a size such as large, xlarge or 2xlarge`);
}

export interface DashboardArgs {
    readonly region: string;
    readonly endpointName: string;
    readonly variantName: string;
    readonly serverless: boolean;
    /** Alarm thresholds drawn as horizontal lines. */
    readonly modelLatencyP99Ms: number;
    readonly invocation5xxErrors: number;
}

type Metric = (string | Record<string, unknown>)[];

/**
 * The endpoint's dashboard: invocations, 4XX/5XX, model latency, CPU/memory and instance count (instance
 * endpoints), or cold-start setup time (serverless, which reports no instance metrics).
 */
export function dashboardBody(args: DashboardArgs): string {
    const dims = ["EndpointName", args.endpointName, "VariantName", args.variantName];
    const invocation = (metric: string, stat: string, label?: string): Metric =>
        [INVOCATION_NAMESPACE, metric, ...dims, { stat, ...(label ? { label } : {}) }];
    const instance = (metric: string, stat: string, label?: string): Metric =>
        [INSTANCE_NAMESPACE, metric, ...dims, { stat, ...(label ? { label } : {}) }];
    let y = 0;
    const widget = (title: string, metrics: Metric[], extra: Record<string, unknown> = {}) => {
        const w = {
            type: "metric",
            x: 0,
            y,
            width: 24,
            height: 6,
            properties: { title, region: args.region, view: "timeSeries", stacked: false, period: 60, metrics, ...extra },
        };
        y += 6;
        return w;
    };
    const widgets = [
        widget("Invocations", [invocation("Invocations", "Sum"), ...(args.serverless ? [] : [invocation("InvocationsPerInstance", "Sum")])]),
        widget("Errors (4XX, 5XX)", [invocation("Invocation4XXErrors", "Sum"), invocation("Invocation5XXErrors", "Sum")], {
            annotations: { horizontal: [{ label: "5XX rollback threshold", value: args.invocation5xxErrors }] },
        }),
        widget("Model latency (µs)", [
            invocation("ModelLatency", "p50"), invocation("ModelLatency", "p99"), invocation("OverheadLatency", "p99"),
        ], {
            annotations: { horizontal: [{ label: "p99 rollback threshold", value: millisecondsToMicroseconds(args.modelLatencyP99Ms) }] },
        }),
        ...(args.serverless
            ? [widget("Cold starts: model setup time (µs)", [invocation("ModelSetupTime", "p99")])]
            : [
                widget("CPU and memory utilization (%)", [instance("CPUUtilization", "Average"), instance("MemoryUtilization", "Average")]),
                // SageMaker publishes no instance-count metric; each instance reports CPUUtilization once a minute,
                // so the per-minute sample count is the number of running instances.
                widget("Instance count", [instance("CPUUtilization", "SampleCount", "instances")]),
            ]),
    ];
    return JSON.stringify({ widgets });
}
