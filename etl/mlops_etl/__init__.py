"""Schema-driven feature engineering for the churn pipeline (Glue 5.0 PySpark job; runs on local Spark too).

Modules: schema (dataset schema), rules (value rules shared with pandas), transforms (pure DataFrame
functions), baseline (Model Monitor files), storage (Hadoop FileSystem: local or S3), inputs (checksum and
header of the input), job (orchestration, quality gate, publish), encode_records (pandas encoder for
serving-time records). Only pyspark, numpy and pandas are needed: the Glue job ships this package as-is.
"""
