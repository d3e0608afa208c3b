"""The ETL run: read, classify, gate, write to a staging prefix, then publish (docs/contracts.md section 2).

Publishing protocol, so downstream stages never see a partial or rejected run:
  1. everything is written under `<output>/_staging-<runId>/`;
  2. after every check passes, the staging prefix is renamed to `<output>/<runId>/`;
  3. `manifest.json` is written last, as the commit marker.
On any failure the staging prefix is removed; the quarantine file (if written) and `failure.json` are kept
under `<output>/_failed-<runId>/` for diagnosis, and EtlFailure is raised.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import baseline as B
from . import records as R
from . import transforms as X
from .errors import EtlFailure, GateFailure, InternalError
from .inputs import InputInfo, open_uri
from .rules import REASONS, SPACE, SPLITS
from .schema import DatasetSchema, Quality
from .storage import Storage, join

FORMAT = "csv; no header; label first"
PART_FILE = "part-00000.csv"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class JobOptions:
    input: str
    output: str
    run_id: str
    seed: int | None = None  # overrides schema.split.seed
    # Platform limits (stack config mlops:etl.*): the schema's quality section may only tighten them.
    max_quarantine_share: float | None = None  # ceiling on schema.quality.maxQuarantineShare
    min_rows: int | None = None  # floor under schema.quality.minRows
    schema_uri: str | None = None  # named in refusals, so the user knows which file to edit


@dataclass(frozen=True)
class JobResult:
    run_id: str
    prefix: str
    manifest: dict[str, Any]
    seconds: float
    phases: dict[str, float]  # seconds per phase, for benchmarks and the log


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# Who sets each gate limit (docs/contracts.md section 1, "Who sets the quality limits"): the dataset schema
# governs its own data; the platform (stack config, passed as an ETL option by the Glue job and the local
# pipeline) sets limits a schema may only tighten. The stricter of the two applies.
PLATFORM_KEYS = {"minRows": ("--min-rows", "mlops:etl.minRows"),
                 "maxQuarantineShare": ("--max-quarantine-share", "mlops:etl.maxQuarantineShare")}


@dataclass(frozen=True)
class Limit:
    """One gate limit as applied: its value, which side set it, and how a user changes it."""
    key: str  # schema quality key, e.g. "minRows"
    value: float | int
    source: str  # "schema" or "platform"
    schema_value: float | int
    schema_explicit: bool  # False: the schema does not set it and its default applied
    platform_value: float | int | None

    def origin(self, schema_uri: str | None) -> str:
        """Where the value came from and how to change it, for refusal messages."""
        option, stack_key = PLATFORM_KEYS[self.key]
        where = f" in {schema_uri}" if schema_uri else ""
        if self.source == "platform":
            floor = self.key == "minRows"
            return (f"the platform {'floor' if floor else 'ceiling'}, stack config {stack_key} (passed as ETL "
                    f"option {option}); a schema's quality.{self.key} may only {'raise' if floor else 'lower'} it: "
                    f"change it with `pulumi config set {stack_key} <value>` or in Pulumi.<stack>.yaml")
        set_by = f"schema key quality.{self.key}{where}" if self.schema_explicit \
            else f"schema default (quality.{self.key} is not set{where})"
        bound = "" if self.platform_value is None else \
            f"; it may not go {'below' if self.key == 'minRows' else 'above'} the platform limit " \
            f"{self.platform_value} (stack config {stack_key})"
        return f"{set_by}: change quality.{self.key} in the schema{bound}"


def effective_limits(schema: DatasetSchema, opts: JobOptions) -> dict[str, Limit]:
    """The gate limits the run uses: for each, the stricter of the schema's value and the platform limit."""
    if opts.max_quarantine_share is not None and not 0.0 <= opts.max_quarantine_share <= 1.0:
        raise ValueError(f"--max-quarantine-share (stack config mlops:etl.maxQuarantineShare) must be between 0 "
                         f"and 1, got {opts.max_quarantine_share}")
    if opts.min_rows is not None and opts.min_rows < 1:
        raise ValueError(f"--min-rows (stack config mlops:etl.minRows) must be at least 1, got {opts.min_rows}")
    explicit = schema.raw.get("quality") or {}
    out = {}
    for key, mine, platform, stricter in (
            ("minRows", schema.quality.min_rows, opts.min_rows, max),
            ("maxQuarantineShare", schema.quality.max_quarantine_share, opts.max_quarantine_share, min)):
        value = mine if platform is None else stricter(mine, platform)
        source = "schema" if platform is None or value == mine else "platform"
        out[key] = Limit(key, value, source, mine, key in explicit, platform)
    return out


def effective_quality(schema: DatasetSchema, opts: JobOptions) -> Quality:
    limits = effective_limits(schema, opts)
    return Quality(float(limits["maxQuarantineShare"].value), int(limits["minRows"].value),
                   schema.quality.max_unknown_category_share)


def looser_schema_notes(limits: dict[str, Limit], schema_uri: str | None) -> list[str]:
    """One note per schema value the platform limit overrode (said out loud, never silent)."""
    return [f"schema quality.{lim.key} {lim.schema_value}{f' ({schema_uri})' if schema_uri else ''} is looser than "
            f"the platform limit {lim.platform_value} (stack config {PLATFORM_KEYS[lim.key][1]}); "
            f"{lim.platform_value} applies"
            for lim in limits.values() if lim.source == "platform" and lim.schema_explicit]


def _check(name: str, ok: bool, value: Any, limit: Any, message: str) -> dict[str, Any]:
    return {"name": name, "ok": bool(ok), "value": value, "limit": limit, "message": message}


def gate_checks(summary: dict[str, Any], schema: DatasetSchema, quality: Quality,
                limits: dict[str, Limit] | None = None, schema_uri: str | None = None) -> list[dict[str, Any]]:
    """Every data-quality check on the pass-1 summary; the run publishes only if all are ok.

    With `limits` (effective_limits), a failed limit check says where its value came from and how to change it.
    """
    def origin(key: str) -> str:
        return f" ({limits[key].origin(schema_uri)})" if limits and key in limits else ""

    rows_in = int(summary["rows"])
    quarantined = sum(int(summary[f"reason:{r}"]) for r in REASONS)
    rows_out = rows_in - quarantined
    share = quarantined / rows_in if rows_in else 0.0
    checks = [
        _check("min_rows", rows_out >= quality.min_rows, rows_out, quality.min_rows,
               f"{rows_out} usable rows ({rows_in} read, {quarantined} quarantined); minRows is {quality.min_rows}"
               f"{origin('minRows')}"),
        _check("quarantine_share", share <= quality.max_quarantine_share, round(share, 6),
               quality.max_quarantine_share,
               f"quarantined share {share:.4f} ({quarantined} of {rows_in} rows) exceeds maxQuarantineShare "
               f"{quality.max_quarantine_share}{origin('maxQuarantineShare')}"),
    ]
    positives = sum(int(summary[f"positive:{s}"]) for s in SPLITS)
    negatives = rows_out - positives
    checks.append(_check("target_classes", positives > 0 and negatives > 0,
                         {"positive": positives, "negative": negatives}, "both classes",
                         (f"target {schema.target.column!r} has a single class among usable rows "
                          f"({positives} {schema.target.positive!r}, {negatives} {schema.target.negative!r})")
                         if rows_out else
                         (f"no usable rows to learn target {schema.target.column!r} from "
                          + ("(the input has a header but no data rows)" if rows_in == 0 else
                             f"(all {rows_in} rows were quarantined)"))))
    for f in schema.categorical:
        unknown = int(summary[f"other:{f.name}"])
        if rows_out > 0:
            share_unknown = unknown / rows_out
            checks.append(_check(
                f"unknown_categories:{f.name}", share_unknown <= quality.max_unknown_category_share,
                round(share_unknown, 6), quality.max_unknown_category_share,
                f"categorical feature {f.name!r}: {unknown} of {rows_out} usable rows ({share_unknown:.1%}) hold a "
                f"value that is not one of its categories {list(f.categories)}; maxUnknownCategoryShare is "
                f"{quality.max_unknown_category_share}"))
    if positives > 0 and negatives > 0:
        for s in ("train", "validation"):
            pos, total = int(summary[f"positive:{s}"]), int(summary[f"split:{s}"])
            checks.append(_check(f"target_classes_{s}", 0 < pos < total, {"positive": pos, "rows": total},
                                 "both classes", f"the {s} split has a single target class ({pos} positive of "
                                                 f"{total} rows); more data is needed"))
    for j, f in enumerate(schema.numeric):
        present = int(summary[f"present:{j}"])
        if rows_out > 0:
            checks.append(_check(f"observed:{f.name}", present > 0, present, 1,
                                 f"numeric feature {f.name!r} has no observed value in the train split to impute "
                                 f"from"))
    return checks


def _spark_part(storage: Storage, folder: str) -> str | None:
    parts = [n for n in storage.list_names(folder) if n.startswith("part-") and not n.endswith(".crc")]
    if len(parts) > 1:
        raise EtlFailure(f"expected one part file in {folder}, found {parts}")
    return join(folder, parts[0]) if parts else None


def _move_part(storage: Storage, spark_dir: str, dest_dir: str) -> None:
    """Moves the single part file Spark wrote into dest_dir/part-00000.csv (stable name: byte-identical reruns)."""
    part = _spark_part(storage, spark_dir)
    dest = join(dest_dir, PART_FILE)
    if part is None:
        storage.write_text(dest, "")
    else:
        storage.rename(part, dest)


def write_quarantine(rows: DataFrame, columns: X.ColumnMap, path: str) -> None:
    """Rejected rows with every original column as text, `_reason`, `_row_number`, where the record is (`_file`,
    `_line`, `_byte_offset`) and what records.py found wrong with its bytes (`_detail`), in input order."""
    q = (rows.filter(F.col(X.REASON).isNotNull()).coalesce(1).sortWithinPartitions(X.ROW)
         .select(*[F.col(X.raw_col(i)).alias(name) for i, name in enumerate(columns.header)], X.REASON, X.ROW,
                 *X.LOCATION))
    # Spark's CSV writer trims values unless told not to; the quarantine keeps the text exactly as read.
    (q.write.option("header", "true").option("quote", '"').option("escape", '"')
     .option("ignoreLeadingWhiteSpace", "false").option("ignoreTrailingWhiteSpace", "false").csv(path))


def write_splits(rows: DataFrame, n_features: int, path: str) -> None:
    """One sorted, headerless, label-first CSV per split (a single write job partitioned by split)."""
    feats = [X.feature_col(j) for j in range(n_features)]
    (rows.coalesce(1).sortWithinPartitions(*X.split_sort_columns())
     .select(X.SPLIT, X.LABEL, *feats)
     .write.partitionBy(X.SPLIT).option("header", "false").csv(path))


def _count_written(spark: SparkSession, staging: str) -> dict[str, int]:
    """Records actually on storage, read back: the in = out + quarantined check does not trust the plan.

    The splits hold numbers only, one record per line; the quarantine is parsed as CSV (multiLine), so a
    value spanning lines is still one record.
    """
    lines = (spark.read.text([join(staging, s) for s in SPLITS])
             .groupBy(F.input_file_name().alias("f")).count().collect())
    counts = {s: 0 for s in SPLITS}
    for row in lines:
        for s in SPLITS:
            if f"/{s}/{PART_FILE}" in row["f"]:
                counts[s] += int(row["count"])
    counts["quarantine"] = (spark.read.schema("v string").option("header", "true").option("multiLine", "true")
                            .option("quote", '"').option("escape", '"')
                            .csv(join(staging, "quarantine")).count())
    return counts


def _failure_report(opts: JobOptions, info: InputInfo, exc: EtlFailure, summary: dict | None,
                    quarantine_kept: bool, scanned: R.ScanReport | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "runId": opts.run_id, "createdAt": _now(), "status": "failed", "kind": exc.kind, "message": exc.message,
        "checks": exc.checks, "input": {"uri": info.uri, "sha256": info.sha256},
        "quarantine": "quarantine/" if quarantine_kept else None,
    }
    if summary is not None:
        report["rowsIn"] = int(summary["rows"])
        report["quarantineByReason"] = {r: int(summary[f"reason:{r}"]) for r in REASONS}
        report["rowsQuarantined"] = sum(report["quarantineByReason"].values())
    if scanned is not None:
        report["inputRecords"] = scanned.manifest()
    return report


def describe_exception(exc: BaseException) -> str:
    """One line for an unexpected error: the Java exception's own first line for Spark errors (their Python
    text is the whole JVM stack trace)."""
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else f"{type(exc).__name__}: {exc}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    if len(first) > 300:
        first = first[:300] + "…"
    return f"unexpected error: {first} (rerun with --debug for the stack trace)"


class _LocalSink:
    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._fh = open(path, "wb")

    def __enter__(self):
        return self._fh.write

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


class _HadoopSink:
    """Streams bytes through Hadoop's FileSystem (s3:// on Glue) in the chunks records.scan hands over."""

    def __init__(self, storage: Storage, uri: str):
        fs, path = storage._fs(uri)
        self._stream = fs.create(path, True)

    def __enter__(self):
        return lambda chunk: self._stream.write(bytearray(chunk))

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


def _open_sink(storage: Storage, uri: str):
    if "://" not in uri or uri.startswith("file://"):
        return _LocalSink(uri.removeprefix("file://"))
    return _HadoopSink(storage, uri)


def _top_values(df: DataFrame, value: Any, condition: Any, k: int = 3) -> list[list[Any]]:
    rows = (df.filter(condition).groupBy(value.alias("v")).count()
            .orderBy(F.desc("count"), F.asc("v")).limit(k).collect())
    return [[r["v"], int(r["count"])] for r in rows]


def _describe(values: list[list[Any]]) -> str:
    return ", ".join(f"{v!r} ({n})" for v, n in values)


def _add_examples(failing: list[dict[str, Any]], prepared: DataFrame, schema: DatasetSchema, columns: X.ColumnMap,
                  summary: dict[str, Any]) -> None:
    """Names the values behind a failed check: the commonest invalid target labels, unknown categories."""
    invalid = int(summary["reason:invalid_target"])
    pos = columns.position(schema.target.column)
    if invalid and pos is not None and any(c["name"] in ("min_rows", "quarantine_share", "target_classes")
                                           for c in failing):
        top = _top_values(prepared, F.btrim(F.col(X.raw_col(pos)), F.lit(SPACE)),
                          F.col(X.REASON) == "invalid_target")
        failing[0]["examples"] = {"invalid_target": top}
        failing[0]["message"] += (f" ({invalid} rows have an invalid target {schema.target.column!r}, commonest: "
                                  f"{_describe(top)}; allowed: {schema.target.positive!r}, "
                                  f"{schema.target.negative!r})")
    n_num = len(schema.numeric)
    for j, f in enumerate(schema.categorical, start=n_num):
        for c in failing:
            if c["name"] == f"unknown_categories:{f.name}":
                top = _top_values(prepared, F.col(X.unknown_col(j)),
                                  F.col(X.REASON).isNull() & F.col(X.unknown_col(j)).isNotNull())
                c["examples"] = top
                c["message"] += f"; commonest unknown values: {_describe(top)}"


def run_job(spark: SparkSession, schema: DatasetSchema, info: InputInfo, opts: JobOptions,
            clock: Callable[[], float] = time.monotonic) -> JobResult:
    """Runs the ETL and publishes `<output>/<runId>/`, or raises EtlFailure having published nothing."""
    started = clock()
    if not _RUN_ID.match(opts.run_id):
        raise ValueError(f"run id {opts.run_id!r} must be 1-128 characters of letters, digits, '.', '_', '-' "
                         f"and start with a letter or digit")
    limits = effective_limits(schema, opts)
    quality = effective_quality(schema, opts)
    seed = schema.split.seed if opts.seed is None else opts.seed
    storage = Storage(spark)
    final = join(opts.output, opts.run_id)
    staging = join(opts.output, f"_staging-{opts.run_id}")
    failed = join(opts.output, f"_failed-{opts.run_id}")
    if storage.exists(join(final, "manifest.json")):
        raise EtlFailure(f"run {opts.run_id!r} is already published at {final}; run ids are immutable")
    for leftover in (final, staging, failed):  # an interrupted earlier attempt of this run id
        storage.delete(leftover)

    summary: dict[str, Any] | None = None
    prepared: DataFrame | None = None
    phases: dict[str, float] = {}
    mark = [clock()]

    def phase(name: str) -> None:
        now = clock()
        phases[name] = round(now - mark[0], 3)
        mark[0] = now

    scanned: R.ScanReport | None = None
    try:
        # The input's records are found on its bytes (records.py), not by Spark's CSV parser: every physical
        # line is accounted for, and a record that is not one row is quarantined instead of swallowing others.
        records_path = join(staging, "_records", "records.jsonl")
        found: list[X.ColumnMap] = []
        with _open_sink(storage, records_path) as sink:
            scanned = R.scan(info.files, open_uri, lambda names: found.append(X.map_columns(names, schema)), sink)
        if not found:
            X.map_columns(None, schema)  # raises: the input is empty
        columns = found[0]
        try:
            scanned.check()
        except AssertionError as exc:
            raise EtlFailure(f"record accounting: {exc}") from None
        phase("scan_records")
        raw = X.read_records(spark, records_path, columns)
        prepared = X.prepare(raw, schema, columns, seed).persist(StorageLevel.MEMORY_AND_DISK)

        summary = X.summarize(prepared, schema)
        phase("read_classify_summarize")
        rows_in = int(summary["rows"])
        if not rows_in == int(summary["max_row"] or 0) == scanned.records:
            raise EtlFailure(f"record accounting: {scanned.records} records found in the input, {rows_in} rows "
                             f"classified, highest row number {summary['max_row']}")

        write_quarantine(prepared, columns, join(staging, "_quarantine"))
        _move_part(storage, join(staging, "_quarantine"), join(staging, "quarantine"))
        storage.delete(join(staging, "_quarantine"))
        phase("write_quarantine")

        checks = gate_checks(summary, schema, quality, limits, opts.schema_uri)
        failing = [c for c in checks if not c["ok"]]
        if failing:
            _add_examples(failing, prepared, schema, columns, summary)
            raise GateFailure("quality gate failed: " + "; ".join(c["message"] for c in failing), failing)

        n_feat = len(schema.features)
        medians = [float(summary[f"median:{j}"]) for j in range(len(schema.numeric))]
        rows = X.output_rows(prepared, schema, medians)
        write_splits(rows, n_feat, join(staging, "_splits"))
        for s in SPLITS:
            _move_part(storage, join(staging, "_splits", f"{X.SPLIT}={s}"), join(staging, s))
        storage.delete(join(staging, "_splits"))
        storage.delete(join(staging, "_records"))
        phase("write_splits")

        counts = {s: int(summary[f"split:{s}"]) for s in SPLITS}
        rows_out = sum(counts.values())
        quarantined = sum(int(summary[f"reason:{r}"]) for r in REASONS)
        written = _count_written(spark, staging)
        if (rows_in != rows_out + quarantined or any(written[s] != counts[s] for s in SPLITS)
                or written["quarantine"] != quarantined):
            raise EtlFailure(f"row accounting: {rows_in} rows in, but {rows_out} out + {quarantined} quarantined "
                             f"(written: {written})")
        phase("verify_counts")

        bounds = [(float(summary[f"min:{j}"]), float(summary[f"max:{j}"])) for j in range(n_feat)]
        aggs = X.baseline_aggregates(rows.filter(F.col(X.SPLIT) == "train"),
                                     [X.feature_col(j) for j in range(n_feat)], bounds, counts["train"])
        integral = [schema.feature_types[f] == "categorical" for f in schema.features]
        storage.write_text(join(staging, "baseline", "statistics.json"),
                           json.dumps(B.statistics_json(aggs, integral, counts["train"]), indent=2) + "\n")
        storage.write_text(join(staging, "baseline", "constraints.json"),
                           json.dumps(B.constraints_json(aggs, integral), indent=2) + "\n")
        phase("baseline")

        manifest = {
            "runId": opts.run_id,
            "createdAt": _now(),
            "input": {"uri": info.uri, "sha256": info.sha256},
            "schema": schema.raw,
            "rowsIn": rows_in,
            "rowsOut": rows_out,
            "rowsQuarantined": quarantined,
            "quarantineByReason": {r: int(summary[f"reason:{r}"]) for r in REASONS},
            "otherCategoryCounts": {f.name: int(summary[f"other:{f.name}"]) for f in schema.categorical},
            "label": schema.target.column,
            "features": schema.features,
            "featureTypes": schema.feature_types,
            "encodings": {f.name: f.encoding() for f in schema.categorical},
            "imputation": {f.name: medians[j] for j, f in enumerate(schema.numeric)},
            "splits": counts,
            # Without an id, membership hashes the row number: the same file gives the same splits, but
            # reordering or appending rows moves rows between splits (docs/contracts.md section 1).
            "splitBy": "id" if schema.id else "position",
            "seed": seed,
            "format": FORMAT,
            "baseline": {"statistics": "baseline/statistics.json", "constraints": "baseline/constraints.json"},
            "baselineColumns": [{"name": B.column_name(j), "feature": f, "type": schema.feature_types[f]}
                                for j, f in enumerate(schema.features)],
            "quality": {"maxQuarantineShare": quality.max_quarantine_share, "minRows": quality.min_rows,
                        "maxUnknownCategoryShare": quality.max_unknown_category_share,
                        "quarantineShare": quarantined / rows_in if rows_in else 0.0,
                        "limitSources": {k: lim.source for k, lim in limits.items()}},
            "inputRecords": scanned.manifest(),
        }
        storage.rename(staging, final)
        storage.write_text(join(final, "manifest.json"), json.dumps(manifest, indent=2) + "\n")
        phase("publish")
        return JobResult(opts.run_id, final, manifest, clock() - started, phases)
    except Exception as exc:
        # Whatever went wrong (a Spark or Java error included) ends in failure.json with a kind and one line.
        failure = exc if isinstance(exc, EtlFailure) else InternalError(describe_exception(exc))
        quarantine = join(staging, "quarantine")
        kept = storage.exists(join(quarantine, PART_FILE))
        if kept:
            storage.rename(quarantine, join(failed, "quarantine"))
        storage.write_text(join(failed, "failure.json"), json.dumps(
            _failure_report(opts, info, failure, summary, kept, scanned), indent=2) + "\n")
        storage.delete(staging)
        if failure is exc:
            raise
        raise failure from exc
    except BaseException:
        storage.delete(staging)  # an unexpected error must not leave a half-written run behind either
        raise
    finally:
        if prepared is not None:
            prepared.unpersist()


def summary_line(result: JobResult, seconds: float | None = None) -> str:
    """One line for logs; seconds defaults to the job's own time (the entrypoint passes its wall time)."""
    m = result.manifest
    share = m["rowsQuarantined"] / m["rowsIn"] if m["rowsIn"] else 0.0
    return (f"etl: run {result.run_id} ok: rows in={m['rowsIn']} out={m['rowsOut']} "
            f"quarantined={m['rowsQuarantined']} ({share:.2%}) train={m['splits']['train']} "
            f"validation={m['splits']['validation']} test={m['splits']['test']}"
            f"{' (split by position: no id)' if m.get('splitBy') == 'position' else ''} "
            f"time={result.seconds if seconds is None else seconds:.1f}s -> {result.prefix}")
