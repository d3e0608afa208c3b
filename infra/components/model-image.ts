import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "../lib/context";
import { TAG_PREFIX } from "../lib/image-context";
import { policyDocument, PolicyStatement } from "../lib/policy";

/**
 * The model container's ECR repository, meeting the checklist (immutable tags, scan on push, KMS, lifecycle).
 * No image is built here: the pipeline's image build (image-build.ts, scripts/build-image.sh) pushes it, so no
 * stack needs Docker. Host only.
 */
export interface ModelImageArgs {
    readonly context: StackContext;
    /** Encrypts the repository. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /**
     * Content-tagged images kept; older ones expire.
     * @default 20
     */
    readonly keepTaggedImages?: number;
    /**
     * Days an untagged image is kept.
     * @default 7
     */
    readonly untaggedExpiryDays?: number;
    /**
     * Statements of a repository policy (the host's grants to consuming environments in other accounts); no policy
     * when empty. The repository's own account needs none: its IAM policies decide.
     * @default []
     */
    readonly repositoryPolicyStatements?: PolicyStatement[];
}

export class ModelImage extends pulumi.ComponentResource {
    readonly repository: aws.ecr.Repository;
    readonly repositoryArn: pulumi.Output<string>;
    /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>`: where the image build pushes. */
    readonly repositoryUrl: pulumi.Output<string>;

    constructor(name: string, args: ModelImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:image:ModelImage", name, args, opts);
        const parent = this;
        const { context } = args;

        this.repository = createRepository();
        this.repositoryArn = this.repository.arn;
        this.repositoryUrl = this.repository.repositoryUrl;
        createLifecyclePolicy();
        if (args.repositoryPolicyStatements?.length) createRepositoryPolicy(args.repositoryPolicyStatements);

        this.registerOutputs({ repositoryArn: this.repositoryArn, repositoryUrl: this.repositoryUrl });

        function createRepository() {
            return new aws.ecr.Repository(`${name}-repository`, {
                name: context.namer.name("ecrRepository", "model"),
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: args.kmsKeyArn }],
                forceDelete: !context.protectData,
            }, { parent });
        }

        function createRepositoryPolicy(statements: PolicyStatement[]) {
            return new aws.ecr.RepositoryPolicy(`${name}-policy`, {
                repository: parent.repository.name,
                policy: policyDocument(statements),
            }, { parent });
        }

        function createLifecyclePolicy() {
            return new aws.ecr.LifecyclePolicy(`${name}-lifecycle`, {
                repository: parent.repository.name,
                policy: JSON.stringify({
                    rules: [
                        {
                            rulePriority: 1,
                            description: "Expire untagged images (superseded layers of failed pushes)",
                            selection: {
                                tagStatus: "untagged",
                                countType: "sinceImagePushed",
                                countUnit: "days",
                                countNumber: args.untaggedExpiryDays ?? 7,
                            },
                            action: { type: "expire" },
                        },
                        {
                            rulePriority: 2,
                            description: "Keep the most recent content-tagged images",
                            selection: {
                                tagStatus: "tagged",
                                tagPrefixList: [TAG_PREFIX],
                                countType: "imageCountMoreThan",
                                countNumber: args.keepTaggedImages ?? 20,
                            },
                            action: { type: "expire" },
                        },
                    ],
                }),
            }, { parent });
        }
    }
}
