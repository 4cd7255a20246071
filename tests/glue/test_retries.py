"""Retries: a gate rejection is final, any other failure is retried in full.

Glue reruns a failed job run up to the job's ``max_retries``, and cannot tell a rejection
(deterministic: the same inputs, gate and code give the same verdict) from a transient failure.
So a rejected run records its fingerprint, and a run with the same fingerprint, such as Glue's
retry of it, fails at once with the same message, without reading the data."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from spotify_glue import etl
from spotify_glue.etl import JobArgs, QualityGateError, run_final
from spotify_glue.gate import GateThresholds
from spotify_glue.retries import Rejection, code_digest
from spotify_glue.run_summary import RunSummary

from tests.builders import run_summary
from tests.conftest import REPO_ROOT
from tests.glue.conftest import LENIENT, write_staging

STRICT = GateThresholds(min_rows=5, max_quarantine_rate=0.05, max_join_loss_rate=0.10)
PUBLISHED = run_summary()
"""What the stand-in for ``etl.run`` returns when it publishes."""


def forbid_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*_args: object) -> None:
        raise AssertionError("the data was processed again")

    monkeypatch.setattr(etl, "run", must_not_run)


@pytest.fixture(scope="module")
def rejected(spark, tmp_path_factory: pytest.TempPathFactory) -> tuple[JobArgs, str]:
    """A real run on the hand-written files, rejected by a strict gate: its args and message."""
    root = tmp_path_factory.mktemp("rejected")
    args = JobArgs(str(write_staging(root / "staging")), str(root / "warehouse"), STRICT)
    with pytest.raises(QualityGateError) as raised:
        run_final(spark, args, job_run_id="jr_first")
    return args, str(raised.value)


def test_a_rejected_run_records_its_fingerprint(spark, rejected):
    """The rejection record names the job run, the failed rules and the run summary."""
    args, message = rejected
    record = Rejection.from_json(Path(args.layout.rejection_location).read_text("utf-8"))
    assert record is not None
    assert record.job_run_id == "jr_first"
    assert record.failures
    assert all(rule in message for rule in record.failures)
    assert record.summary_location == args.layout.summary_location


def test_a_retry_of_a_rejected_run_fails_at_once_with_the_same_message(
    spark, rejected, monkeypatch
):
    """The same inputs, gate and code: the same QualityGateError, and no data is read."""
    args, message = rejected
    forbid_run(monkeypatch)
    with pytest.raises(QualityGateError) as raised:
        run_final(spark, args, job_run_id="jr_first_attempt_1")
    assert str(raised.value) == message


class Runs:
    """Stands in for ``etl.run``: counts calls and, while ``reject`` is set, rejects."""

    def __init__(self) -> None:
        self.calls = 0
        self.reject = True

    def __call__(self, session, args, switch_catalog=None):
        self.calls += 1
        if self.reject:
            raise QualityGateError(["rows 4 < min_rows 5"], args.layout.summary_location)
        return PUBLISHED


@pytest.fixture
def runs(monkeypatch) -> Runs:
    fake = Runs()
    monkeypatch.setattr(etl, "run", fake)
    return fake


@pytest.fixture
def args(tmp_path) -> JobArgs:
    return JobArgs(str(write_staging(tmp_path / "staging")), str(tmp_path / "wh"), STRICT)


def test_a_new_gate_is_judged_anew(spark, args, runs):
    """Changing the gate changes the fingerprint: the data is processed again."""
    with pytest.raises(QualityGateError):
        run_final(spark, args)
    runs.reject = False
    assert run_final(spark, JobArgs(args.staging_path, args.warehouse_location, LENIENT))
    assert runs.calls == 2


def test_changed_input_is_judged_anew(spark, args, runs):
    """A rejected input that is replaced (new size or modification time) is processed again."""
    with pytest.raises(QualityGateError):
        run_final(spark, args)
    tracks = Path(args.staging_path) / "spotify_tracks_data_2023.csv"
    tracks.write_bytes(tracks.read_bytes() + b"t99,1,false\n")
    with pytest.raises(QualityGateError):
        run_final(spark, args)
    assert runs.calls == 2


def test_a_transient_failure_records_nothing_so_the_retry_runs(spark, args, monkeypatch):
    """A failure other than the gate (here: S3 refusing a write) leaves no rejection record,
    so the retry processes the data again."""
    calls = []

    def flaky(*_args: object) -> RunSummary:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("503 Slow Down")
        return PUBLISHED

    monkeypatch.setattr(etl, "run", flaky)
    with pytest.raises(OSError, match="Slow Down"):
        run_final(spark, args)
    assert not Path(args.layout.rejection_location).exists()
    assert run_final(spark, args) is PUBLISHED


def test_a_damaged_rejection_record_is_ignored(spark, args, runs):
    """A rejection record that is not one never blocks a run."""
    record = Path(args.layout.rejection_location)
    record.parent.mkdir(parents=True)
    record.write_text("{not json", encoding="utf-8")
    runs.reject = False
    assert run_final(spark, args) is PUBLISHED


def test_glue_retry_of_a_rejection_fails_at_once_without_commit(fake_glue, monkeypatch):
    """Through main(): the first attempt is rejected and records it; Glue's retry (same
    arguments, JOB_RUN_ID with an attempt suffix) raises the same error without processing the
    data again, and neither attempt commits."""
    runs = []

    def rejecting_run(session, args, switch_catalog):
        runs.append(args)
        raise QualityGateError(["rows 4 < min_rows 5"], args.layout.summary_location)

    monkeypatch.setattr(etl, "run", rejecting_run)
    with pytest.raises(QualityGateError) as first:
        etl.main()
    fake_glue.job_run_id += "_attempt_1"
    with pytest.raises(QualityGateError) as retry:
        etl.main()
    assert str(retry.value) == str(first.value)
    assert len(runs) == 1
    assert ("commit", None) not in fake_glue.calls


def test_glue_retry_after_a_crash_processes_again(fake_glue, monkeypatch):
    """Through main(): a crash (not a rejection) is retried in full and the retry commits."""
    runs = []

    def crash_once(session, args, switch_catalog):
        runs.append(args)
        if len(runs) == 1:
            raise RuntimeError("executor lost")

    monkeypatch.setattr(etl, "run", crash_once)
    with pytest.raises(RuntimeError, match="executor lost"):
        etl.main()
    fake_glue.job_run_id += "_attempt_1"
    etl.main()
    assert len(runs) == 2
    assert fake_glue.calls[-1] == ("commit", None)


def test_the_code_digest_reads_the_package_from_a_zip(tmp_path):
    """On Glue the package is a zip on sys.path (--extra-py-files): the fingerprint's code
    digest reads the modules from it, and equals the digest of the source folder."""
    package = REPO_ROOT / "glue-scripts" / "spotify_glue"
    archive = tmp_path / "spotify_glue.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for module in sorted(package.glob("*.py")):
            zipped.write(module, f"spotify_glue/{module.name}")
    code = "from spotify_glue import retries; print(retries.__file__); print(retries.code_digest())"
    env = {**os.environ, "PYTHONPATH": str(archive)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    origin, digest = result.stdout.split()
    assert origin.startswith(str(archive))
    assert digest == code_digest()
