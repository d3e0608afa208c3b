/**
 * `npx ts-node --transpile-only steps/evaluate/main.ts [options]` — see USAGE. Exit codes: 0 Approved; 1
 * Rejected, or the evaluation could not be carried out; 2 bad arguments or configuration.
 */
import * as path from "path";
import {
    BACKEND_OPTIONS, BACKEND_USAGE, backendFromOptions, EXIT_OK, EXIT_USAGE, intOption, optionOrEnv, requireOption,
    parseStepArgs, resolveDeps, runStep, StepDeps,
} from "../lib/cli";
import { evaluationSchema } from "../../contracts/config-sections";
import { TRAIN_BUILD_VARIABLES } from "../../contracts/delivery";
import { parseJsonConfig } from "../lib/config";
import { UsageError } from "../lib/errors";
import { runEvaluate } from "./evaluate";
import { ENDPOINT_KINDS, EndpointKind, MAX_PAYLOAD_BYTES, MIN_PROBE_REQUESTS } from "./score";
import { EVALUATE_ENV, PROVENANCE_ENV } from "../../contracts/step-environment";

export const USAGE = `Usage: evaluate [options]

Scores the test split against an endpoint, applies the champion/challenger gate and sets the version's approval.

Options (each may come from the environment variable in parentheses):
  --model-package-arn ARN    the version to evaluate (MODEL_PACKAGE_ARN)
  --model-package-group NAME with --execution-id: the version that execution registered (MODEL_PACKAGE_GROUP)
  --execution-id ID          pipeline execution id (PIPELINE_EXECUTION_ID)
  --data-prefix URI          ETL run prefix <curated>/<runId>/; its test/ split is scored (DATA_PREFIX)
  --endpoint NAME            endpoint to score against; local backend: a URL (ENDPOINT_NAME)
  --config JSON              mlops:evaluation as JSON (EVALUATION_CONFIG)
  --report-prefix URI        reports go to <prefix>/<group>/<version>/ (REPORT_PREFIX)
  --report-dir DIR           local copies incl. junit.xml for the CodeBuild report group (REPORT_DIR; default reports)
  --endpoint-kind KIND       serverless | instances: sizes scoring requests by the payload limit, 4 MB or
                             6 MiB (ENDPOINT_KIND; default serverless)
  --max-rows-per-request N   rows per scoring request (default: only the payload limit bounds a request)
  --probe-requests N         one-row requests timed for the latency percentiles (default 200, at least 200)
  --warm-up-seconds N        warm the endpoint at most this long before timing (default 300)
  --concurrency N            requests in flight (default 4)
  --retries N                retries per request on throttling (default 5)
${BACKEND_USAGE}

Exit codes: 0 Approved, 1 Rejected or failed, 2 usage or configuration error.`;

export async function main(argv: readonly string[], deps: StepDeps = {}): Promise<number> {
    const { io, clock } = resolveDeps(deps);
    return runStep(io, async () => {
        const values = parseStepArgs(argv, {
            ...BACKEND_OPTIONS,
            "model-package-arn": { type: "string" },
            "model-package-group": { type: "string" },
            "execution-id": { type: "string" },
            "data-prefix": { type: "string" },
            endpoint: { type: "string" },
            config: { type: "string" },
            "report-prefix": { type: "string" },
            "report-dir": { type: "string" },
            "max-rows-per-request": { type: "string" },
            "endpoint-kind": { type: "string" },
            "probe-requests": { type: "string" },
            "warm-up-seconds": { type: "string" },
            "max-payload-bytes": { type: "string" },
            concurrency: { type: "string" },
            retries: { type: "string" },
        }, USAGE, io);
        if (values === null) return EXIT_OK;
        const env = io.env;
        const modelPackageArn = optionOrEnv(values, "model-package-arn", env, TRAIN_BUILD_VARIABLES.modelPackageArn);
        const modelPackageGroup = optionOrEnv(values, "model-package-group", env, EVALUATE_ENV.modelPackageGroup);
        const executionId = optionOrEnv(values, "execution-id", env, PROVENANCE_ENV.executionId);
        if (!modelPackageArn && !(modelPackageGroup && executionId)) {
            throw new UsageError("name the version: --model-package-arn (MODEL_PACKAGE_ARN), or --model-package-group with --execution-id");
        }
        const endpointKind = optionOrEnv(values, "endpoint-kind", env, EVALUATE_ENV.endpointKind, "serverless")!;
        if (!(ENDPOINT_KINDS as string[]).includes(endpointKind)) {
            throw new UsageError(`--endpoint-kind (ENDPOINT_KIND) is ${JSON.stringify(endpointKind)}; expected one of ${ENDPOINT_KINDS.join(", ")}`);
        }
        const options = {
            modelPackageArn,
            endpointKind: endpointKind as EndpointKind,
            latency: {
                probeRequests: intOption(values, "probe-requests", env, undefined, MIN_PROBE_REQUESTS, MIN_PROBE_REQUESTS, 100_000),
                warmUpDeadlineSeconds: intOption(values, "warm-up-seconds", env, undefined, 300, 0, 3600),
            },
            modelPackageGroup,
            executionId,
            dataPrefix: requireOption(values, "data-prefix", env, EVALUATE_ENV.dataPrefix),
            endpoint: requireOption(values, "endpoint", env, EVALUATE_ENV.endpointName),
            thresholds: parseJsonConfig(evaluationSchema, optionOrEnv(values, "config", env, EVALUATE_ENV.config), "evaluation config"),
            reportPrefix: requireOption(values, "report-prefix", env, EVALUATE_ENV.reportPrefix),
            reportDir: path.resolve(optionOrEnv(values, "report-dir", env, EVALUATE_ENV.reportDir, "reports")!),
            scoring: {
                maxRowsPerRequest: intOption(values, "max-rows-per-request", env, undefined, Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER),
                maxPayloadBytes: intOption(values, "max-payload-bytes", env, undefined, MAX_PAYLOAD_BYTES, 1024, MAX_PAYLOAD_BYTES),
                concurrency: intOption(values, "concurrency", env, undefined, 4, 1, 64),
                retries: intOption(values, "retries", env, undefined, 5, 0, 20),
            },
        };
        const backend = deps.backend ?? backendFromOptions(values, env);
        const result = await runEvaluate(options, backend, io, clock);
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
