"""Sample data: the bundled CSVs uploaded to the staging prefix the job reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi
import pulumi_aws as aws
from spotify_glue.layout import STAGING_PREFIX

from infra import naming
from infra.etl import source_hash

SAMPLE_DIR: Final = Path(__file__).resolve().parent.parent / "data" / "sample"


def sample_files(sample_dir: Path = SAMPLE_DIR) -> list[Path]:
    """Every CSV directly in ``sample_dir``, sorted; an empty folder is an error."""
    files = sorted(sample_dir.glob("*.csv"))
    if not files:
        raise FileNotFoundError(
            f"uploadSampleData is on but {sample_dir} holds no *.csv; run `spotify-ops generate`"
            " or set spotify-pipeline:uploadSampleData false"
        )
    return files


@dataclass
class SampleDataArgs:
    environment: str
    """Name suffix of the uploaded objects' logical names."""
    staging_bucket: pulumi.Input[str]
    """Bucket the CSVs land in, below the contract's staging prefix."""
    sample_dir: Path = SAMPLE_DIR
    """Folder of CSVs to upload."""


class SampleData(pulumi.ComponentResource):
    keys: list[str]

    def __init__(
        self, name: str, args: SampleDataArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spotify:sample:SampleData", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        self.keys = []
        for path in sample_files(args.sample_dir):
            key = STAGING_PREFIX + path.name
            aws.s3.BucketObjectv2(
                f"{prefix}-sample-{path.stem.replace('_', '-').lower()}",
                bucket=args.staging_bucket,
                key=key,
                source=pulumi.FileAsset(str(path)),
                source_hash=source_hash(path),
                content_type="text/csv",
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.keys.append(key)
        self.register_outputs({"keys": self.keys})
