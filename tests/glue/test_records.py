"""Reading records from raw lines (spotify_glue.records): which lines open a quoted field, how
lines pair into multi-line records, line numbers across file splits, and the files it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from spotify_glue.contract import TRACKS
from spotify_glue.records import (
    LINE_COLUMN,
    MAX_RECORD_LINES,
    MAX_SPAN_LINES,
    ODD_COLUMN,
    PROBLEM_COLUMN,
    RECORD_COLUMN,
    LineScan,
    RecordLayoutError,
    Split,
    assemble,
    first_line_problem,
    line_records,
    opens_quoted_field,
    scan_lines,
    with_spans,
)

HEADER = ",".join(TRACKS.header)


@pytest.mark.parametrize(
    ("line", "opens"),
    [
        ('"open', True),
        ('t1,"open', True),
        ('t1,"open ""with"" doubled quotes', True),
        ('"a, b",c,"open', True),
        ('"closed",x', False),
        ('t1,"closed ""twice""",true', False),
        ('12" Vinyl,x', False),  # a quote inside an unquoted field opens nothing
        ('12" Vinyl,"open', True),
        ('closing",x', False),  # read from outside a field, this opens nothing
        ('"a""', True),  # a doubled quote inside a field that stays open
        ("no quotes", False),
    ],
)
def test_which_lines_open_a_quoted_field(line, opens):
    """A line opens a quoted field when, read from outside any field, it ends inside one."""
    assert opens_quoted_field(line) is opens


def test_a_line_of_many_fields_is_matched_without_overflow():
    """Tens of thousands of fields (Java's regex overflowed its stack here)."""
    assert opens_quoted_field(",".join(["x"] * 50_000) + ',"open')
    assert not opens_quoted_field(",".join(['"x"'] * 50_000) + ',"open"')


def scan(lines: int) -> LineScan:
    return LineScan("file", (Split(0, 0, 0),), lines)


def test_lines_pair_into_spans():
    """Each opening line pairs with the next line of odd quote count; an opening line inside
    a span belongs to it."""
    result = with_spans(scan(20), openers=[3, 4, 10], closers=[3, 5, 10, 12])
    assert (result.spans, result.unterminated) == (((3, 5), (10, 12)), ())


def test_a_span_the_file_ends_inside_is_unterminated():
    """No closing line: every line from the opening one to the end is unterminated."""
    result = with_spans(scan(20), openers=[18], closers=[18])
    assert (result.spans, result.unterminated) == ((), ((18, 20),))


def test_a_span_longer_than_the_limit_is_unterminated():
    """A record may not span more than MAX_RECORD_LINES lines."""
    far = 2 + MAX_RECORD_LINES
    result = with_spans(scan(far + 5), openers=[2, far + 2], closers=[2, far, far + 3])
    assert result.unterminated == ((2, far),)
    assert result.spans == ((far + 2, far + 3),)


def write(path: Path, text: str | bytes) -> str:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


@contextmanager
def small_splits(spark: SparkSession) -> Iterator[None]:
    """Splits of a few hundred bytes, so a small file spans many partitions."""
    conf = "spark.sql.files.maxPartitionBytes"
    previous = spark.conf.get(conf) or "128m"
    spark.conf.set(conf, "512")
    try:
        yield
    finally:
        spark.conf.set(conf, previous)


def test_line_numbers_and_spans_hold_across_file_splits(spark, tmp_path):
    """With splits of a few hundred bytes, each line still gets its own number and a record
    whose lines fall in different splits is assembled whole."""
    body = [f"t{i},{i % 100},false" for i in range(2, 400)]
    body[150] = 't151,"multi\nline",false'  # lines 152-153 of the file
    uri = write(tmp_path / "tracks.csv", "\n".join([HEADER, *body]) + "\n")
    with small_splits(spark):
        result = scan_lines(spark, uri, TRACKS)
        records = {r[LINE_COLUMN]: r[RECORD_COLUMN] for r in assemble(spark, result).collect()}
    assert len(result.splits) > 5
    assert result.lines == 400
    assert result.spans == ((152, 153),)
    assert records[152] == 't151,"multi\nline",false'
    assert 153 not in records
    assert records[2] == "t2,2,false"
    assert records[400] == "t399,99,false"
    assert len(records) == 398


def test_without_odd_quote_lines_each_line_is_a_record_as_a_scan_finds(spark, tmp_path):
    """With no line of odd quote count, reading a record per line (no scan) gives the records
    the scan finds, across many splits: the header left out once, blank lines skipped, quoted
    commas, doubled quotes and CRLF kept; no line flagged."""
    body = [f't{i},"a, ""b""",false' if i % 7 else "  " for i in range(2, 400)]
    uri = write(tmp_path / "tracks.csv", "\r\n".join([HEADER, *body]) + "\r\n")
    with small_splits(spark):
        unscanned = line_records(spark, uri).collect()
        scanned = assemble(spark, scan_lines(spark, uri, TRACKS)).collect()
        partitions = line_records(spark, uri).rdd.getNumPartitions()
    assert partitions > 5
    assert sorted((r[RECORD_COLUMN], r[PROBLEM_COLUMN]) for r in unscanned) == sorted(
        (r[RECORD_COLUMN], r[PROBLEM_COLUMN]) for r in scanned
    )
    assert len(unscanned) == len([line for line in body if line.strip()])
    assert not any(r[ODD_COLUMN] for r in unscanned)


def test_lines_with_odd_quotes_are_flagged(spark, tmp_path):
    """The two lines of a record that spans lines, and a line with a stray quote, are flagged:
    such a file must be scanned."""
    text = f'{HEADER}\nt1,"multi\nline",false\nt2,12" Vinyl,true\nt3,"even",true\n'
    rows = line_records(spark, write(tmp_path / "tracks.csv", text)).collect()
    flagged = sorted(r[RECORD_COLUMN] for r in rows if r[ODD_COLUMN])
    assert flagged == ['line",false', 't1,"multi', 't2,12" Vinyl,true']


def test_blank_lines_are_no_records_unless_inside_a_quoted_field(spark, tmp_path):
    """Blank lines between records (spaces, tabs, or a lone CR in a CRLF file) are skipped, as
    Spark's CSV reader does; a blank line inside a quoted field is part of the value."""
    text = f'{HEADER}\n\nt1,1,false\n   \nt2,"a\n\nb",true\r\n\r\n\t\r\nt3,1,true\n'
    uri = write(tmp_path / "tracks.csv", text)
    rows = assemble(spark, scan_lines(spark, uri, TRACKS)).orderBy(LINE_COLUMN).collect()
    assert [(r[LINE_COLUMN], r[RECORD_COLUMN], r[PROBLEM_COLUMN]) for r in rows] == [
        (3, "t1,1,false", None),
        (5, 't2,"a\n\nb",true\r', None),
        (10, "t3,1,true", None),
    ]


def test_a_file_with_cr_line_breaks_is_refused_with_the_fix(spark, tmp_path):
    """Lines are split at LF only (so a CR inside a quoted field is kept); a file that breaks
    lines with CR alone is refused, naming the fix, instead of being read as one line."""
    uri = write(tmp_path / "tracks.csv", f"{HEADER}\rt1,1,false\r")
    with pytest.raises(RecordLayoutError, match="Save it with LF or CRLF line breaks"):
        scan_lines(spark, uri, TRACKS)


def test_a_folder_of_files_is_refused(spark, tmp_path):
    """A staged 'file' that is a folder of several files is refused, naming the file."""
    folder = tmp_path / TRACKS.file_name
    folder.mkdir()
    for part in ("a", "b"):
        write(folder / f"part-{part}.csv", f"{HEADER}\nt{part},1,false\n")
    with pytest.raises(RecordLayoutError, match=f"stage {TRACKS.file_name} as one file"):
        scan_lines(spark, str(folder), TRACKS)


def test_broken_quoting_throughout_is_refused_with_the_first_line(spark, tmp_path):
    """More than MAX_SPAN_LINES lines opening quoted fields: the file is refused, naming the
    first such line, instead of guessing at records."""
    body = [f"t{i},1,false" for i in range(3)] + ['t,"open'] * (MAX_SPAN_LINES + 1)
    uri = write(tmp_path / "tracks.csv", "\n".join([HEADER, *body]) + "\n")
    with pytest.raises(RecordLayoutError, match="starting at line 5"):
        scan_lines(spark, uri, TRACKS)


def test_a_first_line_that_does_not_read_as_csv_is_a_wrong_header_not_an_error():
    """A field longer than the csv module takes (128 KiB) is reported as the line's problem."""
    assert first_line_problem(TRACKS, HEADER) is None
    assert first_line_problem(TRACKS, "x" * 200_000 + HEADER) == (
        "it does not read as CSV (field larger than field limit (131072))"
    )


def test_the_unexpected_columns_of_a_long_first_line_are_cut_short():
    """A line of data where the header should be names its first columns, each cut short,
    so the message stays one readable line."""
    problem = first_line_problem(TRACKS, ",".join(["y" * 100_000] * 50))
    assert problem is not None
    assert len(problem) < 2_000
    assert problem.endswith(", ...]")  # 50 columns, 10 of them named
    assert problem.count("'y") == 10
