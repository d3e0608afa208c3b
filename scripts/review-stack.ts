/**
 * Review stacks without Pulumi Deployments' review stacks: a CI job runs this on every pull request event, and it
 * creates, updates or destroys the pull request's stack through the Automation API
 * (pulumi.com/docs/iac/packages-and-automation/automation-api; LocalWorkspace.createOrSelectStack, Stack.setAllConfig,
 * Stack.up, Stack.destroy, Workspace.removeStack).
 *
 *   npx ts-node --transpile-only scripts/review-stack.ts <opened|reopened|synchronize|closed> <pull request number>
 *
 * Environment: PULUMI_ORGANIZATION (the stacks' organization), PULUMI_ACCESS_TOKEN, and AWS credentials of the review
 * deployer (the role the dev stack creates for review stacks; trust the CI's OIDC subject for pull requests).
 *
 * The stack is `<org>/mlops/pr-<number>`, configured from the template's stack file `Pulumi.pr.yaml` exactly as Pulumi
 * Deployments would copy it, except `mlops:review.ttlHours: 0`: no Pulumi TTL schedule (an edition feature), the
 * closed event destroys the stack. A scheduled job must destroy stacks whose pull request is gone.
 */
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { PROJECT } from "../infra/config";
import { PROJECT_DIR } from "../contracts/project";
import { readStackConfig } from "../infra/stack-files";

/** The template stack whose file every review stack gets. */
export const TEMPLATE_STACK = "pr";

/** What a pull request event asks of its review stack (GitHub's `pull_request` activity types). */
export function reviewAction(event: string): "up" | "destroy" {
    if (["opened", "reopened", "synchronize"].includes(event)) return "up";
    if (event === "closed") return "destroy";
    throw new Error(`review-stack: pull request event ${JSON.stringify(event)} is not one of opened, reopened, synchronize, closed; ` +
        "run the workflow on those pull_request types only");
}

/** `pr-<number>` for a pull request number (a positive whole number, as GitHub gives it). */
export function reviewStackName(pullRequest: string | number): string {
    const text = String(pullRequest).trim();
    if (!/^[1-9]\d{0,8}$/.test(text)) {
        throw new Error(`review-stack: pull request number ${JSON.stringify(pullRequest)} is not a positive whole number; pass github.event.number`);
    }
    return `pr-${text}`;
}

/** The config a review stack gets: the template's stack file, with no Pulumi TTL schedule. */
export function reviewStackConfig(dir = PROJECT_DIR): Record<string, { value: string }> {
    const values = readStackConfig(TEMPLATE_STACK, dir);
    if (values[`${PROJECT}:environment`] !== "review") {
        throw new Error(`review-stack: Pulumi.${TEMPLATE_STACK}.yaml must set ${PROJECT}:environment: review (it sets ${values[`${PROJECT}:environment`] ?? "nothing"})`);
    }
    const review = JSON.parse(values[`${PROJECT}:review`] ?? "{}") as Record<string, unknown>;
    values[`${PROJECT}:review`] = JSON.stringify({ ...review, ttlHours: 0 });
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v }]));
}

/** What the script needs of Pulumi; the Automation API in production, a fake in tests. */
export interface ReviewWorkspace {
    up(stack: string, config: Record<string, { value: string }>): Promise<Record<string, unknown>>;
    destroy(stack: string): Promise<void>;
    remove(stack: string): Promise<void>;
}

/** Runs one pull request event against its review stack; the stack's outputs after an update. */
export async function runReviewEvent(event: string, pullRequest: string | number, workspace: ReviewWorkspace, dir = PROJECT_DIR):
    Promise<{ stack: string; action: "up" | "destroy"; outputs?: Record<string, unknown> }> {
    const action = reviewAction(event);
    const stack = reviewStackName(pullRequest);
    if (action === "up") return { stack, action, outputs: await workspace.up(stack, reviewStackConfig(dir)) };
    // Only an emptied stack is removed: a failed destroy leaves the stack (and its state) for the next attempt.
    await workspace.destroy(stack);
    await workspace.remove(stack);
    return { stack, action };
}

/** The Automation API against the project in this repository. */
export function automationWorkspace(organization: string, log: (line: string) => void = (l) => process.stdout.write(l)): ReviewWorkspace {
    const select = (stack: string) => LocalWorkspace.createOrSelectStack({ stackName: `${organization}/${PROJECT}/${stack}`, workDir: PROJECT_DIR });
    return {
        async up(stack, config) {
            const s = await select(stack);
            await s.setAllConfig(config);
            const result = await s.up({ onOutput: log });
            return Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
        },
        async destroy(stack) {
            await (await select(stack)).destroy({ onOutput: log });
        },
        async remove(stack) {
            await (await select(stack)).workspace.removeStack(`${organization}/${PROJECT}/${stack}`);
        },
    };
}

if (require.main === module) {
    const [event, pullRequest] = process.argv.slice(2);
    const organization = process.env.PULUMI_ORGANIZATION;
    if (!organization) {
        process.stderr.write("review-stack: set PULUMI_ORGANIZATION to the Pulumi organization owning the stacks\n");
        process.exit(2);
    }
    runReviewEvent(event ?? "", pullRequest ?? "", automationWorkspace(organization))
        .then((r) => process.stdout.write(`${r.action} ${r.stack}: done\n${r.outputs ? JSON.stringify(r.outputs, null, 2) + "\n" : ""}`))
        .catch((e: Error) => {
            process.stderr.write(`${e.message}\n`);
            process.exit(1);
        });
}
