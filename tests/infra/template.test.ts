import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError, decodeProjectConfig, parseConfig } from "../../infra/config";
import { readStackConfig } from "../../infra/stack-files";
import { REPO_ROOT } from "../harness/pulumi-harness";

interface TemplateConfigValue { description?: string; default?: unknown; secret?: boolean }
interface ProjectFile { name: string; template?: { displayName?: string; description?: string; config?: Record<string, TemplateConfigValue> } }

const project = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as ProjectFile;
const templateConfig = project.template?.config ?? {};

/** A stack's flat config as `pulumi new` leaves it: the copied stack file, overlaid with the template's answers. */
function withTemplateDefaults(stack: string, overrides: Record<string, string> = {}): Record<string, string> {
    const values = readStackConfig(stack);
    for (const [key, entry] of Object.entries(templateConfig)) values[key] = String(entry.default);
    return { ...values, ...overrides };
}

function parse(values: Record<string, string>) {
    return parseConfig(decodeProjectConfig(values), { stack: "new", region: values["aws:region"] });
}

describe("Pulumi.yaml template", () => {
    it("has a display name, a description and a prompt with a description and a string default per key", () => {
        assert.ok(project.template?.displayName);
        assert.ok(project.template?.description);
        assert.deepEqual(Object.keys(templateConfig).sort(),
            ["aws:region", "mlops:alertEmail", "mlops:deployments", "mlops:owner", "mlops:source"]);
        for (const [key, entry] of Object.entries(templateConfig)) {
            assert.ok(entry.description && entry.description.length > 10, `${key}: description missing`);
            // Template config values are strings (ProjectTemplateConfigValue.default is a string).
            assert.equal(typeof entry.default, "string", `${key}: default must be a string`);
        }
    });

    it("keeps the project name, which is the namespace of every config key", () => {
        assert.equal(project.name, "mlops");
    });

    // The first stack a new project creates is the platform (docs/delivery.md, bootstrap): mlops:source is its key.
    for (const stack of ["platform"]) {
        it(`its defaults pass the real config schema over the ${stack} stack file, and reach the parsed config`, () => {
            const config = parse(withTemplateDefaults(stack));
            const defaults = (key: string) => String(templateConfig[key].default);
            assert.equal(config.region, defaults("aws:region"));
            assert.equal(config.owner, defaults("mlops:owner"));
            assert.equal(config.alertEmail, defaults("mlops:alertEmail"));
            assert.deepEqual({ ...config.source }, JSON.parse(defaults("mlops:source")));
            const deployments = JSON.parse(defaults("mlops:deployments")) as Record<string, unknown>;
            for (const [k, v] of Object.entries(deployments)) {
                assert.deepEqual((config.deployments as Record<string, unknown>)[k], v, `deployments.${k}`);
            }
        });
    }

    it("a templated key the schema does not know is rejected (the check above can fail)", () => {
        assert.throws(() => parse(withTemplateDefaults("platform", { "mlops:alertEmails": "a@example.com" })),
            (e: unknown) => e instanceof ConfigError && /mlops:alertEmails: unknown key/.test(e.message));
        assert.throws(() => parse(withTemplateDefaults("platform", {
            "mlops:source": '{"repo":"example-org/sagemaker-mlops"}',
        })), (e: unknown) => e instanceof ConfigError && /mlops:source\.repo: unknown key/.test(e.message));
    });

    it("a user's bad answer to a prompt gets a ConfigError naming the key", () => {
        assert.throws(() => parse(withTemplateDefaults("platform", { "mlops:alertEmail": "not-an-address" })),
            (e: unknown) => e instanceof ConfigError && /mlops:alertEmail: got "not-an-address"/.test(e.message));
        assert.throws(() => parse(withTemplateDefaults("platform", { "aws:region": "Virginia" })),
            (e: unknown) => e instanceof ConfigError && /aws:region: got "Virginia"/.test(e.message));
    });
});
