/**
 * `npx ts-node --transpile-only steps/train/main.ts [options]` — see USAGE. Exit codes: 0 a version is
 * registered (or was, by an earlier run of the same execution); 1 the job failed, was stopped, or a call failed;
 * 2 bad arguments or configuration.
 */
import { promises as fs } from "fs";
import * as path from "path";
import {
    BACKEND_OPTIONS, BACKEND_USAGE, backendFromOptions, EXIT_OK, EXIT_USAGE, intOption, optionOrEnv, requireOption,
    parseStepArgs, resolveDeps, runStep, StepDeps,
} from "../lib/cli";
import { trainingSchema } from "../../contracts/config-sections";
import { parseJsonConfig } from "../lib/config";
import { UsageError } from "../lib/errors";
import { parseReuseSwitch, ReuseKeyError } from "../../contracts/reuse-key";
import { runTrain } from "./train";
import { PROVENANCE_ENV, TRAIN_ENV } from "../../contracts/step-environment";

function reuseOption(value: string | undefined): boolean {
    try {
        return parseReuseSwitch(value, "--reuse (env REUSE)");
    } catch (e) {
        if (e instanceof ReuseKeyError) throw new UsageError(e.message);
        throw e;
    }
}

export const USAGE = `Usage: train [options]

Trains a model on an ETL run and registers it as a PendingManualApproval version.

Options (each may come from the environment variable in parentheses):
  --data-prefix URI          ETL run prefix <curated>/<runId>/ (DATA_PREFIX)
  --output-prefix URI        where training jobs write models (MODEL_OUTPUT_PREFIX)
  --image-uri URI            the model container image (IMAGE_URI)
  --role-arn ARN             SageMaker execution role; AWS only (TRAINING_ROLE_ARN)
  --model-package-group NAME the registry group (MODEL_PACKAGE_GROUP)
  --model-name NAME          the model's short name (MODEL_NAME; default: the group name)
  --job-prefix PREFIX        training job name prefix (TRAINING_JOB_PREFIX; default: the model name)
  --execution-id ID          pipeline execution id; reruns with the same id reuse the job (PIPELINE_EXECUTION_ID)
  --commit SHA               git commit being built (GIT_COMMIT, CODEBUILD_RESOLVED_SOURCE_VERSION)
  --config JSON              mlops:training as JSON (TRAINING_CONFIG)
  --output-file PATH         also write {modelPackageArn, version, trainingJobName, modelDataUri} as JSON
  --poll-seconds N           first poll interval (default 15; backs off to 60)
  --reuse true|false         reuse a version trained earlier from the same manifest, image and hyperparameters
                             (REUSE; default true; false retrains, for audits)
${BACKEND_USAGE}

Exit codes: 0 registered, 1 failed or stopped, 2 usage or configuration error.`;

export async function main(argv: readonly string[], deps: StepDeps = {}): Promise<number> {
    const { io, clock } = resolveDeps(deps);
    return runStep(io, async () => {
        const values = parseStepArgs(argv, {
            ...BACKEND_OPTIONS,
            "data-prefix": { type: "string" },
            "output-prefix": { type: "string" },
            "image-uri": { type: "string" },
            "role-arn": { type: "string" },
            "model-package-group": { type: "string" },
            "model-name": { type: "string" },
            "job-prefix": { type: "string" },
            "execution-id": { type: "string" },
            commit: { type: "string" },
            config: { type: "string" },
            "output-file": { type: "string" },
            "poll-seconds": { type: "string" },
            reuse: { type: "string" },
        }, USAGE, io);
        if (values === null) return EXIT_OK;
        const env = io.env;
        const group = requireOption(values, "model-package-group", env, TRAIN_ENV.modelPackageGroup);
        const modelName = optionOrEnv(values, "model-name", env, TRAIN_ENV.modelName, group)!;
        const backend = deps.backend ?? backendFromOptions(values, env);
        const roleArn = optionOrEnv(values, "role-arn", env, TRAIN_ENV.roleArn);
        if (backend.kind === "aws" && !roleArn) throw new UsageError("missing --role-arn (or env TRAINING_ROLE_ARN) for --backend aws");
        const kmsKeyId = optionOrEnv(values, "kms-key-id", env, "KMS_KEY_ID");
        // Training volumes and model artifacts hold customer data: never let them fall back to AWS-owned keys.
        if (backend.kind === "aws" && !kmsKeyId) throw new UsageError("missing --kms-key-id (or env KMS_KEY_ID) for --backend aws");
        const options = {
            modelName,
            jobPrefix: optionOrEnv(values, "job-prefix", env, TRAIN_ENV.jobPrefix, modelName)!,
            executionId: requireOption(values, "execution-id", env, PROVENANCE_ENV.executionId),
            commitId: optionOrEnv(values, "commit", env, PROVENANCE_ENV.gitCommit) ?? env.CODEBUILD_RESOLVED_SOURCE_VERSION,
            dataPrefix: requireOption(values, "data-prefix", env, TRAIN_ENV.dataPrefix),
            outputPrefix: requireOption(values, "output-prefix", env, TRAIN_ENV.outputPrefix),
            imageUri: requireOption(values, "image-uri", env, TRAIN_ENV.imageUri),
            roleArn,
            kmsKeyId,
            modelPackageGroup: group,
            training: parseJsonConfig(trainingSchema, optionOrEnv(values, "config", env, TRAIN_ENV.config), "training config"),
            pollMs: intOption(values, "poll-seconds", env, undefined, 15, 1, 600) * 1000,
            reuse: reuseOption(optionOrEnv(values, "reuse", env, TRAIN_ENV.reuse)),
        };
        const result = await runTrain(options, backend, io, clock);
        const outputFile = optionOrEnv(values, "output-file", env, undefined);
        if (outputFile && result.version) {
            await fs.mkdir(path.dirname(path.resolve(outputFile)), { recursive: true });
            await fs.writeFile(outputFile, JSON.stringify({
                modelPackageArn: result.version.arn,
                version: result.version.version,
                trainingJobName: result.jobName,
                modelDataUri: result.version.modelDataUri,
                reuseKey: result.reuseKey,
                reused: result.reused ?? false,
            }, null, 2));
        }
        return result.exitCode;
    });
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    }, (e) => {
        process.stderr.write(`${(e as Error).stack ?? e}\n`);
        process.exitCode = EXIT_USAGE;
    });
}
