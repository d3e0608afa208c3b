"""Pure DataFrame -> DataFrame steps of the ETL (no file writes here; job.py does the IO).

Column naming inside the job: raw input columns are positional (`_h0`, `_h1`, ... in file order) so any header
text is safe; derived columns are `_row_number`, `_reason`, `_id`, `_label`, `_x<j>` (feature j, typed) and
`_o<j>` (categorical feature j held an unknown category), `_split` and `_hash`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import baseline as B
from .errors import InputError
from .rules import HASH_HEX_DIGITS, HASH_SCALE, NUMBER_CHARS, REASONS, SPACE, SPLITS
from .schema import CategoricalFeature, DatasetSchema, Target

ROW = "_row_number"
PROBLEM = "_problem"  # what records.py found wrong with the record's bytes, or null
DETAIL = "_detail"
FILE = "_file"
LINE = "_line"
OFFSET = "_byte_offset"
LOCATION = (FILE, LINE, OFFSET, DETAIL)
REASON = "_reason"
ID = "_id"
LABEL = "_label"
SPLIT = "_split"
HASH = "_hash"


def raw_col(i: int) -> str:
    return f"_h{i}"


def feature_col(j: int) -> str:
    return f"_x{j}"


def other_col(j: int) -> str:
    return f"_o{j}"


def unknown_col(j: int) -> str:
    """The (trimmed) text of categorical feature j when it is an unknown category, else null."""
    return f"_u{j}"


@dataclass(frozen=True)
class ColumnMap:
    """The input's header (file order) and where each schema column sits in it."""

    header: tuple[str, ...]

    def position(self, name: str) -> int | None:
        try:
            return self.header.index(name)
        except ValueError:
            return None


def map_columns(header: Sequence[str] | None, schema: DatasetSchema) -> ColumnMap:
    """Checks the header against the schema. Raises InputError naming what is wrong."""
    if header is None:
        raise InputError("input is empty: no header line and no rows")
    for i, name in enumerate(header):
        if not name:
            raise InputError(f"header column {i + 1} has no name (header: {list(header)})")
    dupes = sorted({n for n in header if list(header).count(n) > 1})
    if dupes:
        raise InputError(f"header has duplicate column names: {dupes}")
    present = set(header)
    # A data row may hold a value equal to a column name by chance; a real header names most required columns.
    if len(present & set(schema.columns)) < max(1, len(schema.required_columns) / 2):
        other = [d for d in (";", "\t", "|") if len(header) == 1 and d in header[0]]
        hint = (f"; it looks {other[0]!r}-separated, and the ETL reads comma-separated files" if other else
                "; the input must start with a header row")
        raise InputError(
            f"the first line is not a header: it names few of the schema's columns {schema.columns} "
            f"(first line parsed as {[h[:80] for h in list(header)[:12]]}){hint}")
    missing = [c for c in schema.required_columns if c not in present]
    if missing:
        raise InputError(
            f"required column(s) missing from the header: {missing} (target, id and required features must be "
            f"present; header: {list(header)})",
            checks=[{"name": "required_columns", "ok": False, "value": missing, "limit": schema.required_columns,
                     "message": f"missing {missing}"}])
    return ColumnMap(tuple(header))


RECORDS_SCHEMA = T.StructType([
    T.StructField("r", T.LongType()), T.StructField("p", T.StringType()), T.StructField("d", T.StringType()),
    T.StructField("f", T.StringType()), T.StructField("l", T.LongType()), T.StructField("o", T.LongType()),
    T.StructField("v", T.ArrayType(T.StringType()))])


def read_records(spark: SparkSession, path: str, columns: ColumnMap) -> DataFrame:
    """The records records.scan wrote (JSON Lines) -> `_row_number`, `_problem`, location and `_h<i>` text.

    `_row_number` is the 1-based data record number over all input files (header and blank lines not counted; a
    quoted value spanning lines is one record). Every value stays text; the casts are ours, so a bad number is
    quarantined instead of silently becoming null.
    """
    df = spark.read.schema(RECORDS_SCHEMA).option("mode", "FAILFAST").json(path)
    return df.select(F.col("r").alias(ROW), F.col("p").alias(PROBLEM), F.col("d").alias(DETAIL),
                     F.col("f").alias(FILE), F.col("l").alias(LINE), F.col("o").alias(OFFSET),
                     *[F.col("v").getItem(i).alias(raw_col(i)) for i in range(len(columns.header))])


def _clean(c: Column) -> Column:
    """Trimmed text, or null when nothing is left. (A character-set trim, not a regex: a regex per value was
    most of the job's time at a million rows. Spark's CSV reader already drops a UTF-8 BOM.)"""
    t = F.btrim(c, F.lit(SPACE))
    return F.when(F.length(t) > 0, t)


def _cleaned_col(k: int) -> str:
    return f"_t{k}"


def _bad_col(j: int) -> str:
    return f"_b{j}"


def _range_col(j: int) -> str:
    return f"_r{j}"


def _any(conditions: Iterable[Column]) -> Column:
    conditions = list(conditions)
    return reduce(lambda a, b: a | b, conditions) if conditions else F.lit(False)


def _category_map(f: CategoricalFeature) -> Column:
    return F.create_map(*[F.lit(x) for i, cat in enumerate(f.categories) for x in (cat, i)])


def _label_is(cell: Column, target: Target, positive: bool) -> Column:
    """Whether a trimmed target cell holds the schema's positive (or negative) label, by the label's JSON type:
    strings exactly, numbers by value (a plain decimal, the numeric features' rule), booleans in any case."""
    if target.kind == "number":
        wanted = target.positive_number if positive else target.negative_number
        plain = F.length(F.translate(cell, NUMBER_CHARS, "")) == 0
        # coalesce: a cell Spark cannot cast gives null, which must count as "no match", not "unknown".
        return F.coalesce(plain & (cell.cast("double") == F.lit(float(wanted))), F.lit(False))
    if target.kind == "boolean":
        return F.lower(cell) == F.lit(target.positive if positive else target.negative)
    return cell == F.lit(target.positive if positive else target.negative)


def validate(df: DataFrame, schema: DatasetSchema, columns: ColumnMap) -> DataFrame:
    """Adds `_id`, `_label`, typed `_x<j>`, `_o<j>` and `_reason` (null = the row passes every row-level check).

    Three projections on purpose: each value is trimmed once and each flag computed once; Spark keeps
    projections whose columns are used several times apart, so the generated code stays small.
    """
    used = schema.columns
    slot = {name: k for k, name in enumerate(used)}

    def source(name: str) -> Column:
        pos = columns.position(name)
        return _clean(F.col(raw_col(pos))) if pos is not None else F.lit(None).cast("string")

    cleaned = df.select("*", *[source(name).alias(_cleaned_col(k)) for k, name in enumerate(used)])

    def t(name: str) -> Column:
        return F.col(_cleaned_col(slot[name]))

    n_num = len(schema.numeric)
    typed = []
    for j, f in enumerate(schema.numeric):
        c = t(f.name)
        v = c.cast("double")
        # Only digits, signs, '.', 'e' and what Java's parser accepts of them: exactly rules.NUMBER_REGEX, with
        # no regex per value (Java alone would also take "1d", "0x1p3" or "NaN").
        bad = c.isNotNull() & ((F.length(F.translate(c, NUMBER_CHARS, "")) > 0) | v.isNull()
                               | (F.abs(v) == F.lit(math.inf)))
        out = F.lit(False)
        if f.min is not None:
            out = out | (v < F.lit(f.min))
        if f.max is not None:
            out = out | (v > F.lit(f.max))
        typed += [F.when(c.isNotNull() & ~bad, v).alias(feature_col(j)), bad.alias(_bad_col(j)),
                  (c.isNotNull() & ~bad & out).alias(_range_col(j))]
    for j, f in enumerate(schema.categorical, start=n_num):
        c = t(f.name)
        known = _category_map(f)[c]
        typed += [F.coalesce(known, F.lit(f.other_code)).cast("int").alias(feature_col(j)),
                  (c.isNotNull() & known.isNull()).alias(other_col(j)),
                  F.when(c.isNotNull() & known.isNull(), c).alias(unknown_col(j))]
    target = t(schema.target.column)
    id_value = t(schema.id) if schema.id else F.lit(None).cast("string")
    missing_required = _any(t(f.name).isNull() for f in (*schema.numeric, *schema.categorical) if f.required)
    flagged = cleaned.select(
        "*", *typed,
        id_value.alias(ID),
        F.when(_label_is(target, schema.target, positive=True), 1).otherwise(0).cast("int").alias(LABEL),
        (F.col(PROBLEM).isNotNull()).alias("_q0"),
        (id_value.isNull() if schema.id else F.lit(False)).alias("_q1"),
        target.isNull().alias("_q2"),
        (~(_label_is(target, schema.target, positive=True) | _label_is(target, schema.target, positive=False)))
        .alias("_q3"),
        missing_required.alias("_q4"),
    )
    # The non-numeric and out-of-range flags exist only after the projection above.
    flagged = flagged.select("*", _any(F.col(_bad_col(j)) for j in range(n_num)).alias("_q5"),
                             _any(F.col(_range_col(j)) for j in range(n_num)).alias("_q6"))
    # _q0: the record's bytes were already refused by records.py, for the reason it names (the first REASONS);
    # then one flag per later reason, in REASONS order; duplicate_id is mark_duplicates' (it needs a window).
    row_reasons = REASONS[REASONS.index("wrong_column_count") + 1:-1]
    checks = [F.col(f"_q{i}") for i in range(1, len(row_reasons) + 1)]
    reason = F.when(F.col("_q0"), F.col(PROBLEM))
    for check, name in zip(checks, row_reasons):
        reason = reason.when(check, name)
    temp = [_cleaned_col(k) for k in range(len(used))] + [f"_q{i}" for i in range(len(checks) + 1)] \
        + [c for j in range(n_num) for c in (_bad_col(j), _range_col(j))]
    return flagged.withColumn(REASON, reason.otherwise(F.lit(None).cast("string"))).drop(*temp)


def mark_duplicates(df: DataFrame, schema: DatasetSchema) -> DataFrame:
    """Later rows (by row number) repeating an id get `duplicate_id`, unless they already have a reason."""
    if not schema.id:
        return df
    first = F.row_number().over(Window.partitionBy(ID).orderBy(ROW)) == 1
    return df.withColumn(REASON, F.coalesce(F.col(REASON), F.when(F.col(ID).isNotNull() & ~first, "duplicate_id")))


def assign_split(df: DataFrame, schema: DatasetSchema, seed: int) -> DataFrame:
    """`_hash` (52-bit MD5 prefix of "<seed>:<id or row number>") and `_split` from it.

    With an id the split is a function of the id alone: reordering the input moves no row between splits.
    rules.split_of computes the same in Python.
    """
    key_source = F.col(ID) if schema.id else F.col(ROW).cast("string")
    key = F.concat(F.lit(f"{seed}:"), key_source)
    h = F.conv(F.substring(F.md5(key), 1, HASH_HEX_DIGITS), 16, 10).cast("long")
    u = h.cast("double") / F.lit(HASH_SCALE)
    split = (F.when(u < F.lit(schema.split.train), "train")
             .when(u < F.lit(schema.split.train + schema.split.validation), "validation")
             .otherwise("test"))
    return df.withColumn(HASH, h).withColumn(SPLIT, split)


def classify(df_raw: DataFrame, schema: DatasetSchema, columns: ColumnMap, seed: int) -> DataFrame:
    """read_raw output -> every row with its reason (or none), typed features and split; all columns kept."""
    return assign_split(mark_duplicates(validate(df_raw, schema, columns), schema), schema, seed)


def prepare(df_raw: DataFrame, schema: DatasetSchema, columns: ColumnMap, seed: int) -> DataFrame:
    """classify, keeping only what later steps read: the original text (`_h<i>`) only on quarantined rows,
    the only rows written as text. The job caches this frame, and a narrow frame is much cheaper to cache."""
    df = classify(df_raw, schema, columns, seed)
    n = len(schema.features)
    n_num = len(schema.numeric)
    rejected = F.col(REASON).isNotNull()
    return df.select(
        ROW, REASON, ID, LABEL, SPLIT, HASH,
        *[feature_col(j) for j in range(n)], *[other_col(j) for j in range(n_num, n)],
        *[unknown_col(j) for j in range(n_num, n)],
        *[F.when(rejected, F.col(c)).alias(c) for c in LOCATION],
        *[F.when(rejected, F.col(raw_col(i))).alias(raw_col(i)) for i in range(len(columns.header))])


def summarize(df: DataFrame, schema: DatasetSchema) -> dict[str, Any]:
    """One pass over the prepared rows: counts for the manifest and the gate, train medians and ranges."""
    valid = F.col(REASON).isNull()
    train = valid & (F.col(SPLIT) == "train")
    one = F.lit(1)
    exprs = [F.count(one).alias("rows"), F.max(ROW).alias("max_row")]
    exprs += [F.count(F.when(F.col(REASON) == r, one)).alias(f"reason:{r}") for r in REASONS]
    for s in SPLITS:
        in_split = valid & (F.col(SPLIT) == s)
        exprs += [F.count(F.when(in_split, one)).alias(f"split:{s}"),
                  F.count(F.when(in_split & (F.col(LABEL) == 1), one)).alias(f"positive:{s}")]
    n_num = len(schema.numeric)
    exprs += [F.count(F.when(valid & F.col(other_col(n_num + j)), one)).alias(f"other:{f.name}")
              for j, f in enumerate(schema.categorical)]
    for j, f in enumerate(schema.numeric):
        x = F.when(train, F.col(feature_col(j)))
        # Exact median: independent of partitioning, so the imputed outputs are reproducible byte for byte.
        exprs += [F.percentile(x, 0.5).alias(f"median:{j}"), F.count(x).alias(f"present:{j}")]
    for j in range(len(schema.features)):
        x = F.when(train, F.col(feature_col(j)))
        exprs += [F.min(x).cast("double").alias(f"min:{j}"), F.max(x).cast("double").alias(f"max:{j}")]
    return df.agg(*exprs).first().asDict()


def impute(df: DataFrame, values: Mapping[str, float]) -> DataFrame:
    """Fills nulls in the named columns with the given values."""
    return df.select(*[F.coalesce(F.col(c), F.lit(float(values[c]))).alias(c) if c in values else F.col(c)
                       for c in df.columns])


def output_rows(df: DataFrame, schema: DatasetSchema, medians: Sequence[float]) -> DataFrame:
    """Rows that passed, imputed, with what the writers sort and split by: `_split`, `_hash`, `_id`, `_row_number`,
    `_label`, `_x0`..`_x<n-1>` (numeric doubles, then categorical int codes)."""
    feats = [feature_col(j) for j in range(len(schema.features))]
    kept = df.filter(F.col(REASON).isNull()).select(SPLIT, HASH, ID, ROW, LABEL, *feats)
    return impute(kept, {feature_col(j): m for j, m in enumerate(medians)})


def split_sort_columns() -> list[str]:
    """Total order of output rows: stable hash, then id and row number to break ties."""
    return [SPLIT, HASH, ID, ROW]


def baseline_aggregates(train: DataFrame, feature_cols: Sequence[str], bounds: Sequence[tuple[float, float]],
                        n: int) -> list[dict[str, Any]]:
    """Per-feature moments, 10-bucket histogram over [min, max] and sketch items of the train rows.

    The sketch keeps every 2**h-th sorted value (h = baseline.sketch_levels(n)), starting at 2**(h-1): each item
    stands for the 2**h rows around it, as the items of KLL level h do, and the sketch's CDF stays within half an
    item of the data's. Up to EXACT_SKETCH_MAX_ROWS the values are sorted exactly on the driver (through Arrow:
    far cheaper than Spark's quantile summaries at these sizes); above, `percentile_approx` at those ranks with
    accuracy 10,000 is off by at most n / 10,000 ranks, under a quarter of an item since n / 2**h <= 2,048.
    """
    stride = 1 << B.sketch_levels(n)
    exact = n <= EXACT_SKETCH_MAX_ROWS
    probabilities = [(r + 0.5) / n for r in range(stride // 2, n, stride)]
    exprs = []
    for j, (c, (lo, hi)) in enumerate(zip(feature_cols, bounds)):
        x = F.col(c).cast("double")
        exprs += [F.count(x).alias(f"n:{j}"), F.sum(x).alias(f"sum:{j}"), F.stddev_pop(x).alias(f"std:{j}"),
                  F.min(x).alias(f"min:{j}"), F.max(x).alias(f"max:{j}"),
                  F.percentile_approx(x, probabilities, 10_000).alias(f"sketch:{j}") if probabilities and not exact
                  else F.array().cast("array<double>").alias(f"sketch:{j}")]
        width = B.bucket_width(lo, hi)
        if width > 0:
            bucket = F.least(F.greatest(F.floor((x - F.lit(lo)) / F.lit(width)), F.lit(0)), F.lit(B.BUCKETS - 1))
            exprs += [F.count(F.when(bucket == b, F.lit(1))).alias(f"bucket:{j}:{b}") for b in range(B.BUCKETS)]
    row = train.agg(*exprs).first().asDict()
    exact_items = _exact_sketch_items(train, feature_cols, stride) if exact else None
    out = []
    for j, (lo, hi) in enumerate(bounds):
        width = B.bucket_width(lo, hi)
        counts = [row[f"bucket:{j}:{b}"] for b in range(B.BUCKETS)] if width > 0 else [row[f"n:{j}"]]
        out.append({"count": row[f"n:{j}"], "sum": row[f"sum:{j}"], "std_dev": row[f"std:{j}"],
                    "min": row[f"min:{j}"], "max": row[f"max:{j}"], "bucket_counts": counts,
                    "sketch": exact_items[j] if exact_items is not None else sorted(row[f"sketch:{j}"] or [])})
    return out


# 10 features x 2M rows of doubles = 160 MB on the driver: fine for Glue's and a laptop's driver.
EXACT_SKETCH_MAX_ROWS = 2_000_000


def _exact_sketch_items(train: DataFrame, feature_cols: Sequence[str], stride: int) -> list[list[float]]:
    """Every `stride`-th sorted value of each column (from stride // 2), nulls left out."""
    spark = train.sparkSession
    arrow_key = "spark.sql.execution.arrow.pyspark.enabled"
    previous = spark.conf.get(arrow_key, "false")
    spark.conf.set(arrow_key, "true")
    try:
        frame = train.select([F.col(c).cast("double").alias(c) for c in feature_cols]).toPandas()
    finally:
        spark.conf.set(arrow_key, previous)
    items = []
    for c in feature_cols:
        values = np.sort(frame[c].dropna().to_numpy(dtype=float))
        items.append(values[stride // 2::stride].tolist())
    return items
