import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "../lib/context";
import { denyInsecureTransport, policyDocument, PolicyStatement } from "../lib/policy";

/** An S3 bucket that meets the project's security checklist on its own. */
export interface SecureBucketArgs {
    readonly context: StackContext;
    /** Short purpose used in the physical name, e.g. `raw`. */
    readonly purpose: string;
    /**
     * Customer-managed key for SSE-KMS with a bucket key.
     * @default undefined — SSE-S3, allowed only for the access-log bucket (S3 log delivery cannot write SSE-KMS)
     */
    readonly kmsKeyArn?: pulumi.Input<string>;
    /**
     * Where server access logs go. Only the access-log bucket itself may omit it.
     * @default undefined — no access logging
     */
    readonly accessLogBucket?: pulumi.Input<string>;
    /**
     * Refuse deletion: `protect` on the bucket and no force-destroy.
     * @default false
     */
    readonly protect?: boolean;
    /**
     * Days after which non-current object versions expire.
     * @default 90
     */
    readonly noncurrentVersionDays?: number;
    /**
     * Days after which current objects expire (log buckets).
     * @default undefined — never
     */
    readonly expirationDays?: number;
    /**
     * Extra statements for the bucket policy, given the bucket's ARN. The TLS-only statement is always added.
     * @default []
     */
    readonly policyStatements?: (bucketArn: pulumi.Output<string>) => PolicyStatement[];
}

export class SecureBucket extends pulumi.ComponentResource {
    readonly bucket: aws.s3.Bucket;
    readonly arn: pulumi.Output<string>;
    /** The bucket's name (its id). */
    readonly name: pulumi.Output<string>;

    constructor(name: string, args: SecureBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:storage:SecureBucket", name, args, opts);
        const parent = this;
        const protect = args.protect ?? false;

        const accountId = args.context.accountId;
        const bucketName = accountId.apply(args.context.namer.bucketName(args.purpose, args.context.region));
        this.bucket = new aws.s3.Bucket(name, { bucket: bucketName, forceDestroy: !protect }, { parent, protect });
        this.arn = this.bucket.arn;
        this.name = this.bucket.id;

        const publicAccessBlock = createPublicAccessBlock();
        createOwnershipControls();
        createVersioning();
        createEncryption();
        createLifecycle();
        if (args.accessLogBucket !== undefined) createLogging(args.accessLogBucket);
        createPolicy();

        this.registerOutputs({ arn: this.arn, name: this.name });

        function createPublicAccessBlock() {
            return new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
                bucket: parent.bucket.id,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            }, { parent });
        }

        function createOwnershipControls() {
            return new aws.s3.BucketOwnershipControls(`${name}-ownership`, {
                bucket: parent.bucket.id,
                rule: { objectOwnership: "BucketOwnerEnforced" },
            }, { parent });
        }

        function createVersioning() {
            return new aws.s3.BucketVersioning(`${name}-versioning`, {
                bucket: parent.bucket.id,
                versioningConfiguration: { status: "Enabled" },
            }, { parent });
        }

        function createEncryption() {
            const byDefault = args.kmsKeyArn === undefined
                ? { sseAlgorithm: "AES256" }
                : { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.kmsKeyArn };
            return new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
                bucket: parent.bucket.id,
                rules: [{ applyServerSideEncryptionByDefault: byDefault, bucketKeyEnabled: args.kmsKeyArn !== undefined }],
            }, { parent });
        }

        function createLifecycle() {
            return new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
                bucket: parent.bucket.id,
                rules: [
                    {
                        id: "abort-incomplete-uploads",
                        status: "Enabled",
                        filter: {},
                        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                    },
                    {
                        id: "expire-noncurrent-versions",
                        status: "Enabled",
                        filter: {},
                        noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays ?? 90 },
                        ...(args.expirationDays === undefined ? {} : { expiration: { days: args.expirationDays } }),
                    },
                ],
            }, { parent });
        }

        function createLogging(targetBucket: pulumi.Input<string>) {
            return new aws.s3.BucketLogging(`${name}-logging`, {
                bucket: parent.bucket.id,
                targetBucket,
                targetPrefix: pulumi.interpolate`${parent.bucket.id}/`,
            }, { parent });
        }

        function createPolicy() {
            const statements = [denyInsecureTransport(parent.arn), ...(args.policyStatements?.(parent.arn) ?? [])];
            // A policy written before the public access block could briefly be evaluated without it.
            return new aws.s3.BucketPolicy(`${name}-policy`, {
                bucket: parent.bucket.id,
                policy: policyDocument(statements),
            }, { parent, dependsOn: [publicAccessBlock] });
        }
    }
}
