import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { loadStackFile } from "../../infra/stack-files";
import { REPO_ROOT } from "../harness/pulumi-harness";

/**
 * The Pulumi ESC environment definitions in esc/ (environment `mlops/<name>` ↔ esc/<name>.yaml) and the stack files
 * importing them. Structure per https://www.pulumi.com/docs/esc/reference/ and
 * https://www.pulumi.com/docs/esc/providers/login/aws-login/.
 */
const ESC_DIR = path.join(REPO_ROOT, "esc");
const PROJECT = "mlops";
const STACKS = ["platform", "dev", "prod"];

interface EscDoc { imports?: string[]; values: Record<string, unknown> }

function escFileOf(envName: string): string | undefined {
    const [project, name, ...rest] = envName.split("/");
    if (project !== PROJECT || !name || rest.length > 0) return undefined;
    const file = path.join(ESC_DIR, `${name}.yaml`);
    return fs.existsSync(file) ? file : undefined;
}

function readEsc(file: string): EscDoc {
    // uniqueKeys (the yaml default) rejects a duplicated key instead of keeping the last one silently.
    return YAML.parse(fs.readFileSync(file, "utf8")) as EscDoc;
}

function stackEnvironments(stack: string): unknown {
    return (YAML.parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { environment?: unknown }).environment;
}

/** Every `${path}` reference in a value tree. */
function references(value: unknown): string[] {
    if (typeof value === "string") return [...value.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]);
    if (Array.isArray(value)) return value.flatMap(references);
    if (value && typeof value === "object") return Object.values(value).flatMap(references);
    return [];
}

function resolvePath(values: Record<string, unknown>, ref: string): unknown {
    return ref.split(".").reduce<unknown>((node, key) =>
        node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined, values);
}

describe("Pulumi ESC environments (esc/)", () => {
    const files = fs.readdirSync(ESC_DIR).filter((f) => f.endsWith(".yaml")).sort();

    it("defines one shared environment and one per stack, each valid YAML with only imports and values", () => {
        assert.deepEqual(files, ["dev.yaml", "platform.yaml", "prod.yaml", "shared.yaml"]);
        for (const f of files) {
            const doc = readEsc(path.join(ESC_DIR, f));
            assert.deepEqual(Object.keys(doc).filter((k) => !["imports", "values"].includes(k)), [], f);
            assert.ok(doc.values && typeof doc.values === "object", `${f}: values is required`);
            for (const imported of doc.imports ?? []) {
                assert.ok(escFileOf(imported), `${f}: imports ${imported}, which esc/ does not define`);
            }
        }
    });

    it("keeps the Pulumi access token in the shared environment as a secret, exported to no stack", () => {
        const shared = readEsc(path.join(ESC_DIR, "shared.yaml"));
        const token = shared.values.pulumiAccessToken as Record<string, unknown>;
        assert.equal(typeof token["fn::secret"], "string");
        assert.equal(shared.values.environmentVariables, undefined);
        assert.equal(shared.values.pulumiConfig, undefined);
        for (const stack of STACKS) {
            const env = readEsc(path.join(ESC_DIR, `${stack}.yaml`));
            assert.ok(!references(env.values).includes("pulumiAccessToken"), `${stack}.yaml exports the access token`);
        }
    });

    for (const stack of STACKS) {
        it(`${stack}: AWS credentials by OIDC login, exported as the AWS SDK's variables, no static keys`, () => {
            const env = readEsc(path.join(ESC_DIR, `${stack}.yaml`));
            assert.deepEqual(env.imports, [`${PROJECT}/shared`]);
            const login = resolvePath(env.values, "aws.login") as Record<string, { oidc?: Record<string, unknown>; static?: unknown }>;
            const open = login["fn::open::aws-login"];
            assert.ok(open, "aws.login must be an fn::open::aws-login call");
            assert.equal(open.static, undefined, "static credentials would be stored keys");
            assert.match(String(open.oidc?.roleArn), /^arn:aws:iam::\d{12}:role\/[\w+=,.@-]+$/);
            assert.match(String(open.oidc?.roleArn), new RegExp(`-${stack}-`), "each environment logs in with its own role");
            assert.equal(open.oidc?.sessionName, `${PROJECT}-${stack}`);
            const vars = env.values.environmentVariables as Record<string, string>;
            assert.deepEqual(vars, {
                AWS_ACCESS_KEY_ID: "${aws.login.accessKeyId}",
                AWS_SECRET_ACCESS_KEY: "${aws.login.secretAccessKey}",
                AWS_SESSION_TOKEN: "${aws.login.sessionToken}",
            });
            for (const ref of references(env.values)) {
                assert.ok(resolvePath(env.values, ref.split(".").slice(0, 2).join(".")) !== undefined, `${stack}: \${${ref}} resolves to nothing`);
            }
        });

        it(`Pulumi.${stack}.yaml imports environments esc/ defines, its own last, and the harness still reads its config`, () => {
            const environments = stackEnvironments(stack);
            assert.ok(Array.isArray(environments), "environment: must be a list");
            for (const name of environments) {
                assert.ok(escFileOf(String(name)), `Pulumi.${stack}.yaml imports ${String(name)}, which esc/ does not define`);
            }
            assert.equal(environments.at(-1), `${PROJECT}/${stack}`);
            assert.equal(loadStackFile(stack).environment, stack);
        });
    }

    it("the reference check fails for an environment esc/ does not define", () => {
        assert.equal(escFileOf("mlops/staging"), undefined);
        assert.equal(escFileOf("other/dev"), undefined);
        assert.equal(escFileOf("mlops/dev/extra"), undefined);
        assert.ok(escFileOf("mlops/dev"));
    });
});
