/**
 * What the stacks' endpoint, the deploy step's verification and the local pipeline's capture proxy agree on.
 */

/**
 * The endpoint's only production variant. Blue/green deployments need the same variant name in every config;
 * data capture writes under `<endpoint>/<variant>/` (docs/contracts.md §5).
 */
export const SERVING_VARIANT = "primary";
/**
 * Environment variable of the serving model's container that records which model package version it runs, so a
 * deploy can prove from DescribeModel alone which version an endpoint configuration serves.
 */
export const MODEL_PACKAGE_ENV = "MLOPS_MODEL_PACKAGE_ARN";
