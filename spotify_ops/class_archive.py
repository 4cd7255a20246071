"""A class-data-sharing archive for local Spark: the classes a job run loads, stored once so
that each new JVM maps them instead of reading, verifying and linking them one by one. It
takes seconds off every local run (docs/local-run.md, "Timing of the demo"). It is local
only; Glue starts its own JVMs.

Java 17 writes such an archive when a JVM run with ``-XX:ArchiveClassesAtExit`` exits, which
takes about 9 s. So ``scripts/bootstrap`` builds it once (``python -m spotify_ops.class_archive``)
from a run of the job on the sample, and ``spotify_ops.spark`` passes it to every local JVM.

An archive fits one Java runtime and one set of Spark jars. The JVM checks both and ignores
an archive that does not fit, so the archive's name holds a digest of them: a new Java or
PySpark gets an archive of its own. A JVM that maps a partly written archive crashes, so the
archive is written under a temporary name and checked by a JVM that requires it, and only
then renamed into place. A build that fails leaves a note, so that bootstrap does not spend
the same half minute again on every run; deleting the note tries again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ARCHIVE_DIR: Final = Path(sys.prefix) / "var" / "spotify-ops"
"""Beside the Python environment whose PySpark jars the archive holds."""
ARCHIVE_PREFIX: Final = "spark-classes-"
BUILD_LOG_NAME: Final = "spark-classes-build.log"
FAILED_SUFFIX: Final = ".failed"
"""Beside the archive's name: why its last build failed."""
PARTIAL_SUFFIX: Final = ".partial"
QUIET: Final = "-Xlog:cds=off -Xlog:cds+dynamic=off"
"""An archive the JVM cannot use costs time, not correctness: say nothing about it."""
JVM_OPTION_VARIABLES: Final = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")
"""Environment variables that add options to every JVM this process starts."""
CLASS_LOAD_HOOKS: Final = ("-XX:StartFlightRecording", "-javaagent", "-agentlib", "-agentpath")
"""Options that can give a JVM a class-file-load hook: Flight Recorder, Java and native agents.
Java 17 crashed (SIGSEGV in ``KlassFactory::check_shared_class_file_load_hook``) when a JVM
with Flight Recorder mapped the archive, and ran without it; agents are left out as a
precaution (a JVM without the archive is only slower). Not seen: options in files
(``-XX:VMOptionsFile``), legacy ``-Xrun`` agents, Spark's own settings, and Flight Recorder
started later with ``jcmd``."""
EXIT_SECONDS: Final = 300
"""How long the archiving JVM may take to write the archive and exit."""
STOP_SECONDS: Final = 30
"""How long a failed build's JVM gets to exit on SIGTERM before it is killed."""


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


def java_option(name: str, path: Path) -> str:
    """``-XX:name=path`` for a Spark options string, which Spark's launcher splits as a shell
    would: quoted, so a path with spaces stays one option."""
    escaped = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"-XX:{name}={escaped}"'


def hook_variable() -> str | None:
    """The environment variable that gives this process's JVMs a class-file-load hook
    (``CLASS_LOAD_HOOKS``), if one does."""
    for name in JVM_OPTION_VARIABLES:
        if any(hook in os.environ.get(name, "") for hook in CLASS_LOAD_HOOKS):
            return name
    return None


def sharing_options(archive: Path | None = None) -> str:
    """JVM options that map the archive, when it has been built and no JVM option in the
    environment would crash a JVM that maps it (``hook_variable``); else none."""
    archive = archive or archive_path()
    if archive is None or not archive.is_file() or hook_variable():
        return ""
    return f"{java_option('SharedArchiveFile', archive)} {QUIET}"


def mapped_by(pid: int, archive: Path) -> bool:
    """Whether the process maps ``archive`` (a JVM does, for as long as it runs)."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return any(line.split(maxsplit=5)[5:] == [str(archive)] for line in maps)


def _jvm(session: SparkSession) -> Any:
    jvm = session.sparkContext._jvm
    if jvm is None:
        raise ArchiveError("the Spark session has no JVM")
    return jvm


def jvm_pid(session: SparkSession) -> int:
    """The process id of the session's JVM."""
    return int(_jvm(session).ProcessHandle.current().pid())


def jvm_class_path(session: SparkSession) -> str:
    """The class path the session's JVM started with: an archive is checked against it."""
    return str(_jvm(session).System.getProperty("java.class.path"))


def session_maps_archive(session: SparkSession) -> bool:
    """Whether the session's JVM maps the archive for this Java and PySpark."""
    archive = archive_path()
    return archive is not None and mapped_by(jvm_pid(session), archive)


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
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    partial = archive.with_name(f"{archive.name}.{token}{PARTIAL_SUFFIX}")
    builder = session_builder("spotify-class-archive", cores=2)
    launch_jvm_logging_to(builder, log_file, java_option("ArchiveClassesAtExit", partial))
    gateway = SparkContext._gateway
    assert gateway is not None  # just launched
    try:
        session = builder.getOrCreate()
        class_path = jvm_class_path(session)
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
            # Failed before its exit. SIGTERM, so Spark's shutdown hooks remove its temporary
            # folders (a kill left them in /tmp); what it writes as it exits goes below.
            gateway.proc.terminate()
            try:
                gateway.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                gateway.proc.kill()
                gateway.proc.wait()
        SparkContext._gateway = None
        SparkContext._jvm = None
        partial.unlink(missing_ok=True)


def remove_others(archive: Path, now: float | None = None) -> None:
    """Delete the archives and notes beside ``archive``: made for another Java or other jars,
    they are never used again (a JVM that maps one keeps its pages until it exits). Also the
    partial archives of builds that ended without cleaning up (their builder was killed), once
    older than any build can take."""
    now = time.time() if now is None else now
    for old in archive.parent.glob(f"{ARCHIVE_PREFIX}*"):
        if old.name.endswith(PARTIAL_SUFFIX):
            if old.stat().st_mtime < now - 2 * EXIT_SECONDS:
                old.unlink(missing_ok=True)
        elif old.suffix in (".jsa", FAILED_SUFFIX) and old != archive:
            old.unlink(missing_ok=True)


def failure_note(archive: Path) -> Path:
    return archive.with_name(archive.name + FAILED_SUFFIX)


def main() -> int:
    """Build the archive unless it exists, or its last build failed. Exit 1 when there is none;
    local runs then work as before, only slower."""
    archive = archive_path()
    if archive is None:
        print("class archive: Java or PySpark not found; skipped", file=sys.stderr)
        return 1
    if archive.is_file():
        return 0
    hook = hook_variable()
    if hook:
        # No note: the variable is this shell's, and the next bootstrap may run without it.
        print(
            f"class archive: not built while {hook} gives Java Flight Recorder or an agent "
            "(Java crashes mapping the archive with one); run scripts/bootstrap again without it",
            file=sys.stderr,
        )
        return 1
    from spotify_ops.spark import DriverMemoryError, driver_memory

    try:
        driver_memory()
    except DriverMemoryError as error:
        # No note, as for a hook: the variable is this shell's.
        print(f"class archive: not built: {error}", file=sys.stderr)
        return 1
    note = failure_note(archive)
    if note.is_file():
        reason = note.read_text(encoding="utf-8").strip()
        print(f"class archive: not built ({reason}); delete {note} to try again", file=sys.stderr)
        return 1
    log_file = archive.parent / BUILD_LOG_NAME
    # The job's own log lines (rows quarantined in the sample) are not news here.
    logging.basicConfig(handlers=[logging.NullHandler()])
    print("class archive: building it once for local Spark (about 35 s)", file=sys.stderr)
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        remove_others(archive)
        build(archive, log_file)
    except KeyboardInterrupt:
        print("class archive: interrupted; not built", file=sys.stderr)
        return 130
    except Exception as error:  # optional: a failure only makes local runs slower
        reason = (
            str(error) if isinstance(error, ArchiveError) else f"{type(error).__name__}: {error}"
        )
        if log_file.is_file() and str(log_file) not in reason:
            reason += f" (Spark's log: {log_file})"
        print(f"class archive: not built: {reason}", file=sys.stderr)
        with contextlib.suppress(OSError):
            note.write_text(reason + "\n", encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
