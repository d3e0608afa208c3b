"""The Model Monitor defaults the ETL baseline and the drift checker both write stay equal.

They are two copies on purpose: ``etl/mlops_etl`` is shipped to Glue and ``monitor/drift_checker`` is copied
into the model image (model-container/Dockerfile), and neither deployment carries the other package, so one
cannot import the other at run time. One source would mean shipping part of one package inside the other's
artefact (e.g. ``mlops_etl/baseline.py`` added to the image's inputs in infra/lib/image-context.ts, a COPY in the
Dockerfile and the ETL folder on bin/monitor's path): a half package whose imports only fail in the image, for
twelve lines of data. This test is what keeps them one definition: the baseline the ETL writes and the
constraints the drift checker suggests (and falls back to when a key is absent) must agree, or a window would be
judged against thresholds the baseline never stated.
"""

from __future__ import annotations

from drift_checker import build_statistics, columns_from_rows, suggest_constraints
from drift_checker import statistics as checker
from mlops_etl import baseline as etl
from monitor_fixtures import draw_rows


def test_the_default_monitoring_config_is_the_same_in_both_packages():
    assert etl.MONITORING_CONFIG == checker.DEFAULT_MONITORING_CONFIG


def test_the_distribution_sketch_parameters_are_the_same_in_both_packages():
    assert (etl.KLL_K, etl.KLL_C, etl.BUCKETS) == (checker.KLL_K, checker.KLL_C, checker.BUCKETS)


def test_the_baseline_constraints_and_the_checkers_suggestion_carry_the_same_config():
    aggs = [{"min": 0.0}, {"min": -1.0}]
    written = etl.constraints_json(aggs, [False, True])["monitoring_config"]
    suggested = suggest_constraints(build_statistics(columns_from_rows(draw_rows(200, seed=3))))["monitoring_config"]
    assert written == suggested

