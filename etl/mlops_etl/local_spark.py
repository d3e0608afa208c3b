"""A local SparkSession tuned for single-machine runs (the local pipeline, tests, benchmarks); not used on Glue."""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
# Below this input size the run is dominated by JVM warm-up, not by data (20k rows are 1.6 MB, 100k 8 MB).
SMALL_INPUT_BYTES = 16 * 2 ** 20
# For short runs: the C1 JIT alone compiles far less (measured on 20k rows: 14 instead of 27 CPU seconds) and
# the serial collector needs less memory; long runs keep the JVM's defaults (C2 code is about twice as fast
# once compiled: validating 1M rows took 6 s instead of 12 s).
SHORT_RUN_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# Spark's generated row-processing methods for a wide schema exceed the JVM's 8,000-byte limit for JIT
# compilation and would run interpreted (measured: validating 1M rows 12.9 s -> 5.9 s with this flag).
ALWAYS_JAVA_OPTS = "-XX:-DontCompileHugeMethods"


def java_options(input_bytes: int | None) -> str:
    mode = os.environ.get("ETL_JIT", "auto")  # auto | short | long (benchmarks compare them)
    short = mode == "short" or (mode == "auto" and input_bytes is not None and input_bytes < SMALL_INPUT_BYTES)
    extra = os.environ.get("ETL_SPARK_JAVA_OPTS", "")
    return " ".join(o for o in (f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}", ALWAYS_JAVA_OPTS,
                                SHORT_RUN_JAVA_OPTS if short else "", extra) if o)


def local_session(app_name: str = "mlops-etl", cores: int | str = "*", driver_memory: str | None = None,
                  shuffle_partitions: int = 2, input_bytes: int | None = None) -> SparkSession:
    """input_bytes picks the JVM profile (see java_options); None = unknown = the JVM's defaults."""
    # Bind to loopback: no hostname lookup at start-up, no listening on the network.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    memory = driver_memory or os.environ.get("ETL_SPARK_DRIVER_MEMORY", "2g")
    builder = (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
               .config("spark.driver.memory", memory)
               .config("spark.driver.extraJavaOptions", java_options(input_bytes))
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               # Adaptive execution re-plans after every shuffle; with a handful of partitions on one machine
               # that costs more than it saves (measured: about 1 s of a 20k-row run).
               .config("spark.sql.adaptive.enabled", "false")
               .config("spark.sql.ansi.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               # No _SUCCESS marker files: the job publishes by rename + manifest.json instead.
               .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
