"""Stand-ins for the awsglue modules, which cannot be installed outside Glue."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

RESERVED: tuple[str, ...] = ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION")
"""Arguments Glue passes to every run and getResolvedOptions always returns; asking for one
raises "Using reserved arguments" (awslabs/aws-glue-libs, awsglue/utils.py and job.py)."""


class FakeGlue:
    """Records the calls the entry point makes; ``job_run_id`` is the run Glue would start."""

    def __init__(self, spark: Any, options: Mapping[str, str]) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.options = dict(options)
        self.job_run_id = "jr_0123abcd"
        glue = self

        def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
            reserved = [name for name in names if name in RESERVED]
            if reserved:
                raise RuntimeError(f"Using reserved arguments --{reserved[0]}")
            glue.calls.append(("getResolvedOptions", list(names)))
            return {"JOB_NAME": "spotify-etl", "JOB_RUN_ID": glue.job_run_id, **glue.options}

        class GlueContext:
            def __init__(self, spark_context: Any) -> None:
                self.spark_session = spark

        class Job:
            def __init__(self, glue_context: Any) -> None:
                pass

            def init(self, name: str, options: Any) -> None:
                glue.calls.append(("init", name))

            def commit(self) -> None:
                glue.calls.append(("commit", None))

        self.modules = {
            "awsglue": types.ModuleType("awsglue"),
            "awsglue.utils": types.SimpleNamespace(getResolvedOptions=get_resolved_options),
            "awsglue.context": types.SimpleNamespace(GlueContext=GlueContext),
            "awsglue.job": types.SimpleNamespace(Job=Job),
        }


def local_options(root: Path) -> dict[str, str]:
    """Job arguments naming a staging folder with the hand-written files, and no catalog."""
    from tests.glue.conftest import write_staging  # conftest imports this module

    return {
        "staging_path": str(write_staging(root / "staging")),
        "warehouse_location": str(root / "warehouse"),
        "catalog_database": "",
        "min_rows": "1",
        "max_quarantine_rate": "0.5",
        "max_join_loss_rate": "0.5",
    }


@pytest.fixture
def fake_glue(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGlue:
    glue = FakeGlue(spark, local_options(tmp_path))
    for name, module in glue.modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    # Glue sets the region in the job's environment; boto3 needs it to build the client.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return glue
