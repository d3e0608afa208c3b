import * as fs from "fs";
import * as path from "path";
import { createHash } from "crypto";
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { StackContext } from "../lib/context";

/** The model container's image: an ECR repository that meets the checklist, and the image built from source. */
export interface ModelImageArgs {
    readonly context: StackContext;
    /** Encrypts the repository. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** Folder with the Dockerfile (`model-container/`). */
    readonly sourceDir: string;
    /**
     * Tagged images kept; older ones expire.
     * @default 20
     */
    readonly keepTaggedImages?: number;
    /**
     * Days an untagged image is kept.
     * @default 7
     */
    readonly untaggedExpiryDays?: number;
}

/** Files that do not go into the image (mirrors model-container/.dockerignore) and must not change its tag. */
const IGNORED = /(^|\/)(__pycache__|\.pytest_cache|tests?)(\/|$)|\.pyc$|\.md$|^\.dockerignore$/;

/**
 * A tag derived from the build context's contents, so the same source always has the same tag (immutable tags
 * stay meaningful) and any change, even a one-line one, produces a new image.
 */
export function contentTag(sourceDir: string): string {
    const hash = createHash("sha256");
    const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const files = walk(sourceDir).map((f) => path.relative(sourceDir, f).split(path.sep).join("/"))
        .filter((f) => !IGNORED.test(f))
        .sort();
    for (const file of files) {
        hash.update(file).update("\0").update(fs.readFileSync(path.join(sourceDir, file))).update("\0");
    }
    return `src-${hash.digest("hex").slice(0, 16)}`;
}

export class ModelImage extends pulumi.ComponentResource {
    readonly repository: aws.ecr.Repository;
    readonly repositoryArn: pulumi.Output<string>;
    readonly imageTag: string;
    /** `<registry>/<repo>:<content tag>` — what training jobs and models run. */
    readonly imageUri: pulumi.Output<string>;

    constructor(name: string, args: ModelImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:image:ModelImage", name, args, opts);
        const parent = this;
        const { context } = args;

        if (!fs.existsSync(path.join(args.sourceDir, "Dockerfile"))) {
            throw new pulumi.ResourceError(`ModelImage: no Dockerfile in ${args.sourceDir}; expected the model container's build context`, parent);
        }
        this.imageTag = contentTag(args.sourceDir);
        this.repository = createRepository();
        this.repositoryArn = this.repository.arn;
        createLifecyclePolicy();
        this.imageUri = createImage().imageUri;

        this.registerOutputs({ repositoryArn: this.repositoryArn, imageUri: this.imageUri });

        function createRepository() {
            return new aws.ecr.Repository(`${name}-repository`, {
                name: context.namer.name("ecrRepository", "model"),
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: args.kmsKeyArn }],
                forceDelete: !context.protectData,
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
                                tagPrefixList: ["src-"],
                                countType: "imageCountMoreThan",
                                countNumber: args.keepTaggedImages ?? 20,
                            },
                            action: { type: "expire" },
                        },
                    ],
                }),
            }, { parent });
        }

        function createImage() {
            return new awsx.ecr.Image(`${name}-image`, {
                repositoryUrl: parent.repository.repositoryUrl,
                context: args.sourceDir,
                dockerfile: path.join(args.sourceDir, "Dockerfile"),
                // SageMaker runs x86_64 instances; a build on an ARM laptop must not produce an ARM image.
                platform: "linux/amd64",
                imageTag: parent.imageTag,
            }, { parent });
        }
    }
}
