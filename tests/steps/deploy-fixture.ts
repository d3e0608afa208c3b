/** The endpoint the deploy step's tests update, the version it promotes over the old one, and the endpoint configurations before and after. */
export const ENDPOINT = "mlops-prod-churn";
export const VERSION = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-churn/4";
export const OLD_VERSION = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-churn/3";
export const NEW_CONFIG = "model-endpoint-config-new";
export const OLD_CONFIG = "model-endpoint-config-old";
