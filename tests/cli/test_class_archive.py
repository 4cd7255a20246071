"""The class archive local Spark maps (spotify_ops.class_archive): named for one Java runtime
and one set of Spark jars, mapped by the JVMs the tests and local runs start, and never put
in place unless a JVM can map it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from spotify_ops import class_archive
from spotify_ops.class_archive import ArchiveError, archive_path, sharing_options
from spotify_ops.spark import DRIVER_MEMORY_VARIABLE, JIT_C1_ONLY, driver_java_options

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


HOOK_VARIABLE_AT_START = class_archive.hook_variable()
"""Set in the shell that ran the tests, it keeps the test session's JVM from the archive."""


@pytest.fixture(autouse=True)
def no_jvm_options_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests decide which JVM options the environment holds, not the developer's shell."""
    for name in class_archive.JVM_OPTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def fake_runtime(root: Path) -> tuple[Path, Path]:
    """A java binary, its libjvm.so and a jars folder, as files whose identity can change."""
    java = root / "jdk" / "bin" / "java"
    libjvm = root / "jdk" / "lib" / "server" / "libjvm.so"
    jars = root / "jars"
    for path in (java, libjvm, jars / "spark-core.jar", jars / "spark-sql.jar"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"v1")
    return java, jars


def test_the_archive_name_changes_with_the_java_runtime_and_with_each_jar(tmp_path):
    java, jars = fake_runtime(tmp_path)
    first = archive_path(java, jars)
    assert first is not None
    assert first == archive_path(java, jars)
    assert first.parent == class_archive.ARCHIVE_DIR

    names: set[Path | None] = {first}
    for changed in (java.parent.parent / "lib" / "server" / "libjvm.so", jars / "spark-sql.jar"):
        changed.write_bytes(b"version 2")
        names.add(archive_path(java, jars))
    (jars / "extra.jar").write_bytes(b"v1")
    names.add(archive_path(java, jars))
    assert None not in names
    assert len(names) == 4


def test_jvms_get_the_archive_only_once_it_is_built(tmp_path):
    archive = tmp_path / "spark-classes-x.jsa"
    assert sharing_options(archive) == ""
    archive.write_bytes(b"built")
    options = sharing_options(archive)
    assert f'"-XX:SharedArchiveFile={archive}"' in options
    assert "-Xlog:cds=off" in options


def test_an_archive_path_with_spaces_or_quotes_stays_one_jvm_option(tmp_path):
    # Spark's launcher splits its options strings as a shell would (CommandBuilderUtils).
    archive = tmp_path / 'a folder "quoted" \\ here' / "spark-classes-x.jsa"
    archive.parent.mkdir()
    archive.write_bytes(b"built")
    assert shlex.split(sharing_options(archive))[0] == f"-XX:SharedArchiveFile={archive}"
    option = class_archive.java_option("ArchiveClassesAtExit", archive)
    assert shlex.split(option) == [f"-XX:ArchiveClassesAtExit={archive}"]


def built_archive() -> Path:
    """The archive for this Java and PySpark, which scripts/bootstrap builds."""
    archive = archive_path()
    assert archive is not None, "Java and PySpark are required: scripts/bootstrap installs them"
    note = class_archive.failure_note(archive)
    why = note.read_text(encoding="utf-8") if note.is_file() else "scripts/bootstrap builds it"
    assert archive.is_file(), f"no class archive at {archive}: {why}"
    return archive


@pytest.mark.parametrize("short_run", [False, True])
def test_every_local_jvm_gets_the_archive_once_built_and_short_runs_the_quick_compiler(
    tmp_path, monkeypatch, short_run
):
    archive = tmp_path / "spark-classes-x.jsa"
    monkeypatch.setattr(class_archive, "archive_path", lambda: archive)
    assert driver_java_options(short_run) == (JIT_C1_ONLY if short_run else "")
    archive.write_bytes(b"built")
    options = driver_java_options(short_run)
    assert f'"-XX:SharedArchiveFile={archive}"' in options
    assert options.endswith(JIT_C1_ONLY) == short_run


def test_the_test_sessions_jvm_maps_the_archive_bootstrap_built(spark: SparkSession):
    archive = built_archive()
    assert class_archive.session_maps_archive(spark), (
        f"{HOOK_VARIABLE_AT_START} gave the test session's JVM Flight Recorder or an agent"
        if HOOK_VARIABLE_AT_START
        else f"the test session's JVM does not map {archive}"
    )
    pid = class_archive.jvm_pid(spark)
    assert class_archive.mapped_by(pid, archive)
    assert not class_archive.mapped_by(pid, archive.with_name("another.jsa"))


def java() -> Path:
    found = class_archive.java_binary()
    assert found is not None, "Java 17 is required: scripts/bootstrap installs it"
    return found


def test_the_built_archive_passes_the_check_it_had_to_pass(spark: SparkSession):
    built = built_archive()
    class_archive._check(java(), built, class_archive.jvm_class_path(spark))


@pytest.mark.parametrize("damage", ["truncated", "not an archive"])
def test_an_archive_a_jvm_cannot_map_is_refused(spark: SparkSession, tmp_path, monkeypatch, damage):
    built = built_archive()
    candidate = tmp_path / "candidate.jsa"
    if damage == "truncated":
        # A JVM that maps a truncated archive crashes (SIGBUS): this must never be renamed
        # into place.
        with built.open("rb") as whole, candidate.open("wb") as part:
            part.write(whole.read(2**20))
    else:
        candidate.write_bytes(b"not an archive")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    with pytest.raises(ArchiveError, match="could not use the new archive"):
        class_archive._check(java(), candidate, class_archive.jvm_class_path(spark))
    assert list(workdir.iterdir()) == []  # a crashing JVM's hs_err file stays out of the way


JFR_WITHOUT_ITS_START_LINE = "-XX:StartFlightRecording -Xlog:jfr+startup=off"
"""Flight Recorder for every JVM; its start-up line on standard output would confuse Spark's
launcher, which reads its command from there."""


SESSION_COUNTING_THREE_ROWS = """
from spotify_ops.spark import local_spark_session
print(local_spark_session("flight-recorder").range(3).count())
"""


@pytest.mark.parametrize("variable", class_archive.JVM_OPTION_VARIABLES)
@pytest.mark.parametrize("hook", class_archive.CLASS_LOAD_HOOKS)
def test_jvms_do_without_the_archive_when_the_environment_gives_them_a_class_load_hook(
    tmp_path, monkeypatch, variable, hook
):
    archive = tmp_path / "spark-classes-x.jsa"
    archive.write_bytes(b"built")
    monkeypatch.setenv(variable, "-Xmx1g -Dfile.encoding=UTF-8")
    assert sharing_options(archive)
    monkeypatch.setenv(variable, f"-Xmx1g {hook}:settings")
    assert sharing_options(archive) == ""


def test_a_local_session_with_flight_recorder_in_the_environment_runs(tmp_path):
    """A real JVM, in a process of its own: Java crashes mapping the archive with Flight
    Recorder on, so the session must start without it."""
    built_archive()  # else the session would run without it whatever the guard does
    environment = {**os.environ, "JDK_JAVA_OPTIONS": JFR_WITHOUT_ITS_START_LINE}
    result = subprocess.run(
        [sys.executable, "-c", SESSION_COUNTING_THREE_ROWS],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,  # where a crashing JVM would leave its report
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == "3"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        (
            "JAVA_TOOL_OPTIONS",
            "-javaagent:/opt/agent.jar",
            "not built while JAVA_TOOL_OPTIONS gives Java",
        ),
        (DRIVER_MEMORY_VARIABLE, "2 gigs", f"{DRIVER_MEMORY_VARIABLE}='2 gigs' is not a heap size"),
    ],
    ids=["class-load hook", "bad heap"],
)
def test_main_builds_nothing_and_writes_no_note_while_the_shell_gives_jvms_a_bad_setting(
    tmp_path, monkeypatch, capsys, variable, value, said
):
    """A setting of this shell's stops the build, but leaves no note: the next bootstrap,
    run without it, builds the archive."""
    archive = tmp_path / "var" / "spark-classes-x.jsa"
    monkeypatch.setattr(class_archive, "archive_path", lambda: archive)

    builds: list[Path] = []
    monkeypatch.setattr(class_archive, "build", lambda target, _log: builds.append(target))
    monkeypatch.setenv(variable, value)
    assert class_archive.main() == 1
    assert builds == []
    assert said in capsys.readouterr().err
    assert not class_archive.failure_note(archive).exists()


def test_main_builds_nothing_when_the_archive_exists(tmp_path, monkeypatch):
    archive = tmp_path / "spark-classes-x.jsa"
    archive.write_bytes(b"built")
    monkeypatch.setattr(class_archive, "archive_path", lambda: archive)

    def no_build(*_: object) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(class_archive, "build", no_build)
    assert class_archive.main() == 0


def test_a_failed_build_is_not_tried_again_until_its_note_is_deleted(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "var" / "spark-classes-x.jsa"
    monkeypatch.setattr(class_archive, "archive_path", lambda: archive)
    builds: list[Path] = []

    def failing_build(target: Path, log_file: Path) -> None:
        builds.append(target)
        raise ArchiveError("the archiving JVM exited with code 1")

    monkeypatch.setattr(class_archive, "build", failing_build)
    assert class_archive.main() == 1
    assert "not built: the archiving JVM exited with code 1" in capsys.readouterr().err
    assert class_archive.main() == 1  # the next bootstrap: no second half-minute build
    note = class_archive.failure_note(archive)
    assert f"the archiving JVM exited with code 1); delete {note} to try again" in (
        capsys.readouterr().err
    )
    assert len(builds) == 1
    note.unlink()
    assert class_archive.main() == 1
    assert len(builds) == 2
    assert not archive.exists()


def test_old_archives_notes_and_abandoned_partial_files_are_removed(tmp_path):
    # Everything named spark-classes-* in the folder is this module's own.
    prefix = class_archive.ARCHIVE_PREFIX
    current = tmp_path / f"{prefix}new.jsa"
    names = {
        "current": current,
        "old archive": tmp_path / f"{prefix}old.jsa",
        "old note": tmp_path / f"{prefix}old.jsa.failed",
        "abandoned": tmp_path / f"{prefix}new.jsa.1-aa.partial",
        "being written": tmp_path / f"{prefix}new.jsa.2-bb.partial",
        "someone else's": tmp_path / "notes.txt",
    }
    for path in names.values():
        path.write_bytes(b"x")
    now = 1_000_000.0
    os.utime(names["abandoned"], (now - 3 * class_archive.EXIT_SECONDS,) * 2)
    os.utime(names["being written"], (now - 10,) * 2)
    class_archive.remove_others(current, now=now)
    assert {p.name for p in tmp_path.iterdir()} == {
        names[k].name for k in ("current", "being written", "someone else's")
    }


BUILD_FAILING_IN_THE_JOB = """
import sys
from pathlib import Path
from pyspark import SparkContext
from spotify_glue import etl
from spotify_ops import class_archive, spark

def failing_job(*args, **kwargs):
    raise RuntimeError("the job failed")

def launch_and_tell(*args, **kwargs):
    launch(*args, **kwargs)
    print(SparkContext._gateway.proc.pid, flush=True)  # the archiving JVM

launch = spark.launch_jvm_logging_to
spark.launch_jvm_logging_to = launch_and_tell
etl.run = failing_job
archive = Path(sys.argv[1])
class_archive.archive_path = lambda: archive
sys.exit(class_archive.main())
"""


def test_a_build_that_fails_midway_leaves_no_archive_and_no_running_jvm(tmp_path):
    """The real build, in a process of its own (this one already has a JVM), failing inside
    the job: the archiving JVM is stopped before it can write, nothing is left but the note
    and Spark's log."""
    archive = tmp_path / "var" / "spark-classes-x.jsa"
    spark_folders = tmp_path / "spark-local"  # Spark's temporary folders (else in /tmp)
    spark_folders.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", BUILD_FAILING_IN_THE_JOB, str(archive)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "SPARK_LOCAL_DIRS": str(spark_folders)},
    )
    assert result.returncode == 1, result.stderr
    assert "class archive: not built: RuntimeError: the job failed" in result.stderr
    assert "Traceback" not in result.stderr
    jvm = int(result.stdout.split()[-1])
    assert not Path(f"/proc/{jvm}").exists()  # left running, it would write the archive
    assert sorted(p.name for p in archive.parent.iterdir()) == sorted(
        [
            class_archive.failure_note(archive).name,
            class_archive.BUILD_LOG_NAME,
            Path(class_archive.BUILD_LOG_NAME).with_suffix(".log4j2.properties").name,
        ]
    )
    assert list(spark_folders.iterdir()) == []  # its shutdown hooks ran: stopped, not killed
