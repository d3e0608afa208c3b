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
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import baseline as B
from . import transforms as X
from .errors import EtlFailure, GateFailure
from .inputs import InputInfo, parse_header
from .rules import REASONS, SPLITS
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
    return Quality(float(limits["maxQuarantineShare"].value), int(limits["minRows"].value))


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
                         f"target {schema.target.column!r} has a single class among usable rows "
                         f"({positives} {schema.target.positive!r}, {negatives} {schema.target.negative!r})"))
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
    """Rejected rows with every original column as text, `_reason` and `_row_number`, in input order."""
    q = (rows.filter(F.col(X.REASON).isNotNull()).coalesce(1).sortWithinPartitions(X.ROW)
         .select(*[F.col(X.raw_col(i)).alias(name) for i, name in enumerate(columns.header)], X.REASON, X.ROW))
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
                    quarantine_kept: bool) -> dict[str, Any]:
    report: dict[str, Any] = {
        "runId": opts.run_id, "createdAt": _now(), "status": "failed", "kind": exc.kind, "message": exc.message,
        "checks": exc.checks, "input": {"uri": info.uri, "sha256": info.sha256},
        "quarantine": "quarantine/" if quarantine_kept else None,
    }
    if summary is not None:
        report["rowsIn"] = int(summary["rows"])
        report["quarantineByReason"] = {r: int(summary[f"reason:{r}"]) for r in REASONS}
        report["rowsQuarantined"] = sum(report["quarantineByReason"].values())
    return report


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

    try:
        header = parse_header(info.header_line) if info.header_line is not None else None
        columns = X.map_columns(header, schema)
        raw = X.read_raw(spark, list(info.files) if len(info.files) > 1 else info.files[0], columns,
                         single_file=len(info.files) == 1)
        prepared = X.prepare(raw, schema, columns, seed).persist(StorageLevel.MEMORY_AND_DISK)

        summary = X.summarize(prepared, schema)
        phase("read_classify_summarize")
        rows_in = int(summary["rows"])
        if rows_in != int(summary["max_row"] or 0):
            raise EtlFailure(f"row accounting: {rows_in} classified rows but {summary['max_row']} records read")

        write_quarantine(prepared, columns, join(staging, "_quarantine"))
        _move_part(storage, join(staging, "_quarantine"), join(staging, "quarantine"))
        storage.delete(join(staging, "_quarantine"))
        phase("write_quarantine")

        checks = gate_checks(summary, schema, quality, limits, opts.schema_uri)
        failing = [c for c in checks if not c["ok"]]
        if failing:
            raise GateFailure("quality gate failed: " + "; ".join(c["message"] for c in failing), failing)

        n_feat = len(schema.features)
        medians = [float(summary[f"median:{j}"]) for j in range(len(schema.numeric))]
        rows = X.output_rows(prepared, schema, medians)
        write_splits(rows, n_feat, join(staging, "_splits"))
        for s in SPLITS:
            _move_part(storage, join(staging, "_splits", f"{X.SPLIT}={s}"), join(staging, s))
        storage.delete(join(staging, "_splits"))
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
                        "quarantineShare": quarantined / rows_in if rows_in else 0.0,
                        "limitSources": {k: lim.source for k, lim in limits.items()}},
        }
        storage.rename(staging, final)
        storage.write_text(join(final, "manifest.json"), json.dumps(manifest, indent=2) + "\n")
        phase("publish")
        return JobResult(opts.run_id, final, manifest, clock() - started, phases)
    except EtlFailure as exc:
        quarantine = join(staging, "quarantine")
        kept = storage.exists(join(quarantine, PART_FILE))
        if kept:
            storage.rename(quarantine, join(failed, "quarantine"))
        storage.write_text(join(failed, "failure.json"),
                           json.dumps(_failure_report(opts, info, exc, summary, kept), indent=2) + "\n")
        storage.delete(staging)
        raise
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
