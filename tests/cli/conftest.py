"""One local-run of the whole pipeline on data/sample, shared by the CLI tests (Spark is slow
to start, so the run happens once per test session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from spotify_glue.contract import RunSummary, WarehouseLayout
from typer.testing import CliRunner

from spotify_ops.cli import app

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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
    result = CliRunner().invoke(app, ["local-run", "--out", str(out)])
    return DemoRun(out, result.exit_code, result.output)
