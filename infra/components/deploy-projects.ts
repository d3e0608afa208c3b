import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { EXECUTION_SUMMARY_PREFIX } from "./delivery-metrics";
import { childOptions } from "../lib/aliases";
import { StackContext } from "../lib/context";
import { PolicyStatement } from "../lib/policy";
import { ResourceRef } from "../lib/refs";
import { attachStackDeployPolicies } from "../lib/stack-deploy-policy";
import { permissionsBoundaryArn } from "./permissions-boundary";
import { buildBaseStatements, createBuildLogGroup, createBuildProject, createBuildRole } from "../lib/codebuild";
import { DEPLOY_ENV } from "../../contracts/step-environment";

/** The two stacks the pipeline deploys: dev first (where the evaluation measures), prod after the gate. */
export type DeployTargetKey = "dev" | "prod";

/** A deploy project as the pipeline's actions refer to it: the project, and the stack it updates. */
export interface DeployTargetRef extends ResourceRef {
    readonly stack: string;
}

/**
 * The projects that deploy a promoted model version: one CodeBuild project per stack running `steps/deploy`
 * (`pulumi up` through the Automation API), each with its own role holding exactly the permissions of its stack's
 * update (infra/lib/stack-deploy-policy.ts), and the Secrets Manager secret holding the Pulumi access token they
 * run with. Host stack only.
 */
export interface DeployProjectsArgs {
    readonly context: StackContext;
    /** Encrypts the projects, their logs and the token secret. */
    readonly kmsKeyArn: pulumi.Input<string>;
    /** The pipeline's artifact store: the projects read their source there; the prod deploy writes execution summaries. */
    readonly artifactsBucket: ResourceRef;
    /** The delivery pipeline's physical name: the prod deploy reads its executions to record lead time. */
    readonly pipelineName: pulumi.Input<string>;
    /** The registry group deployments resolve versions from (the deploy roles read it). */
    readonly modelPackageGroupArn: pulumi.Input<string>;
    /**
     * The CodeStar connection of the pipeline's Git source: the deployer of the host stack manages the pipeline,
     * so it may pass the connection.
     * @default undefined — no Git source
     */
    readonly connectionArn?: string;
    /**
     * Stack names the projects update (`steps/deploy --stack <name>`).
     * @default { dev: "dev", prod: "prod" }
     */
    readonly stacks?: { readonly dev: string; readonly prod: string };
    /**
     * Pulumi organization owning the stacks, given to the deploy step as `PULUMI_ORGANIZATION`.
     * @default undefined — the access token's default organization
     */
    readonly pulumiOrganization?: string;
    /**
     * CodeBuild compute of the projects. `pulumi up` runs the Node program and two provider plugins (aws,
     * pulumiservice) at once; BUILD_GENERAL1_SMALL gives 4 GiB, BUILD_GENERAL1_MEDIUM 8 GiB and 4 vCPUs
     * (CodeBuild API reference, ProjectEnvironment.computeType). Not measured here (no Pulumi CLI on the build
     * machine): lower it only after watching a deploy's memory.
     * @default "BUILD_GENERAL1_MEDIUM"
     */
    readonly computeType?: string;
    /**
     * Build timeouts in minutes. Prod's covers a blue/green canary with its waits.
     * @default { dev: 60, prod: 180 }
     */
    readonly timeoutMinutes?: { readonly dev: number; readonly prod: number };
    /**
     * CodeBuild managed image (Node 20 runtime).
     * @default "aws/codebuild/standard:7.0" (`DEFAULT_BUILD_IMAGE` of infra/lib/codebuild.ts)
     */
    readonly buildImage?: string;
    /**
     * URN of the component that created these resources before they had a component of their own (the
     * DeliveryPipeline of the same name): each gets an alias to its URN there, so an existing stack keeps it.
     * @default undefined — no aliases (a stack created after the split)
     */
    readonly formerParent?: pulumi.Input<string>;
}

/** The deploy project's buildspec: install the locked dependencies and the matching Pulumi CLI, run steps/deploy. */
export function deployBuildspec(): string {
    return YAML.stringify({
        version: 0.2,
        env: { shell: "bash" },
        phases: {
            install: {
                "runtime-versions": { nodejs: 20 },
                commands: [
                    "npm ci --no-audit --no-fund --loglevel=error",
                    // The CLI the Automation API drives is pinned to the SDK version in package-lock.json.
                    "PULUMI_VERSION=\"$(node -p \"require('@pulumi/pulumi/package.json').version\")\" && " +
                    "curl -fsSL https://get.pulumi.com | sh -s -- --version \"$PULUMI_VERSION\"",
                ],
            },
            build: {
                commands: [
                    "if [ -z \"$MODEL_PACKAGE_ARN\" ] || [[ \"$MODEL_PACKAGE_ARN\" == *'#{'* ]]; then " +
                    "echo \"MODEL_PACKAGE_ARN is empty or unresolved ('$MODEL_PACKAGE_ARN'): the Train action must export it\" >&2; exit 1; fi",
                    "export PATH=\"$HOME/.pulumi/bin:$PATH\" && npx ts-node --transpile-only steps/deploy/main.ts " +
                    "--stack \"$TARGET_STACK\" --model-package-arn \"$MODEL_PACKAGE_ARN\"",
                ],
            },
        },
    });
}

interface DeployTarget {
    readonly key: DeployTargetKey;
    readonly stack: string;
    readonly timeoutMinutes: number;
}

export class DeployProjects extends pulumi.ComponentResource {
    /** Holds the Pulumi access token the projects use; its value is set out of band (docs/delivery.md). */
    readonly accessTokenSecret: aws.secretsmanager.Secret;
    readonly projects: Readonly<Record<DeployTargetKey, aws.codebuild.Project>>;
    readonly roles: Readonly<Record<DeployTargetKey, aws.iam.Role>>;
    /** What the pipeline's deploy actions need: each project and the stack it updates. */
    readonly targets: Readonly<Record<DeployTargetKey, DeployTargetRef>>;
    /** The projects' log groups: the prod deploy records lead time there (./delivery-metrics.ts). */
    readonly logGroupNames: Readonly<Record<DeployTargetKey, pulumi.Output<string>>>;

    constructor(name: string, args: DeployProjectsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:DeployProjects", name, args, opts);
        const parent = this;
        const stacks = args.stacks ?? { dev: "dev", prod: "prod" };
        const timeouts = args.timeoutMinutes ?? { dev: 60, prod: 180 };
        validateDeployProjects(name, stacks, timeouts, parent);
        const childOpts = childOptions(parent, args.formerParent);

        this.accessTokenSecret = createAccessTokenSecret(name, args, childOpts);
        const built = {
            dev: createDeployProject(name, args, { key: "dev", stack: stacks.dev, timeoutMinutes: timeouts.dev }, this.accessTokenSecret, childOpts),
            prod: createDeployProject(name, args, { key: "prod", stack: stacks.prod, timeoutMinutes: timeouts.prod }, this.accessTokenSecret, childOpts),
        };
        this.projects = { dev: built.dev.project, prod: built.prod.project };
        this.roles = { dev: built.dev.role, prod: built.prod.role };
        this.targets = {
            dev: { name: built.dev.project.name, arn: built.dev.project.arn, stack: stacks.dev },
            prod: { name: built.prod.project.name, arn: built.prod.project.arn, stack: stacks.prod },
        };
        this.logGroupNames = { dev: built.dev.logGroupName, prod: built.prod.logGroupName };

        this.registerOutputs({
            accessTokenSecretArn: this.accessTokenSecret.arn,
            projectNames: { dev: this.projects.dev.name, prod: this.projects.prod.name },
            roleArns: { dev: this.roles.dev.arn, prod: this.roles.prod.arn },
        });
    }
}

function validateDeployProjects(name: string, stacks: { dev: string; prod: string }, timeouts: { dev: number; prod: number }, parent: pulumi.Resource) {
    const fail = (message: string) => { throw new pulumi.ResourceError(`DeployProjects ${name}: ${message}`, parent); };
    for (const [target, minutes] of Object.entries(timeouts)) {
        if (!Number.isInteger(minutes) || minutes < 5 || minutes > 2160) {
            fail(`timeoutMinutes.${target} ${minutes} is out of range; CodeBuild allows whole minutes from 5 to 2160`);
        }
    }
    if (stacks.dev === stacks.prod) {
        fail(`stacks.dev and stacks.prod are both ${JSON.stringify(stacks.dev)}; the gate must separate two stacks`);
    }
}

function createAccessTokenSecret(name: string, args: DeployProjectsArgs, opts: pulumi.CustomResourceOptions) {
    return new aws.secretsmanager.Secret(`${name}-pulumi-token`, {
        name: args.context.namer.name("secret", "pulumi-access-token"),
        description: "Pulumi Cloud access token the deploy projects run `pulumi up` with. Set out of band: " +
            "aws secretsmanager put-secret-value --secret-id <this secret> --secret-string <token>",
        kmsKeyId: args.kmsKeyArn,
        recoveryWindowInDays: args.context.protectData ? 30 : 7,
    }, opts);
}

function createDeployProject(name: string, args: DeployProjectsArgs, target: DeployTarget, tokenSecret: aws.secretsmanager.Secret,
    opts: pulumi.CustomResourceOptions) {
    const { context } = args;
    const namer = context.namer;
    // The pipeline lives in the host stack: the target that is this stack deploys the host's resources too.
    const isHost = target.stack === context.stack;
    const projectName = namer.name("codebuild", "deploy", target.key);
    const logGroup = createBuildLogGroup(`${name}-deploy-${target.key}-logs`, projectName, context, args.kmsKeyArn, opts);
    const { role } = createBuildRole(context, {
        resourceNames: { role: `${name}-deploy-${target.key}-role`, policy: `${name}-deploy-${target.key}-build-policy` },
        roleName: namer.name("iamRole", "deploy", target.key),
        description: `Runs steps/deploy for the ${target.stack} stack from the ${namer.project}-${context.environment} pipeline`,
        statements: deployBuildStatements(args, logGroup.arn, tokenSecret),
        // It acts for the target environment, so it carries that environment's boundary: this stack's own deployer
        // (confined to its own boundary) cannot change another environment's deploy role.
        permissionsBoundary: permissionsBoundaryArn(context, target.key),
    }, opts);
    attachStackDeployPolicies(`${name}-deploy-${target.key}-stack`, {
        context,
        role,
        policyNamePrefix: namer.name("iamPolicy", "deploy", target.key),
        scope: {
            environment: target.key,
            isHost,
            modelPackageGroupArn: args.modelPackageGroupArn,
            connectionArn: isHost ? args.connectionArn : undefined,
        },
    }, opts);
    const environmentVariables: aws.types.input.codebuild.ProjectEnvironmentEnvironmentVariable[] = [
        { name: DEPLOY_ENV.targetStack, value: target.stack, type: "PLAINTEXT" },
        { name: "PULUMI_ACCESS_TOKEN", value: tokenSecret.arn, type: "SECRETS_MANAGER" },
        { name: "PULUMI_SKIP_UPDATE_CHECK", value: "true", type: "PLAINTEXT" },
        // `npm test` type-checks in CI; the deploy need not do it again.
        { name: "PULUMI_NODEJS_TRANSPILE_ONLY", value: "true", type: "PLAINTEXT" },
        ...(args.pulumiOrganization ? [{ name: "PULUMI_ORGANIZATION", value: args.pulumiOrganization, type: "PLAINTEXT" }] : []),
        // The prod deploy records each execution's lead time once prod serves (steps/lib/lead-time.ts).
        ...(target.key === "prod" ? [
            { name: DEPLOY_ENV.pipelineName, value: args.pipelineName, type: "PLAINTEXT" },
            { name: DEPLOY_ENV.executionSummaryPrefix, value: pulumi.interpolate`s3://${args.artifactsBucket.name}/${EXECUTION_SUMMARY_PREFIX}`, type: "PLAINTEXT" },
        ] : []),
    ];
    const project = createBuildProject(`${name}-deploy-${target.key}`, {
        projectName,
        description: `steps/deploy --stack ${target.stack}: pulumi up with the model version the pipeline promotes`,
        serviceRoleArn: role.arn,
        kmsKeyArn: args.kmsKeyArn,
        timeoutMinutes: target.timeoutMinutes,
        // Two updates of one stack would only fight over its lock.
        concurrentBuildLimit: 1,
        buildspec: deployBuildspec(),
        computeType: args.computeType ?? "BUILD_GENERAL1_MEDIUM",
        image: args.buildImage,
        environmentVariables,
        logGroupName: logGroup.name,
    }, opts);
    return { project, role, logGroupName: logGroup.name };
}

function deployBuildStatements(args: DeployProjectsArgs, logGroupArn: pulumi.Output<string>, tokenSecret: aws.secretsmanager.Secret): PolicyStatement[] {
    return [
        ...buildBaseStatements(logGroupArn, args.artifactsBucket.arn),
        {
            Sid: "ReadPulumiAccessToken",
            Effect: "Allow",
            Action: "secretsmanager:GetSecretValue",
            Resource: tokenSecret.arn,
        },
        {
            Sid: "DecryptArtifactsAndToken",
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:DescribeKey"],
            Resource: args.kmsKeyArn,
        },
    ];
}
