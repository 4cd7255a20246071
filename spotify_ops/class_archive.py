"""A class-data-sharing archive for local Spark: the classes a job run loads, stored once so
that each new JVM maps them instead of loading, verifying and linking them one by one.

On the bundled sample, local-run took 13.9-17.2 s without it (median 14.8 s) and scripts/demo
11.4-13.3 s with it (median 12.3 s), six runs each; Spark started in 1.1-1.5 s instead of
1.9-2.4 s. It is local only; Glue starts its own JVMs.

Java 17 writes such an archive when a JVM run with ``-XX:ArchiveClassesAtExit`` exits, which
takes about 9 s. So ``scripts/bootstrap`` builds it once (``python -m spotify_ops.class_archive``)
from a run of the job on the sample, and ``spotify_ops.spark`` passes it to every local JVM.

An archive fits one Java runtime and one set of Spark jars. The JVM checks both and ignores
an archive that does not fit, so the archive's name holds a digest of them: a new Java or
PySpark gets an archive of its own. A JVM that maps a partly written archive crashes, so the
archive is written under a temporary name and checked by a JVM that requires it, and only
then renamed into place.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

ARCHIVE_DIR: Final = Path(sys.prefix) / "var" / "spotify-ops"
"""Beside the Python environment whose PySpark jars the archive holds."""
ARCHIVE_PREFIX: Final = "spark-classes-"
BUILD_LOG_NAME: Final = "spark-classes-build.log"
QUIET: Final = "-Xlog:cds=off -Xlog:cds+dynamic=off"
"""An archive the JVM cannot use costs time, not correctness: say nothing about it."""
EXIT_SECONDS: Final = 300
"""How long the archiving JVM may take to write the archive and exit."""


class ArchiveError(RuntimeError):
    """The archive could not be built; the message says why."""


def java_binary() -> Path | None:
    """The ``java`` that Spark's launcher runs: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).is_file() else None


def spark_jars() -> Path | None:
    """PySpark's folder of Spark jars (found without importing PySpark)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return None
    jars = Path(next(iter(spec.submodule_search_locations))) / "jars"
    return jars if jars.is_dir() else None


def _identity(path: Path) -> str:
    stat = path.stat()
    return f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}"


def archive_path(java: Path | None = None, jars: Path | None = None) -> Path | None:
    """Where the archive for this Java runtime and these Spark jars lives (it may not exist);
    None without either."""
    java = java or java_binary()
    jars = jars or spark_jars()
    if java is None or jars is None:
        return None
    digest = hashlib.sha256()
    runtime = [java, java.parent.parent / "lib" / "server" / "libjvm.so"]
    for part in [p for p in runtime if p.is_file()] + sorted(jars.glob("*.jar")):
        digest.update(_identity(part).encode() + b"\n")
    return ARCHIVE_DIR / f"{ARCHIVE_PREFIX}{digest.hexdigest()[:16]}.jsa"


def sharing_options(archive: Path | None = None) -> str:
    """JVM options that map the archive, when it has been built; else none."""
    archive = archive or archive_path()
    if archive is None or not archive.is_file():
        return ""
    return f'"-XX:SharedArchiveFile={archive}" {QUIET}'


def _check(java: Path, archive: Path, class_path: str) -> None:
    """A JVM that must map the archive (``-Xshare:on``) starts with it and the class path
    it was made with; it fails on an archive that is incomplete or does not fit."""
    # In a folder of its own: a JVM that crashes on the archive writes its error file there.
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [
                str(java),
                "-Xshare:on",
                f"-XX:SharedArchiveFile={archive}",
                "-cp",
                class_path,
                "-version",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            cwd=scratch,
        )
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).splitlines()
        detail = " ".join(line.strip() for line in lines if line.strip() and line.strip() != "#")
        raise ArchiveError(f"a JVM could not use the new archive: {detail[:300]}")


def build(archive: Path, log_file: Path) -> None:
    """Run the job on the bundled sample in a JVM that writes ``archive`` as it exits; keep
    the archive only if a JVM can then map it. Spark's log goes to ``log_file``."""
    from pyspark import SparkContext
    from spotify_glue import etl

    from spotify_ops.local_run import DEFAULT_INPUT
    from spotify_ops.spark import launch_jvm_logging_to, session_builder

    java = java_binary()
    if java is None:
        raise ArchiveError("Java was not found; run scripts/bootstrap")
    if SparkContext._gateway is not None:
        raise ArchiveError("this process already has a JVM; build the archive in a new one")
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.partial")
    builder = session_builder("spotify-class-archive", cores=2)
    launch_jvm_logging_to(builder, log_file, f"-XX:ArchiveClassesAtExit={partial}")
    gateway = SparkContext._gateway
    assert gateway is not None  # just launched
    try:
        session = builder.getOrCreate()
        class_path = str(session.sparkContext._jvm.System.getProperty("java.class.path"))
        with tempfile.TemporaryDirectory() as warehouse:
            etl.run(session, etl.JobArgs(str(DEFAULT_INPUT), warehouse))
        session.stop()
        # PySpark's JVM exits when its standard input closes; the archive is written then.
        gateway.proc.stdin.close()
        code = gateway.proc.wait(EXIT_SECONDS)
        if code != 0 or not partial.is_file():
            raise ArchiveError(f"the archiving JVM exited with code {code}; see {log_file}")
        _check(java, partial, class_path)
        partial.replace(archive)
    finally:
        if gateway.proc.poll() is None:
            # Failed before its exit: stopped now, it writes nothing after this cleanup.
            gateway.proc.kill()
            gateway.proc.wait()
        SparkContext._gateway = None
        SparkContext._jvm = None
        partial.unlink(missing_ok=True)
    remove_others(archive)


def remove_others(archive: Path) -> None:
    """Delete the archives beside ``archive``: made for another Java or other jars, they are
    never used again (a JVM that maps one keeps its pages until it exits)."""
    for old in archive.parent.glob(f"{ARCHIVE_PREFIX}*.jsa"):
        if old != archive:
            old.unlink()


def main() -> int:
    """Build the archive unless it exists. Exit 1 when it cannot be built; local runs then
    work as before, only slower."""
    archive = archive_path()
    if archive is None:
        print("class archive: Java or PySpark not found; skipped", file=sys.stderr)
        return 1
    if archive.is_file():
        return 0
    log_file = archive.parent / BUILD_LOG_NAME
    # The job's own log lines (rows quarantined in the sample) are not news here.
    logging.basicConfig(handlers=[logging.NullHandler()])
    print("class archive: building it once for local Spark (about 30 s)", file=sys.stderr)
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        build(archive, log_file)
    except ArchiveError as error:
        print(f"class archive: not built: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # optional: a failure only makes local runs slower
        print(
            f"class archive: not built: {type(error).__name__}: {error} (Spark's log: {log_file})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
