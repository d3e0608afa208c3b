#!/usr/bin/env python3
"""Runs pytest on the given test files with numpy and OpenBLAS limited to an older instruction set.

Another user's CPU rounds floating-point arithmetic differently: numpy picks its exp/log and other kernels
by instruction set at run time (AVX-512, AVX2/FMA3, SSE...), and OpenBLAS picks its BLAS kernels by CPU model.
Limiting both on this machine takes those other paths, so a test that only passes with this CPU's rounding
fails here instead of on a user's machine.

Both variables are documented in numpy's doc/source/user/troubleshooting-importerror.rst (numpy/numpy), with
threadpoolctl's "architecture" as the way to see which OpenBLAS kernels run. Checked on numpy 1.26.4:
- NPY_DISABLE_CPU_FEATURES (names separated by spaces or commas): numpy refuses to start if asked to disable a
  baseline feature and only warns about names it does not dispatch, so the list is built from what this numpy
  dispatches and this CPU has. Disabling a feature does not disable the ones built on it (AVX512_ICL stays on
  without AVX512F), so every AVX-512 group is listed.
- OPENBLAS_CORETYPE (OpenBLAS built with DYNAMIC_ARCH, as numpy's and scipy's wheels are): Sandybridge kernels
  use AVX without FMA, so they are only forced on a CPU that has AVX.

The limits are checked in a child process before the tests run: if they did not take effect, the run would
prove nothing, and this script fails. Usage: .ci/limited-cpu-pytest.py tests/a.py tests/b.py [pytest args]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

# What an AVX2-only or older x86-64 CPU lacks: every AVX-512 group numpy dispatches, then AVX2, FMA3, F16C.
DISABLE = ("AVX512F", "AVX512CD", "AVX512_KNL", "AVX512_KNM", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL",
           "AVX512_ICL", "AVX512_SPR", "AVX2", "FMA3", "F16C")
MUST_BE_OFF = ("AVX512F", "AVX512_SKX", "AVX2", "FMA3")
BLAS_CORE = "Sandybridge"

PROBE = """
import json
from numpy.core._multiarray_umath import __cpu_features__ as features
from threadpoolctl import threadpool_info
print(json.dumps({"features": {k: bool(v) for k, v in features.items()},
                  "blas": sorted({i.get("architecture") or "?" for i in threadpool_info() if i["user_api"] == "blas"})}))
"""


def probe(env: dict[str, str]) -> dict:
    # threadpoolctl only lists a BLAS once it is loaded: import scipy.linalg too, which loads scipy's own copy.
    code = "import numpy, scipy.linalg\n" + PROBE
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def limited_env() -> tuple[dict[str, str], list[str]]:
    from numpy.core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__

    blocked = [f for f in DISABLE if f in __cpu_baseline__]
    if blocked:
        sys.exit(f"limited-cpu: this numpy is built with {blocked} in its baseline; it cannot run without them")
    disable = [f for f in DISABLE if f in __cpu_dispatch__ and __cpu_features__.get(f)]
    env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")}
    notes = []
    if disable:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(disable)
    else:
        notes.append("this CPU has none of the features to disable: it is already the older instruction set")
    if __cpu_features__.get("AVX"):
        env["OPENBLAS_CORETYPE"] = BLAS_CORE
    else:
        notes.append(f"no AVX: OpenBLAS keeps its own choice ({BLAS_CORE} kernels need AVX)")
    return env, notes


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if platform.machine().lower() not in ("x86_64", "amd64"):
        print(f"limited-cpu: {platform.machine()} is not x86-64; the limits are x86 names, nothing to rerun")
        return 0
    env, notes = limited_env()
    seen = probe(env)
    still_on = [f for f in MUST_BE_OFF if seen["features"].get(f)]
    wrong_blas = "OPENBLAS_CORETYPE" in env and any(core != BLAS_CORE for core in seen["blas"])
    print(f"limited-cpu: NPY_DISABLE_CPU_FEATURES={env.get('NPY_DISABLE_CPU_FEATURES', '')!r} "
          f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '')!r}")
    print(f"limited-cpu: numpy features on: {' '.join(k for k, v in seen['features'].items() if v)}; "
          f"BLAS cores: {', '.join(seen['blas'])}")
    for note in notes:
        print(f"limited-cpu: {note}")
    if still_on or wrong_blas:
        print(f"limited-cpu: the limits did not take effect (still on: {still_on}, BLAS: {seen['blas']})",
              file=sys.stderr)
        return 1
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *argv], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
