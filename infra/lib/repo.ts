/**
 * The repository root, the one definition: Lambda bundles, the ETL package and the image context are read
 * relative to it, so nothing built from it depends on where the checkout lives.
 */
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
