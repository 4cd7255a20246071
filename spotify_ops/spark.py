"""A local SparkSession configured like a small Glue 5.0 worker (Spark 3.5, UTC)."""

from __future__ import annotations

import os
import re
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
# Spark's own log, to one file: nothing of the JVM's reaches the terminal. The file is
# appended to, as the JVM's own standard output and error go there too.
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
"""
"""log4j2 configuration (properties format) sending every JVM log line to ``log_file``."""


JIT_C1_ONLY: Final = "-XX:TieredStopAtLevel=1"
"""The JVM's quick compiler only. In a short run C2's compiles cost more than they save: the
sample's local run took 19-21 s end to end with both compilers and 16.5 s with C1 only. At
the real scale (229 MB read) cold runs measured alike either way, and warm runs need C2."""
SHORT_RUN_INPUT_BYTES: Final = 64 * 2**20
"""Inputs smaller than this make a short run (the bundled sample is under 3 MB)."""
SHORT_RUN_SETTINGS: Final = {"spark.sql.adaptive.enabled": "false"}
"""Adaptive execution plans each query stage again once the stages before it have run, to
merge small partitions and choose joins from real sizes: on inputs this small there is
nothing to gain, and the planning costs about a second (docs/local-run.md). The job's
results do not change (``tests/glue/test_run.py``)."""


DRIVER_MEMORY_VARIABLE: Final = "SPOTIFY_SPARK_DRIVER_MEMORY"
"""Environment variable giving the local JVM's heap (Spark's ``spark.driver.memory``)."""
DEFAULT_DRIVER_MEMORY: Final = "2g"
MIN_DRIVER_MEMORY_MIB: Final = 450
"""Spark refuses to start a driver with less heap (1.5 times the 300 MiB it reserves)."""
_JVM_SIZE: Final = re.compile(r"([0-9]+)([kmgt])", re.IGNORECASE)
"""A size as the JVM's ``-Xmx`` takes it, which is how Spark passes the driver's heap on."""
_MIB_PER_UNIT: Final = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


class DriverMemoryError(ValueError):
    """The local heap variable holds a size Spark cannot start with; the message says why."""


def driver_memory() -> str:
    """The local JVM's heap: ``DRIVER_MEMORY_VARIABLE`` when set, else the default. A value
    the JVM cannot read, or one Spark would refuse, is rejected before any JVM starts."""
    value = os.environ.get(DRIVER_MEMORY_VARIABLE, "").strip() or DEFAULT_DRIVER_MEMORY
    size = _JVM_SIZE.fullmatch(value)
    if size is None:
        raise DriverMemoryError(
            f"{DRIVER_MEMORY_VARIABLE}={value!r} is not a heap size: give a number and a unit, "
            f"k, m, g or t, such as 2g or 512m (or unset it for {DEFAULT_DRIVER_MEMORY})"
        )
    mib = int(size[1]) * _MIB_PER_UNIT[size[2].lower()]
    if mib < MIN_DRIVER_MEMORY_MIB:
        raise DriverMemoryError(
            f"{DRIVER_MEMORY_VARIABLE}={value!r} is below the {MIN_DRIVER_MEMORY_MIB} MiB Spark "
            f"needs to start: give 512m or more (or unset it for {DEFAULT_DRIVER_MEMORY})"
        )
    return value


def log4j2_options(log_file: Path) -> str:
    """Driver JVM options that route Spark's log4j2 output to ``log_file``; the
    configuration is written beside it. Must be given before the JVM starts."""
    config = log_file.with_suffix(".log4j2.properties")
    config.write_text(LOG4J2_FILE_CONFIG.format(log_file=log_file.resolve()), encoding="utf-8")
    return f"-Dlog4j2.configurationFile={config.resolve().as_uri()}"


def launch_jvm_logging_to(
    builder: SparkSession.Builder, log_file: Path, java_options: str = ""
) -> None:
    """Start this process's Spark JVM now, with the builder's settings so far, its log4j2
    log in ``log_file`` and its own standard output and error appended there too, so not
    even a stack trace the JVM prints itself reaches the terminal. Does nothing when the
    process already has a JVM (its output is then wherever it was sent)."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return
    conf = SparkConf(loadDefaults=False)
    conf.setAll(list(builder._options.items()))  # the builder's settings (launch options)
    conf.set("spark.driver.extraJavaOptions", f"{log4j2_options(log_file)} {java_options}".strip())
    log_file.write_bytes(b"")
    with log_file.open("ab") as output:
        # SparkContext uses the gateway it finds, as PySpark's own launch would set it.
        popen = {"stdout": output, "stderr": output}
        gateway = launch_gateway(conf, popen_kwargs=popen)  # type: ignore[no-untyped-call]
    SparkContext._gateway = gateway
    SparkContext._jvm = gateway.jvm


def session_builder(app_name: str, cores: int) -> SparkSession.Builder:
    """The local session's settings. Shuffle partitions are small because local data is."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory())
        .config("spark.sql.parquet.compression.codec", "snappy")
        # One job run generates more classes than Spark's default cache of 100 holds, so a
        # second run in the same session compiled them all again.
        .config("spark.sql.codegen.cache.maxEntries", "2000")
    )


def driver_java_options(short_run: bool) -> str:
    """The class archive when it has been built, and for a short run the quick compiler only."""
    from spotify_ops.class_archive import sharing_options

    return " ".join(o for o in (sharing_options(), JIT_C1_ONLY if short_run else "") if o)


def local_spark_session(
    app_name: str = "spotify-local",
    cores: int = 2,
    log_file: Path | None = None,
    short_run: bool = False,
) -> SparkSession:
    """Build (or reuse) a local session (``session_builder``).

    With ``log_file``, a new JVM writes all its logging (WARN and up) and output there and
    the terminal gets none; without, only ERROR lines reach the terminal after start-up.
    A new JVM maps the class archive when it has been built (``spotify_ops.class_archive``).
    ``short_run`` (small inputs) also gives it the quick compiler only and
    ``SHORT_RUN_SETTINGS``."""
    require_java()
    # Python workers must be this interpreter, so the venv's packages are seen.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = session_builder(app_name, cores)
    for key, value in (SHORT_RUN_SETTINGS if short_run else {}).items():
        builder = builder.config(key, value)
    java_options = driver_java_options(short_run)
    if log_file is not None:
        launch_jvm_logging_to(builder, log_file, java_options)
    elif java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    session = builder.getOrCreate()
    if log_file is None:
        session.sparkContext.setLogLevel("ERROR")
    return session
