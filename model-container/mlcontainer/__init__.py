"""SageMaker bring-your-own container for the churn model: `train` and `serve` (see ../README.md)."""

__version__ = "1.0.0"
