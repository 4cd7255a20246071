"""From a staged file's lines to its CSV records: the reading half of the job's bad-input rules.

Spark's CSV reader is not used: it kills the whole job on a record with more than ``maxColumns``
fields, replaces invalid UTF-8 with U+FFFD without a trace, and with one record per line it
publishes the tail of a quoted field that holds a line break as a record of its own. So the job
reads raw lines, assembles records itself, screens them, and only then parses the fields with
the same CSV parser (``from_csv``), bounded so that it cannot fail.

1. **Lines**: a file is first read as one record per line (``line_records``), each line
   flagged when it holds an odd number of quotes. Almost every file has none, and then its
   lines are its records: the file is read once.
2. **Scan** (only for a file with such a line; one pass, one small aggregate per file split):
   how many lines each split holds, to number them.
3. **Spans**: then the lines that open a quoted field, and the lines with an odd number of
   quotes (the only ones that can close it), go to the driver, which pairs them into the line
   ranges of multi-line records. That is exact for RFC 4180 input: inside a quoted field every
   quote is doubled, so the first and last line of such a record hold an odd number of quotes
   and the lines between an even number.
4. **Records**: a multi-line record is its lines joined with ``\\n``; the lines are read with
   ``\\n`` as the only separator, so a CR before it stays in the value and the bytes are kept.
   A record's own line break (``\\n`` or ``\\r\\n``) is not part of it.
5. **Screen**: a record longer than ``MAX_RECORD_BYTES`` or holding bytes that are not UTF-8 is
   not parsed; it gets a ``_problem`` and goes to quarantine whole.
"""

from __future__ import annotations

import codecs
import csv
import re
import reprlib
from dataclasses import dataclass
from typing import Final

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from spotify_glue.contract import SourceFile

TEXT_COLUMN: Final = "value"
"""The one column of Spark's text source."""
BLOCK_COLUMN: Final = "_block"
ROW_ID_COLUMN: Final = "_row_id"
LINE_COLUMN: Final = "_line"
"""The number of the record's first line in its file (the header is line 1)."""
RECORD_ID_COLUMN: Final = "_record_id"
"""Unique within the file: the record's first line number when the file was scanned
(``assemble``), else its line's row id (``line_records``)."""
ODD_COLUMN: Final = "_odd_quotes"
"""True for a line holding an odd number of quotes in a file read without a scan: the file may
hold records that span lines, so it must be scanned and read again (``assemble``)."""
RECORD_COLUMN: Final = "_record"
"""The record as read: its lines joined with ``\\n``, without its own line break."""
PROBLEM_COLUMN: Final = "_problem"
"""Why the record was not parsed (too long, not UTF-8, an unterminated quote); else null."""
CORRUPT_COLUMN: Final = "_corrupt_record"
"""Set by the CSV parser for a record it could not fit to the schema."""

LINE_SEPARATOR: Final = "\n"
QUOTE: Final = '"'
CR: Final = "\r"
BLANK: Final = "".join(map(chr, range(33)))
"""What Java's String.trim removes, and so what Spark's CSV reader calls blank."""

MAX_RECORD_BYTES: Final = 100_000
"""Longer records are quarantined unparsed. A record of n bytes has at most n characters, so at
most n + 1 fields and none longer than n: the parser limits below are never reached. Reaching
them raises univocity's TextParsingException, which fails the whole job instead of one row.
Real records are under 2,000 bytes."""
MAX_RECORD_LINES: Final = 100
"""A record may span lines (a quoted field may hold line breaks), but not more than this: a
longer run is an unterminated quote, and each of its lines is quarantined on its own."""
MAX_SPAN_LINES: Final = 10_000
"""Lines with an odd number of quotes (only they can open or close a quoted field across
lines), beyond which a file's quoting is too broken to repair: the job stops, naming the first
such line."""
MAX_SPAN_BYTES: Final = 32 * 2**20
"""The same, in bytes: those lines are brought to the driver to be paired."""

# RFC 4180 as the Spotify files use it: commas inside quotes, quotes doubled.
CSV_FORMAT: Final[dict[str, str]] = {"quote": QUOTE, "escape": QUOTE, "encoding": "UTF-8"}
CSV_PARSE_OPTIONS: Final[dict[str, str]] = {
    **CSV_FORMAT,
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_COLUMN,
    "lineSep": LINE_SEPARATOR,
    "maxColumns": str(MAX_RECORD_BYTES + 1),
    "maxCharsPerColumn": str(MAX_RECORD_BYTES + 1),
    # The parser's default buffer holds 1 Mi characters (2 MiB), ten times the longest record
    # parsed. In a heap under 16 GiB G1 places an array that large outside the young
    # generation, one per parser for as long as the parser lives.
    "inputBufferSize": str(MAX_RECORD_BYTES + 1),
}
"""For ``from_csv``: one record per value, bounded by the record screen."""

TOO_LONG: Final = f"record longer than {MAX_RECORD_BYTES:,} bytes"
NOT_UTF8: Final = "invalid UTF-8 (bytes in another encoding, e.g. Latin-1)"
UNTERMINATED: Final = (
    f"unterminated quoted field (a record cannot span more than {MAX_RECORD_LINES} lines)"
)

# A line that, read from outside any quoted field, ends inside one: complete fields (quoted,
# possibly followed by junk up to the comma as univocity accepts it, or unquoted) each closed
# by a comma, then an opening quote whose field runs to the end of the line. A quote in the
# middle of an unquoted field (12" Vinyl) opens nothing, as in the CSV parser itself.
_QUOTED: Final = '"(?:[^"]|"")*"[^,]*'
_UNQUOTED: Final = '[^",][^,]*'
OPENS_QUOTED_FIELD: Final = re.compile(f'(?:(?:{_QUOTED}|{_UNQUOTED}|),)*"(?:[^"]|"")*')
"""Matched (``fullmatch``) on the driver, against the few lines with an odd number of quotes:
Java's regex engine recurses once per repeated group and overflows its stack on a line of
thousands of fields, Python's does not."""


class RecordLayoutError(ValueError):
    """The file's lines cannot be made into records; the message names the file and line."""


ROW_IN_PARTITION_BITS: Final = 33
"""``monotonically_increasing_id`` keeps the row's number within its partition in the lower
33 bits (PySpark's documentation of the function)."""


def raw_lines(spark: SparkSession, uri: str) -> DataFrame:
    """The file's lines with the byte offset of their split and a row id that grows by one per
    line within a split. The text source keeps the bytes (no decoding happens here)."""
    return (
        spark.read.option("lineSep", LINE_SEPARATOR)
        .text(uri)
        .select(
            F.col(TEXT_COLUMN),
            F.input_file_block_start().alias(BLOCK_COLUMN),
            F.monotonically_increasing_id().alias(ROW_ID_COLUMN),
        )
    )


def odd_quotes(text: Column) -> Column:
    """True for a line with an odd number of quote characters (a byte search, no decoding)."""
    unquoted = F.replace(text, F.lit(QUOTE), F.lit(""))
    return text.contains(QUOTE) & (((F.octet_length(text) - F.octet_length(unquoted)) % 2) == 1)


def opens_quoted_field(line: str) -> bool:
    """Whether the line leaves a quoted field open (see ``OPENS_QUOTED_FIELD``). Only lines
    with an odd number of quotes are asked: a line that opens a field and closes the ones
    before it holds an odd number, unless it also holds a stray quote inside an unquoted field,
    which RFC 4180 does not allow."""
    return OPENS_QUOTED_FIELD.fullmatch(line) is not None


@dataclass(frozen=True)
class Split:
    start: int
    """Byte offset of the split (Spark's ``input_file_block_start``)."""
    first_row: int
    """Row id of its first line."""
    lines_before: int
    """Lines in the splits before it."""


@dataclass(frozen=True)
class LineScan:
    """Where the records of one file are: the splits (to number lines) and the line ranges of
    records that span lines (first and last line, both included)."""

    uri: str
    splits: tuple[Split, ...]
    lines: int
    spans: tuple[tuple[int, int], ...] = ()
    unterminated: tuple[tuple[int, int], ...] = ()

    def line_number(self) -> Column:
        """Each raw line's number in the file, 1-based, from its split and row id."""
        block = F.col(BLOCK_COLUMN)
        starts = F.create_map(*(F.lit(v) for s in self.splits for v in (s.start, s.first_row)))
        before = F.create_map(*(F.lit(v) for s in self.splits for v in (s.start, s.lines_before)))
        return (
            F.element_at(before, block) + (F.col(ROW_ID_COLUMN) - F.element_at(starts, block)) + 1
        )


HEADER_PREFIX_CHARS: Final = 4096
"""How much of the first line the scan returns: more than any header of the contract."""


def _is_header(start: str, source: SourceFile) -> bool:
    """Whether the first line (its first HEADER_PREFIX_CHARS characters) is the header."""
    line = start.removesuffix(CR)
    if CR in line or len(start) >= HEADER_PREFIX_CHARS:
        return False
    return first_line_problem(source, line) is None


def check_first_line(start: str, uri: str, source: SourceFile) -> None:
    """Refuse a file whose first line, split at LF (its first HEADER_PREFIX_CHARS characters
    in ``start``), is not the header: it breaks lines with CR alone."""
    if not _is_header(start, source):
        raise RecordLayoutError(
            f"{uri}: the first line is not the header when lines are split at LF; the file "
            "breaks lines with CR alone (classic Mac). Save it with LF or CRLF line breaks"
        )


def check_head(head: bytes, uri: str, source: SourceFile) -> None:
    """``check_first_line`` on a file's first bytes, read as the job's line reader reads them:
    one UTF-8 byte order mark dropped, the first HEADER_PREFIX_CHARS bytes decoded, split at
    LF."""
    start = head[:HEADER_PREFIX_CHARS].removeprefix(codecs.BOM_UTF8)
    text = start.decode("utf-8", "replace")
    check_first_line(text.split(LINE_SEPARATOR, 1)[0], uri, source)


def header_line(head: bytes) -> bytes:
    """Line 1 of a file's first bytes without its line break (LF, CRLF or CR, as Java's
    readLine ends lines): the header as a reader of lines sees it."""
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    return head[: min(ends)] if ends else head


def first_line_problem(source: SourceFile, line: str) -> str | None:
    """How a first line (without its line break), read as CSV, differs from the source's
    header; None when it is the header."""
    try:
        header = tuple(next(csv.reader([line]), []))
    except csv.Error as error:
        # A field past the csv module's size limit (128 KiB), for one: no header's.
        return f"it does not read as CSV ({error})"
    return header_problem(source, header)


def header_problem(source: SourceFile, header: tuple[str, ...]) -> str | None:
    """How ``header`` differs from the source's contract header; None when it is the same."""
    if header == source.header:
        return None
    missing = [name for name in source.header if name not in header]
    unexpected = [name for name in header if name not in source.header]
    if missing or unexpected:
        return f"missing columns {missing}, unexpected columns {_SHORT.repr(unexpected)}"
    return "the columns are in a different order"


# The columns a wrong first line holds, cut short: a line of data can hold megabytes.
_SHORT = reprlib.Repr()
_SHORT.maxlist, _SHORT.maxstring = 10, 80


def scan_lines(spark: SparkSession, uri: str, source: SourceFile) -> LineScan:
    """One pass over the file: line counts per split and, when some line holds an odd number
    of quotes, a second look at those lines only, for the spans of multi-line records."""
    lines = raw_lines(spark, uri)
    text = F.col(TEXT_COLUMN)
    row_id = F.col(ROW_ID_COLUMN)
    odd = odd_quotes(text)
    per_split = (
        lines.groupBy(F.input_file_name().alias("file"), F.col(BLOCK_COLUMN).alias("start"))
        .agg(
            F.count(F.lit(1)).alias("lines"),
            F.min(row_id).alias("first_row"),
            F.max(row_id).alias("last_row"),
            F.min_by(F.substring(text, 1, HEADER_PREFIX_CHARS), row_id).alias("first_line"),
            F.sum(odd.cast("long")).alias("odd"),
            F.sum(F.when(odd, F.octet_length(text))).alias("odd_bytes"),
            F.min(F.when(odd, row_id)).alias("first_odd"),
        )
        .collect()
    )
    files = {row["file"] for row in per_split}
    if len(files) > 1:
        raise RecordLayoutError(
            f"{uri} is a folder of {len(files)} files; stage {source.file_name} as one file"
        )
    rows = sorted(per_split, key=lambda row: int(row["start"]))
    splits, total = [], 0
    for row in rows:
        count = int(row["lines"])
        if int(row["last_row"]) - int(row["first_row"]) + 1 != count:
            # Spark gives each split of a single file its own partition; a partition's row ids
            # are consecutive. Line numbers rest on that, so never guess past it.
            raise RuntimeError(f"{uri}: split at byte {row['start']} has non-consecutive row ids")
        splits.append(Split(int(row["start"]), int(row["first_row"]), total))
        total += count
    scan = LineScan(uri, tuple(splits), total)
    if rows:
        check_first_line(str(rows[0]["first_line"]), uri, source)
    odd_lines = sum(int(row["odd"] or 0) for row in rows)
    if odd_lines == 0:
        return scan
    if odd_lines > MAX_SPAN_LINES or sum(int(r["odd_bytes"] or 0) for r in rows) > MAX_SPAN_BYTES:
        first = min(
            s.lines_before + int(r["first_odd"]) - s.first_row + 1
            for s, r in zip(splits, rows, strict=True)
            if r["first_odd"] is not None
        )
        raise RecordLayoutError(
            f"{uri}: {odd_lines:,} lines hold an odd number of quotes (more than "
            f"{MAX_SPAN_LINES:,}, or more than {MAX_SPAN_BYTES:,} bytes of them): the "
            f"quoting is broken, starting at line {first}"
        )
    marked = lines.where(odd).select(scan.line_number().alias("line"), text).collect()
    return with_spans(
        scan,
        openers=[int(r["line"]) for r in marked if opens_quoted_field(str(r[TEXT_COLUMN]))],
        closers=[int(r["line"]) for r in marked],
    )


def with_spans(scan: LineScan, openers: list[int], closers: list[int]) -> LineScan:
    """Pair each line that opens a quoted field with the next line of odd quote count after
    it; an opening line inside a span is part of it. A span longer than MAX_RECORD_LINES, or
    one the file ends inside, is unterminated."""
    closers = sorted(closers)
    spans, unterminated = [], []
    end = 1
    for line in sorted(openers):
        if line <= end:
            continue
        closer = next((c for c in closers if c > line), None)
        if closer is not None and closer - line < MAX_RECORD_LINES:
            spans.append((line, closer))
            end = closer
        else:
            end = scan.lines if closer is None else closer
            unterminated.append((line, end))
    return LineScan(scan.uri, scan.splits, scan.lines, tuple(spans), tuple(unterminated))


def _strip_cr(column: str) -> Column:
    value = F.col(column)
    return F.when(
        value.endswith(CR), F.expr(f"substring(`{column}`, 1, length(`{column}`) - 1)")
    ).otherwise(value)


def is_blank(text: Column) -> Column:
    """As in Spark's own CSV reader, a line of spaces and control characters (a CR included)
    is no record."""
    # Most lines start with a visible character; only the others are trimmed (a copy).
    return (F.substring(text, 1, 1) <= " ") & (F.btrim(text, F.lit(BLANK)) == "")


def line_records(spark: SparkSession, uri: str) -> DataFrame:
    """The file's lines as its records (``_record_id``, ``_record``, ``_problem``,
    ``_odd_quotes``), header and blank lines left out, with no scan: right unless some line
    holds an odd number of quotes (flagged), and then the file must be read with ``assemble``.
    The header is the first line of the split that starts the file."""
    raw = raw_lines(spark, uri)
    row_in_partition = F.col(ROW_ID_COLUMN).bitwiseAND(F.lit((1 << ROW_IN_PARTITION_BITS) - 1))
    header = (F.col(BLOCK_COLUMN) == 0) & (row_in_partition == 0)
    text = F.col(TEXT_COLUMN)
    return raw.where(~header & ~is_blank(text)).select(
        F.col(ROW_ID_COLUMN).alias(RECORD_ID_COLUMN),
        text.alias(RECORD_COLUMN),
        F.lit(None).cast("string").alias(PROBLEM_COLUMN),
        odd_quotes(text).alias(ODD_COLUMN),
    )


def assemble(spark: SparkSession, scan: LineScan) -> DataFrame:
    """The file's records as (``_line``, ``_record``, ``_problem``), header and blank lines
    (``is_blank``) left out, with ``_record_id`` (the line) and ``_odd_quotes`` (false: the
    spans are known) as ``line_records`` gives them."""
    return _assembled(spark, scan).select(
        "*", F.col(LINE_COLUMN).alias(RECORD_ID_COLUMN), F.lit(False).alias(ODD_COLUMN)
    )


def _assembled(spark: SparkSession, scan: LineScan) -> DataFrame:
    raw = raw_lines(spark, scan.uri)
    first = scan.splits[0]
    header = (F.col(BLOCK_COLUMN) == first.start) & (F.col(ROW_ID_COLUMN) == first.first_row)
    text = F.col(TEXT_COLUMN)
    lines = raw.where(~header).select(
        scan.line_number().alias(LINE_COLUMN), text, is_blank(text).alias("_blank")
    )
    blank = F.col("_blank")
    single = lines.select(
        LINE_COLUMN,
        F.col(TEXT_COLUMN).alias(RECORD_COLUMN),
        F.lit(None).cast("string").alias(PROBLEM_COLUMN),
    )
    if not scan.spans and not scan.unterminated:
        return single.where(~blank)
    ranges = spark.createDataFrame(
        [(first, last, False) for first, last in scan.spans]
        + [(first, last, True) for first, last in scan.unterminated],
        "first long, last long, unterminated boolean",
    )
    membership = F.broadcast(
        ranges.select(
            F.explode(F.sequence("first", "last")).alias(LINE_COLUMN),
            F.col("first").alias("_first"),
            "unterminated",
        )
    )
    tagged = lines.join(membership, LINE_COLUMN, "left")
    outside = tagged.where(F.col("_first").isNull() & ~blank).select(
        LINE_COLUMN,
        F.col(TEXT_COLUMN).alias(RECORD_COLUMN),
        F.lit(None).cast("string").alias(PROBLEM_COLUMN),
    )
    broken = tagged.where(F.col("unterminated")).select(
        LINE_COLUMN,
        F.col(TEXT_COLUMN).alias(RECORD_COLUMN),
        F.lit(UNTERMINATED).alias(PROBLEM_COLUMN),
    )
    joined = (
        tagged.where(~F.col("unterminated"))
        .groupBy("_first")
        .agg(F.sort_array(F.collect_list(F.struct(LINE_COLUMN, TEXT_COLUMN))).alias("_parts"))
        .select(
            F.col("_first").alias(LINE_COLUMN),
            F.array_join(F.col(f"_parts.{TEXT_COLUMN}"), LINE_SEPARATOR).alias(RECORD_COLUMN),
            F.lit(None).cast("string").alias(PROBLEM_COLUMN),
        )
    )
    return outside.unionByName(broken).unionByName(joined)


def parse_records(records: DataFrame, source: SourceFile, read_schema: str) -> DataFrame:
    """Screen each record, then parse the fields of those that pass: the source's typed
    columns, ``_corrupt_record`` (set by the parser), and the record bookkeeping columns
    (``_record_id``, ``_record``, ``_problem``, ``_odd_quotes``)."""
    record = _strip_cr(RECORD_COLUMN)
    screened = records.select(
        RECORD_ID_COLUMN, record.alias(RECORD_COLUMN), PROBLEM_COLUMN, ODD_COLUMN
    )
    text = F.col(RECORD_COLUMN)
    problem = (
        F.when(F.col(PROBLEM_COLUMN).isNotNull(), F.col(PROBLEM_COLUMN))
        .when(F.octet_length(text) > MAX_RECORD_BYTES, F.lit(TOO_LONG))
        # Spark decodes with replacement: re-encoding a decoded record changes its bytes
        # exactly when they were not UTF-8 (a U+FFFD that is really in the file is kept).
        # Cheaper than first testing for non-ASCII bytes (measured).
        .when(text.cast("binary") != F.encode(text, "UTF-8"), F.lit(NOT_UTF8))
    )
    checked = screened.withColumn(PROBLEM_COLUMN, problem)
    fields = F.when(
        F.col(PROBLEM_COLUMN).isNull(), F.from_csv(text, read_schema, CSV_PARSE_OPTIONS)
    ).alias("_fields")
    parsed = checked.select("*", fields)
    return parsed.select(
        *(F.col(f"_fields.{c.name}").alias(c.name) for c in source.columns),
        F.col(f"_fields.{CORRUPT_COLUMN}").alias(CORRUPT_COLUMN),
        RECORD_ID_COLUMN,
        RECORD_COLUMN,
        PROBLEM_COLUMN,
        ODD_COLUMN,
    )
