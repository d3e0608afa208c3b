import { strict as assert } from "assert";
import { ConfigError, loadConfig, parseConfig, StackConfig } from "../../infra/config";
import { serviceModel } from "../harness/api-models";
import { evaluate, evaluateStack, readStackConfig } from "../harness/pulumi-harness";

/** Each case breaks one key of a real stack file; the whole program must fail before registering anything. */
interface InvalidCase {
    readonly title: string;
    readonly stack: "platform" | "dev" | "prod";
    readonly config: Record<string, unknown>;
    /** The exact problem line the error must contain. */
    readonly message: string;
}

const devEndpoint = JSON.parse(readStackConfig("dev")["mlops:endpoint"]);
const prodEndpoint = JSON.parse(readStackConfig("prod")["mlops:endpoint"]);

const invalidCases: InvalidCase[] = [
    {
        title: "missing required key",
        stack: "dev",
        config: { alertEmail: undefined },
        message: "mlops:alertEmail: missing required key (expected string)",
    },
    {
        title: "unknown image scan severity",
        stack: "platform",
        config: { imageScanFailOnSeverity: "SEVERE" },
        message: "mlops:imageScanFailOnSeverity: got \"SEVERE\"; Invalid option: expected one of \"CRITICAL\"|\"HIGH\"|\"MEDIUM\"|\"LOW\"|\"INFORMATIONAL\"|\"UNDEFINED\"|\"NONE\"",
    },
    {
        title: "wrong type",
        stack: "platform",
        config: { etl: { numberOfWorkers: "two" } },
        message: "mlops:etl.numberOfWorkers: got \"two\"; Invalid input: expected number, received string",
    },
    {
        title: "unknown environment",
        stack: "dev",
        config: { environment: "qa" },
        message: "mlops:environment: got \"qa\"; Invalid option: expected one of \"platform\"|\"dev\"|\"staging\"|\"prod\"|\"review\"",
    },
    {
        title: "prod endpoint capacity below 2",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, instanceCount: 1, autoscaling: { ...prodEndpoint.autoscaling, minCapacity: 1 } } },
        message: "mlops:endpoint.instanceCount: got 1; prod needs at least 2 instances for availability",
    },
    {
        title: "prod autoscaling minimum below 2",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, autoscaling: { ...prodEndpoint.autoscaling, minCapacity: 1 } } },
        message: "mlops:endpoint.autoscaling.minCapacity: got 1; prod autoscaling must keep at least 2 instances",
    },
    {
        title: "sampling percentage above 100",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, dataCapture: { enabled: true, samplingPercentage: 150 } } },
        message: "mlops:endpoint.dataCapture.samplingPercentage: got 150; Too big: expected number to be <=100",
    },
    {
        title: "sampling percentage below 0",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, dataCapture: { enabled: true, samplingPercentage: -1 } } },
        message: "mlops:endpoint.dataCapture.samplingPercentage: got -1; Too small: expected number to be >=0",
    },
    {
        title: "autoscaling max below min",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, autoscaling: { ...prodEndpoint.autoscaling, minCapacity: 4, maxCapacity: 3 }, instanceCount: 4 } },
        message: "mlops:endpoint.autoscaling.maxCapacity: got 3; must be >= endpoint.autoscaling.minCapacity (4)",
    },
    {
        title: "malformed alert e-mail",
        stack: "dev",
        config: { alertEmail: "ml-platform@" },
        message: "mlops:alertEmail: got \"ml-platform@\"; expected an e-mail address such as ml-platform@example.com",
    },
    {
        title: "unknown key (a typo must not be ignored)",
        stack: "dev",
        config: { endpoint: { ...devEndpoint, instanceCont: 2 } },
        message: "mlops:endpoint.instanceCont: unknown key; remove it or fix its spelling",
    },
    {
        title: "prod log retention under a year",
        stack: "prod",
        config: { logRetentionDays: 90 },
        message: "mlops:logRetentionDays: got 90; prod keeps logs at least 365 days",
    },
    {
        title: "log retention not accepted by CloudWatch",
        stack: "dev",
        config: { logRetentionDays: 10 },
        message: "mlops:logRetentionDays: got 10; expected one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
    },
    {
        title: "missing region",
        stack: "dev",
        config: { "aws:region": undefined },
        message: "aws:region: missing required key (expected an AWS region such as us-east-1)",
    },
    {
        title: "prod on a serverless endpoint",
        stack: "prod",
        config: { endpoint: { kind: "serverless" } },
        message: "mlops:endpoint.kind: got \"serverless\"; prod must serve from instances (\"instances\"): serverless has no data capture SLA, autoscaling or blue/green",
    },
    {
        title: "managed spot wait shorter than the runtime",
        stack: "platform",
        config: { training: { maxRuntimeSeconds: 3600, spot: { enabled: true, maxWaitSeconds: 600 } } },
        message: "mlops:training.spot.maxWaitSeconds: got 600; must be >= maxRuntimeSeconds (3600) for managed spot training",
    },
    {
        title: "more training instances than the ETL writes train shards",
        stack: "platform",
        config: { training: { instanceCount: 3 }, etl: { trainShards: 2 } },
        message: "mlops:training.instanceCount: got 3; must be <= etl.trainShards (2): each training instance trains on its own " +
            "train part files; raise etl.trainShards to at least 3",
    },
    {
        title: "drift monitoring without data capture",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, dataCapture: { enabled: false } } },
        message: "mlops:monitoring.enabled: got true; drift monitoring needs endpoint.kind \"instances\" with endpoint.dataCapture.enabled",
    },
    {
        title: "a blue/green timeout longer than the provider waits for InService",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, deployment: { ...prodEndpoint.deployment, maximumExecutionTimeoutSeconds: 7200 } } },
        message: "mlops:endpoint.deployment.maximumExecutionTimeoutSeconds: got 7200; must be <= 3600: pulumi up waits at most that long for the endpoint (the provider's InService waiter)",
    },
    {
        title: "a linear rollout whose waits do not fit the timeout",
        stack: "prod",
        config: { endpoint: { ...prodEndpoint, deployment: { strategy: "linear", linearStepPercent: 10, waitIntervalSeconds: 600, maximumExecutionTimeoutSeconds: 3600 } } },
        message: "mlops:endpoint.deployment: got \"linear\"; a linear rollout takes about 7200 s (10 wait(s) of 600 s, termination wait 300 s, 900 s to provision), over maximumExecutionTimeoutSeconds (3600); shorten the waits",
    },
    {
        title: "a non-host stack owning the account's training log group",
        stack: "prod",
        config: { accountResources: { trainingJobsLogGroup: true } },
        message: "mlops:accountResources.trainingJobsLogGroup: got true; only the host stack (no hostStack) may own this account-wide resource",
    },
    {
        title: "a non-host stack creating the account's Pulumi OIDC provider",
        stack: "prod",
        config: { accountResources: { pulumiOidcProvider: true } },
        message: "mlops:accountResources.pulumiOidcProvider: got true; only the host stack (no hostStack) may own this account-wide resource",
    },
    {
        title: "an environment without a host (the platform hosts what exists once per project)",
        stack: "dev",
        config: { hostStack: undefined },
        message: "mlops:hostStack: got missing; required in the dev stack: only the platform stack hosts the shared resources; set hostStack to <org>/<project>/platform",
    },
    {
        title: "a platform that reads another host",
        stack: "platform",
        config: { hostStack: "example-org/mlops/dev" },
        message: "mlops:environment: got \"platform\"; the platform environment is the host and reads no other stack; remove hostStack",
    },
    {
        title: "an environment setting what only the platform reads",
        stack: "prod",
        config: { training: { instanceType: "ml.m5.2xlarge" } },
        message: "mlops:training: set in an environment's stack file, where nothing reads it; set it in the platform stack file (the host runs the ETL, training and the pipeline)",
    },
    {
        title: "a platform that serves",
        stack: "platform",
        config: { endpoint: devEndpoint },
        message: "mlops:endpoint: got \"serverless\"; the platform stack serves nothing; remove endpoint (serving settings belong in each environment's stack file)",
    },
    {
        title: "a platform that monitors",
        stack: "platform",
        config: { monitoring: { enabled: true } },
        message: "mlops:monitoring.enabled: got true; the platform stack serves nothing to monitor; enable monitoring in an environment's stack file",
    },
    {
        title: "an environment that serves without endpoint settings",
        stack: "dev",
        config: { endpoint: undefined },
        message: "mlops:endpoint: got missing; missing required key (expected an object with kind: serverless or instances)",
    },
    {
        title: "owning the processing-job log group without monitoring",
        stack: "dev",
        config: { accountResources: { processingJobsLogGroup: true } },
        message: "mlops:accountResources.processingJobsLogGroup: got true; only a stack with monitoring.enabled runs processing jobs",
    },
];

describe("config: invalid values fail before any resource is registered", () => {
    for (const c of invalidCases) {
        it(`${c.stack}: ${c.title}`, async () => {
            const { error, graph } = await evaluateStack(c.stack, { config: c.config });
            assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
            assert.ok(error.problems.includes(c.message),
                `message should contain:\n  ${c.message}\nbut was:\n  ${error.problems.join("\n  ")}`);
            assert.match(error.message, /^Invalid stack configuration:/);
            assert.equal(graph.resources.length, 0, "no resource may be registered");
        });
    }

    it("reports every problem at once", async () => {
        const { error } = await evaluateStack("dev", { config: { alertEmail: "x", environment: "qa" } });
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 2, error.message);
    });
});

describe("config: the stack files", () => {
    const load = async (stack: string, config?: Record<string, unknown>): Promise<StackConfig> => {
        const { outputs, error } = await evaluate(stack, () => loadConfig(), { config });
        if (error) throw error;
        return outputs as StackConfig;
    };

    /** Every key the stack file sets arrives in the loaded config with the file's value (structured keys recursively). */
    function assertFileValuesArrive(stack: string, config: StackConfig): void {
        const missing: string[] = [];
        const compare = (declared: unknown, loaded: unknown, where: string): void => {
            if (declared !== null && typeof declared === "object" && !Array.isArray(declared)) {
                for (const [k, v] of Object.entries(declared)) compare(v, (loaded as Record<string, unknown> | undefined)?.[k], `${where}.${k}`);
            } else if (JSON.stringify(declared) !== JSON.stringify(loaded)) {
                missing.push(`${where}: file ${JSON.stringify(declared)}, loaded ${JSON.stringify(loaded)}`);
            }
        };
        for (const [key, text] of Object.entries(readStackConfig(stack))) {
            if (!key.startsWith("mlops:")) continue;
            const loaded = (config as unknown as Record<string, unknown>)[key.slice("mlops:".length)];
            // Pulumi hands every value over as text, structured ones JSON-encoded; a scalar is compared as that text.
            if (text.startsWith("{") || text.startsWith("[")) compare(JSON.parse(text), loaded, key);
            else if (String(loaded) !== text) missing.push(`${key}: file ${JSON.stringify(text)}, loaded ${JSON.stringify(loaded)}`);
        }
        assert.deepEqual(missing, [], `${stack}: values of Pulumi.${stack}.yaml lost or changed on load`);
    }

    it("the platform, dev and prod each load their own stack file, every value intact", async () => {
        const platform = await load("platform");
        const dev = await load("dev");
        const prod = await load("prod");
        assertFileValuesArrive("platform", platform);
        assertFileValuesArrive("dev", dev);
        assertFileValuesArrive("prod", prod);
        assert.notDeepEqual(dev.endpoint, prod.endpoint, "the two files differ, so a stack reading the other's file shows");
        assert.equal(platform.endpoint, undefined, "the platform serves nothing");
    });

    it("derives host role, data protection and tags from the file's values", async () => {
        const platform = await load("platform");
        const dev = await load("dev");
        const prod = await load("prod");
        // The host is the stack without hostStack (the platform, which holds what prod serves from: protected like
        // prod); data protection defaults on in prod and the platform only; tags follow the file.
        assert.deepEqual([platform.isHost, platform.protectData], [true, true]);
        assert.deepEqual([dev.isHost, dev.protectData], [false, false]);
        assert.deepEqual([prod.isHost, prod.protectData], [false, true]);
        assert.equal((await load("prod", { protectData: false })).protectData, false, "an explicit setting wins over the default");
        for (const c of [platform, dev, prod]) {
            assert.deepEqual(c.tags, { project: "mlops", environment: c.environment, owner: c.owner, "managed-by": "pulumi" });
        }
    });

    it("accepts distributed training when the ETL writes enough train shards", () => {
        const host = { environment: "platform", owner: "team", alertEmail: "a@example.com" };
        const own = parseConfig({ ...host, training: { instanceCount: 4 }, etl: { trainShards: 4 } }, { stack: "platform", region: "eu-west-1" });
        assert.deepEqual([own.training.instanceCount, own.etl.trainShards], [4, 4]);
        assert.equal(parseConfig(host, { stack: "platform", region: "eu-west-1" }).etl.trainShards, 1);
    });

    it("keeps declared text as text (an owner of digits is not a number)", async () => {
        const config = await load("dev", { owner: "1234" });
        assert.equal(config.owner, "1234");
    });

    it("defaults fill what a stack file leaves out, with values AWS accepts", () => {
        const config = parseConfig(
            { environment: "staging", owner: "team", alertEmail: "a@example.com", hostStack: "org/mlops/platform", endpoint: { kind: "serverless" } },
            { stack: "staging", region: "eu-west-1" },
        );
        // Judged by AWS's API models (botocore) rather than by the literals the schema declares.
        const glue = serviceModel("glue").shapes;
        const sagemaker = serviceModel("sagemaker").shapes;
        assert.ok(glue.WorkerType.enum!.includes(config.etl.workerType), `etl.workerType ${config.etl.workerType}`);
        const sampling = sagemaker.SamplingPercentage;
        assert.ok(config.endpoint!.dataCapture.samplingPercentage >= sampling.min! && config.endpoint!.dataCapture.samplingPercentage <= sampling.max!);
        // SageMaker's ScheduleConfig documents hourly, daily and every-N-hours cron forms only.
        assert.match(config.monitoring.scheduleExpression, /^cron\(0 (\*|([01]?\d|2[0-3])(\/([01]?\d|2[0-4]))?) \? \* \* \*\)$/);
        // A stack that says nothing gets neither autoscaling nor deletion protection: both cost and are opted into.
        assert.equal(config.endpoint!.autoscaling.enabled, false);
        assert.equal(config.protectData, false);
    });
});
