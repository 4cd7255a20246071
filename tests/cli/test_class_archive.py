"""The class archive local Spark maps (spotify_ops.class_archive): named for one Java runtime
and one set of Spark jars, mapped by the JVMs the tests and local runs start, and never put
in place unless a JVM can map it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from spotify_ops import class_archive
from spotify_ops.class_archive import ArchiveError, archive_path, sharing_options
from spotify_ops.spark import JIT_C1_ONLY, driver_java_options

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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

    names = {first}
    for changed in (java.parent.parent / "lib" / "server" / "libjvm.so", jars / "spark-sql.jar"):
        changed.write_bytes(b"version 2")
        names.add(archive_path(java, jars))  # type: ignore[arg-type]
    (jars / "extra.jar").write_bytes(b"v1")
    names.add(archive_path(java, jars))  # type: ignore[arg-type]
    assert len(names) == 4


def test_jvms_get_the_archive_only_once_it_is_built(tmp_path):
    archive = tmp_path / "spark-classes-x.jsa"
    assert sharing_options(archive) == ""
    archive.write_bytes(b"built")
    options = sharing_options(archive)
    assert f'"-XX:SharedArchiveFile={archive}"' in options
    assert "-Xlog:cds=off" in options


def built_archive() -> Path:
    """The archive for this Java and PySpark, which scripts/bootstrap builds."""
    archive = archive_path()
    assert archive is not None, "Java and PySpark are required: scripts/bootstrap installs them"
    assert archive.is_file(), f"no class archive at {archive}: scripts/bootstrap builds it"
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
    assert options.startswith(sharing_options(archive))
    assert options.endswith(JIT_C1_ONLY) == short_run


def test_the_test_sessions_jvm_maps_the_archive_bootstrap_built(spark: SparkSession):
    archive = built_archive()
    pid = spark.sparkContext._jvm.ProcessHandle.current().pid()  # type: ignore[union-attr]
    mapped = {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()}
    assert str(archive) in mapped


def java() -> Path:
    found = class_archive.java_binary()
    assert found is not None, "Java 17 is required: scripts/bootstrap installs it"
    return found


def jvm_class_path(spark: SparkSession) -> str:
    """The class path of the test session's JVM: the one its archive was checked with."""
    return str(spark.sparkContext._jvm.System.getProperty("java.class.path"))  # type: ignore[union-attr]


def test_the_built_archive_passes_the_check_it_had_to_pass(spark: SparkSession):
    built = built_archive()
    class_archive._check(java(), built, jvm_class_path(spark))


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
        class_archive._check(java(), candidate, jvm_class_path(spark))
    assert list(workdir.iterdir()) == []  # a crashing JVM's hs_err file stays out of the way


def test_main_builds_nothing_when_the_archive_exists(tmp_path, monkeypatch):
    archive = tmp_path / "spark-classes-x.jsa"
    archive.write_bytes(b"built")
    monkeypatch.setattr(class_archive, "archive_path", lambda: archive)

    def no_build(*_: object) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(class_archive, "build", no_build)
    assert class_archive.main() == 0


def test_main_reports_a_failed_build_and_leaves_no_archive(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "var" / "spark-classes-x.jsa"
    monkeypatch.setattr(class_archive, "archive_path", lambda: archive)

    def failing_build(target: Path, log_file: Path) -> None:
        raise ArchiveError(f"the archiving JVM exited with code 1; see {log_file}")

    monkeypatch.setattr(class_archive, "build", failing_build)
    assert class_archive.main() == 1
    assert "class archive: not built: the archiving JVM exited with code 1" in (
        capsys.readouterr().err
    )
    assert not archive.exists()


def test_an_archive_for_another_runtime_is_removed_once_a_new_one_is_built(tmp_path):
    # The archives are this module's own files in its own folder.
    old = tmp_path / f"{class_archive.ARCHIVE_PREFIX}old.jsa"
    new = tmp_path / f"{class_archive.ARCHIVE_PREFIX}new.jsa"
    other = tmp_path / "notes.txt"
    for path in (old, new, other):
        path.write_bytes(b"x")
    class_archive.remove_others(new)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([new.name, other.name])
