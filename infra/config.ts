/**
 * The only reader of Pulumi config. Every `mlops:*` key is parsed into one typed, validated object before any
 * resource is registered; components receive slices of it as typed args and never read config themselves.
 *
 * Dev and prod differ only through their stack files (`Pulumi.<stack>.yaml`); a new environment is a new
 * stack file, not code.
 */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { evaluationSchema, percent, positiveInt, sagemakerInstanceType, share, trainingSchema } from "../contracts/config-sections";

export const PROJECT = "mlops";

/**
 * Environments the program knows. Rules marked "prod" below apply to `prod` only. `platform` is the host: the stack
 * that holds what exists once per project (pipeline, deploy projects, registry, image repository, ETL, training
 * and evaluation steps); it serves nothing. Every other environment serves and reads the platform through
 * `hostStack` (docs/delivery.md, "Who may deploy what"). `review` is the kind of the short-lived stacks Pulumi
 * Deployments creates for pull requests (see {@link REVIEW_DEFAULTS}).
 */
export const ENVIRONMENTS = ["platform", "dev", "staging", "prod", "review"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
/** The host environment: its own name prefix (`<project>-platform-`), so no environment's deployer can reach it. */
export const HOST_ENVIRONMENT = "platform";

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const awsRegion = z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: "expected an AWS region such as us-east-1" });
const arn = (service: string) =>
    z.string().regex(new RegExp(`^arn:aws[a-z-]*:(?:${service}):`), { message: `expected an ARN of service ${service}` });

const dataCaptureSchema = z.strictObject({
    enabled: z.boolean().default(false),
    samplingPercentage: percent.default(100),
    /** Content types recorded as CSV / JSON text rather than base64. */
    csvContentTypes: z.array(z.string()).default(["text/csv"]),
    jsonContentTypes: z.array(z.string()).default(["application/json"]),
});

const autoscalingSchema = z.strictObject({
    enabled: z.boolean().default(false),
    minCapacity: positiveInt.default(1),
    maxCapacity: positiveInt.default(1),
    targetInvocationsPerInstance: z.number().positive().default(1000),
    scaleInCooldownSeconds: z.number().int().min(0).default(300),
    scaleOutCooldownSeconds: z.number().int().min(0).default(60),
});

/**
 * How long `pulumi up` waits for an endpoint to be InService after CreateEndpoint/UpdateEndpoint: the provider
 * (terraform-provider-aws internal/service/sagemaker/endpoint.go) uses the SDK's EndpointInService waiter, 30 s
 * between checks, at most 120 checks (botocore sagemaker waiters-2.json). A blue/green rollout allowed to run
 * longer fails `pulumi up` while SageMaker carries on.
 */
export const PROVIDER_ENDPOINT_WAIT_SECONDS = 30 * 120;
/** Time a blue/green rollout needs besides its waits: provisioning the green fleet and shifting traffic. */
export const ROLLOUT_PROVISIONING_SECONDS = 900;

const deploymentSchema = z.strictObject({
    /** Blue/green traffic shifting. `all-at-once` still deploys blue/green, but shifts all traffic in one step. */
    strategy: z.enum(["canary", "linear", "all-at-once"]).default("all-at-once"),
    canarySizePercent: z.number().int().min(1).max(50).default(10),
    linearStepPercent: z.number().int().min(1).max(50).default(20),
    waitIntervalSeconds: z.number().int().min(0).max(3600).default(300),
    terminationWaitSeconds: z.number().int().min(0).max(3600).default(300),
    maximumExecutionTimeoutSeconds: z.number().int().min(600).max(28800).default(3600),
});

const endpointAlarmsSchema = z.strictObject({
    /** Rollback when the p99 model latency (ms) exceeds this. */
    modelLatencyP99Ms: z.number().positive().default(200),
    /** Rollback when 5XX errors in one minute exceed this count. */
    invocation5xxErrors: z.number().int().min(0).default(5),
    evaluationPeriods: z.number().int().min(1).default(2),
});

const endpointSchema = z.strictObject({
    /** `serverless` costs nothing when idle (dev); `instances` is required for capture-heavy, autoscaled prod. */
    kind: z.enum(["serverless", "instances"]),
    instanceType: sagemakerInstanceType.default("ml.m5.large"),
    instanceCount: positiveInt.default(1),
    serverlessMemoryMb: z
        .number()
        .int()
        .refine((v) => v >= 1024 && v <= 6144 && v % 1024 === 0, {
            message: "expected one of 1024, 2048, 3072, 4096, 5120, 6144",
        })
        .default(2048),
    serverlessMaxConcurrency: z.number().int().min(1).max(200).default(5),
    dataCapture: dataCaptureSchema.prefault({}),
    autoscaling: autoscalingSchema.prefault({}),
    deployment: deploymentSchema.prefault({}),
    alarms: endpointAlarmsSchema.prefault({}),
});

const etlSchema = z.strictObject({
    workerType: z.enum(["G.1X", "G.2X", "G.4X", "G.8X"]).default("G.1X"),
    numberOfWorkers: z.number().int().min(2).max(299).default(2),
    timeoutMinutes: z.number().int().min(1).max(2880).default(60),
    maxRetries: z.number().int().min(0).max(10).default(1),
    /** Platform ceiling on the quarantined share; a dataset schema's `quality.maxQuarantineShare` may only lower it
     * (docs/contracts.md §1, "Who sets the quality limits"). */
    maxQuarantineShare: share.default(0.05),
    /** Platform floor of usable rows; a dataset schema's `quality.minRows` may only raise it. 100 is the documented
     * small minimum any dataset can use with no edits. */
    minRows: positiveInt.default(100),
    /**
     * Part files of the train split (`--train-shards`): the most instances a training job can use, since each
     * instance of a multi-instance job trains on its own files (S3 ShardedByS3Key).
     */
    trainShards: z.number().int().min(1).max(1000).default(1),
});

const monitoringSchema = z.strictObject({
    enabled: z.boolean().default(false),
    scheduleExpression: z
        .string()
        .regex(/^cron\(.+\)$/, { message: "expected a cron(...) expression, e.g. cron(0 * ? * * *)" })
        .default("cron(0 * ? * * *)"),
    instanceType: sagemakerInstanceType.default("ml.m5.large"),
    maxRuntimeSeconds: z.number().int().min(60).max(3600).default(3600),
    /**
     * Allowed false-alarm rate of the drift rule per monitoring window (family-wise over the features, Holm):
     * monitor/drift_checker/drift_rule.py. 0.01 with hourly windows is about one false alarm in 100 hours.
     */
    driftAlpha: z.number().gt(0).lt(1).default(0.01),
    /** Windows with fewer captured requests get the verdict `insufficient data`, never a drift alarm. */
    driftMinWindow: z.number().int().min(1).max(1_000_000).default(100),
    /** A retrain started within this many hours suppresses another one. */
    retrainCooldownHours: z.number().min(0).max(720).default(24),
    modelQuality: z
        .strictObject({
            enabled: z.boolean().default(false),
            labelsPrefix: z.string().default("ground-truth/"),
            minRocAuc: share.default(0.7),
        })
        .prefault({}),
});

const sourceSchema = z.strictObject({
    /** GitHub repository `owner/name` the pipeline builds from. */
    repository: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { message: "expected owner/name" }),
    branch: z.string().min(1).default("main"),
    /** A CodeStar connection to GitHub; without one the pipeline is triggered only by data landing in S3. */
    connectionArn: arn("codestar-connections|codeconnections").optional(),
});

const deploymentsSchema = z.strictObject({
    enabled: z.boolean().default(false),
    organization: z.string().min(1).optional(),
    repository: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { message: "expected owner/name" }).optional(),
    branch: z.string().min(1).default("main"),
    previewPullRequests: z.boolean().default(true),
    deployCommits: z.boolean().default(false),
    /** Cron for drift detection runs (`pulumi refresh --preview-only` on a schedule). */
    driftScheduleCron: z.string().optional(),
    /**
     * Review stacks for pull requests against {@link branch}: this stack registers the Deployments settings of the
     * review stack template `templateStack` (whose stack file every review stack gets a copy of) and the role the
     * review stacks' deployments assume. infra/components/review-stacks.ts.
     */
    reviewStacks: z
        .strictObject({
            /** The template stack (Pulumi's convention: `pr`); its `Pulumi.<templateStack>.yaml` is what review stacks get. */
            templateStack: z.string().regex(/^[\w.-]+$/, { message: "expected a stack name (letters, digits, '-', '_', '.')" }).default("pr"),
            /**
             * IAM `StringLike` pattern of the review stacks' names, matched against the stack in the OIDC subject.
             * Pulumi Cloud names review stacks itself; the prefix observed is `pr-pulumi-<org>-<project>-`
             * (pulumi-pequod/component-stackmgmt stackSettingsUtils.ts recognises them by it).
             * @default `pr-pulumi-<organization>-*`
             */
            stackNamePattern: z.string().regex(/^[\w.*?-]+$/, { message: "expected a stack name pattern (letters, digits, '-', '_', '.', '*', '?')" }).optional(),
        })
        .optional(),
});

/**
 * A review stack (`environment: review`): what it is created with unless its stack file says otherwise, so a review
 * stack is cheap with nothing in the template but its identity: a serverless endpoint of the smallest size, the
 * smallest Glue capacity, no monitoring schedule, the shortest log retention and no deletion protection.
 */
export const REVIEW_DEFAULTS = {
    endpoint: { kind: "serverless", serverlessMemoryMb: 1024, serverlessMaxConcurrency: 1 },
    monitoring: { enabled: false },
    logRetentionDays: 1,
    protectData: false,
} as const;

const reviewSchema = z.strictObject({
    /**
     * Hours after the stack's first deployment at which Pulumi Deployments destroys it (a TTL schedule), whether or
     * not its pull request is still open. At most 30 days. 0 = no TTL schedule: for review stacks a CI job creates
     * and destroys itself (scripts/review-stack.ts), where no Pulumi TTL schedule is available.
     */
    ttlHours: z.number().int().min(0).max(720).default(48),
});

/**
 * Resources that exist once per AWS account under a fixed name, which no stack owns by default: SageMaker's log
 * groups (every training and processing job of the account writes there, and SageMaker creates them on first
 * use, so a stack creating them fails where a job has run before and `pulumi destroy` would delete the account's
 * logs) and Pulumi Cloud's OIDC provider (one per account and URL). docs/delivery.md's bootstrap sets them up;
 * set a key to true only in the one stack that should own the resource (import it first if it already exists).
 */
const accountResourcesSchema = z.strictObject({
    /** Own `/aws/sagemaker/TrainingJobs` (host stack only): its retention and key. */
    trainingJobsLogGroup: z.boolean().default(false),
    /** Own `/aws/sagemaker/ProcessingJobs` (a stack with monitoring): its retention and key. */
    processingJobsLogGroup: z.boolean().default(false),
    /** Create Pulumi Cloud's OIDC identity provider (host stack only); otherwise refer to the existing one. */
    pulumiOidcProvider: z.boolean().default(false),
});

/** An AWS account id: exactly 12 digits (IAM's account identifiers). */
const awsAccountId = z
    .string({ error: "expected a 12-digit AWS account id as a quoted string (a YAML number loses leading zeros)" })
    .regex(/^\d{12}$/, { message: "expected a 12-digit AWS account id" });

/**
 * Host only: the AWS account of each consuming environment that does not run in the host's account, e.g.
 * `{ prod: "222222222222" }` for AWS's recommended layout of a production account of its own. For each one the host
 * adds resource policies (model package group, image repository, models and curated buckets, its key) admitting
 * exactly that environment's roles that read them (infra/lib/cross-account.ts, docs/cross-account.md).
 * @default {} — every environment runs in the host's account; no resource policy is added
 */
const consumerAccountsSchema = z.partialRecord(z.enum(ENVIRONMENTS), awsAccountId);

const vpcSchema = z.strictObject({
    subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, { message: "expected subnet-…" })).min(1),
    securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, { message: "expected sg-…" })).min(1),
});

/** Raw shape of the `mlops:*` keys (after JSON decoding, before cross-field rules). */
const configSchema = z
    .strictObject({
        environment: z.enum(ENVIRONMENTS),
        owner: z.string().min(1),
        alertEmail: z.email({ message: "expected an e-mail address such as ml-platform@example.com" }),
        /**
         * Stack (`org/project/stack`) that hosts the shared resources (the platform); absent = this stack is the host,
         * which only the `platform` environment may be.
         */
        hostStack: z.string().regex(/^[\w.-]+\/[\w.-]+\/[\w.-]+$/, { message: "expected org/project/stack" }).optional(),
        protectData: z.boolean().optional(),
        logRetentionDays: z
            .number()
            .refine((v) => (LOG_RETENTION_DAYS as readonly number[]).includes(v), {
                message: `expected one of ${LOG_RETENTION_DAYS.join(", ")}`,
            })
            .default(30),
        modelName: z
            .string()
            .regex(/^[a-z][a-z0-9-]{0,23}$/, { message: "expected 1-24 lowercase letters, digits or '-'" })
            .default("churn"),
        /** Pins the served model version (rollback = pin the previous one). */
        modelPackageArn: arn("sagemaker").optional(),
        /** Which registry version serves when nothing is pinned. */
        modelVersionPolicy: z.enum(["latest-approved", "latest-candidate"]).default("latest-approved"),
        /** Required in every serving environment; the platform (host) serves nothing and must not set it. */
        endpoint: endpointSchema.optional(),
        etl: etlSchema.prefault({}),
        training: trainingSchema.prefault({}),
        evaluation: evaluationSchema.prefault({}),
        monitoring: monitoringSchema.prefault({}),
        source: sourceSchema.optional(),
        deployments: deploymentsSchema.prefault({}),
        /** Review stacks only (`environment: review`): their lifetime. */
        review: reviewSchema.optional(),
        vpc: vpcSchema.optional(),
        accountResources: accountResourcesSchema.prefault({}),
        consumerAccounts: consumerAccountsSchema.default({}),
        /**
         * Consuming stacks only: the host stack's AWS account when this environment runs in another one (the host
         * lists this environment in its `consumerAccounts`). The registry is then addressed by ARN, since SageMaker
         * resolves a bare group name in the caller's account.
         * @default undefined — same account as the host
         */
        hostAccount: awsAccountId.optional(),
        /**
         * Host only: the environments whose permissions boundaries this host creates (one managed policy each, plus
         * the host's own; infra/components/permissions-boundary.ts). Every other stack's roles name their
         * environment's boundary, so it must be listed here and the host deployed first.
         * @default every environment the program knows (ENVIRONMENTS): a new environment needs no change here
         */
        permissionsBoundaries: z.strictObject({
            environments: z.array(z.enum(ENVIRONMENTS)).min(1).optional(),
        }).prefault({}),
        /**
         * Reserve Lambda concurrency (the retrain trigger 1, the ETL trigger 2). Off by default: an account may reserve
         * only down to 100 unreserved, so a new account (quota 10) refuses any reservation; turn on where the quota allows.
         */
        lambdaReservedConcurrency: z.boolean().default(false),
        ecrKeepTaggedImages: z.number().int().min(1).max(1000).default(20),
        /**
         * The image stage fails when ECR's scan-on-push reports a finding at this severity or above (ECR's
         * FindingSeverity values; NONE never fails). An existing image is held to the same rule on every run.
         */
        imageScanFailOnSeverity: z.enum(["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED", "NONE"]).default("CRITICAL"),
    })
    .superRefine((c, ctx) => {
        const add = (path: (string | number)[], input: unknown, message: string) =>
            ctx.addIssue({ code: "custom", path, input, message });
        // The shard count is known here only where this stack runs the ETL; otherwise the train step checks the
        // ETL run's manifest before starting a job.
        if (c.hostStack === undefined && c.training.instanceCount > c.etl.trainShards) {
            add(["training", "instanceCount"], c.training.instanceCount,
                `must be <= etl.trainShards (${c.etl.trainShards}): each training instance trains on its own train part files; ` +
                `raise etl.trainShards to at least ${c.training.instanceCount}`);
        }
        if (c.deployments.enabled) {
            if (!c.deployments.organization) add(["deployments", "organization"], undefined, "required when deployments.enabled is true");
            if (!c.deployments.repository) add(["deployments", "repository"], undefined, "required when deployments.enabled is true");
        }
        for (const key of ["trainingJobsLogGroup", "pulumiOidcProvider"] as const) {
            if (c.accountResources[key] && c.hostStack !== undefined) {
                add(["accountResources", key], true, "only the host stack (no hostStack) may own this account-wide resource");
            }
        }
        if (c.accountResources.processingJobsLogGroup && !c.monitoring.enabled) {
            add(["accountResources", "processingJobsLogGroup"], true, "only a stack with monitoring.enabled runs processing jobs");
        }
        if (c.hostAccount !== undefined && c.hostStack === undefined) {
            add(["hostAccount"], c.hostAccount, "only a consuming stack (with hostStack) reads a host in another account; the host lists its consumers in consumerAccounts");
        }
        for (const [environment, accountId] of Object.entries(c.consumerAccounts)) {
            if (c.hostStack !== undefined) {
                add(["consumerAccounts", environment], accountId,
                    "only the host stack (no hostStack) grants other accounts access to its shared resources; set it in the host's stack file");
            } else if (environment === c.environment) {
                add(["consumerAccounts", environment], accountId,
                    "the host's own environment runs in the host's account; list only the environments that read the host's resources");
            } else if (environment === "review") {
                // The grants name the consumer's roles by the naming rules (infra/lib/cross-account.ts); a review
                // stack's names carry its own stack's segment, so a grant for `review` would admit no role at all.
                add(["consumerAccounts", environment], accountId,
                    "review stacks name their roles after their own stack, so the host cannot derive them; run review stacks in the host's account");
            }
        }
        const boundaries = c.permissionsBoundaries.environments;
        if (boundaries !== undefined && c.hostStack !== undefined) {
            add(["permissionsBoundaries", "environments"], boundaries,
                "only the host stack (no hostStack) creates permissions boundaries; remove the key from this stack file");
        }
        if (boundaries !== undefined && new Set(boundaries).size !== boundaries.length) {
            add(["permissionsBoundaries", "environments"], boundaries, "lists an environment twice; list each once");
        }
        const isHost = c.hostStack === undefined;
        if (isHost !== (c.environment === HOST_ENVIRONMENT)) {
            add(isHost ? ["hostStack"] : ["environment"], isHost ? undefined : c.environment, isHost
                ? `required in the ${c.environment} stack: only the ${HOST_ENVIRONMENT} stack hosts the shared resources; ` +
                  `set hostStack to <org>/<project>/${HOST_ENVIRONMENT}`
                : `the ${HOST_ENVIRONMENT} environment is the host and reads no other stack; remove hostStack`);
        }
        if (c.environment === HOST_ENVIRONMENT) {
            if (c.endpoint !== undefined) add(["endpoint"], c.endpoint.kind, `the ${HOST_ENVIRONMENT} stack serves nothing; remove endpoint (serving settings belong in each environment's stack file)`);
            if (c.monitoring.enabled) add(["monitoring", "enabled"], true, `the ${HOST_ENVIRONMENT} stack serves nothing to monitor; enable monitoring in an environment's stack file`);
            return;
        }
        if (c.endpoint === undefined) {
            add(["endpoint"], undefined, "missing required key (expected an object with kind: serverless or instances)");
            return;
        }
        const ep = c.endpoint;
        if (ep.autoscaling.maxCapacity < ep.autoscaling.minCapacity) {
            add(["endpoint", "autoscaling", "maxCapacity"], ep.autoscaling.maxCapacity,
                `must be >= endpoint.autoscaling.minCapacity (${ep.autoscaling.minCapacity})`);
        }
        if (c.environment === "prod") {
            if (ep.kind !== "instances") {
                add(["endpoint", "kind"], ep.kind, "prod must serve from instances (\"instances\"): serverless has no data capture SLA, autoscaling or blue/green");
            } else if (ep.instanceCount < 2) {
                add(["endpoint", "instanceCount"], ep.instanceCount, "prod needs at least 2 instances for availability");
            }
            if (ep.autoscaling.enabled && ep.autoscaling.minCapacity < 2) {
                add(["endpoint", "autoscaling", "minCapacity"], ep.autoscaling.minCapacity, "prod autoscaling must keep at least 2 instances");
            }
            if (c.logRetentionDays < 365) {
                add(["logRetentionDays"], c.logRetentionDays, "prod keeps logs at least 365 days");
            }
        }
        if (ep.autoscaling.enabled && ep.kind === "instances" &&
            (ep.instanceCount < ep.autoscaling.minCapacity || ep.instanceCount > ep.autoscaling.maxCapacity)) {
            add(["endpoint", "instanceCount"], ep.instanceCount,
                `must lie within endpoint.autoscaling [minCapacity, maxCapacity] = [${ep.autoscaling.minCapacity}, ${ep.autoscaling.maxCapacity}]`);
        }
        const d = ep.deployment;
        if (d.maximumExecutionTimeoutSeconds > PROVIDER_ENDPOINT_WAIT_SECONDS) {
            add(["endpoint", "deployment", "maximumExecutionTimeoutSeconds"], d.maximumExecutionTimeoutSeconds,
                `must be <= ${PROVIDER_ENDPOINT_WAIT_SECONDS}: pulumi up waits at most that long for the endpoint (the provider's InService waiter)`);
        }
        const steps = d.strategy === "linear" ? Math.ceil(100 / d.linearStepPercent) : d.strategy === "canary" ? 1 : 0;
        const rollout = steps * d.waitIntervalSeconds + d.terminationWaitSeconds + ROLLOUT_PROVISIONING_SECONDS;
        if (ep.kind === "instances" && rollout > d.maximumExecutionTimeoutSeconds) {
            add(["endpoint", "deployment"], d.strategy,
                `a ${d.strategy} rollout takes about ${rollout} s (${steps} wait(s) of ${d.waitIntervalSeconds} s, termination wait ` +
                `${d.terminationWaitSeconds} s, ${ROLLOUT_PROVISIONING_SECONDS} s to provision), over maximumExecutionTimeoutSeconds ` +
                `(${d.maximumExecutionTimeoutSeconds}); shorten the waits`);
        }
        if (c.monitoring.enabled && !(ep.kind === "instances" && ep.dataCapture.enabled)) {
            add(["monitoring", "enabled"], true, "drift monitoring needs endpoint.kind \"instances\" with endpoint.dataCapture.enabled");
        }
        if (c.environment === "review") {
            // A review stack lives as long as its pull request (or its TTL) and is destroyed by Pulumi Deployments.
            if (c.protectData === true) add(["protectData"], true, "a review stack must be destroyable: remove protectData (review stacks never protect data)");
            if (c.hostStack === undefined) add(["hostStack"], undefined, "a review stack serves from a host's registry: set hostStack (e.g. <org>/mlops/dev)");
            if (c.deployments.enabled) {
                add(["deployments", "enabled"], true, "a review stack's deployment settings are the template's, made by Pulumi Deployments: remove deployments from the template's stack file");
            }
        } else if (c.review !== undefined) {
            add(["review"], c.review, "only a review stack (environment: review) has a review section");
        }
        if (c.deployments.reviewStacks && !c.deployments.enabled) {
            add(["deployments", "reviewStacks"], c.deployments.reviewStacks, "review stacks need deployments.enabled (the template's settings are Pulumi Deployments settings)");
        }
    });

type ParsedConfig = z.output<typeof configSchema>;

/** The validated configuration of one stack. */
export interface StackConfig extends Omit<ParsedConfig, "protectData"> {
    readonly project: string;
    readonly stack: string;
    readonly region: string;
    /** Data buckets refuse deletion (`protect`, no force-destroy). Defaults to true in prod and the platform. */
    readonly protectData: boolean;
    /** True when this stack creates the shared resources (image, ETL, pipeline, registry). */
    readonly isHost: boolean;
    /** Tags applied to every taggable resource through the provider's default tags. */
    readonly tags: Readonly<Record<string, string>>;
    /**
     * The second part of every physical name (`<project>-<nameSegment>-…`): the environment, or for a review stack
     * one derived from its stack name ({@link reviewNameSegment}), so every review stack has names of its own.
     */
    readonly nameSegment: string;
}
export type EndpointConfig = NonNullable<StackConfig["endpoint"]>;
export type EtlConfig = StackConfig["etl"];
export type TrainingConfig = StackConfig["training"];
export type EvaluationConfig = StackConfig["evaluation"];
export type MonitoringConfig = StackConfig["monitoring"];
export type DeploymentsConfig = StackConfig["deployments"];
export type AccountResourcesConfig = StackConfig["accountResources"];
export type ConsumerAccountsConfig = StackConfig["consumerAccounts"];

/**
 * Keys only the host reads (the ETL, training, the pipeline's source, the image repository and build). Set in an
 * environment's stack file they would silently do nothing, so they are refused there.
 */
export const HOST_ONLY_KEYS = ["etl", "training", "source", "ecrKeepTaggedImages", "imageScanFailOnSeverity"] as const;

export type ReviewStacksConfig = NonNullable<DeploymentsConfig["reviewStacks"]>;

/** Every review stack's names start `<project>-pr-`: what the review stacks' deploy role is scoped to. */
export const REVIEW_NAME_PREFIX = "pr";

/**
 * `pr-<pull request number>-<hash>` when the stack name ends in a number (Pulumi Cloud's review stacks end in the pull
 * request's number), else `pr-<hash>`; the hash (SHA-256 of the whole stack name) keeps two stacks apart whatever
 * their names. At most 14 characters, so every physical name stays within its AWS limit (tests/infra/review-stack.test.ts).
 */
export function reviewNameSegment(stack: string): string {
    const hash = (length: number) => createHash("sha256").update(stack).digest("hex").slice(0, length);
    const number = /-(\d{1,6})$/.exec(stack)?.[1];
    return number !== undefined ? `${REVIEW_NAME_PREFIX}-${number}-${hash(4)}` : `${REVIEW_NAME_PREFIX}-${hash(6)}`;
}

/** Thrown for any invalid `mlops:*` value; the message names the key, the value and what is allowed. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`Invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

/** Keys declared as text: their values are never JSON-decoded, so `owner: "1234"` stays a string. */
const TEXT_KEYS = new Set([
    "environment", "owner", "alertEmail", "hostStack", "modelName", "modelPackageArn", "modelVersionPolicy",
    // Twelve digits, possibly with leading zeros: never a number.
    "hostAccount",
]);

/**
 * Pulumi hands config values over as strings; structured values (objects, lists, numbers, booleans) arrive
 * JSON-encoded and are decoded here so the schema sees their real types.
 */
function decodeValue(key: string, raw: string): unknown {
    if (TEXT_KEYS.has(key)) return raw;
    try {
        return JSON.parse(raw);
    } catch {
        return raw;
    }
}

function describeValue(value: unknown): string {
    if (value === undefined) return "missing";
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
    const key = (path: PropertyKey[]) => `${PROJECT}:${path.map(String).join(".")}`;
    if (issue.code === "unrecognized_keys") {
        return issue.keys.map((k) => `${key([...issue.path, k])}: unknown key; remove it or fix its spelling`);
    }
    if (issue.code === "invalid_type" && issue.input === undefined) {
        return [`${key(issue.path)}: missing required key (expected ${issue.expected})`];
    }
    return [`${key(issue.path)}: got ${describeValue(issue.input)}; ${issue.message}`];
}

/**
 * Validates raw `mlops:*` values (key without prefix → JSON-decoded value). Pure: tests call it directly.
 */
export function parseConfig(
    raw: Record<string, unknown>,
    context: { project?: string; stack: string; region: string | undefined },
): StackConfig {
    const problems: string[] = [];
    if (!context.region) {
        problems.push("aws:region: missing required key (expected an AWS region such as us-east-1)");
    } else if (!awsRegion.safeParse(context.region).success) {
        problems.push(`aws:region: got ${describeValue(context.region)}; expected an AWS region such as us-east-1`);
    }
    if (raw.hostStack !== undefined) {
        for (const key of HOST_ONLY_KEYS.filter((k) => raw[k] !== undefined)) {
            problems.push(`${PROJECT}:${key}: set in an environment's stack file, where nothing reads it; ` +
                `set it in the ${HOST_ENVIRONMENT} stack file (the host runs the ETL, training and the pipeline)`);
        }
    }
    const result = configSchema.safeParse(raw.environment === "review" ? withReviewDefaults(raw) : raw, { reportInput: true });
    if (!result.success) {
        problems.push(...result.error.issues.flatMap(describeIssue));
    }
    if (problems.length > 0 || !result.success) {
        throw new ConfigError(problems);
    }
    const c = result.data;
    return {
        ...c,
        project: context.project ?? PROJECT,
        stack: context.stack,
        region: context.region!,
        // The platform holds what prod serves from (the registry, model artifacts, the image): protected like prod.
        protectData: c.protectData ?? (c.environment === "prod" || c.environment === HOST_ENVIRONMENT),
        isHost: c.hostStack === undefined,
        // The host's default made explicit (what it creates); other stacks create none.
        permissionsBoundaries: { environments: c.hostStack === undefined ? (c.permissionsBoundaries.environments ?? [...ENVIRONMENTS]) : undefined },
        tags: {
            project: context.project ?? PROJECT, environment: c.environment, owner: c.owner, "managed-by": "pulumi",
            // Review stacks share the environment tag; this says which one a resource belongs to.
            ...(c.environment === "review" ? { "pulumi-stack": context.stack } : {}),
        },
        nameSegment: c.environment === "review" ? reviewNameSegment(context.stack) : c.environment,
    };
}

/** {@link REVIEW_DEFAULTS} under what the stack file sets: a key the file sets wins, one level deep. */
function withReviewDefaults(raw: Record<string, unknown>): Record<string, unknown> {
    const merged: Record<string, unknown> = { review: {}, ...raw };
    for (const [key, value] of Object.entries(REVIEW_DEFAULTS)) {
        const given = raw[key];
        merged[key] = typeof value === "object" && given !== null && typeof given === "object" && !Array.isArray(given)
            ? { ...value, ...given }
            : given ?? value;
    }
    return merged;
}

/** Picks the `mlops:*` keys out of Pulumi's flat config map and decodes their values. */
export function decodeProjectConfig(all: Readonly<Record<string, string>>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(all)) {
        const [namespace, ...rest] = fullKey.split(":");
        const key = rest.join(":");
        if (namespace === PROJECT) raw[key] = decodeValue(key, value);
    }
    return raw;
}

/** Reads every `mlops:*` key of the current stack (and `aws:region`) and validates it. */
export function loadConfig(): StackConfig {
    const all = pulumi.runtime.allConfig();
    return parseConfig(decodeProjectConfig(all), {
        project: pulumi.getProject(),
        stack: pulumi.getStack(),
        region: all["aws:region"],
    });
}
