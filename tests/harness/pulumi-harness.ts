/**
 * Evaluates a stack of the Pulumi program in-process under mocks and records the resource graph.
 *
 * - Config comes from the stack's own `Pulumi.<stack>.yaml` (stack files are not applied under mocks, so they
 *   are parsed here), optionally overridden per test.
 * - Every registration is recorded with what the mock API hides: parent, provider, `protect`, dependencies.
 * - The mocks emulate what AWS and the engine would add (autonamed `name`, `arn`, bucket ids), so programs can
 *   be checked for name lengths and wiring.
 *
 * Evaluations run one after another in one process; each installs a fresh mock monitor and awaits every
 * outstanding registration before it returns (pulumi/pulumi#7042).
 */
import * as fs from "fs";
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { deserializeProperties } from "@pulumi/pulumi/runtime/rpc";
// Internal but stable: the mock API offers no way to see parents or `protect`, nor to await registrations.
import * as settings from "@pulumi/pulumi/runtime/settings";
import { loadConfig, PROJECT } from "../../infra/config";
import { readStackConfig } from "../../infra/stack-files";
import { createStack, StackOutputs } from "../../infra/program";
import { ModelVersion, REGISTRY_METADATA } from "../../contracts/registry";
import { REPO_ROOT } from "../../infra/lib/repo";

export { REPO_ROOT };
export const ACCOUNT_ID = "123456789012";

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly inputs: Record<string, any>;
    /** What the mock returned as the resource's state (inputs plus emulated computed values). */
    state: Record<string, any>;
    readonly parentUrn?: string;
    readonly providerRef?: string;
    readonly protect: boolean;
    readonly dependencies: string[];
    /** Outputs a component registered with `registerOutputs`. */
    outputs?: Record<string, any>;
}

export interface RecordedCall {
    readonly token: string;
    readonly inputs: Record<string, any>;
}

/** Lets a test answer a resource registration or a function call itself; return undefined for the default. */
export interface MockOverrides {
    state?(type: string, name: string, inputs: Record<string, any>): Record<string, any> | undefined;
    call?(token: string, inputs: Record<string, any>): Record<string, any> | undefined;
}

/** The recorded graph of one evaluation, with small queries tests use. */
export class StackGraph {
    constructor(readonly stack: string, readonly resources: RecordedResource[], readonly calls: RecordedCall[]) {}

    ofType(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }

    /** The single resource of `type` (optionally whose name matches); fails when there is none or several. */
    one(type: string, name?: string | RegExp): RecordedResource {
        const found = this.ofType(type).filter((r) =>
            name === undefined ? true : typeof name === "string" ? r.name === name : name.test(r.name));
        if (found.length !== 1) {
            throw new Error(`expected exactly one ${type}${name ? ` named ${name}` : ""} in ${this.stack}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
        }
        return found[0];
    }

    byUrn(urn: string): RecordedResource | undefined {
        return this.resources.find((r) => r.urn === urn);
    }

    parentOf(resource: RecordedResource): RecordedResource | undefined {
        return resource.parentUrn ? this.byUrn(resource.parentUrn) : undefined;
    }

    childrenOf(resource: RecordedResource): RecordedResource[] {
        return this.resources.filter((r) => r.parentUrn === resource.urn);
    }

    /** All descendants of a resource, depth first. */
    descendantsOf(resource: RecordedResource): RecordedResource[] {
        return this.childrenOf(resource).flatMap((c) => [c, ...this.descendantsOf(c)]);
    }

    /** The resource a provider reference (`<urn>::<id>`) points at. */
    providerOf(resource: RecordedResource): RecordedResource | undefined {
        const urn = resource.providerRef?.split("::").slice(0, -1).join("::");
        return urn ? this.byUrn(urn) : undefined;
    }
}

export { readStackConfig };

function shortHash(text: string): string {
    return createHash("sha256").update(text).digest("hex").slice(0, 7);
}

/** Emulates the computed properties AWS and Pulumi's autonaming would return. */
export function emulateState(type: string, name: string, inputs: Record<string, any>, region: string): { id: string; state: Record<string, any> } {
    const state: Record<string, any> = { ...inputs };
    const [pkg, module] = type.split(":");
    if (pkg === "aws" && state.name === undefined && !["aws:s3/bucket:Bucket"].includes(type)) {
        state.name = `${name}-${shortHash(type + name)}`;
    }
    let id = `${name}-id`;
    if (type === "aws:s3/bucket:Bucket") {
        state.bucket = inputs.bucket ?? `${inputs.bucketPrefix ?? name}-${shortHash(name)}`;
        id = state.bucket;
        state.arn = `arn:aws:s3:::${state.bucket}`;
    } else if (type === "aws:kms/key:Key") {
        // Key ids are random per key: two stacks' keys never share an ARN.
        state.keyId = `key-${shortHash(`${pulumi.getStack()}/${name}`)}`;
        id = state.keyId;
        state.arn = `arn:aws:kms:${region}:${ACCOUNT_ID}:key/${state.keyId}`;
    } else if (pkg === "aws" && state.arn === undefined) {
        state.arn = realArn(type, state, region) ?? (() => {
            const service = (module ?? "").split("/")[0];
            const kind = type.split(":").pop() ?? "resource";
            return `arn:aws:${service}:${region}:${ACCOUNT_ID}:${kind.toLowerCase()}/${state.name ?? name}`;
        })();
    }
    if (type === "aws:ecr/repository:Repository") {
        state.repositoryUrl = `${ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com/${state.name}`;
    }
    if (type === "aws:lambda/function:Function") {
        state.invokeArn = `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${state.arn}/invocations`;
    }
    return { id, state };
}

/**
 * The ARN AWS gives a resource of `type` (Service Authorization Reference, "Resource types defined by …"), so
 * policies that embed a resource's `arn` can be simulated against what AWS would authorize. Undefined for types
 * whose ARN nothing checks.
 */
function realArn(type: string, state: Record<string, any>, region: string): string | undefined {
    const regional = (service: string, resource: string) => `arn:aws:${service}:${region}:${ACCOUNT_ID}:${resource}`;
    const global = (service: string, resource: string) => `arn:aws:${service}::${ACCOUNT_ID}:${resource}`;
    const name = state.name;
    switch (type) {
        case "aws:iam/role:Role": return global("iam", `role/${name}`);
        // A policy's ARN carries its path (IAM User Guide, "IAM identifiers").
        case "aws:iam/policy:Policy": return global("iam", `policy${state.path ?? "/"}${name}`);
        case "aws:iam/openIdConnectProvider:OpenIdConnectProvider": return global("iam", `oidc-provider/${String(state.url).replace(/^https:\/\//, "")}`);
        case "aws:cloudwatch/logGroup:LogGroup": return regional("logs", `log-group:${name}`);
        case "aws:cloudwatch/metricAlarm:MetricAlarm": return regional("cloudwatch", `alarm:${name}`);
        case "aws:cloudwatch/eventRule:EventRule": return regional("events", `rule/${name}`);
        case "aws:sns/topic:Topic": return regional("sns", name);
        case "aws:sqs/queue:Queue": return regional("sqs", name);
        case "aws:lambda/function:Function": return regional("lambda", `function:${name}`);
        case "aws:codebuild/project:Project": return regional("codebuild", `project/${name}`);
        case "aws:codebuild/reportGroup:ReportGroup": return regional("codebuild", `report-group/${name}`);
        case "aws:codepipeline/pipeline:Pipeline": return regional("codepipeline", name);
        case "aws:glue/job:Job": return regional("glue", `job/${name}`);
        case "aws:ecr/repository:Repository": return regional("ecr", `repository/${name}`);
        case "aws:secretsmanager/secret:Secret": return regional("secretsmanager", `secret:${name}-AbCdEf`);
        case "aws:sagemaker/endpoint:Endpoint": return regional("sagemaker", `endpoint/${String(name).toLowerCase()}`);
        case "aws:sagemaker/model:Model": return regional("sagemaker", `model/${String(name).toLowerCase()}`);
        case "aws:sagemaker/endpointConfiguration:EndpointConfiguration": return regional("sagemaker", `endpoint-config/${String(name).toLowerCase()}`);
        case "aws:sagemaker/modelPackageGroup:ModelPackageGroup": return regional("sagemaker", `model-package-group/${state.modelPackageGroupName ?? name}`);
        case "aws:sagemaker/monitoringSchedule:MonitoringSchedule": return regional("sagemaker", `monitoring-schedule/${name}`);
        case "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": return regional("sagemaker", `data-quality-job-definition/${name}`);
        default: return undefined;
    }
}

/**
 * What the host (platform) stack exports as `shared`, as a consumer stack's StackReference sees it. A test checks
 * that the real platform stack exports exactly these keys and values, so this fixture cannot silently drift from
 * the program.
 */
export function hostSharedFixture(region = "us-east-1"): Record<string, string> {
    const bucket = (purpose: string) => `mlops-platform-${purpose}-${ACCOUNT_ID}-${region}`;
    return {
        modelPackageGroupName: "mlops-platform-churn",
        modelPackageGroupArn: `arn:aws:sagemaker:${region}:${ACCOUNT_ID}:model-package-group/mlops-platform-churn`,
        imageRepositoryArn: `arn:aws:ecr:${region}:${ACCOUNT_ID}:repository/mlops-platform-model`,
        imageRepositoryUrl: `${ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com/mlops-platform-model`,
        modelsBucketName: bucket("models"),
        modelsBucketArn: `arn:aws:s3:::${bucket("models")}`,
        curatedBucketName: bucket("curated"),
        curatedBucketArn: `arn:aws:s3:::${bucket("curated")}`,
        kmsKeyArn: `arn:aws:kms:${region}:${ACCOUNT_ID}:key/host-key`,
        pipelineName: "mlops-platform-churn",
        pipelineArn: `arn:aws:codepipeline:${region}:${ACCOUNT_ID}:mlops-platform-churn`,
    };
}

/**
 * A registered, Approved version of the host's model package group, as infra/model-version.ts resolves it: what
 * both stacks serve in the shared graph tests.
 */
export function modelVersionFixture(overrides: Partial<ModelVersion> = {}, region = "us-east-1"): ModelVersion {
    const shared = hostSharedFixture(region);
    const run = `s3://${shared.curatedBucketName}/runs/2026-11-01T00-00-00Z`;
    const properties = {
        [REGISTRY_METADATA.manifestUri]: `${run}/manifest.json`,
        [REGISTRY_METADATA.baselineStatisticsUri]: `${run}/baseline/statistics.json`,
        [REGISTRY_METADATA.baselineConstraintsUri]: `${run}/baseline/constraints.json`,
        [REGISTRY_METADATA.trainingJobName]: "mlops-platform-churn-train-0123456789abcdef",
    };
    return {
        arn: `arn:aws:sagemaker:${region}:${ACCOUNT_ID}:model-package/${shared.modelPackageGroupName}/3`,
        groupName: shared.modelPackageGroupName,
        version: 3,
        approvalStatus: "Approved",
        createdAt: new Date("2026-11-01T01:00:00.000Z"),
        // The pipeline's image build exports images by digest (a placeholder digest: a fixture, not a real image).
        imageUri: `${shared.imageRepositoryUrl}@sha256:${"0123456789abcdef".repeat(4)}`,
        modelDataUri: `s3://${shared.modelsBucketName}/training/mlops-platform-churn-train-0123456789abcdef/output/model.tar.gz`,
        properties,
        ...overrides,
    };
}

function defaultCall(token: string, inputs: Record<string, any>, region: string): Record<string, any> {
    switch (token) {
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT_ID, arn: `arn:aws:iam::${ACCOUNT_ID}:user/test`, userId: "AIDTEST", id: ACCOUNT_ID };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
        case "aws:index/getRegion:getRegion":
            return { name: region, region, id: region };
        case "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage":
            return {
                // The provider's default tag is "1" (its getPrebuiltEcrImage docs), not "latest".
                registryPath: `156813124566.dkr.ecr.${region}.amazonaws.com/${inputs.repositoryName}:${inputs.imageTag ?? "1"}`,
                registryId: "156813124566",
            };
        default:
            return inputs;
    }
}

/** The mock monitor: records every registration, including the request fields the Mocks API drops. */
class RecordingMonitor extends MockMonitor {
    readonly recorded: RecordedResource[] = [];
    readonly calls: RecordedCall[] = [];

    constructor(private readonly region: string, private readonly overrides: MockOverrides) {
        super({
            newResource: (args) => {
                const custom = this.overrides.state?.(args.type, args.name, args.inputs);
                if (args.type === "pulumi:pulumi:StackReference") {
                    const outputs = custom?.outputs ?? { shared: hostSharedFixture(this.region) };
                    return { id: args.inputs.name ?? args.name, state: { name: args.inputs.name, outputs } };
                }
                const emulated = emulateState(args.type, args.name, args.inputs, this.region);
                return { id: custom?.id ?? emulated.id, state: { ...emulated.state, ...(custom ?? {}) } };
            },
            call: (args) => {
                this.calls.push({ token: args.token, inputs: args.inputs });
                return this.overrides.call?.(args.token, args.inputs) ?? defaultCall(args.token, args.inputs, this.region);
            },
        });
    }

    async registerResource(req: any, callback: (err: any, response: any) => void): Promise<void> {
        const urn: string = (this as any).newUrn(req.getParent(), req.getType(), req.getName());
        const record: RecordedResource = {
            urn,
            type: req.getType(),
            name: req.getName(),
            custom: req.getCustom(),
            inputs: deserializeProperties(req.getObject()),
            state: {},
            parentUrn: req.getParent() || undefined,
            providerRef: req.getProvider() || undefined,
            protect: req.getProtect() === true,
            dependencies: req.getDependenciesList(),
        };
        this.recorded.push(record);
        return super.registerResource(req, (err, response) => {
            if (!err && response) record.state = response.getObject()?.toJavaScript() ?? {};
            callback(err, response);
        });
    }

    /** Reads (stack references, `.get()` lookups) are part of the graph too. */
    async readResource(req: any, callback: (err: any, response: any) => void): Promise<void> {
        const record: RecordedResource = {
            urn: (this as any).newUrn(req.getParent(), req.getType(), req.getName()),
            type: req.getType(),
            name: req.getName(),
            custom: true,
            inputs: deserializeProperties(req.getProperties()),
            state: {},
            parentUrn: req.getParent() || undefined,
            providerRef: req.getProvider() || undefined,
            protect: false,
            dependencies: req.getDependenciesList?.() ?? [],
        };
        this.recorded.push(record);
        return super.readResource(req, (err, response) => {
            if (!err && response) record.state = response.getProperties()?.toJavaScript() ?? {};
            callback(err, response);
        });
    }

    registerResourceOutputs(req: any, callback: (err: any, response: any) => void): void {
        const record = this.recorded.find((r) => r.urn === req.getUrn());
        if (record) record.outputs = deserializeProperties(req.getOutputs());
        super.registerResourceOutputs(req, callback);
    }
}

export interface EvaluateOptions {
    /**
     * Folder holding `Pulumi.<stack>.yaml` (a generated stack file, e.g. a third environment in a temp folder).
     * @default the repository root
     */
    readonly dir?: string;
    /**
     * The stack file whose config the stack gets, as Pulumi Deployments copies a review stack template's
     * `Pulumi.<template>.yaml` into each review stack.
     * @default the stack's own `Pulumi.<stack>.yaml`
     */
    readonly stackFile?: string;
    /** `mlops:*` (or `aws:*`) keys to replace; `undefined` removes the key. Objects are JSON-encoded. */
    readonly config?: Record<string, unknown>;
    readonly mocks?: MockOverrides;
    /** Evaluate as `pulumi preview` does (unknown computed values). */
    readonly preview?: boolean;
    /**
     * The model version the stack serves (what infra/index.ts resolves at deploy time); null = none yet.
     * @default modelVersionFixture(), so both stacks have an endpoint
     */
    readonly modelVersion?: ModelVersion | null;
}

export interface Evaluation {
    readonly graph: StackGraph;
    /** The stack's outputs, resolved; undefined when evaluation failed. */
    readonly outputs?: Record<string, any>;
    /** The error evaluation failed with (e.g. a ConfigError), if any. */
    readonly error?: Error;
}

function stackConfigWithOverrides(stack: string, overrides: Record<string, unknown> = {}, dir?: string): Record<string, string> {
    const values = readStackConfig(stack, dir);
    for (const [key, value] of Object.entries(overrides)) {
        const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
        if (value === undefined) delete values[fullKey];
        else values[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return values;
}

/** A failed registration can leave dependent outputs pending forever; fail with a reason instead of hanging. */
const EVALUATION_TIMEOUT_MS = 30_000;
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms (a registration probably failed)`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function resolve(value: unknown): Promise<any> {
    return (pulumi.output(value) as any).promise();
}

/**
 * Evaluates `program` the way the engine would run the stack `stack`, and never throws: a failure is returned
 * in `error` together with whatever was registered before it.
 */
export function evaluate(stack: string, program: () => unknown, options: EvaluateOptions = {}): Promise<Evaluation> {
    // The runtime's monitor and config are process-global: evaluations must not overlap.
    const run = queue.then(() => evaluateNow(stack, program, options));
    queue = run.catch(() => undefined);
    return run;
}
let queue: Promise<unknown> = Promise.resolve();

async function evaluateNow(stack: string, program: () => unknown, options: EvaluateOptions): Promise<Evaluation> {
    const values = stackConfigWithOverrides(options.stackFile ?? stack, options.config, options.dir);
    const region = values["aws:region"] ?? "us-east-1";
    const monitor = new RecordingMonitor(region, options.mocks ?? {});
    await pulumi.runtime.setMocks({ newResource: () => ({ id: "", state: {} }), call: () => ({}) }, PROJECT, stack, options.preview ?? false, "example-org");
    settings.setMockOptions(monitor, PROJECT, stack, options.preview ?? false, "example-org");
    pulumi.runtime.setAllConfig(values);

    let outputs: Record<string, any> | undefined;
    let error: Error | undefined;
    try {
        outputs = await withTimeout(resolve(program()), EVALUATION_TIMEOUT_MS, `stack ${stack} did not finish evaluating`);
    } catch (e) {
        error = e as Error;
    }
    try {
        await withTimeout((settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs(), EVALUATION_TIMEOUT_MS, `stack ${stack} left registrations outstanding`);
    } catch (e) {
        error ??= e as Error;
    }
    return { graph: new StackGraph(stack, monitor.recorded, monitor.calls), outputs, error };
}

/** Evaluates the real program (`infra/index.ts`'s two lines) for `stack`. */
export async function evaluateStack(stack: string, options: EvaluateOptions = {}): Promise<Evaluation> {
    const modelVersion = options.modelVersion === undefined ? modelVersionFixture() : options.modelVersion;
    return evaluate(stack, (): StackOutputs => createStack(loadConfig(), { modelVersion }), options);
}

/** Like {@link evaluateStack} but fails the test when evaluation fails. */
export async function evaluateStackOk(stack: string, options: EvaluateOptions = {}): Promise<Required<Evaluation>> {
    const result = await evaluateStack(stack, options);
    if (result.error) throw result.error;
    return result as Required<Evaluation>;
}

/** Caches one evaluation per stack for suites that only read the graph. */
const cache = new Map<string, Promise<Required<Evaluation>>>();
export function stackGraph(stack: string): Promise<Required<Evaluation>> {
    let entry = cache.get(stack);
    if (!entry) {
        entry = evaluateStackOk(stack);
        cache.set(stack, entry);
    }
    return entry;
}

/** The stacks the repository defines (`Pulumi.<stack>.yaml`). */
export function definedStacks(): string[] {
    return fs.readdirSync(REPO_ROOT)
        .map((f) => /^Pulumi\.([\w-]+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}
