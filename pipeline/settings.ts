/**
 * Everything the local pipeline takes from the stack files, read in {@link readPipelineSettings} alone: the ETL
 * limits, training settings and evaluation thresholds of the host of the stack it runs as (`--stack`, default dev:
 * the platform's stack file), and how the prod stack captures and judges production traffic (the local prod endpoint
 * behaves as prod's does on AWS).
 */
import { EtlConfig, EvaluationConfig, TrainingConfig } from "../infra/config";
import { loadHostStackFile, loadStackFile } from "../infra/stack-files";

export interface PipelineSettings {
    /** Platform limits of the ETL quality gate and the train shard count. */
    readonly etl: EtlConfig;
    readonly training: TrainingConfig;
    /** The gate's thresholds. */
    readonly evaluation: EvaluationConfig;
    readonly prod: {
        /** Share of production requests the data capture keeps. */
        readonly samplingPercentage: number;
        /** The drift rule's family-wise false-alarm rate and minimum window. */
        readonly driftAlpha: number;
        readonly driftMinWindow: number;
    };
}

/** Reads and validates the stack files (a ConfigError names what is wrong). */
export function readPipelineSettings(stack: string): PipelineSettings {
    // The pipeline's settings (ETL, training, evaluation) are the host's: the platform stack the given one reads.
    const config = loadHostStackFile(stack);
    const prod = loadStackFile("prod");
    return {
        etl: config.etl,
        training: config.training,
        evaluation: config.evaluation,
        prod: {
            samplingPercentage: prod.endpoint!.dataCapture.samplingPercentage,
            driftAlpha: prod.monitoring.driftAlpha,
            driftMinWindow: prod.monitoring.driftMinWindow,
        },
    };
}
