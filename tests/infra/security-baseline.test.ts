import { strict as assert } from "assert";
import { DATA_BUCKETS } from "../../infra/components/security-baseline";
import { ACCOUNT_ID, RecordedResource, stackGraph, StackGraph } from "../harness/pulumi-harness";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Statement = { Sid?: string; Effect: string; Principal?: any; Action: string | string[]; Resource?: any; Condition?: any };
const statements = (policy: string): Statement[] => JSON.parse(policy).Statement;
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** The bucket's companion resource of `type` (they are all named `<bucket>-<suffix>`). */
function companion(graph: StackGraph, bucket: RecordedResource, type: string): RecordedResource {
    return graph.one(type, new RegExp(`^${bucket.name}-`));
}

for (const stack of ["dev", "prod"]) {
    describe(`stack ${stack}: security baseline`, () => {
        let graph: StackGraph;
        let outputs: Record<string, any>;
        before(async () => {
            ({ graph, outputs } = await stackGraph(stack));
        });

        it("has a customer-managed key with rotation and an explicit policy without a bare * principal", () => {
            const key = graph.one("aws:kms/key:Key");
            assert.equal(key.inputs.enableKeyRotation, true);
            const policy = statements(key.inputs.policy);
            for (const s of policy) {
                assert.notEqual(s.Principal, "*", `${s.Sid} has a bare * principal`);
                assert.ok(!actions(s).includes("kms:*"), `${s.Sid} grants kms:*`);
            }
            const bySid = Object.fromEntries(policy.map((s) => [s.Sid, s]));
            assert.deepEqual(bySid.AccountAdministersAndUsesKeyThroughIam.Principal, { AWS: `arn:aws:iam::${ACCOUNT_ID}:root` });
            assert.equal(bySid.AllowCloudWatchLogsForThisAccount.Principal.Service, "logs.us-east-1.amazonaws.com");
            assert.match(bySid.AllowCloudWatchLogsForThisAccount.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"],
                new RegExp(`^arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:`));
            assert.deepEqual(bySid.AllowAlarmsAndEventsToUseEncryptedTopics.Principal.Service.sort(),
                ["cloudwatch.amazonaws.com", "events.amazonaws.com"]);
            assert.equal(bySid.AllowAlarmsAndEventsToUseEncryptedTopics.Condition.StringEquals["aws:SourceAccount"], ACCOUNT_ID);
        });

        it("has the five data buckets plus an access-log bucket", () => {
            const buckets = graph.ofType("aws:s3/bucket:Bucket").map((b) => b.state.bucket).sort();
            const expected = [...DATA_BUCKETS, "access-logs"].map((p) => `mlops-${stack}-${p}-${ACCOUNT_ID}-us-east-1`).sort();
            assert.deepEqual(buckets, expected);
            assert.equal(outputs.buckets.raw, `mlops-${stack}-raw-${ACCOUNT_ID}-us-east-1`);
        });

        it("locks every bucket down: public access block, ownership, versioning, TLS-only policy, lifecycle", () => {
            for (const bucket of graph.ofType("aws:s3/bucket:Bucket")) {
                const pab = companion(graph, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs;
                assert.deepEqual([pab.blockPublicAcls, pab.blockPublicPolicy, pab.ignorePublicAcls, pab.restrictPublicBuckets], [true, true, true, true], bucket.name);
                assert.equal(companion(graph, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs.rule.objectOwnership, "BucketOwnerEnforced");
                assert.equal(companion(graph, bucket, "aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration.status, "Enabled");
                const lifecycle = companion(graph, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules;
                assert.ok(lifecycle.some((r: any) => r.status === "Enabled" && r.abortIncompleteMultipartUpload?.daysAfterInitiation > 0), bucket.name);
                const policy = statements(companion(graph, bucket, "aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
                const tls = policy.find((s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === false);
                assert.ok(tls, `${bucket.name} lacks a TLS-only statement`);
                assert.deepEqual(tls.Resource, [bucket.state.arn, `${bucket.state.arn}/*`]);
                assert.ok(!policy.some((s) => s.Effect === "Allow" && s.Principal === "*"), `${bucket.name} allows *`);
            }
        });

        it("encrypts data buckets with the stack key (bucket key on) and the log bucket with SSE-S3", () => {
            const key = graph.one("aws:kms/key:Key");
            for (const bucket of graph.ofType("aws:s3/bucket:Bucket")) {
                const rule = companion(graph, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs.rules[0];
                if (bucket.name.endsWith("access-logs")) {
                    assert.equal(rule.applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
                } else {
                    assert.equal(rule.applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms", bucket.name);
                    assert.equal(rule.applyServerSideEncryptionByDefault.kmsMasterKeyId, key.state.arn);
                    assert.equal(rule.bucketKeyEnabled, true);
                }
            }
        });

        it("logs access to every data bucket into the log bucket, which admits only S3 log delivery from this account", () => {
            const logBucket = graph.one("aws:s3/bucket:Bucket", /access-logs$/);
            const dataBuckets = graph.ofType("aws:s3/bucket:Bucket").filter((b) => b !== logBucket);
            for (const bucket of dataBuckets) {
                const logging = companion(graph, bucket, "aws:s3/bucketLogging:BucketLogging").inputs;
                assert.equal(logging.targetBucket, logBucket.state.bucket);
                assert.equal(logging.targetPrefix, `${bucket.state.bucket}/`);
            }
            const delivery = statements(companion(graph, logBucket, "aws:s3/bucketPolicy:BucketPolicy").inputs.policy)
                .find((s) => s.Sid === "AllowS3ServerAccessLogDelivery");
            assert.deepEqual(delivery?.Principal, { Service: "logging.s3.amazonaws.com" });
            assert.equal(delivery?.Condition.StringEquals["aws:SourceAccount"], ACCOUNT_ID);
        });

        it(`${stack === "prod" ? "protects" : "does not protect"} data buckets and the key from deletion`, () => {
            const protectedData = stack === "prod";
            for (const bucket of graph.ofType("aws:s3/bucket:Bucket")) {
                assert.equal(bucket.protect, protectedData, bucket.name);
                assert.equal(bucket.inputs.forceDestroy, !protectedData, bucket.name);
            }
            assert.equal(graph.one("aws:kms/key:Key").protect, protectedData);
            assert.equal(graph.one("aws:kms/key:Key").inputs.deletionWindowInDays, protectedData ? 30 : 7);
        });

        it("has an alerts topic encrypted with the key, publishable only by alarms and events of this account, with an e-mail subscription", () => {
            const key = graph.one("aws:kms/key:Key");
            const topic = graph.one("aws:sns/topic:Topic", /alerts$/);
            assert.equal(topic.inputs.kmsMasterKeyId, key.state.arn);
            const policy = statements(graph.one("aws:sns/topicPolicy:TopicPolicy", /alerts-policy$/).inputs.policy);
            const allow = policy.filter((s) => s.Effect === "Allow");
            assert.equal(allow.length, 1);
            assert.deepEqual(allow[0].Principal.Service.sort(), ["cloudwatch.amazonaws.com", "events.amazonaws.com"]);
            assert.equal(allow[0].Condition.StringEquals["aws:SourceAccount"], ACCOUNT_ID);
            const subscription = graph.one("aws:sns/topicSubscription:TopicSubscription", /alerts-email$/).inputs;
            assert.equal(subscription.protocol, "email");
            assert.equal(subscription.endpoint, "ml-platform-alerts@example.com");
            assert.equal(subscription.topic, topic.state.arn);
        });
    });
}
