/**
 * Consuming environments in accounts of their own (config `consumerAccounts`, host only): the resource-policy
 * statements the host stack adds to its shared resources so that exactly the consuming environment's roles that
 * read them can, from the other account.
 *
 * Across accounts a request needs two allows (IAM User Guide, "Cross-account policy evaluation logic"): the
 * resource's policy must admit the principal of the other account, AND the principal's identity policy must allow
 * the action on the resource's ARN. The identity half is already in the consuming stack: its roles name the host's
 * ARNs it reads from the host's `shared` output (the registry, the repository, the models and curated buckets, the
 * host key). This module is the resource half.
 *
 * Who is admitted, and how:
 * - The role ARNs are derived from the naming rules (`Namer` of the consuming environment), not read from the
 *   consuming stack: the consuming stack already references the host (`hostStack`), and a reference back would make
 *   the first deployment of either stack wait for the other.
 * - Each statement names the consuming account (`arn:<partition>:iam::<account>:root`) as principal and confines it
 *   with `ArnEquals aws:PrincipalArn` to exactly those roles. Naming the roles themselves in `Principal` would make
 *   the host's deployment fail until they exist (KMS, S3 and ECR refuse a policy whose principal does not exist:
 *   "MalformedPolicyDocumentException ... invalid principals", AWS re:Post knowledge center
 *   kms-policy-error-invalid-principals) — and prod creates its serving role only with its first endpoint, which
 *   needs these grants — and AWS stores a role principal as the role's unique id, so a consuming role that is
 *   deleted and recreated (a destroy/up of the endpoint) would silently lose access (IAM User Guide,
 *   id_roles_create_policy-examples). `aws:PrincipalArn` is the role's ARN for its sessions (IAM User Guide, "AWS
 *   global condition context keys"), so only those roles match, whatever their unique id.
 */
import * as pulumi from "@pulumi/pulumi";
import { Environment } from "../config";
import { Namer } from "../../contracts/resource-names";
import { PolicyStatement } from "./policy";

/**
 * The name parts (after `<project>-<environment>`) of the consuming roles that read the host's resources, as the
 * components name them: ModelEndpoint's execution role, DriftMonitor's monitoring role and the Pulumi Deployments
 * role (the deployer of the consuming account, which resolves the version to serve from the registry in every
 * preview and update). tests/infra/cross-account.test.ts checks these against the roles a consuming stack really
 * creates. The pipeline's deploy roles (`<project>-platform-deploy-<env>`) are not consumers: the host creates them in
 * its own account, where the registry's identity-policy half alone decides.
 */
export const CONSUMER_ROLE_PARTS = {
    serving: (modelName: string) => [modelName, "endpoint"],
    monitoring: () => ["model-monitor"],
    deployer: () => ["pulumi-deployments"],
} as const;
export type ConsumerRole = keyof typeof CONSUMER_ROLE_PARTS;

/** One consuming environment in another account, with the ARNs of its roles that read the host's resources. */
export interface Consumer {
    readonly environment: Environment;
    readonly accountId: string;
    /** `arn:<partition>:iam::<account>:root`: the principal of every statement (confined by `aws:PrincipalArn`). */
    readonly accountPrincipal: pulumi.Output<string>;
    readonly roleArns: Readonly<Record<ConsumerRole, pulumi.Output<string>>>;
}

/** The consuming environments of config `consumerAccounts`, in a stable order. */
export function consumersOf(
    consumerAccounts: Partial<Record<Environment, string>>,
    project: string,
    modelName: string,
    partition: pulumi.Input<string>,
): Consumer[] {
    return (Object.entries(consumerAccounts) as [Environment, string][])
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([environment, accountId]) => {
            const namer = new Namer(project, environment);
            const role = (parts: readonly string[]) =>
                pulumi.interpolate`arn:${partition}:iam::${accountId}:role/${namer.name("iamRole", ...parts)}`;
            return {
                environment,
                accountId,
                accountPrincipal: pulumi.interpolate`arn:${partition}:iam::${accountId}:root`,
                roleArns: {
                    serving: role(CONSUMER_ROLE_PARTS.serving(modelName)),
                    monitoring: role(CONSUMER_ROLE_PARTS.monitoring()),
                    deployer: role(CONSUMER_ROLE_PARTS.deployer()),
                },
            };
        });
}

/** Statements admitting `roles` of every consumer; none when there is no consumer (same-account layout). */
function admit(
    consumers: readonly Consumer[],
    roles: readonly ConsumerRole[],
    statement: (consumer: Consumer) => Omit<PolicyStatement, "Principal" | "Sid" | "Effect"> & { Sid: string },
): PolicyStatement[] {
    return consumers.map((consumer) => {
        const { Sid, Condition, ...rest } = statement(consumer);
        return {
            Sid: `${Sid}${consumer.environment.charAt(0).toUpperCase()}${consumer.environment.slice(1)}`,
            Effect: "Allow",
            Principal: { AWS: consumer.accountPrincipal },
            ...rest,
            Condition: { ...Condition, ArnEquals: { "aws:PrincipalArn": roles.map((r) => consumer.roleArns[r]) } },
        };
    });
}

/** The resource-policy statements the host adds for its consumers, per shared resource. */
export interface CrossAccountGrants {
    /** Model package group policy: the deployer resolves the version to serve (infra/model-version.ts). */
    registry(groupArn: pulumi.Input<string>): PolicyStatement[];
    /** Image repository policy: the endpoint and the monitoring jobs pull the model image. */
    repository(): PolicyStatement[];
    /** Models bucket policy: the endpoint reads its model artifact. */
    modelsBucket(bucketArn: pulumi.Output<string>): PolicyStatement[];
    /** Curated bucket policy: the monitoring jobs read the serving version's data-quality baseline. */
    curatedBucket(bucketArn: pulumi.Output<string>): PolicyStatement[];
    /** Key policy: decrypting those two buckets' objects, through S3 only. */
    key(buckets: { models: pulumi.Input<string>; curated: pulumi.Input<string> }): PolicyStatement[];
}

export function crossAccountGrants(consumers: readonly Consumer[], region: string): CrossAccountGrants {
    return {
        registry: (groupArn) => {
            const packages = pulumi.output(groupArn)
                .apply((arn) => `${arn.replace(":model-package-group/", ":model-package/")}/*`);
            // The actions and resources of SageMaker's cross-account model group policy (Developer Guide,
            // model-registry-ram-discover: DescribeModelPackage, ListModelPackages, DescribeModelPackageGroup on the
            // group and its versions); read only: approval and registration stay with the host.
            return admit(consumers, ["deployer"], () => ({
                Sid: "ReadModelVersions",
                Action: ["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                Resource: [groupArn, packages],
            }));
        },
        // Pull only (ECR User Guide, repository-policy-examples: BatchGetImage, GetDownloadUrlForLayer,
        // BatchCheckLayerAvailability). A repository policy applies to its own repository, so it names no Resource.
        // The pullers need no key permission: ECR decrypts layers with its own grant on the key (ECR User Guide,
        // encryption-at-rest), and GetAuthorizationToken is a call to the puller's own registry.
        repository: () => admit(consumers, ["serving", "monitoring"], () => ({
            Sid: "PullModelImage",
            Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        })),
        modelsBucket: (bucketArn) => admit(consumers, ["serving"], () => ({
            Sid: "ReadModelArtifacts",
            Action: "s3:GetObject",
            Resource: pulumi.interpolate`${bucketArn}/*`,
        })),
        // Baselines sit at `<run prefix>/baseline/{statistics,constraints}.json` (etl/mlops_etl/job.py manifest);
        // the curated splits themselves stay unreadable from the other account.
        curatedBucket: (bucketArn) => admit(consumers, ["monitoring"], () => ({
            Sid: "ReadDataBaselines",
            Action: "s3:GetObject",
            Resource: pulumi.interpolate`${bucketArn}/*/baseline/*`,
        })),
        // What the consumers decrypt is S3 objects of these two buckets: SSE-KMS with an S3 Bucket Key puts the
        // bucket's ARN in the encryption context (object ARN without a Bucket Key; S3 User Guide, "Using SSE-KMS",
        // encryption context), and S3 calls KMS on the caller's behalf (kms:ViaService, KMS Developer Guide).
        key: (buckets) => admit(consumers, ["serving", "monitoring"], () => ({
            Sid: "DecryptSharedArtifactsThroughS3",
            Action: "kms:Decrypt",
            // In a key policy "*" means "this key".
            Resource: "*",
            Condition: {
                StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` },
                ArnLike: {
                    "kms:EncryptionContext:aws:s3:arn": [
                        buckets.models, pulumi.interpolate`${buckets.models}/*`,
                        buckets.curated, pulumi.interpolate`${buckets.curated}/*`,
                    ],
                },
            },
        })),
    };
}

/**
 * The host's grants to its consuming environments in other accounts (config `consumerAccounts`); undefined for a
 * stack that is not the host or has none, so the same-account layout adds nothing.
 */
export function hostCrossAccountGrants(
    config: { readonly isHost: boolean; readonly project: string; readonly modelName: string; readonly region: string;
        readonly consumerAccounts: Partial<Record<Environment, string>> },
    partition: pulumi.Input<string>,
): CrossAccountGrants | undefined {
    if (!config.isHost || Object.keys(config.consumerAccounts).length === 0) return undefined;
    return crossAccountGrants(consumersOf(config.consumerAccounts, config.project, config.modelName, partition), config.region);
}

/**
 * Fails when the host's registry is not in the account this stack expects: config `hostAccount` when set, otherwise
 * the stack's own. Without it a consumer in another account would look its registry up by name in its own account,
 * find no version and serve nothing, with only a log line to say so.
 */
export function checkHostAccount(groupArn: string, ownAccount: string, hostAccount: string | undefined): void {
    const registryAccount = groupArn.split(":")[4];
    const expected = hostAccount ?? ownAccount;
    if (registryAccount === expected) return;
    throw new Error(hostAccount === undefined
        ? `the host's model registry ${groupArn} is in account ${registryAccount}, this stack runs in ${ownAccount}: ` +
          `set mlops:hostAccount: "${registryAccount}" in this stack's file (and list this environment in the host's mlops:consumerAccounts)`
        : `mlops:hostAccount is ${hostAccount}, but the host's model registry ${groupArn} is in account ${registryAccount}; ` +
          "check mlops:hostAccount and mlops:hostStack");
}
