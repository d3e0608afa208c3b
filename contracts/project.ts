/**
 * The Pulumi project's folder (Pulumi.yaml and the `Pulumi.<stack>.yaml` stack files): the stacks' program reads
 * its stack files from here, and the deploy step runs the Automation API in it.
 */
import * as path from "path";

export const PROJECT_DIR = path.resolve(__dirname, "..");
