"""A local SparkSession configured like a small Glue 5.0 worker (Spark 3.5, UTC)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

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


LOG4J2_FILE_CONFIG: Final = """\
# Spark's own log, to one file: nothing of the JVM's reaches the terminal.
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.append = false
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
"""
"""log4j2 configuration (properties format) sending every JVM log line to ``log_file``."""


def log4j2_options(log_file: Path) -> str:
    """Driver JVM options that route Spark's log4j2 output to ``log_file``; the
    configuration is written beside it. Must be given before the JVM starts."""
    config = log_file.with_suffix(".log4j2.properties")
    config.write_text(LOG4J2_FILE_CONFIG.format(log_file=log_file.resolve()), encoding="utf-8")
    return f"-Dlog4j2.configurationFile={config.resolve().as_uri()}"


def local_spark_session(
    app_name: str = "spotify-local", cores: int = 2, log_file: Path | None = None
) -> SparkSession:
    """Build (or reuse) a local session. Shuffle partitions are small because local data is.

    With ``log_file``, a new JVM writes all its logging there (WARN and up) and the terminal
    gets none; without, only ERROR lines reach the terminal after start-up."""
    require_java()
    # Python workers must be this interpreter, so the venv's packages are seen.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if log_file is not None:
        builder = builder.config("spark.driver.extraJavaOptions", log4j2_options(log_file))
    session = (
        builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("SPOTIFY_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.parquet.compression.codec", "snappy")
        .getOrCreate()
    )
    if log_file is None:
        session.sparkContext.setLogLevel("ERROR")
    return session
