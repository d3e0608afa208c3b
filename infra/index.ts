// Pulumi entry point: validate the stack's config before anything is registered, resolve which model version
// serves (the model registry) and how the endpoint runs now, then build the environment. `pulumi preview` prints
// the version that will serve.
import { SageMakerClient } from "@aws-sdk/client-sagemaker";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { resolveDeployInputs } from "./deploy-inputs";
import { createStack } from "./program";

export = (async () => {
    const config = loadConfig();
    const inputs = await resolveDeployInputs(config, {
        client: new SageMakerClient({ region: config.region }),
        log: (message) => void pulumi.log.info(message),
    });
    return createStack(config, inputs);
})();
