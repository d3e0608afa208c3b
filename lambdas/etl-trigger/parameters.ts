/**
 * The action's UserParameters: a JSON object, resolved by CodePipeline (variables allowed) before each invocation.
 *
 *   {"inputUri": "s3://<raw bucket>/incoming/churn.csv",
 *    "runId": "#{codepipeline.PipelineExecutionId}",          // optional, recommended
 *    "schemaUri": "s3://<raw bucket>/schemas/churn.schema.json"} // optional
 *
 * - `inputUri`: the CSV file or prefix the job reads (`--input`). It must lie in the raw bucket, the only bucket the
 *   Glue role can read. With a V2 pipeline it is typically a pipeline variable (`#{variables.inputUri}`) set by
 *   whatever started the execution.
 * - `runId`: names the run's output prefix (`<curated>/<runId>/`) and is passed as `--run-id`. Give the pipeline
 *   execution id: it is stable when a stage is retried, so the function finds a Glue run already started for this
 *   execution instead of starting a second one. Defaults to the CodePipeline job id (unique per action attempt).
 * - `schemaUri`: a dataset schema to use instead of the job's default (`--schema`); also from the raw bucket.
 * - `reuse`: "true" (default) reuses the run of an earlier execution with the same inputs (./reuse.ts); "false"
 *   runs the ETL regardless, for audits. Typically the pipeline variable `#{variables.reuse}`.
 */
import { z } from "zod";
import { EtlTriggerParameters } from "../../contracts/delivery";
import type { SameKeys } from "../../contracts/lambda-environment";
import { parseReuseSwitch, ReuseKeyError } from "../../contracts/reuse-key";

/** Run ids become S3 key segments and Glue arguments: a conservative charset, no '/' or '..'. */
export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface UserParameters {
    readonly inputUri: string;
    readonly runId: string;
    readonly schemaUri?: string;
    readonly reuse: boolean;
}

export class ParameterError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ParameterError";
    }
}

const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, {
    message: "expected s3://<bucket>/<key or prefix>",
});

const schema = z.strictObject({
    inputUri: s3Uri,
    runId: z.string().regex(RUN_ID, { message: "expected 1-128 characters: letters, digits, '.', '_', '-' (not starting with '.', '_' or '-')" }).optional(),
    schemaUri: s3Uri.optional(),
    reuse: z.string().optional(),
});
// The pipeline writes what the contract says and this (strict) schema reads exactly that: the same fields, each
// type accepting the other. A compile error here means the contract and the schema drifted apart.
const _sameFields: SameKeys<EtlTriggerParameters, z.output<typeof schema>> = true;
const _schemaReadsTheContract: z.output<typeof schema> = {} as EtlTriggerParameters;
const _contractCoversTheSchema: EtlTriggerParameters = {} as z.output<typeof schema>;
void [_sameFields, _schemaReadsTheContract, _contractCoversTheSchema];

export function bucketOf(uri: string): string {
    return uri.slice("s3://".length).split("/", 1)[0];
}

/**
 * Parses and checks UserParameters. `defaultRunId` is used when `runId` is absent. Throws {@link ParameterError}
 * with a message naming the field, the problem and what is allowed.
 */
export function parseUserParameters(raw: string | undefined, opts: { rawBucket: string; defaultRunId: string }): UserParameters {
    const example = `{"inputUri": "s3://${opts.rawBucket}/<key>", "runId": "#{codepipeline.PipelineExecutionId}"}`;
    if (raw === undefined || raw.trim() === "") {
        throw new ParameterError(`UserParameters are missing: expected a JSON object such as ${example}`);
    }
    if (raw.includes("#{")) {
        throw new ParameterError("UserParameters contain an unresolved CodePipeline variable (\"#{...}\"): check the variable's namespace and name in the action configuration");
    }
    let json: unknown;
    try {
        json = JSON.parse(raw);
    } catch {
        throw new ParameterError(`UserParameters are not valid JSON: expected a JSON object such as ${example}`);
    }
    const result = schema.safeParse(json);
    if (!result.success) {
        const problems = result.error.issues.map((i) => {
            if (i.code === "unrecognized_keys") return `unknown field(s) ${i.keys.join(", ")} (allowed: inputUri, runId, schemaUri, reuse)`;
            return `${i.path.join(".") || "(root)"}: ${i.message}`;
        });
        throw new ParameterError(`UserParameters are invalid: ${problems.join("; ")}`);
    }
    const p = result.data;
    for (const [field, uri] of [["inputUri", p.inputUri], ["schemaUri", p.schemaUri]] as const) {
        if (uri !== undefined && bucketOf(uri) !== opts.rawBucket) {
            throw new ParameterError(`UserParameters.${field} ${uri} is outside the raw bucket: the Glue job may read only s3://${opts.rawBucket}/`);
        }
    }
    const runId = p.runId ?? opts.defaultRunId;
    if (!RUN_ID.test(runId)) {
        throw new ParameterError(`run id ${JSON.stringify(runId)} is invalid: give UserParameters.runId of 1-128 letters, digits, '.', '_', '-'`);
    }
    let reuse: boolean;
    try {
        reuse = parseReuseSwitch(p.reuse, "UserParameters.reuse");
    } catch (e) {
        if (e instanceof ReuseKeyError) throw new ParameterError(e.message);
        throw e;
    }
    return { inputUri: p.inputUri, runId, schemaUri: p.schemaUri, reuse };
}
