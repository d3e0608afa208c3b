"""Error types whose class decides the training job's exit code and the failure file's wording."""

from __future__ import annotations


class ContainerError(Exception):
    """Base for expected failures: the message is written verbatim to /opt/ml/output/failure."""

    exit_code = 1
    category = "Error"


class ConfigError(ContainerError):
    """Bad hyperparameters or job configuration: the caller must change the request, not the data."""

    exit_code = 2
    category = "ConfigurationError"


class DataError(ContainerError):
    """The channel data cannot be trained on (format, labels, shape)."""

    exit_code = 1
    category = "DataError"


class TrainingStopped(ContainerError):
    """SageMaker asked the job to stop (StopTrainingJob sends SIGTERM, then SIGKILL after 120 s)."""

    # 128 + SIGTERM, the conventional status of a process ended by SIGTERM.
    exit_code = 143
    category = "Stopped"
