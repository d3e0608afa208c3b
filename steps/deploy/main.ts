/**
 * `npx ts-node --transpile-only steps/deploy/main.ts --stack prod [--model-package-arn ARN]` — see USAGE.
 *
 * Exit codes:
 *   0  deployed and verified (or the stack has no version to serve yet)
 *   1  Pulumi or an AWS call failed
 *   2  bad arguments
 *   3  SageMaker rolled the endpoint back: it is InService on another configuration than the update's
 *   4  the endpoint failed (Failed, UpdateRollbackFailed, OutOfService or gone)
 *   5  the endpoint was still updating when the verification deadline passed
 *   6  the endpoint (or the stack) serves another model version than requested
 */
import * as fs from "fs";
import * as path from "path";
import { TRAIN_BUILD_VARIABLES } from "../../contracts/delivery";
import { PROJECT_DIR } from "../../contracts/project";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import { CodePipelineClient } from "@aws-sdk/client-codepipeline";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { S3Client } from "@aws-sdk/client-s3";
import { DeliveryRecorderDeps, recordDelivery } from "../lib/lead-time";
import { EXIT_OK, intOption, Io, parseStepArgs, resolveDeps, runStep, StepDeps } from "../lib/cli";
import { UsageError } from "../lib/errors";
import { Clock } from "../lib/retry";
import { runDeploy } from "./deploy";
import { automationStackDriver, StackDriver } from "./stack-driver";
import { PinStore, registryPinStore } from "./pin";
import { modelPackageGroupName } from "../../contracts/registry";
import { awsEndpointInspector, DeployError, DeployFailure, EndpointInspector } from "./verify";
import { DEPLOY_ENV, PROVENANCE_ENV } from "../../contracts/step-environment";

export const EXIT_CODES: Readonly<Record<DeployFailure, number>> = {
    "rolled-back": 3,
    failed: 4,
    timeout: 5,
    "wrong-version": 6,
};

const MODEL_PACKAGE_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package\/[a-zA-Z0-9-]+\/\d+$/;

export const USAGE = `Usage: deploy --stack STACK [options]

Updates a stack with the Pulumi Automation API (select, pin the model version, preview, up, summary), then checks
on SageMaker that the endpoint is InService on the update's endpoint configuration and runs the requested version.
The pin is kept in the model registry (tag mlops:pin:<environment> on the model package group), which every run of
the program reads; mlops:modelPackageArn in the stack file, when set, wins over it.

Options:
  --stack STACK                 the stack (dev, prod; org/project/STACK also accepted) (PULUMI_STACK); with
                                PULUMI_ORGANIZATION set, a bare name is qualified as <org>/<project>/<stack>
  --model-package-arn ARN       pin this model package version in the registry (MODEL_PACKAGE_ARN)
  --unpin                       remove the registry pin: serve what the registry's policy picks
  --verify-timeout-seconds N    wait this long for an endpoint still updating after the update (default 1800)
  --poll-seconds N              first wait between endpoint checks (default 15; backs off to 60)
  --work-dir DIR                the Pulumi project (default: the repository root)

Exit codes: 0 deployed and verified, 1 Pulumi or AWS failed, 2 usage, 3 SageMaker rolled back, 4 endpoint failed,
5 verification timed out, 6 another model version serves.`;

export interface DeployDeps extends StepDeps {
    /** Builds the stack driver; the default runs the Automation API (needs the Pulumi CLI). */
    readonly driver?: (stackName: string, workDir: string) => Promise<StackDriver>;
    /** The SageMaker side; the default talks to SageMaker in the stack's `aws:region`. */
    readonly inspector?: (region: string, clock: Clock) => EndpointInspector;
    /** Where pins are kept; the default tags the model package group in the stack's `aws:region`. */
    readonly pins?: (region: string) => PinStore;
    /** Clients for the lead-time record (../lib/lead-time); the default talks to AWS in the stack's region. */
    readonly recorder?: (region: string) => DeliveryRecorderDeps;
}

export async function main(argv: readonly string[], deps: DeployDeps = {}): Promise<number> {
    const { io, clock } = resolveDeps(deps);
    return runStep(io, async () => {
        const values = parseStepArgs(argv, {
            stack: { type: "string" },
            "model-package-arn": { type: "string" },
            unpin: { type: "boolean" },
            "verify-timeout-seconds": { type: "string" },
            "poll-seconds": { type: "string" },
            "work-dir": { type: "string" },
            help: { type: "boolean", short: "h" },
        }, USAGE, io);
        if (values === null) return EXIT_OK;
        const env = io.env;
        const workDir = path.resolve(values["work-dir"] ?? PROJECT_DIR);
        const stackName = values.stack ?? env.PULUMI_STACK;
        if (!stackName) throw new UsageError(`missing --stack (or env PULUMI_STACK)\n\n${USAGE}`);
        checkStack(stackName, workDir);
        const modelPackageArn = values["model-package-arn"] ?? (env[TRAIN_BUILD_VARIABLES.modelPackageArn] || undefined);
        if (modelPackageArn !== undefined && !MODEL_PACKAGE_ARN.test(modelPackageArn)) {
            throw new UsageError(`--model-package-arn ${JSON.stringify(modelPackageArn)} is not a model package version ARN ` +
                "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)");
        }
        if (modelPackageArn && values.unpin) throw new UsageError("--model-package-arn and --unpin contradict each other; give one");
        const verifyTimeoutSeconds = intOption(values, "verify-timeout-seconds", env, undefined, 1800, 0, 86_400);
        const pollSeconds = intOption(values, "poll-seconds", env, undefined, 15, 1, 600);

        const driver = await (deps.driver ?? automationStackDriver)(qualifiedStackName(stackName, env.PULUMI_ORGANIZATION, workDir), workDir);
        const region = await driver.getConfig("aws:region");
        if (!region) throw new UsageError(`stack ${stackName} has no aws:region`);
        const environment = await driver.getConfig("mlops:environment");
        if (!environment) throw new UsageError(`stack ${stackName} has no mlops:environment`);
        const groupName = modelPackageGroupName({
            project: projectName(workDir),
            environment,
            modelName: (await driver.getConfig("mlops:modelName")) ?? "churn",
            hostStack: await driver.getConfig("mlops:hostStack"),
        });
        const inspector = (deps.inspector ?? defaultInspector)(region, clock);
        const pins = (deps.pins ?? ((r: string) => registryPinStore(new SageMakerClient({ region: r }))))(region);
        try {
            await runDeploy({
                modelPackageArn, unpin: values.unpin, verifyTimeoutMs: verifyTimeoutSeconds * 1000, pollMs: pollSeconds * 1000,
                registry: { groupName, environment },
            }, { driver, inspector, pins, io, clock });
        } catch (e) {
            if (e instanceof DeployError) return fail(io, e);
            throw e;
        }
        // The pipeline's prod deploy records the execution's lead time once prod verifiably serves the version.
        // Set only on that project (infra/components/delivery-pipeline.ts); a failure is logged, never fatal.
        const pipelineName = env[DEPLOY_ENV.pipelineName];
        const executionId = env[PROVENANCE_ENV.executionId];
        const summaryPrefix = env[DEPLOY_ENV.executionSummaryPrefix];
        if (pipelineName && executionId && summaryPrefix) {
            await recordDelivery((deps.recorder ?? defaultRecorder)(region), { pipelineName, executionId, summaryPrefix, servedAt: new Date() }, io);
        }
        return EXIT_OK;
    });
}

function defaultRecorder(region: string): DeliveryRecorderDeps {
    return { codepipeline: new CodePipelineClient({ region }), cloudwatch: new CloudWatchClient({ region }), s3: new S3Client({ region }) };
}

function fail(io: Io, e: DeployError): number {
    io.err(`error: ${e.message}`);
    return EXIT_CODES[e.kind];
}

function defaultInspector(region: string, clock: Clock): EndpointInspector {
    return awsEndpointInspector(new SageMakerClient({ region }), clock);
}

/** The project's name (`name:` in Pulumi.yaml). */
function projectName(workDir: string): string {
    const file = path.join(workDir, "Pulumi.yaml");
    const name = fs.existsSync(file) ? /^name:\s*([\w.-]+)\s*$/m.exec(fs.readFileSync(file, "utf8"))?.[1] : undefined;
    if (!name) throw new UsageError(`no project name in ${file}`);
    return name;
}

/**
 * `prod` → `<org>/<project>/prod` when PULUMI_ORGANIZATION is set (the deploy projects set it), so the step selects
 * the organization's stack rather than whatever the logged-in user's default organization holds.
 */
export function qualifiedStackName(stackName: string, organization: string | undefined, workDir: string): string {
    if (stackName.includes("/") || !organization) return stackName;
    return `${organization}/${projectName(workDir)}/${stackName}`;
}

/** The stack must have its stack file in the project: `--stack prod` reads Pulumi.prod.yaml. */
function checkStack(stackName: string, workDir: string): void {
    const short = stackName.split("/").pop() ?? "";
    if (!/^[\w.-]+$/.test(short) || !fs.existsSync(path.join(workDir, `Pulumi.${short}.yaml`))) {
        const known = fs.existsSync(workDir)
            ? fs.readdirSync(workDir).map((f) => /^Pulumi\.([\w.-]+)\.yaml$/.exec(f)?.[1]).filter(Boolean)
            : [];
        throw new UsageError(`--stack ${JSON.stringify(stackName)}: no Pulumi.${short}.yaml in ${workDir}; known stacks: ${known.join(", ") || "none"}`);
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    }, (e) => {
        process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
        process.exitCode = 1;
    });
}
