import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { arnOf, StackContext } from "../lib/context";
import { BundleError, BundleOptions, bundleHandler, handlerArchive, HandlerBundle } from "../lib/bundle";
import { policyDocument, PolicyStatement, serviceTrustPolicy } from "../lib/policy";
import { createAlertAlarm } from "../lib/alarms";

/** Lambda runtime of every pipeline function (nodejs20.x is deprecated by AWS). */
export const LAMBDA_RUNTIME = "nodejs22.x";

/**
 * A service acting on behalf of one resource of ours: an EventBridge rule invoking a function or dead-lettering,
 * an SNS topic, … Resource policies grant the service only with this source ARN (and our account).
 */
export interface ServiceSource {
    /** Service principal, e.g. `events.amazonaws.com`. */
    readonly principal: string;
    /** The one resource (rule, topic, …) the service acts for. */
    readonly sourceArn: pulumi.Input<string>;
}

/**
 * A Lambda function for the pipeline that meets the security checklist on its own: code bundled from
 * `lambdas/<handler>/handler.ts` while the program runs, nodejs22.x, explicit timeout and memory, reserved
 * concurrency, X-Ray active tracing, environment encrypted with the stack key, its own KMS-encrypted log group with
 * the stack's retention, an encrypted SQS dead-letter queue for failed asynchronous invocations, alarms on errors
 * and dead letters to the alerts topic, and a role holding only the statements given here plus what the function
 * itself needs (its log group, X-Ray, the dead-letter queue).
 *
 * Reuse: `new PipelineFunction("retrain-trigger", { context, handler: "retrain-trigger", kmsKeyArn,
 * alertsTopicArn, environment: {...}, policyStatements: [...], invokers: [{ principal: "events.amazonaws.com",
 * sourceArn: rule.arn }] }, opts)`.
 */
export interface PipelineFunctionArgs {
    readonly context: StackContext;
    /** Folder under `lambdas/` holding `handler.ts` (which exports `handler`); also the function's name suffix. */
    readonly handler: string;
    /** Key for the environment, log group and dead-letter queue. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** Receives the error and dead-letter alarms. */
    readonly alertsTopicArn: pulumi.Input<string>;
    /**
     * What the function is for (shown in the console).
     * @default "<handler> (pipeline function)"
     */
    readonly description?: string;
    /**
     * Environment variables; never secrets (they are visible to anyone who can read the function's configuration).
     * @default {}
     */
    readonly environment?: Readonly<Record<string, pulumi.Input<string>>>;
    /**
     * The function's own permissions. No `*` or `service:*` actions; justify every `Resource: "*"` where it is built.
     * @default []
     */
    readonly policyStatements?: readonly PolicyStatement[];
    /**
     * The function is a CodePipeline job worker: allow it to report job results.
     * @default false
     */
    readonly codePipelineJobWorker?: boolean;
    /**
     * @default 256
     */
    readonly memorySizeMb?: number;
    /**
     * @default 60
     */
    readonly timeoutSeconds?: number;
    /**
     * Concurrent executions reserved for (and capped at) this function, when the stack reserves Lambda concurrency
     * (`context.reserveLambdaConcurrency`); otherwise the function is explicitly unreserved (-1).
     * @default 2
     */
    readonly reservedConcurrency?: number;
    /**
     * Retries of a failed asynchronous invocation before it goes to the dead-letter queue (0–2).
     * @default 2
     */
    readonly maximumRetryAttempts?: number;
    /**
     * Age after which an unprocessed asynchronous event goes to the dead-letter queue (60–21600 s).
     * @default 3600
     */
    readonly maximumEventAgeSeconds?: number;
    /**
     * @default "arm64"
     */
    readonly architecture?: "arm64" | "x86_64";
    /**
     * Services allowed to invoke the function, each confined to one source ARN.
     * @default []
     */
    readonly invokers?: readonly ServiceSource[];
    /**
     * How the handler is bundled.
     * @default {} — the SDK bundled, no source map
     */
    readonly bundle?: BundleOptions;
}

const ENV_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Variables the Lambda runtime sets itself; setting them is rejected by the API or silently breaks the runtime. */
const RESERVED_ENV = /^(AWS_|LAMBDA_|_HANDLER$|_X_AMZN_TRACE_ID$|TZ$)/;

export class PipelineFunction extends pulumi.ComponentResource {
    readonly function: aws.lambda.Function;
    readonly functionName: pulumi.Output<string>;
    readonly functionArn: pulumi.Output<string>;
    readonly role: aws.iam.Role;
    readonly roleArn: pulumi.Output<string>;
    readonly logGroup: aws.cloudwatch.LogGroup;
    readonly deadLetterQueue: aws.sqs.Queue;
    /** The code deployed: tests and diagnostics can check what it contains. */
    readonly bundle: HandlerBundle;

    constructor(name: string, args: PipelineFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:lambda:PipelineFunction", name, args, opts);
        const parent = this;
        const { context } = args;
        const memorySizeMb = args.memorySizeMb ?? 256;
        const timeoutSeconds = args.timeoutSeconds ?? 60;
        const reservedConcurrency = args.reservedConcurrency ?? 2;
        // -1 is the provider's explicit "unreserved" (no PutFunctionConcurrency call): a decision, not an omission.
        const reservedConcurrentExecutions = context.reserveLambdaConcurrency ? reservedConcurrency : -1;
        const maximumRetryAttempts = args.maximumRetryAttempts ?? 2;
        const maximumEventAgeSeconds = args.maximumEventAgeSeconds ?? 3600;
        validate();

        const functionName = context.namer.name("lambda", args.handler);
        this.bundle = createBundle();
        this.logGroup = createLogGroup();
        this.deadLetterQueue = createDeadLetterQueue(`${name}-dlq`, {
            context,
            kmsKeyArn: args.kmsKeyArn,
            queueName: context.namer.name("sqsQueue", args.handler, "dlq"),
            alarm: {
                alarmName: context.namer.name("alarm", args.handler, "dead-letters"),
                description: `${functionName} dropped asynchronous events into its dead-letter queue`,
                alertsTopicArn: args.alertsTopicArn,
            },
        }, { parent });
        this.role = createRole();
        this.roleArn = this.role.arn;
        const rolePolicy = createRolePolicy();
        this.function = createFunction(rolePolicy);
        this.functionName = this.function.name;
        this.functionArn = this.function.arn;
        createAsyncInvokeConfig();
        createInvokePermissions();
        createAlarms();

        this.registerOutputs({
            functionName: this.functionName,
            functionArn: this.functionArn,
            roleArn: this.roleArn,
            logGroupName: this.logGroup.name,
            deadLetterQueueArn: this.deadLetterQueue.arn,
            codeSha256: this.bundle.sha256,
        });

        function invalid(problem: string): never {
            throw new pulumi.ResourceError(`PipelineFunction ${name}: ${problem}`, parent);
        }

        function validate() {
            const range = (label: string, value: number, min: number, max: number) => {
                if (!Number.isInteger(value) || value < min || value > max) invalid(`${label} is ${value}; expected an integer from ${min} to ${max}`);
            };
            range("memorySizeMb", memorySizeMb, 128, 10240);
            range("timeoutSeconds", timeoutSeconds, 1, 900);
            // 0 would stop the function from ever running.
            range("reservedConcurrency", reservedConcurrency, 1, 1000);
            range("maximumRetryAttempts", maximumRetryAttempts, 0, 2);
            range("maximumEventAgeSeconds", maximumEventAgeSeconds, 60, 21600);
            for (const key of Object.keys(args.environment ?? {})) {
                if (!ENV_NAME.test(key)) invalid(`environment variable ${JSON.stringify(key)} is not a valid name; use letters, digits and '_', starting with a letter`);
                if (RESERVED_ENV.test(key)) invalid(`environment variable ${key} is reserved by the Lambda runtime; choose another name`);
            }
            for (const [i, s] of (args.policyStatements ?? []).entries()) {
                const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
                const broad = actions.filter((a) => a === "*" || /^[a-z0-9-]+:\*$/i.test(a));
                if (broad.length > 0) invalid(`policy statement ${s.Sid ?? i} grants ${broad.join(", ")}; name the actions the function needs`);
                if (s.Principal !== undefined) invalid(`policy statement ${s.Sid ?? i} has a Principal; identity policies take none`);
            }
        }

        function createBundle(): HandlerBundle {
            try {
                return bundleHandler(args.handler, args.bundle);
            } catch (e) {
                if (e instanceof BundleError) invalid(e.message);
                throw e;
            }
        }

        function createLogGroup() {
            return new aws.cloudwatch.LogGroup(`${name}-logs`, {
                name: `/aws/lambda/${functionName}`,
                retentionInDays: context.logRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            }, { parent });
        }

        function createRole() {
            return new aws.iam.Role(`${name}-role`, {
                name: context.namer.name("iamRole", args.handler, "lambda"),
                description: `Execution role of the ${functionName} Lambda function`,
                assumeRolePolicy: serviceTrustPolicy("lambda.amazonaws.com", context.accountId),
            }, { parent });
        }

        function createRolePolicy() {
            const logGroupArn = arnOf(context, "logs", pulumi.interpolate`log-group:${parent.logGroup.name}`);
            const statements: PolicyStatement[] = [
                {
                    Sid: "WriteOwnLogGroup",
                    Effect: "Allow",
                    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                    Resource: pulumi.interpolate`${logGroupArn}:log-stream:*`,
                },
                {
                    Sid: "ActiveTracing",
                    Effect: "Allow",
                    Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    // X-Ray trace writes support no resource-level permissions (Service Authorization Reference).
                    Resource: "*",
                },
                {
                    Sid: "DeadLetterQueue",
                    Effect: "Allow",
                    Action: "sqs:SendMessage",
                    Resource: parent.deadLetterQueue.arn,
                },
                {
                    Sid: "UseStackKeyForDeadLetters",
                    Effect: "Allow",
                    Action: ["kms:GenerateDataKey", "kms:Decrypt"],
                    Resource: args.kmsKeyArn,
                },
            ];
            if (args.codePipelineJobWorker) {
                statements.push({
                    Sid: "ReportCodePipelineJobResults",
                    Effect: "Allow",
                    Action: ["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"],
                    // Job result actions support no resource-level permissions: the job id is the only scope,
                    // and CodePipeline accepts a result only for a job it handed to this function.
                    Resource: "*",
                });
            }
            statements.push(...(args.policyStatements ?? []));
            return new aws.iam.RolePolicy(`${name}-role-policy`, {
                role: parent.role.id,
                policy: policyDocument(statements),
            }, { parent });
        }

        function createFunction(rolePolicy: aws.iam.RolePolicy) {
            return new aws.lambda.Function(`${name}-function`, {
                name: functionName,
                description: args.description ?? `${args.handler} (pipeline function)`,
                runtime: LAMBDA_RUNTIME,
                architectures: [args.architecture ?? "arm64"],
                handler: "index.handler",
                code: handlerArchive(parent.bundle),
                role: parent.role.arn,
                memorySize: memorySizeMb,
                timeout: timeoutSeconds,
                reservedConcurrentExecutions,
                tracingConfig: { mode: "Active" },
                kmsKeyArn: args.kmsKeyArn,
                environment: { variables: { ...(args.environment ?? {}) } },
                deadLetterConfig: { targetArn: parent.deadLetterQueue.arn },
                loggingConfig: { logFormat: "JSON", logGroup: parent.logGroup.name, applicationLogLevel: "INFO", systemLogLevel: "WARN" },
            }, {
                parent,
                // Without its log group and permissions the first invocations would lose logs or fail.
                dependsOn: [parent.logGroup, rolePolicy],
            });
        }

        function createAsyncInvokeConfig() {
            return new aws.lambda.FunctionEventInvokeConfig(`${name}-async`, {
                functionName: parent.function.name,
                maximumRetryAttempts,
                maximumEventAgeInSeconds: maximumEventAgeSeconds,
            }, { parent });
        }

        function createInvokePermissions() {
            (args.invokers ?? []).forEach((invoker, i) => new aws.lambda.Permission(`${name}-invoke-${i}`, {
                function: parent.function.name,
                action: "lambda:InvokeFunction",
                principal: invoker.principal,
                sourceArn: invoker.sourceArn,
                sourceAccount: context.accountId,
            }, { parent }));
        }

        function createAlarms() {
            createAlertAlarm(`${name}-errors`, {
                alarmName: context.namer.name("alarm", args.handler, "errors"),
                description: `${functionName} failed (an error or timeout): see log group /aws/lambda/${functionName}`,
                namespace: "AWS/Lambda",
                metricName: "Errors",
                dimensions: { FunctionName: parent.function.name },
                statistic: "Sum",
                alertsTopicArn: args.alertsTopicArn,
            }, { parent });
        }
    }
}

/** A dead-letter queue encrypted with the stack key, reachable only over TLS. */
export interface DeadLetterQueueArgs {
    readonly context: StackContext;
    readonly kmsKeyArn: pulumi.Input<string>;
    /** Physical name (built with the stack's Namer, kind `sqsQueue`). */
    readonly queueName: string;
    /**
     * Resources allowed to send dead letters through a service principal (EventBridge rules need this; Lambda sends
     * with its execution role and needs none). Each service may send only from the source ARNs listed for it, and
     * only from this account.
     * @default [] — only IAM principals of the account, through their own policies
     */
    readonly senders?: readonly ServiceSource[];
    /**
     * Days dead letters are kept (SQS allows at most 14).
     * @default 14
     */
    readonly retentionDays?: number;
    /**
     * Alarm to the alerts topic as soon as the queue holds a message: something was dropped and needs a look.
     * @default undefined — no alarm (the caller watches the queue some other way)
     */
    readonly alarm?: Omit<DeadLetterAlarmArgs, "queueName">;
}

export interface DeadLetterAlarmArgs {
    readonly alarmName: string;
    /** What was dropped and where to look. */
    readonly description: string;
    readonly queueName: pulumi.Input<string>;
    readonly alertsTopicArn: pulumi.Input<string>;
}

/** `name`: an alarm (to the alerts topic) while a dead-letter queue holds any message. */
export function createDeadLetterAlarm(name: string, args: DeadLetterAlarmArgs, opts: pulumi.CustomResourceOptions): aws.cloudwatch.MetricAlarm {
    return createAlertAlarm(name, {
        alarmName: args.alarmName,
        description: args.description,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: args.queueName },
        statistic: "Maximum",
        alertsTopicArn: args.alertsTopicArn,
    }, opts);
}

/** Creates the queue `name`, its policy `${name}-policy` and, when asked, the alarm `${name}-messages`. */
export function createDeadLetterQueue(name: string, args: DeadLetterQueueArgs, opts: pulumi.CustomResourceOptions): aws.sqs.Queue {
    const queue = new aws.sqs.Queue(name, {
        name: args.queueName,
        kmsMasterKeyId: args.kmsKeyArn,
        kmsDataKeyReusePeriodSeconds: 300,
        messageRetentionSeconds: (args.retentionDays ?? 14) * 86_400,
    }, opts);
    const statements: PolicyStatement[] = [{
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "sqs:*",
        Resource: queue.arn,
        Condition: { Bool: { "aws:SecureTransport": false } },
    }];
    statements.push(...deadLetterSenderStatements(queue.arn, args.context.accountId, args.senders ?? []));
    new aws.sqs.QueuePolicy(`${name}-policy`, { queueUrl: queue.url, policy: policyDocument(statements) }, opts);
    if (args.alarm) createDeadLetterAlarm(`${name}-messages`, { ...args.alarm, queueName: queue.name }, opts);
    return queue;
}

/**
 * One statement per sending service: it may send only on behalf of its listed source ARNs (`aws:SourceArn`) and
 * only from this account (`aws:SourceAccount`), the confused-deputy guard of the SQS developer guide.
 */
function deadLetterSenderStatements(queueArn: pulumi.Input<string>, accountId: pulumi.Input<string>, senders: readonly ServiceSource[]): PolicyStatement[] {
    const services = [...new Set(senders.map((s) => s.principal))];
    return services.map((service, i) => {
        const sourceArns = senders.filter((s) => s.principal === service).map((s) => s.sourceArn);
        return {
            // The first keeps the Sid the one-sender queues have always had.
            Sid: i === 0 ? "AllowDeadLettersFromSource" : `AllowDeadLettersFromSource${i + 1}`,
            Effect: "Allow",
            Principal: { Service: service },
            Action: "sqs:SendMessage",
            Resource: queueArn,
            Condition: {
                ArnEquals: { "aws:SourceArn": sourceArns.length === 1 ? sourceArns[0] : sourceArns },
                StringEquals: { "aws:SourceAccount": accountId },
            },
        };
    });
}

/** A Lambda's environment as infra sets it: the contract's variable names (contracts/lambda-environment.ts), Pulumi inputs. */
export type LambdaEnvironment<T> = { readonly [K in keyof T]: pulumi.Input<string> };
