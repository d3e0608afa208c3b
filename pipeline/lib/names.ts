/**
 * Names the local pipeline shares with the AWS side (the serving variant, registry metadata keys), derived here
 * from the contracts module (contracts/) under the names the stages use.
 */
import { EVAL_METRIC_PREFIX, REGISTRY_METADATA, TRAIN_METRIC_PREFIX } from "../../contracts/registry";

/** The production variant of an endpoint: the capture layout's `<endpoint>/<variant>/…` folder. */
export { SERVING_VARIANT } from "../../contracts/serving";

/** The ETL run prefix a version was trained on. */
export const DATA_PREFIX_PROPERTY = REGISTRY_METADATA.dataPrefix;
/** The evaluation report (its evaluation.json; report.html sits beside it), written by steps/evaluate. */
export const EVAL_REPORT_PROPERTY = `${EVAL_METRIC_PREFIX}report`;
/** The validation ROC AUC the training container reported, recorded by steps/train. */
export const TRAIN_VALIDATION_AUC_PROPERTY = `${TRAIN_METRIC_PREFIX}validation_auc`;
