"""The vectorized-parse measurement reads files in byte ranges, each line once."""

from pathlib import Path

import pytest
from spotify_glue.contract import Column, SourceFile

from benchmarks import job_benchmark
from benchmarks.job_benchmark import owned_lines

CONTENT = b'id,name\n1,a\n22,bb\n\n333,ccc\n4,"d,e"\n55555,ffff\n'
"""A header, lines of several lengths, a quoted comma and a blank line."""


@pytest.mark.parametrize("split", range(1, len(CONTENT) + 2))
def test_every_line_after_the_header_is_read_once_whatever_the_split(
    tmp_path: Path, split: int
) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(CONTENT)
    ranges = [(s, min(s + split, len(CONTENT))) for s in range(0, len(CONTENT), split)]
    read = b"".join(owned_lines(path, start, end) for start, end in ranges)
    assert read == CONTENT.split(b"\n", 1)[1]


def test_a_last_line_without_a_line_break_is_read(tmp_path: Path) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(b"id\n1\n2")
    assert owned_lines(path, 0, 3) + owned_lines(path, 3, 6) == b"1\n2"


def test_pyarrow_feeding_spark_gives_every_row_when_ranges_end_inside_lines(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranges of 8 bytes: some own no line at all, and pyarrow refuses empty input."""
    source = SourceFile("t", "file.csv", (Column("id", "string"), Column("name", "string")))
    (tmp_path / source.file_name).write_bytes(CONTENT)
    monkeypatch.setattr(job_benchmark, "ARROW_SPLIT_BYTES", 8)
    rows = job_benchmark._arrow_strings(spark, tmp_path, source).collect()
    assert [tuple(row) for row in rows] == [
        ("1", "a"),
        ("22", "bb"),
        ("333", "ccc"),
        ("4", "d,e"),
        ("55555", "ffff"),
    ]
