"""Files at a local path or an s3:// URI, through Hadoop's FileSystem: the same code runs on
Glue (EMRFS) and locally."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession


def filesystem(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """Hadoop FileSystem and Path for a local path or s3:// URI (the same code runs on Glue)."""
    jvm: Any = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Replace one small UTF-8 file at a local path or s3:// URI, atomically: an S3 PUT is
    atomic; a local file is written beside its target and renamed over it."""
    if "://" not in uri or uri.startswith("file:"):
        target = Path(uri.removeprefix("file:"))
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        scratch.write_text(text, encoding="utf-8")
        scratch.replace(target)
        return
    fs, path = filesystem(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def head(spark: SparkSession, uri: str, size: int) -> bytes:
    """The file's first ``size`` bytes (fewer if it is shorter)."""
    fs, path = filesystem(spark, uri)
    stream = fs.open(path)
    try:
        return bytes(stream.readNBytes(size))
    finally:
        stream.close()


def file_bytes(spark: SparkSession, uri: str) -> int:
    fs, path = filesystem(spark, uri)
    return int(fs.getFileStatus(path).getLen())


def read_text(spark: SparkSession, uri: str) -> str | None:
    """A small UTF-8 file's text, or None when it does not exist."""
    fs, path = filesystem(spark, uri)
    if not fs.exists(path):
        return None
    jvm: Any = spark.sparkContext._jvm
    stream = fs.open(path)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def delete_folder(spark: SparkSession, location: str) -> None:
    """Delete a folder the job wrote itself, with everything in it."""
    fs, path = filesystem(spark, location)
    fs.delete(path, True)
