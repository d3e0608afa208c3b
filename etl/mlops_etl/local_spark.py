"""A local SparkSession tuned for small, fast runs (the local pipeline, tests, benchmarks); not used on Glue."""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


def local_session(app_name: str = "mlops-etl", cores: int | str = "*", driver_memory: str | None = None,
                  shuffle_partitions: int = 2) -> SparkSession:
    # Bind to loopback: no hostname lookup at start-up, no listening on the network.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    memory = driver_memory or os.environ.get("ETL_SPARK_DRIVER_MEMORY", "2g")
    java_opts = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    builder = (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
               .config("spark.driver.memory", memory)
               .config("spark.driver.extraJavaOptions", java_opts)
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.sql.ansi.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               # No _SUCCESS marker files: the job publishes by rename + manifest.json instead.
               .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
