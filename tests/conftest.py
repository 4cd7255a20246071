"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from spotify_ops.spark import JIT_C1_ONLY

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "sample"

# Every JVM the tests start (this session's, and a CLI subprocess's, which inherits the
# environment) is tuned for many small Spark runs; neither option changes what Spark computes:
# - C1 only: in runs this short, C2's compiles cost more CPU than they save.
# - Spark caches 100 generated classes by default, fewer than one job run compiles, so every
#   run compiled all of its classes again.
# A variable already set wins: set it empty for the JVM's defaults (faster at full scale).
os.environ.setdefault(
    "SPARK_SUBMIT_OPTS", f"{JIT_C1_ONLY} -Dspark.sql.codegen.cache.maxEntries=2000"
)
os.environ.setdefault("SPARK_LAUNCHER_OPTS", JIT_C1_ONLY)  # spark-submit's own small JVM


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local SparkSession for the whole test session: JVM start-up is the slow part."""
    from spotify_ops.spark import local_spark_session

    session = local_spark_session("spotify-tests", cores=2)
    yield session
    session.stop()
