import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EtlConfig } from "../config";
import { REPO_ROOT } from "../lib/repo";
import { contentSha256, fileEntries, listFiles } from "../lib/content-hash";
import { ResourceRef } from "../lib/refs";
import { arnOf, StackContext } from "../lib/context";
import { policyDocument, PolicyStatement, serviceTrustPolicy } from "../lib/policy";
import { createDeadLetterQueue, LambdaEnvironment } from "./pipeline-function";
import { EtlTriggerEnvironment } from "../../contracts/lambda-environment";

/** Glue states that mean a run ended without a dataset; each one raises an alert. */
export const GLUE_FAILURE_STATES = ["FAILED", "TIMEOUT", "STOPPED", "ERROR"] as const;

/** Artifacts-bucket prefixes the job uses. Keys under `scripts/` and `schemas/` carry a content hash. */
const ARTIFACTS_PREFIX = "etl";

/**
 * The ETL as a Glue 5.0 PySpark job (docs/contracts.md §2) with everything it needs to run safely: its code
 * uploaded from `etl/` as content-addressed S3 objects, a least-privilege role, a security configuration (SSE-KMS
 * for S3, CSE-KMS for bookmarks, KMS-encrypted CloudWatch logs), the encrypted log groups Glue writes to, and an
 * EventBridge rule that sends failed, timed-out, stopped and errored runs to the alerts topic.
 *
 * The job is started per pipeline execution (`--input`, `--run-id`) by the ETL trigger Lambda; what that caller
 * needs is exposed as {@link EtlJob.triggerEnvironment} and {@link EtlJob.triggerPolicyStatements}.
 */
export interface EtlJobArgs {
    readonly context: StackContext;
    /** Workers, timeout, retries and quality-gate limits. */
    readonly etl: EtlConfig;
    readonly kmsKeyArn: pulumi.Input<string>;
    /** `raw`: the inputs (read only); `curated`: the job's output; `artifacts`: code, schema and temp files. */
    readonly buckets: { readonly raw: ResourceRef; readonly curated: ResourceRef; readonly artifacts: ResourceRef };
    readonly alertsTopicArn: pulumi.Input<string>;
    /**
     * The job's entrypoint, relative to the repository root.
     * @default "etl/glue_job.py"
     */
    readonly scriptPath?: string;
    /**
     * The Python package shipped with the job (`--extra-py-files`), relative to the repository root.
     * @default "etl/mlops_etl"
     */
    readonly packagePath?: string;
    /**
     * The default dataset schema (`--schema`), relative to the repository root; a run may pass its own.
     * @default "data/churn.schema.json"
     */
    readonly schemaPath?: string;
    /**
     * Key prefix in the curated bucket; each run writes `<prefix>/<runId>/`.
     * @default "datasets"
     */
    readonly curatedPrefix?: string;
    /**
     * Runs of the job allowed at once; a further start fails with ConcurrentRunsExceededException.
     * @default 1
     */
    readonly maxConcurrentRuns?: number;
}

/** A file set to upload and the hash that names it. */
interface CodeFile {
    readonly source: pulumi.asset.Asset | pulumi.asset.Archive;
    readonly sha256: string;
}

export class EtlJob extends pulumi.ComponentResource {
    readonly job: aws.glue.Job;
    readonly jobName: pulumi.Output<string>;
    readonly jobArn: pulumi.Output<string>;
    readonly role: aws.iam.Role;
    readonly securityConfiguration: aws.glue.SecurityConfiguration;
    /** The log groups Glue writes to under the security configuration (`output`, `error`). */
    readonly logGroups: Readonly<Record<"output" | "error", aws.cloudwatch.LogGroup>>;
    readonly failureRule: aws.cloudwatch.EventRule;
    readonly failureDeadLetterQueue: aws.sqs.Queue;
    /** `s3://<curated>/<prefix>`: the job's `--output`; run `r` is published at `<curatedUri>/r/`. */
    readonly curatedUri: pulumi.Output<string>;
    /** Environment of the trigger Lambda (lambdas/etl-trigger/config.ts). */
    readonly triggerEnvironment: Readonly<Record<string, pulumi.Input<string>>>;
    /** What the trigger Lambda may do: start and read runs of this job, read run manifests. */
    readonly triggerPolicyStatements: readonly PolicyStatement[];

    constructor(name: string, args: EtlJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:etl:EtlJob", name, args, opts);
        const parent = this;
        const { context, etl, buckets } = args;
        const curatedPrefix = args.curatedPrefix ?? "datasets";
        const maxConcurrentRuns = args.maxConcurrentRuns ?? 1;
        validate();

        const jobName = context.namer.name("glueJob", "etl");
        const roleName = context.namer.name("iamRole", "etl-glue");
        const securityConfigurationName = context.namer.name("glueSecurityConfiguration", "etl");
        const script = readScript();
        const pkg = readPackage();
        const schema = readSchema();

        const scriptObject = upload("script", `${ARTIFACTS_PREFIX}/scripts/glue_job-${script.sha256.slice(0, 16)}.py`, script, "text/x-python");
        const packageObject = upload("package", `${ARTIFACTS_PREFIX}/scripts/${path.basename(packageDir())}-${pkg.sha256.slice(0, 16)}.zip`, pkg, "application/zip");
        const schemaObject = upload("schema", `${ARTIFACTS_PREFIX}/schemas/${path.basename(schemaFile(), ".json")}-${schema.sha256.slice(0, 16)}.json`, schema, "application/json");
        this.curatedUri = pulumi.interpolate`s3://${buckets.curated.name}/${curatedPrefix}`;

        this.securityConfiguration = createSecurityConfiguration();
        this.logGroups = createLogGroups();
        this.role = createRole();
        const rolePolicy = createRolePolicy();
        this.job = createJob(rolePolicy);
        this.jobName = this.job.name;
        this.jobArn = this.job.arn;
        this.failureRule = createFailureRule();
        this.failureDeadLetterQueue = createDeadLetterQueue(`${name}-failed-dlq`, {
            context,
            kmsKeyArn: args.kmsKeyArn,
            queueName: context.namer.name("sqsQueue", "etl-failed-alerts-dlq"),
            senders: [{ principal: "events.amazonaws.com", sourceArn: this.failureRule.arn }],
            alarm: {
                alarmName: context.namer.name("alarm", "etl-failed-alerts-undelivered"),
                description: `Failure alerts of Glue job ${jobName} could not be delivered to the alerts topic; see the dead-letter queue`,
                alertsTopicArn: args.alertsTopicArn,
            },
        }, { parent });
        createFailureAlert();

        const jobArnForTrigger = arnOf(context, "glue", `job/${jobName}`);
        this.triggerEnvironment = {
            GLUE_JOB_NAME: this.job.name,
            RAW_BUCKET: buckets.raw.name,
            CURATED_BUCKET: buckets.curated.name,
            CURATED_PREFIX: curatedPrefix,
            GLUE_MAX_RETRIES: String(etl.maxRetries),
            // Reuse key inputs (contracts/reuse-key.ts): the code and schema deployed with this job, and the settings
            // that change its output. Deployed together with the job, so they describe what the job runs.
            ETL_CODE_SHA256: sha256(`${script.sha256}\n${pkg.sha256}`),
            ETL_SCHEMA_SHA256: schema.sha256,
            ETL_SETTINGS: JSON.stringify({ maxQuarantineShare: etl.maxQuarantineShare, minRows: etl.minRows, trainShards: etl.trainShards }),
        } satisfies LambdaEnvironment<EtlTriggerEnvironment>;
        this.triggerPolicyStatements = [
            {
                Sid: "StartAndWatchEtlRuns",
                Effect: "Allow",
                Action: ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns"],
                Resource: jobArnForTrigger,
            },
            {
                Sid: "ReadRunManifests",
                Effect: "Allow",
                Action: "s3:GetObject",
                Resource: pulumi.interpolate`${buckets.curated.arn}/${curatedPrefix}/*/manifest.json`,
            },
            {
                Sid: "DecryptRunManifests",
                Effect: "Allow",
                Action: "kms:Decrypt",
                Resource: args.kmsKeyArn,
            },
            {
                // HeadObject needs s3:GetObject: the input's VersionId is the dataset half of the ETL reuse key.
                Sid: "ReadInputVersions",
                Effect: "Allow",
                Action: "s3:GetObject",
                Resource: pulumi.interpolate`${buckets.raw.arn}/*`,
            },
            {
                Sid: "ReadAndRecordReuseIndex",
                Effect: "Allow",
                Action: ["s3:GetObject", "s3:PutObject"],
                Resource: pulumi.interpolate`${buckets.curated.arn}/${curatedPrefix}/_reuse/*`,
            },
            {
                Sid: "EncryptReuseIndex",
                Effect: "Allow",
                Action: "kms:GenerateDataKey",
                Resource: args.kmsKeyArn,
            },
        ];

        this.registerOutputs({
            jobName: this.jobName,
            jobArn: this.jobArn,
            roleArn: this.role.arn,
            securityConfiguration: this.securityConfiguration.name,
            curatedUri: this.curatedUri,
            failureRuleArn: this.failureRule.arn,
            scriptKey: scriptObject.key,
            packageKey: packageObject.key,
            schemaKey: schemaObject.key,
        });

        function invalid(problem: string): never {
            throw new pulumi.ResourceError(`EtlJob ${name}: ${problem}`, parent);
        }

        function validate() {
            if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(curatedPrefix)) {
                invalid(`curatedPrefix ${JSON.stringify(curatedPrefix)} is invalid; expected a key prefix of letters, digits, '.', '_', '-' and inner '/', e.g. "datasets"`);
            }
            if (!Number.isInteger(maxConcurrentRuns) || maxConcurrentRuns < 1 || maxConcurrentRuns > 1000) {
                invalid(`maxConcurrentRuns is ${maxConcurrentRuns}; expected an integer from 1 to 1000`);
            }
        }

        function repoPath(relative: string): string {
            return path.resolve(REPO_ROOT, relative);
        }
        function packageDir() {
            return repoPath(args.packagePath ?? "etl/mlops_etl");
        }
        function schemaFile() {
            return repoPath(args.schemaPath ?? "data/churn.schema.json");
        }

        function readFileAsset(file: string, what: string, setting: string): CodeFile {
            if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
                invalid(`${what} ${path.relative(REPO_ROOT, file)} not found; it must exist when the program runs (set ${setting} to another file relative to the repository root)`);
            }
            return { source: new pulumi.asset.FileAsset(file), sha256: sha256(fs.readFileSync(file)) };
        }

        function readScript(): CodeFile {
            return readFileAsset(repoPath(args.scriptPath ?? "etl/glue_job.py"), "ETL script", "scriptPath");
        }

        function readSchema(): CodeFile {
            const file = schemaFile();
            const asset = readFileAsset(file, "dataset schema", "schemaPath");
            try {
                JSON.parse(fs.readFileSync(file, "utf8"));
            } catch (e) {
                invalid(`dataset schema ${path.relative(REPO_ROOT, file)} is not valid JSON: ${(e as Error).message}`);
            }
            return asset;
        }

        /** The package as `<dir name>/…` in a zip, so Glue can import it; caches and hidden files are left out. */
        function readPackage(): CodeFile {
            const dir = packageDir();
            const relDir = path.relative(REPO_ROOT, dir);
            if (!fs.existsSync(path.join(dir, "__init__.py"))) {
                invalid(`ETL package ${relDir} not found or has no __init__.py; it is shipped to Glue as --extra-py-files (set packagePath)`);
            }
            // Hidden files, caches and compiled files never reach Glue.
            const files = listFiles(dir, ".", (rel) => /(^|\/)(\.[^/]*|__pycache__)$|\.pyc$/.test(rel));
            const archivePath = (rel: string) => `${path.basename(dir)}/${rel}`;
            const assets: Record<string, pulumi.asset.Asset> = {};
            for (const rel of files) assets[archivePath(rel)] = new pulumi.asset.FileAsset(path.join(dir, rel));
            return { source: new pulumi.asset.AssetArchive(assets), sha256: contentSha256(fileEntries(dir, files, archivePath)) };
        }

        function upload(suffix: string, key: string, file: CodeFile, contentType: string) {
            return new aws.s3.BucketObjectv2(`${name}-${suffix}`, {
                bucket: buckets.artifacts.name,
                key,
                source: file.source,
                contentType,
                serverSideEncryption: "aws:kms",
                kmsKeyId: args.kmsKeyArn,
                bucketKeyEnabled: true,
            }, { parent });
        }

        function createSecurityConfiguration() {
            return new aws.glue.SecurityConfiguration(`${name}-security`, {
                name: securityConfigurationName,
                encryptionConfiguration: {
                    s3Encryption: { s3EncryptionMode: "SSE-KMS", kmsKeyArn: args.kmsKeyArn },
                    jobBookmarksEncryption: { jobBookmarksEncryptionMode: "CSE-KMS", kmsKeyArn: args.kmsKeyArn },
                    cloudwatchEncryption: { cloudwatchEncryptionMode: "SSE-KMS", kmsKeyArn: args.kmsKeyArn },
                },
            }, { parent });
        }

        /**
         * With a security configuration Glue writes to `/aws-glue/jobs/<config>-role/<role>/{output,error}`. Created
         * here first, so they get the stack's key and retention instead of being created by Glue without a retention.
         * Glue 5.0 logs every job in real time to these two groups; the Glue 4.0 continuous-logging group
         * (`/aws-glue/jobs/logs-v2-*`, `--enable-continuous-cloudwatch-log`) is not used (AWS Glue developer guide,
         * "Logging for AWS Glue jobs" and "Enabling continuous logging for AWS Glue 4.0 and earlier jobs").
         */
        function createLogGroups() {
            const base = `/aws-glue/jobs/${securityConfigurationName}-role/${roleName}`;
            const group = (suffix: string, logGroupName: string) => new aws.cloudwatch.LogGroup(`${name}-${suffix}-logs`, {
                name: logGroupName,
                retentionInDays: context.logRetentionDays,
                kmsKeyId: args.kmsKeyArn,
            }, { parent });
            return {
                output: group("output", `${base}/output`),
                error: group("error", `${base}/error`),
            };
        }

        function createRole() {
            return new aws.iam.Role(`${name}-role`, {
                name: roleName,
                description: `Role of the ${jobName} Glue job`,
                assumeRolePolicy: serviceTrustPolicy("glue.amazonaws.com", context.accountId),
            }, { parent });
        }

        function createRolePolicy() {
            const artifacts = buckets.artifacts.arn;
            const logResources = Object.values(parent.logGroups).flatMap((g) => {
                const arn = arnOf(context, "logs", pulumi.interpolate`log-group:${g.name}`);
                return [arn, pulumi.interpolate`${arn}:log-stream:*`];
            });
            const statements: PolicyStatement[] = [
                {
                    Sid: "ReadCode",
                    Effect: "Allow",
                    Action: "s3:GetObject",
                    Resource: [pulumi.interpolate`${artifacts}/${ARTIFACTS_PREFIX}/scripts/*`, pulumi.interpolate`${artifacts}/${ARTIFACTS_PREFIX}/schemas/*`],
                },
                {
                    Sid: "UseTempDir",
                    Effect: "Allow",
                    Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    Resource: pulumi.interpolate`${artifacts}/${ARTIFACTS_PREFIX}/temp/*`,
                },
                {
                    Sid: "ListTempDir",
                    Effect: "Allow",
                    Action: "s3:ListBucket",
                    Resource: artifacts,
                    Condition: { StringLike: { "s3:prefix": [`${ARTIFACTS_PREFIX}/temp/`, `${ARTIFACTS_PREFIX}/temp/*`] } },
                },
                {
                    // The input is any key or prefix the pipeline names, so the whole raw bucket is readable.
                    Sid: "ReadRawInputs",
                    Effect: "Allow",
                    Action: "s3:GetObject",
                    Resource: pulumi.interpolate`${buckets.raw.arn}/*`,
                },
                {
                    Sid: "ListRawInputs",
                    Effect: "Allow",
                    Action: "s3:ListBucket",
                    Resource: buckets.raw.arn,
                },
                {
                    // Runs are staged under `<prefix>/_staging-<run>/` and renamed (copy + delete) when published.
                    Sid: "WriteCuratedRuns",
                    Effect: "Allow",
                    Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    Resource: pulumi.interpolate`${buckets.curated.arn}/${curatedPrefix}/*`,
                },
                {
                    Sid: "ListCuratedRuns",
                    Effect: "Allow",
                    Action: "s3:ListBucket",
                    Resource: buckets.curated.arn,
                    Condition: { StringLike: { "s3:prefix": [curatedPrefix, `${curatedPrefix}/*`] } },
                },
                {
                    // Spark's S3 file system asks for a bucket's region before its first request to it.
                    Sid: "LocateBuckets",
                    Effect: "Allow",
                    Action: "s3:GetBucketLocation",
                    Resource: [buckets.raw.arn, buckets.curated.arn, artifacts],
                },
                {
                    Sid: "UseStackKey",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    Resource: args.kmsKeyArn,
                },
                {
                    Sid: "WriteEncryptedJobLogs",
                    Effect: "Allow",
                    Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                    Resource: logResources,
                },
                {
                    Sid: "PublishGlueMetrics",
                    Effect: "Allow",
                    Action: "cloudwatch:PutMetricData",
                    // PutMetricData supports no resource-level permissions; the namespace condition confines it
                    // to Glue's own metrics (job metrics, observability metrics).
                    Resource: "*",
                    Condition: { StringEquals: { "cloudwatch:namespace": "Glue" } },
                },
            ];
            return new aws.iam.RolePolicy(`${name}-role-policy`, {
                role: parent.role.id,
                policy: policyDocument(statements),
            }, { parent });
        }

        function createJob(rolePolicy: aws.iam.RolePolicy) {
            const s3Uri = (object: aws.s3.BucketObjectv2) => pulumi.interpolate`s3://${object.bucket}/${object.key}`;
            return new aws.glue.Job(`${name}-job`, {
                name: jobName,
                description: "Schema-driven churn ETL: raw CSV to curated train/validation/test splits, manifest and Model Monitor baseline",
                roleArn: parent.role.arn,
                glueVersion: "5.0",
                command: { name: "glueetl", scriptLocation: s3Uri(scriptObject), pythonVersion: "3" },
                workerType: etl.workerType,
                numberOfWorkers: etl.numberOfWorkers,
                timeout: etl.timeoutMinutes,
                maxRetries: etl.maxRetries,
                executionClass: "STANDARD",
                executionProperty: { maxConcurrentRuns },
                securityConfiguration: parent.securityConfiguration.name,
                defaultArguments: {
                    "--job-language": "python",
                    // Glue reads this flag by its presence; the value is ignored.
                    "--enable-metrics": "",
                    "--enable-job-insights": "true",
                    "--enable-observability-metrics": "true",
                    // Every run is explicit (input and run id given): bookmarks would silently skip reprocessed input.
                    "--job-bookmark-option": "job-bookmark-disable",
                    "--TempDir": pulumi.interpolate`s3://${buckets.artifacts.name}/${ARTIFACTS_PREFIX}/temp/`,
                    "--extra-py-files": s3Uri(packageObject),
                    "--schema": s3Uri(schemaObject),
                    "--output": parent.curatedUri,
                    // Platform limits: a dataset schema's quality section may only tighten them (docs/contracts.md §1).
                    "--max-quarantine-share": String(etl.maxQuarantineShare),
                    "--min-rows": String(etl.minRows),
                    "--train-shards": String(etl.trainShards),
                },
            }, {
                parent,
                // Glue creates missing log groups itself, unencrypted and kept forever; the role needs its policy.
                dependsOn: [...Object.values(parent.logGroups), rolePolicy],
            });
        }

        function createFailureRule() {
            return new aws.cloudwatch.EventRule(`${name}-failed`, {
                name: context.namer.name("eventRule", "etl-failed"),
                description: `Runs of Glue job ${jobName} that ended ${GLUE_FAILURE_STATES.join(", ")}`,
                eventPattern: pulumi.jsonStringify({
                    source: ["aws.glue"],
                    "detail-type": ["Glue Job State Change"],
                    detail: { jobName: [parent.job.name], state: [...GLUE_FAILURE_STATES] },
                }),
            }, { parent });
        }

        function createFailureAlert() {
            new aws.cloudwatch.EventTarget(`${name}-failed-alert`, {
                rule: parent.failureRule.name,
                arn: args.alertsTopicArn,
                retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
                deadLetterConfig: { arn: parent.failureDeadLetterQueue.arn },
            }, { parent });
        }
    }
}

function sha256(data: Buffer | string): string {
    return createHash("sha256").update(data).digest("hex");
}
