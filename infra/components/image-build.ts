import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { StackContext } from "../lib/context";
import { ecrLoginStatement, PolicyStatement } from "../lib/policy";
import { buildBaseStatements, createBuildLogGroup, createBuildProject, createBuildRole, plaintextVariables } from "../lib/codebuild";
import { TRAIN_ENV } from "../../contracts/step-environment";

/** ECR scan severities, most severe first (ECR's `findingSeverityCounts` keys); NONE never fails the build. */
export const SCAN_SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED", "NONE"] as const;
export type ScanSeverity = typeof SCAN_SEVERITIES[number];

/** The exported variables of the image build (`#{<namespace>.IMAGE_URI}`); the train step reads the URI by the same name. */
export const IMAGE_BUILD_VARIABLES = { imageUri: TRAIN_ENV.imageUri, imageTag: "IMAGE_TAG" } as const;
/** Where scripts/build-image.sh writes IMAGE_TAG= and IMAGE_URI= lines (its IMAGE_OUTPUT, set on the project). */
export const IMAGE_OUTPUT_FILE = ".image-build/image.env";

/**
 * The pipeline's image build: a CodeBuild project — the only privileged one in the program — that runs
 * scripts/build-image.sh on the pipeline's code revision. It builds the model image with BuildKit and pushes it
 * to the model repository under its content tag (skipped when that tag exists), fails on push-scan findings at
 * or above {@link ImageBuildArgs.failOnSeverity}, and exports the image URI by digest for the train action. Its role
 * may push to that one repository, read the pipeline's artifacts and write its own logs: nothing else. Host only.
 */
export interface ImageBuildArgs {
    readonly context: StackContext;
    /** Encrypts the project, its logs and (through the artifact store) its source. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** The model image repository: the only one the build may push to. */
    readonly repository: { readonly arn: pulumi.Input<string>; readonly url: pulumi.Input<string> };
    /** The pipeline's artifact store (the build reads its source artifact there). */
    readonly artifactsBucketArn: pulumi.Input<string>;
    /**
     * Push-scan findings of this severity or a more severe one fail the build (and so the stage).
     * @default "CRITICAL"
     */
    readonly failOnSeverity?: ScanSeverity;
    /**
     * Build timeout in minutes (a cold build installs numpy, pandas, scipy and xgboost wheels).
     * @default 60
     */
    readonly timeoutMinutes?: number;
    /**
     * CodeBuild compute type.
     * @default "BUILD_GENERAL1_MEDIUM"
     */
    readonly computeType?: string;
    /**
     * CodeBuild managed image (Docker, Node 20).
     * @default "aws/codebuild/standard:7.0" (`DEFAULT_BUILD_IMAGE` of infra/lib/codebuild.ts)
     */
    readonly buildImage?: string;
}

/** The build: the locked Node packages (the content tag is computed by TypeScript), then the one script. */
export function imageBuildspec(): string {
    return YAML.stringify({
        version: 0.2,
        env: { shell: "bash", "exported-variables": [IMAGE_BUILD_VARIABLES.imageUri, IMAGE_BUILD_VARIABLES.imageTag] },
        phases: {
            install: {
                "runtime-versions": { nodejs: 20 },
                commands: ["npm ci --no-audit --no-fund --loglevel=error"],
            },
            build: {
                commands: [
                    "bash scripts/build-image.sh",
                    // The script's results become this shell's variables, which CodeBuild exports to the pipeline.
                    `. ./${IMAGE_OUTPUT_FILE} && export ${IMAGE_BUILD_VARIABLES.imageTag} ${IMAGE_BUILD_VARIABLES.imageUri}`,
                ],
            },
        },
    });
}

export class ImageBuild extends pulumi.ComponentResource {
    readonly project: aws.codebuild.Project;
    readonly projectName: pulumi.Output<string>;
    readonly projectArn: pulumi.Output<string>;
    readonly role: aws.iam.Role;

    constructor(name: string, args: ImageBuildArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:ImageBuild", name, args, opts);
        const parent = this;
        const { context } = args;
        const namer = context.namer;
        const failOnSeverity = args.failOnSeverity ?? "CRITICAL";
        const timeoutMinutes = args.timeoutMinutes ?? 60;
        validate();

        const projectName = namer.name("codebuild", "image");
        const logGroup = createBuildLogGroup(`${name}-logs`, projectName, context, args.kmsKeyArn, { parent });
        const { role, policy } = createBuildRole(context, {
            resourceNames: { role: `${name}-role`, policy: `${name}-policy` },
            roleName: namer.name("iamRole", "image-build"),
            description: "Builds the model image and pushes it to the model repository (nothing else)",
            statements: imageBuildStatements(logGroup.arn),
        }, { parent });
        this.role = role;
        this.project = createProject();
        this.projectName = this.project.name;
        this.projectArn = this.project.arn;

        this.registerOutputs({ projectName: this.projectName, projectArn: this.projectArn, roleArn: this.role.arn });

        function validate() {
            if (!SCAN_SEVERITIES.includes(failOnSeverity)) {
                throw new pulumi.ResourceError(`ImageBuild ${name}: failOnSeverity ${JSON.stringify(failOnSeverity)} is invalid; ` +
                    `expected one of ${SCAN_SEVERITIES.join(", ")}`, parent);
            }
            // CodeBuild's limits for buildTimeoutInMinutes: 5 to 2160 (CreateProject API reference).
            if (!Number.isInteger(timeoutMinutes) || timeoutMinutes < 5 || timeoutMinutes > 2160) {
                throw new pulumi.ResourceError(`ImageBuild ${name}: timeoutMinutes ${timeoutMinutes} is invalid; expected a whole number from 5 to 2160`, parent);
            }
        }

        function imageBuildStatements(logGroupArn: pulumi.Output<string>): PolicyStatement[] {
            return [
                ...buildBaseStatements(logGroupArn, args.artifactsBucketArn),
                {
                    Sid: "DecryptSourceArtifact",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:DescribeKey"],
                    Resource: args.kmsKeyArn,
                },
                ecrLoginStatement(),
                {
                    Sid: "PushToTheModelRepositoryOnly",
                    Effect: "Allow",
                    // The push set of AWS's "IAM permissions for pushing an image" (ECR user guide), plus looking up a
                    // tag's digest and its scan findings. No KMS grant is needed: ECR holds its own grant on the key.
                    Action: [
                        "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                        "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage",
                        "ecr:DescribeImages", "ecr:DescribeImageScanFindings",
                    ],
                    Resource: args.repository.arn,
                },
            ];
        }

        function createProject() {
            return createBuildProject(`${name}-project`, {
                projectName,
                description: "scripts/build-image.sh: builds and pushes the model image under its content tag (skips an existing tag)",
                serviceRoleArn: parent.role.arn,
                kmsKeyArn: args.kmsKeyArn,
                timeoutMinutes,
                // Two builds of one content tag would race to push the same immutable tag.
                concurrentBuildLimit: 1,
                buildspec: imageBuildspec(),
                computeType: args.computeType ?? "BUILD_GENERAL1_MEDIUM",
                image: args.buildImage,
                // Building an image needs the Docker daemon: the one privileged project of the program.
                privilegedMode: true,
                environmentVariables: plaintextVariables({
                    IMAGE_REPOSITORY_URI: args.repository.url,
                    FAIL_ON_SEVERITY: failOnSeverity,
                    IMAGE_OUTPUT: IMAGE_OUTPUT_FILE,
                }),
                logGroupName: logGroup.name,
            // CodeBuild checks the role's permissions when the project is created: its policy must exist first.
            }, { parent, dependsOn: [parent.role, policy] });
        }
    }
}
