import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as pulumiservice from "@pulumi/pulumiservice";
import { REVIEW_NAME_PREFIX, StackConfig } from "../config";
import { StackContext } from "../lib/context";
import { policyDocument } from "../lib/policy";
import { SharedResources } from "../lib/shared";
import { attachStackDeployPolicies, PULUMI_OIDC_ISSUER } from "../lib/stack-deploy-policy";
import { permissionsBoundaryArn } from "./permissions-boundary";
import { deploymentOperationContext, deploymentPaths, deploymentSubject } from "./deployments";

/**
 * Review stacks: Pulumi Deployments creates a stack for every pull request against a branch that has a review stack
 * template, deploys it on each commit and destroys it when the pull request is merged or closed
 * (pulumi.com/docs/deployments/concepts/review-stacks). What Pulumi documents and this program builds on:
 *
 * - **Template**: a stack whose deployment settings have `pullRequestTemplate: true`. Its stack file
 *   (`Pulumi.<template>.yaml`, by convention `pr`) "will be copied into every review stack that gets created": so
 *   `Pulumi.pr.yaml` says `mlops:environment: review`, which is how the program recognises a review stack, and
 *   holds the review stacks' settings (infra/config.ts REVIEW_DEFAULTS fills the cheap ones).
 * - **Names**: every review stack has a stack name of its own (stack names are unique within a project); the
 *   program derives its physical names from it (config `nameSegment`: `<project>-pr-<number>-<hash>-…`).
 * - **Credentials**: review stacks deploy with the template's deployment settings, so the template's OIDC role is
 *   theirs. Each run's token carries the review stack's own subject
 *   `pulumi:deploy:org:<org>:project:<project>:stack:<review stack>:operation:<op>:scope:write`
 *   (pulumi.com/docs/deployments/deployments/oidc), which is what the role trusts — never dev's or prod's.
 *
 * The template is a stack of its own (Pulumi's "separate stacks" pattern) rather than dev: review stacks get the
 * template's credentials, and dev's role may change dev, which a pull request's code must not.
 */
export interface ReviewStackTemplateArgs {
    readonly context: StackContext;
    /** Pulumi organization owning the stacks; the audience of their deployment tokens. */
    readonly organization: string;
    /** Pulumi project name. */
    readonly project: string;
    /** The template stack (without organization and project); its stack file is copied into every review stack. */
    readonly templateStack: string;
    /** GitHub `owner/name` the Pulumi GitHub app is installed on. */
    readonly repository: string;
    /** Pull requests against this branch get review stacks. */
    readonly branch: string;
    /**
     * IAM `StringLike` pattern of the review stacks' names (the `stack` of their OIDC subject).
     * @default `pr-pulumi-<organization>-*`
     */
    readonly stackNamePattern?: string;
    /** The host's model package group: review stacks read their serving version from it. */
    readonly modelPackageGroupArn: pulumi.Input<string>;
    /**
     * Folder of `Pulumi.yaml` inside the repository.
     * @default undefined — the repository root
     */
    readonly repoDir?: string;
    /**
     * Lifetime of a run's AWS session: a review stack serves from a serverless endpoint (no blue/green wait).
     * @default 3600
     */
    readonly sessionDurationSeconds?: number;
}

/** The review stacks' names as Pulumi Cloud gives them (observed prefix, see config `reviewStacks.stackNamePattern`). */
export function defaultReviewStackPattern(organization: string): string {
    return `pr-pulumi-${organization}-*`;
}

/**
 * Registered by the stack that owns the template (the platform): the template's deployment settings and the role every review
 * stack's deployments assume, allowed only on review stacks' resources (`<project>-pr-*`, tag `environment: review`).
 */
export class ReviewStackTemplate extends pulumi.ComponentResource {
    readonly role: aws.iam.Role;
    readonly roleArn: pulumi.Output<string>;
    readonly settings: pulumiservice.DeploymentSettings;
    /** The OIDC subject pattern the role trusts. */
    readonly trustedSubject: string;

    constructor(name: string, args: ReviewStackTemplateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:ReviewStackTemplate", name, args, opts);
        const parent = this;
        const { context } = args;
        const sessionSeconds = args.sessionDurationSeconds ?? 3600;
        const pattern = args.stackNamePattern ?? defaultReviewStackPattern(args.organization);
        if (pattern.replace(/\*/g, "").length < 4 || pattern === args.templateStack) {
            throw new pulumi.ResourceError(`ReviewStackTemplate ${name}: stackNamePattern ${JSON.stringify(pattern)} would match ` +
                "nearly any stack (or the template itself); give the review stacks' name prefix, e.g. pr-pulumi-<org>-*", this);
        }
        this.trustedSubject = deploymentSubject(args.organization, args.project, pattern);
        const oidcProviderArn = pulumi.interpolate`arn:${context.partition}:iam::${context.accountId}:oidc-provider/${PULUMI_OIDC_ISSUER}`;

        this.role = new aws.iam.Role(`${name}-role`, {
            name: context.namer.name("iamRole", "review-deployments"),
            description: `Assumed by Pulumi Deployments of the review stacks of ${args.organization}/${args.project} only`,
            maxSessionDuration: Math.max(3600, sessionSeconds),
            // It acts for the review stacks, so it carries their boundary: the owning stack's own boundary denies every
            // resource tagged for another environment, review stacks' included.
            permissionsBoundary: permissionsBoundaryArn(context, "review"),
            assumeRolePolicy: policyDocument([{
                Sid: "PulumiDeploymentsOfReviewStacksOnly",
                Effect: "Allow",
                Principal: { Federated: oidcProviderArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: { [`${PULUMI_OIDC_ISSUER}:aud`]: args.organization },
                    StringLike: { [`${PULUMI_OIDC_ISSUER}:sub`]: this.trustedSubject },
                },
            }]),
        }, { parent });
        this.roleArn = this.role.arn;
        const policies = attachStackDeployPolicies(`${name}-role`, {
            context,
            role: this.role,
            policyNamePrefix: context.namer.name("iamPolicy", "review-deployments"),
            scope: {
                environment: "review",
                nameSegment: REVIEW_NAME_PREFIX,
                isHost: false,
                reviewStacks: true,
                modelPackageGroupArn: args.modelPackageGroupArn,
            },
        }, { parent });

        this.settings = new pulumiservice.DeploymentSettings(`${name}-settings`, {
            organization: args.organization,
            project: args.project,
            stack: args.templateStack,
            vcs: {
                provider: "github",
                repository: args.repository,
                // The template itself is never deployed: it only lends its settings and stack file to review stacks.
                deployCommits: false,
                previewPullRequests: false,
                pullRequestTemplate: true,
                paths: deploymentPaths(args.templateStack, false),
            },
            sourceContext: {
                git: { branch: `refs/heads/${args.branch}`, ...(args.repoDir ? { repoDir: args.repoDir } : {}) },
            },
            operationContext: deploymentOperationContext({
                roleArn: this.roleArn,
                sessionName: "pulumi-deployments-review",
                sessionSeconds,
                region: context.region,
            }),
            cacheOptions: { enable: true },
        }, { parent, dependsOn: policies.attachments });

        this.registerOutputs({ roleArn: this.roleArn, settings: this.settings.id, trustedSubject: this.trustedSubject });
    }
}

export interface ReviewStackTtlArgs {
    readonly organization: pulumi.Input<string>;
    readonly project: string;
    /** The review stack itself. */
    readonly stack: string;
    /** Hours from the first deployment to the destroy. */
    readonly ttlHours: number;
    /**
     * When the lifetime starts.
     * @default the time of the first deployment (later deployments keep the first timestamp)
     */
    readonly now?: Date;
}

/** `2030-01-31T18:00:00Z`: ISO 8601 in UTC, whole seconds, the form the TtlSchedule documents. */
export function ttlTimestamp(now: Date, hours: number): string {
    return new Date(Math.floor(now.getTime() / 1000) * 1000 + hours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * A review stack's time to live: Pulumi Deployments destroys the stack at the TTL schedule's timestamp
 * (pulumi.com/docs/deployments/concepts/ttl; `pulumiservice.TtlSchedule`, @pulumi/pulumiservice 1.3.0), even when its
 * pull request stays open. The timestamp is set once, at the first deployment: Pulumi measures a TTL from the stack's
 * creation, and a later commit must not push the destroy back.
 */
export class ReviewStackTtl extends pulumi.ComponentResource {
    readonly schedule: pulumiservice.TtlSchedule;
    readonly timestamp: string;

    constructor(name: string, args: ReviewStackTtlArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:ReviewStackTtl", name, args, opts);
        if (!Number.isInteger(args.ttlHours) || args.ttlHours < 1) {
            throw new pulumi.ResourceError(`ReviewStackTtl ${name}: ttlHours ${args.ttlHours} must be a whole number of hours >= 1`, this);
        }
        this.timestamp = ttlTimestamp(args.now ?? new Date(), args.ttlHours);
        this.schedule = new pulumiservice.TtlSchedule(`${name}-schedule`, {
            organization: args.organization,
            project: args.project,
            stack: args.stack,
            timestamp: this.timestamp,
            // The pull request's closing removes the stack; a TTL only destroys its resources.
            deleteAfterDestroy: false,
        }, { parent: this, ignoreChanges: ["timestamp"] });
        this.registerOutputs({ timestamp: this.timestamp, scheduleId: this.schedule.scheduleId });
    }
}

/**
 * The review-stack parts of a stack: the template on the stack that owns it (config `deployments.reviewStacks`),
 * the TTL on a review stack (infra/config.ts gives every review stack a review section; `ttlHours: 0` = none).
 * One call from the program.
 */
export function createReviewStackResources(
    config: StackConfig,
    context: StackContext,
    shared: Pick<SharedResources, "modelPackageGroupArn">,
    opts: pulumi.ComponentResourceOptions,
): { template?: ReviewStackTemplate; ttl?: ReviewStackTtl } {
    const reviewStacks = config.deployments.enabled ? config.deployments.reviewStacks : undefined;
    const template = reviewStacks && new ReviewStackTemplate("review-stacks", {
        context,
        organization: config.deployments.organization!,
        project: config.project,
        templateStack: reviewStacks.templateStack,
        repository: config.deployments.repository!,
        branch: config.deployments.branch,
        stackNamePattern: reviewStacks.stackNamePattern,
        modelPackageGroupArn: shared.modelPackageGroupArn,
    }, opts);
    const ttl = config.environment === "review" && config.review!.ttlHours > 0
        ? new ReviewStackTtl("review-ttl", {
            organization: pulumi.getOrganization(),
            project: config.project,
            stack: config.stack,
            ttlHours: config.review!.ttlHours,
        }, opts)
        : undefined;
    return { ...(template ? { template } : {}), ...(ttl ? { ttl } : {}) };
}
