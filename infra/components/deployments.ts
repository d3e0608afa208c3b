import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as pulumiservice from "@pulumi/pulumiservice";
import type { EndpointConfig } from "../config";
import { StackContext } from "../lib/context";
import { policyDocument } from "../lib/policy";
import { attachStackDeployPolicies, PULUMI_OIDC_ISSUER, StackDeployScope } from "../lib/stack-deploy-policy";

/**
 * Pulumi Deployments for one stack: pull requests get a `pulumi preview`, pushes may deploy, drift is checked on a
 * schedule, and every run gets short-lived AWS credentials through OIDC for a role only this stack's deployments
 * can assume.
 */
export interface DeploymentsArgs {
    readonly context: StackContext;
    /** Pulumi organization owning the stack; also the audience of its deployment tokens. */
    readonly organization: string;
    /** Pulumi project name (`Pulumi.yaml` `name`). */
    readonly project: string;
    /** Stack name (without organization and project). */
    readonly stack: string;
    /** GitHub `owner/name` the Pulumi GitHub app is installed on. */
    readonly repository: string;
    /** Branch deployments run from. */
    readonly branch: string;
    /** Run `pulumi preview` for every pull request and comment the result. */
    readonly previewPullRequests: boolean;
    /** Run `pulumi up` for every push to {@link branch} that touches {@link paths}. */
    readonly deployCommits: boolean;
    /**
     * Repository paths whose changes trigger this stack's deployments and previews.
     * @default {@link deploymentPaths}(stack, isHost)
     */
    readonly paths?: readonly string[];
    /**
     * Folder of `Pulumi.yaml` inside the repository.
     * @default undefined — the repository root
     */
    readonly repoDir?: string;
    /**
     * Five-field cron for drift detection (`pulumi refresh --preview-only`); drift is reported, never remediated.
     * @default undefined — no drift schedule
     */
    readonly driftScheduleCron?: string;
    /**
     * ISO-8601 time at which the stack is destroyed. Only for short-lived stacks: refused for dev and prod.
     * @default undefined — no TTL
     */
    readonly ttlTimestamp?: string;
    /**
     * Register Pulumi Cloud as this account's OIDC identity provider. An account holds one provider per URL, so at
     * most one stack per account creates it (config `accountResources.pulumiOidcProvider` on the host); by default
     * the account setup step (docs/delivery.md) registers it and every stack refers to its fixed ARN.
     */
    readonly createOidcProvider: boolean;
    /**
     * Thumbprints of the issuer's certificate chain. IAM verifies issuers whose certificates chain to a CA in its
     * trusted library (api.pulumi.com does) against that library and keeps these only as a fallback.
     * @default [PULUMI_OIDC_THUMBPRINT]
     */
    readonly oidcThumbprints?: readonly string[];
    /** What the deployment role may change: the same statements as the pipeline's deploy project for this stack. */
    readonly deployScope: StackDeployScope;
    /**
     * Lifetime of the assumed-role session. The AWS provider cannot renew OIDC credentials mid-update, so it must
     * outlast the longest update (a blue/green canary waits between steps); see {@link deploySessionSeconds}.
     * @default 3600
     */
    readonly sessionDurationSeconds?: number;
    /**
     * Commands run before the Pulumi operation; they replace the default dependency install.
     * @default ["npm ci --no-audit --no-fund"]
     */
    readonly preRunCommands?: readonly string[];
}

/**
 * SHA-1 of "Starfield Services Root Certificate Authority - G2", the root that Amazon Trust Services chains (and
 * with it api.pulumi.com's certificate) cross-sign to. Check it with
 * `openssl s_client -connect api.pulumi.com:443 -showcerts` and `openssl x509 -fingerprint -sha1` on the last
 * certificate of the chain.
 */
export const PULUMI_OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

/** Environments that live on; a TTL schedule would destroy them. */
const LONG_LIVED_ENVIRONMENTS: readonly string[] = ["dev", "prod"];

/**
 * Repository paths that change what `pulumi up` of a stack does. The host also uploads the ETL. The model image is
 * not among them: the pipeline builds it, so a push under model-container/ starts the pipeline, not a deployment.
 */
export function deploymentPaths(stack: string, isHost: boolean): string[] {
    return [
        "infra/**",
        "lambdas/**",
        "monitor/**",
        // The drift checker goes into the model image, which the pipeline builds. A leading "!" excludes
        // (pulumi.com/docs/deployments/concepts/settings/path-filtering).
        "!monitor/drift_checker/**",
        "data/*.schema.json",
        ...(isHost ? ["etl/**"] : []),
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "Pulumi.yaml",
        `Pulumi.${stack}.yaml`,
    ];
}

/**
 * How long a deployment's AWS session must last: an hour for the program itself, plus the longest a blue/green
 * update may take on an instance endpoint (none for a stack that serves nothing: the platform). Capped at IAM's
 * 12-hour maximum.
 */
export function deploySessionSeconds(endpoint: EndpointConfig | undefined): number {
    const rollout = endpoint?.kind === "instances" ? endpoint.deployment.maximumExecutionTimeoutSeconds : 0;
    return Math.min(43_200, 3600 + rollout);
}

/** `1h30m0s`, the duration format Pulumi Deployments expects. */
/**
 * How a Pulumi Deployments run of this program works: OIDC credentials for `roleArn`, exactly the lockfile, no type
 * check (CI type-checks every commit). Shared by an environment's own settings and the review stack template's.
 */
export function deploymentOperationContext(args: {
    readonly roleArn: pulumi.Input<string>;
    readonly sessionName: string;
    readonly sessionSeconds: number;
    readonly region: string;
    readonly preRunCommands?: readonly string[];
}): pulumiservice.types.input.DeploymentSettingsOperationContextArgs {
    return {
        oidc: { aws: { roleARN: args.roleArn, sessionName: args.sessionName, duration: goDuration(args.sessionSeconds) } },
        // The lockfile, exactly: the default install would run `npm install`.
        options: { skipInstallDependencies: true, skipIntermediateDeployments: true },
        preRunCommands: [...(args.preRunCommands ?? ["npm ci --no-audit --no-fund"])],
        environmentVariables: {
            AWS_REGION: args.region,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            // CI type-checks every commit; deployments need not again.
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        },
    };
}

export function goDuration(seconds: number): string {
    return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m${seconds % 60}s`;
}

/** The subject every deployment token of one stack carries (…`:operation:<op>:scope:write` follows). */
export function deploymentSubject(organization: string, project: string, stack: string): string {
    return `pulumi:deploy:org:${organization}:project:${project}:stack:${stack}:*`;
}

export class Deployments extends pulumi.ComponentResource {
    readonly settings: pulumiservice.DeploymentSettings;
    readonly role: aws.iam.Role;
    readonly roleArn: pulumi.Output<string>;
    readonly oidcProviderArn: pulumi.Output<string>;
    readonly driftSchedule?: pulumiservice.DriftSchedule;
    readonly ttlSchedule?: pulumiservice.TtlSchedule;

    constructor(name: string, args: DeploymentsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:delivery:Deployments", name, args, opts);
        const parent = this;
        const { context } = args;
        const sessionSeconds = args.sessionDurationSeconds ?? 3600;
        validate();

        this.oidcProviderArn = args.createOidcProvider
            ? createOidcProvider().arn
            : pulumi.interpolate`arn:${context.partition}:iam::${context.accountId}:oidc-provider/${PULUMI_OIDC_ISSUER}`;
        this.role = createRole();
        this.roleArn = this.role.arn;
        const policies = attachRolePolicies();
        this.settings = createSettings();
        if (args.driftScheduleCron !== undefined) this.driftSchedule = createDriftSchedule(args.driftScheduleCron);
        if (args.ttlTimestamp !== undefined) this.ttlSchedule = createTtlSchedule(args.ttlTimestamp);

        this.registerOutputs({
            roleArn: this.roleArn,
            oidcProviderArn: this.oidcProviderArn,
            rolePolicies: policies.policies.map((p) => p.arn),
            settings: this.settings.id,
        });

        function validate() {
            const fail = (message: string) => { throw new pulumi.ResourceError(`Deployments ${name}: ${message}`, parent); };
            if (!Number.isInteger(sessionSeconds) || sessionSeconds < 900 || sessionSeconds > 43_200) {
                fail(`sessionDurationSeconds ${sessionSeconds} is out of range; IAM allows whole seconds from 900 to 43200`);
            }
            if (args.driftScheduleCron !== undefined && !/^\S+( \S+){4}$/.test(args.driftScheduleCron.trim())) {
                fail(`driftScheduleCron ${JSON.stringify(args.driftScheduleCron)} is not a five-field cron expression; e.g. "0 6 * * *" (daily at 06:00 UTC)`);
            }
            if (args.ttlTimestamp !== undefined) {
                if (LONG_LIVED_ENVIRONMENTS.includes(context.environment)) {
                    fail(`ttlTimestamp is set on the ${context.environment} stack; a TTL destroys the stack, allowed only for short-lived stacks (not ${LONG_LIVED_ENVIRONMENTS.join(", ")})`);
                }
                if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(args.ttlTimestamp) || Number.isNaN(Date.parse(args.ttlTimestamp))) {
                    fail(`ttlTimestamp ${JSON.stringify(args.ttlTimestamp)} is not an ISO-8601 UTC time; e.g. 2030-01-31T18:00:00Z`);
                }
            }
            if ((args.paths ?? ["x"]).length === 0) fail("paths is empty; give at least one path pattern, e.g. infra/**");
        }

        function createOidcProvider() {
            return new aws.iam.OpenIdConnectProvider(`${name}-oidc-provider`, {
                url: `https://${PULUMI_OIDC_ISSUER}`,
                // Deployments tokens carry the organization as audience; Pulumi ESC's carry `aws:<org>`. One
                // provider serves both, so both audiences are registered.
                clientIdLists: [args.organization, `aws:${args.organization}`],
                thumbprintLists: [...(args.oidcThumbprints ?? [PULUMI_OIDC_THUMBPRINT])],
            }, { parent });
        }

        function createRole() {
            return new aws.iam.Role(`${name}-role`, {
                name: context.namer.name("iamRole", "pulumi-deployments"),
                description: `Assumed by Pulumi Deployments of ${args.organization}/${args.project}/${args.stack} only`,
                maxSessionDuration: Math.max(3600, sessionSeconds),
                assumeRolePolicy: policyDocument([{
                    Sid: "PulumiDeploymentsOfThisStackOnly",
                    Effect: "Allow",
                    Principal: { Federated: parent.oidcProviderArn },
                    Action: "sts:AssumeRoleWithWebIdentity",
                    Condition: {
                        StringEquals: { [`${PULUMI_OIDC_ISSUER}:aud`]: args.organization },
                        StringLike: { [`${PULUMI_OIDC_ISSUER}:sub`]: deploymentSubject(args.organization, args.project, args.stack) },
                    },
                }]),
            }, { parent });
        }

        function attachRolePolicies() {
            return attachStackDeployPolicies(`${name}-role`, {
                context,
                role: parent.role,
                policyNamePrefix: context.namer.name("iamPolicy", "pulumi-deployments"),
                scope: args.deployScope,
            }, { parent });
        }

        function createSettings() {
            return new pulumiservice.DeploymentSettings(`${name}-settings`, {
                organization: args.organization,
                project: args.project,
                stack: args.stack,
                vcs: {
                    provider: "github",
                    repository: args.repository,
                    deployCommits: args.deployCommits,
                    previewPullRequests: args.previewPullRequests,
                    // Review stacks would need their own OIDC subject and naming; previews cover pull requests.
                    pullRequestTemplate: false,
                    paths: [...(args.paths ?? deploymentPaths(args.stack, args.deployScope.isHost))],
                },
                sourceContext: {
                    git: { branch: `refs/heads/${args.branch}`, ...(args.repoDir ? { repoDir: args.repoDir } : {}) },
                },
                operationContext: deploymentOperationContext({
                    roleArn: parent.roleArn,
                    sessionName: `pulumi-deployments-${args.stack}`,
                    sessionSeconds,
                    region: context.region,
                    preRunCommands: args.preRunCommands,
                }),
                cacheOptions: { enable: true },
            }, { parent, dependsOn: policies.attachments });
        }

        function createDriftSchedule(cron: string) {
            return new pulumiservice.DriftSchedule(`${name}-drift`, {
                organization: args.organization,
                project: args.project,
                stack: args.stack,
                scheduleCron: cron.trim(),
                // Drift is a finding for people to judge, never a reason to overwrite what someone changed.
                autoRemediate: false,
            }, { parent, dependsOn: [parent.settings] });
        }

        function createTtlSchedule(timestamp: string) {
            return new pulumiservice.TtlSchedule(`${name}-ttl`, {
                organization: args.organization,
                project: args.project,
                stack: args.stack,
                timestamp,
                deleteAfterDestroy: false,
            }, { parent, dependsOn: [parent.settings] });
        }
    }
}
