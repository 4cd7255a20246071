"""The staged input files: checked, scanned for their records, and parsed."""

from __future__ import annotations

import codecs
import difflib

from pyspark.sql import DataFrame, SparkSession

from spotify_glue.classify import read_schema
from spotify_glue.contract import SourceFile
from spotify_glue.layout import join_uri
from spotify_glue.records import (
    HEADER_PREFIX_CHARS,
    LineScan,
    RecordLayoutError,
    assemble,
    check_head,
    first_line_problem,
    header_line,
    line_records,
    parse_records,
    scan_lines,
)
from spotify_glue.storage import filesystem, head


class InputFileError(FileNotFoundError):
    """A staged input file is missing, misnamed, empty or has the wrong header."""


def check_input(spark: SparkSession, staging_path: str, source: SourceFile) -> str:
    """The source file's URI, after checking it is a file with the contract's header, its
    lines broken with LF or CRLF.

    The error names the expected file, and a similarly named file if one is there.
    """
    uri = join_uri(staging_path, source.file_name)
    fs, path = filesystem(spark, uri)
    if not fs.exists(path):
        folder = path.getParent()
        if not fs.exists(folder):
            raise InputFileError(
                f"staging folder {staging_path!r} does not exist; it must hold the Spotify "
                f"2023 CSVs, e.g. {source.file_name!r}"
            )
        present = [str(status.getPath().getName()) for status in fs.listStatus(folder)]
        hint = difflib.get_close_matches(source.file_name, present, n=1, cutoff=0.8)
        rename = f" Found {hint[0]!r}: rename it to {source.file_name!r}." if hint else ""
        raise InputFileError(
            f"missing input file for {source.key}: expected {source.file_name!r} in "
            f"{staging_path!r} ({uri}).{rename}"
        )
    if fs.getFileStatus(path).isDirectory():
        raise InputFileError(f"{uri} is a folder; stage {source.file_name} as one file")
    first_bytes = head(spark, uri, HEADER_PREFIX_CHARS)
    # Hadoop's line reader, which the job reads with, drops a UTF-8 byte order mark.
    start = first_bytes.removeprefix(codecs.BOM_UTF8)
    if not start:
        raise InputFileError(f"{uri} is empty; expected a header line {','.join(source.header)}")
    line = header_line(start).decode("utf-8", "replace")
    problem = first_line_problem(source, line)
    if problem is not None:
        raise InputFileError(
            f"{uri} does not have the {source.key} header of the Spotify 2023 files: "
            f"{problem}. Expected: {','.join(source.header)}"
        )
    try:
        check_head(first_bytes, uri, source)
    except RecordLayoutError as error:
        raise InputFileError(str(error)) from None
    return uri


def scan_source(spark: SparkSession, uri: str, source: SourceFile) -> LineScan:
    """Where the file's records are (``spotify_glue.records``); one pass over its lines."""
    try:
        return scan_lines(spark, uri, source)
    except RecordLayoutError as error:
        raise InputFileError(str(error)) from None


def read_source(
    spark: SparkSession, uri: str, source: SourceFile, scan: LineScan | None = None
) -> DataFrame:
    """The file's records parsed with the contract's typed schema: the source's columns,
    ``_corrupt_record``, and each record's id, text, any problem that kept it from being
    parsed and the odd-quotes flag (``spotify_glue.records``). Without a scan each line is a
    record, which holds unless a line is flagged."""
    records = line_records(spark, uri) if scan is None else assemble(spark, scan)
    return parse_records(records, source, read_schema(source))
