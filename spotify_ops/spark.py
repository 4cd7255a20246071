"""A local SparkSession configured like a small Glue 5.0 worker (Spark 3.5, UTC)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class JavaMissingError(RuntimeError):
    """Spark needs a Java runtime; the message says how to get one."""


def require_java() -> None:
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    raise JavaMissingError(
        "Java was not found: Spark needs Java 17. Install it (Debian/Ubuntu: "
        "'sudo apt-get install openjdk-17-jre-headless', or run scripts/bootstrap) "
        "or set JAVA_HOME."
    )


def local_spark_session(app_name: str = "spotify-local", cores: int = 2) -> SparkSession:
    """Build (or reuse) a local session. Shuffle partitions are small because local data is."""
    require_java()
    # Python workers must be this interpreter, so the venv's packages are seen.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("SPOTIFY_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.parquet.compression.codec", "snappy")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
