"""One local-run of the whole pipeline on data/sample, shared by the CLI tests (Spark is slow
to start, so the run happens once per test session), and the way every other local-run test
invokes the CLI: through typer's runner, checking that the input folder is unchanged. Also
`stubs`: Stubber-wrapped clients that `spotify-ops verify` tests give the command."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from spotify_glue.layout import WarehouseLayout
from spotify_glue.run_summary import RunSummary
from typer.testing import CliRunner

from spotify_ops.cli import app
from tests.cli.verify_support import REGION, Stubs, set_fake_credentials
from tests.conftest import SAMPLE_DIR

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry below ``folder`` (relative path) with a digest of its bytes ("dir" for a
    folder, the target for a symlink): equal snapshots mean nothing was added, removed,
    moved or changed."""
    entries: dict[str, str] = {}
    if not folder.exists():
        return entries
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            entries[key] = f"link:{path.readlink()}"
        elif path.is_dir():
            entries[key] = "dir"
        else:
            entries[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


def deny_reading(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Reading ``path`` fails with permission denied, as for a file the user may not read (a
    chmod would not stop root); every other file reads as before."""
    real_read_text = Path.read_text

    def denied(self: Path, *args: Any, **kwargs: Any) -> str:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)


def invoke_local_run(input_dir: Path, out: Path, *extra: str) -> Any:
    """`spotify-ops local-run --input input_dir --out out`, asserting the invariant that
    holds for every run, whatever its outcome: the input folder's bytes are unchanged."""
    before = snapshot(input_dir)
    result = CliRunner().invoke(
        app, ["local-run", "--input", str(input_dir), "--out", str(out), *extra]
    )
    assert snapshot(input_dir) == before, "local-run changed its input folder"
    return result


def copy_sample(target: Path) -> Path:
    shutil.copytree(SAMPLE_DIR, target)
    return target


@dataclass(frozen=True)
class DemoRun:
    out: Path
    exit_code: int
    output: str

    @property
    def layout(self) -> WarehouseLayout:
        return WarehouseLayout(str(self.out / "warehouse"))

    @property
    def table(self) -> Path:
        """The published run's table folder, as the pointer names it."""
        pointer = Path(self.layout.published_location).read_text(encoding="utf-8")
        return Path(RunSummary.from_json(pointer).table_location)


@pytest.fixture(scope="session")
def demo_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`spotify-ops local-run` on the committed sample; it reuses the session's SparkSession."""
    out = tmp_path_factory.mktemp("demo")
    result = invoke_local_run(SAMPLE_DIR, out)
    return DemoRun(out, result.exit_code, result.output)


@pytest.fixture
def demo_copy(demo_run: DemoRun, tmp_path: Path) -> Path:
    """A copy of the demo run's output folder (marked as local-run's own), to run again in."""
    assert demo_run.exit_code == 0, demo_run.output
    out = tmp_path / "out"
    shutil.copytree(demo_run.out, out, symlinks=True)
    return out


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    """Stubbed clients for `spotify-ops verify`; every queued answer must be used."""
    set_fake_credentials(monkeypatch)
    clients = {
        name: boto3.client(name, region_name=REGION)
        for name in ("athena", "glue", "s3", "quicksight")
    }
    with (
        Stubber(clients["athena"]) as athena,
        Stubber(clients["glue"]) as glue,
        Stubber(clients["s3"]) as s3,
        Stubber(clients["quicksight"]) as quicksight,
    ):
        yield Stubs(athena, glue, s3, quicksight, clients)
        for stubber in (athena, glue, s3, quicksight):
            stubber.assert_no_pending_responses()
