// Pulumi entry point: validate the stack's config before anything is registered, then build the environment.
import { loadConfig } from "./config";
import { createStack } from "./program";

export = createStack(loadConfig());
