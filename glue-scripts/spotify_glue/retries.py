"""A gate rejection is final: what a rejected run records so the runs after it (Glue's own
retry among them) fail at once with the same verdict instead of reading the data again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources

from pyspark.sql import SparkSession

from spotify_glue.gate import GateThresholds
from spotify_glue.storage import filesystem


def code_digest() -> str:
    """A digest of the job's own code (every module of this package, zipped or not)."""
    digest = hashlib.sha256()
    package = resources.files(__package__ or "spotify_glue")
    for module in sorted((m for m in package.iterdir() if m.name.endswith(".py")), key=str):
        digest.update(module.name.encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()


def run_fingerprint(spark: SparkSession, gate: GateThresholds, uris: Mapping[str, str]) -> str:
    """A digest of all that decides a run's verdict: each input file's location, size and
    modification time, the gate, and the job's code. Equal fingerprints, equal verdicts."""
    inputs = []
    for key in sorted(uris):
        fs, path = filesystem(spark, uris[key])
        status = fs.getFileStatus(path)
        inputs.append([key, uris[key], int(status.getLen()), int(status.getModificationTime())])
    payload = {"inputs": inputs, "gate": gate.as_dict(), "code": code_digest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Rejection:
    """What a rejected run leaves for the runs after it (``WarehouseLayout.rejection_location``)."""

    fingerprint: str
    failures: list[str]
    summary_location: str
    job_run_id: str = ""
    """Glue's ``--JOB_RUN_ID`` of the rejected run, for the log; empty outside Glue."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Rejection | None:
        """The record, or None when it is not one (a damaged record is no reason to fail)."""
        try:
            data = json.loads(text)
            return cls(
                fingerprint=str(data["fingerprint"]),
                failures=[str(f) for f in data["failures"]],
                summary_location=str(data["summary_location"]),
                job_run_id=str(data.get("job_run_id", "")),
            )
        except (ValueError, TypeError, KeyError):
            return None
