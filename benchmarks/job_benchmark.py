"""Benchmark the Glue job at real scale and multiples of it; prints figures, asserts nothing.

For each scale it generates the Spotify-2023 CSVs, then runs, each in a fresh process so
memory and JVM start-up are measured alike:

- ``ours``: the real job (glue-scripts/spotify_etl.py ``run``) on local Spark;
- ``seed``: the seed's visual-job semantics on the same Spark (benchmarks/seed_job.py);
- ``duckdb``: DuckDB doing the seed's joins on the same CSVs, writing Snappy Parquet;
- ``ours-warm`` and ``seed-warm``: the two Spark jobs run twice in one session, the second
  run timed (a warm JVM, as in a long-lived session);
- ``floor`` and ``floor-warm``: the least the job's input and output cost on the same Spark,
  cold (in a fresh process) and warm (the second time in one session): the four files parsed
  with the contract's typed schemas by Spark's own CSV reader (to a no-op sink), plus
  ``ours``' rows (held in memory, untimed) written again as Snappy Parquet. No
  classification, de-duplication, join, count or gate: what any job reading these files typed
  and writing this table must spend;
- ``floor-joins``: the seed's job and plan (artists and tracks broadcast) on the four files
  parsed typed, every column (no CSV column pruning), with the audio features joined left
  (one shuffle, as the job's one aggregate shuffles them), written as Snappy Parquet, cold.
  No de-duplication, quarantine, count or gate: what typing the files the table is built
  from, and joining them as the seed does, costs on its own;
- ``floor-groups``: the job's own plan for de-duplication and the joins
  (``transform.group_records``, cached on disk as the job does, then ``enrich`` and
  ``publishable``) on the four files parsed typed by Spark's CSV reader, every column,
  written unclustered as Snappy Parquet, cold. No record ids, classification, quarantine,
  counts, gate, clustering or written-keys check: the job with its other guarantees taken out;
- ``ours-512m`` and ``seed-512m``: the two jobs again, cold, each JVM given a 512 MiB heap
  (``SMALL_HEAP``), where a peak is nearer what a job needs than under the default heap, of
  which G1 takes more the faster a run allocates; a job that fails there is reported, not fatal;
- ``parse-arrow``: warm, in one session, the four files parsed by pyarrow's CSV parser in
  Spark's Python tasks (``mapInArrow``; each task reads a byte range of a file itself) to
  strings, against Spark's own reader parsing them typed, and pyarrow alone in the process:
  whether a vectorized parser, DuckDB's kind, could feed a Spark job faster than Spark's own
  reader does.

Each step runs in a fresh process, killed with its JVM past ``--step-timeout`` seconds (times
the scale). With ``--repeat N`` the cold engines (the cold floors too) run N times, in turn
(ours, seed, duckdb, floor, floor-joins, floor-groups, ours-512m, seed-512m, ours, ...), so a
drift in the machine's speed hits each alike; each figure is then the median, and the report
lists every run. Peak memory in particular can move by a sixth or more between identical runs
(the JVM sizes its heap to the garbage it sees).

It reports generation time, job time, wall time (with start-up), rows/s, peak memory of the
process tree (sampled from /proc), output files and bytes, and the Parquet bytes each insight
query in sql/insights/ would scan (column-chunk sizes of the columns it references) in our
table against the seed's.

    python -m benchmarks.job_benchmark                   # real scale and 10x
    python -m benchmarks.job_benchmark --scales 0.05     # a quick run
    python -m benchmarks.job_benchmark --scales 1 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from spotify_glue.contract import AUDIO_FEATURE_COLUMNS

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
INSIGHTS_DIR: Final = REPO_ROOT / "sql" / "insights"
ENGINES: Final = ("ours", "seed", "duckdb")
WARM_ENGINES: Final = ("ours-warm", "seed-warm")
"""The JVM jobs again, each run twice in one Spark session; the second run is timed."""
FLOORS: Final = ("floor", "floor-warm")
"""The floor, cold and warm."""
JOIN_FLOOR: Final = "floor-joins"
"""The seed's joins on the four files typed: cold, in the repeat turns."""
GROUP_FLOOR: Final = "floor-groups"
"""The job's own de-duplication and joins on the four files typed: cold, in the repeat turns."""
ARROW_PARSE: Final = "parse-arrow"
"""Warm: pyarrow's CSV parser feeding Spark, against Spark's own reader, in one session."""
SMALL_HEAP: Final = "512m"
"""A heap near the least Spark's local driver starts with (450 MiB): a peak under it is what a
job needs rather than what the collector chose to take of a larger heap."""
SMALL_HEAP_ENGINES: Final = {f"ours-{SMALL_HEAP}": "ours", f"seed-{SMALL_HEAP}": "seed"}
"""The two jobs again, cold, in the repeat turns, each JVM given ``SMALL_HEAP``."""
CSV_PRUNING: Final = "spark.sql.csv.parser.columnPruning.enabled"
STEP_TIMEOUT: Final = 600.0
"""Seconds one measured step may take at 1x, scaled by the scale (``step_timeout``): twelve
times the slowest step at 1x (ours warm, about 50 s), so only a hung or thrashing JVM
reaches it."""
MAX_STEP_TIMEOUT: Final = 1_000_000.0
"""The longest limit a step can have (about 11 days): Python's wait for a process takes no
more than about 2.1 million seconds."""
MAX_SCALE: Final = 1000.0
"""1000x the real scale is 3.7 TB of CSV."""
LIFELINE_VARIABLE: Final = "SPOTIFY_BENCHMARK_LIFELINE_FD"
"""A worker's end of a pipe the benchmark holds the other end of (``_lifeline``)."""
STOP_GRACE_SECONDS: Final = 10.0
"""How long a stopped step's JVM gets to run its shutdown hooks, which remove Spark's
temporary folders, before it is killed."""

SEED_EQUIVALENT: Final[dict[str, str | None]] = {
    "artist_name": "name",
    "primary_genre": "genre",
    "genres": "genre",
    # the seed only has the release_date string; a year query would scan it
    "release_year": "release_date",
    "explicit": None,
    "track_number": None,
    "album_type": None,
    "total_tracks": None,
    **dict.fromkeys(AUDIO_FEATURE_COLUMNS),
}
"""Our column -> the seed column a query would read instead (None: the seed has none)."""


# --- Memory: peak resident set of a process and all its descendants -------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces; ppid follows the state
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _image(pid: int) -> tuple[str, bytes] | None:
    """The program a process runs and its command line (None: gone or unreadable)."""
    try:
        proc = Path(f"/proc/{pid}")
        return str((proc / "exe").readlink()), (proc / "cmdline").read_bytes()
    except OSError:
        return None


def tree_rss_bytes(root: int) -> int:
    """Resident bytes of ``root`` and its descendants, a forked copy not counted again.

    A child running its parent's program with its parent's command line has been forked and
    has not yet replaced itself with another program: it shares the parent's pages, and
    ``/proc`` reports them again as its own. The JVM starts every helper process (``chmod``
    for each file Hadoop writes locally, ``bash``) that way, so counting such a child would
    count the JVM twice. A long-lived forked worker (a PySpark Python worker, for a Python
    UDF) would be skipped too: the benchmarked jobs start none."""
    tree = _children()
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    stack: list[tuple[int, tuple[str, bytes] | None]] = [(root, None)]
    while stack:
        pid, parent_image = stack.pop()
        image = _image(pid)
        if image is None or image != parent_image:
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        stack.extend((child, image) for child in tree.get(pid, []))
    return total


class PeakMemory:
    """Samples the process tree's resident memory in a thread (Linux /proc; 0 elsewhere)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        if not Path("/proc").is_dir():
            return
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# --- Workers: one measured step in a fresh process ------------------------------------------


def _worker_generate(staging: Path, album_rows: int) -> dict[str, Any]:
    from spotify_ops.generate import generate

    summary = generate(staging, album_rows=album_rows)
    return {"seconds": summary.seconds, "rows_in": album_rows, "bytes_in": summary.total_bytes}


ARCHIVE_MAPPED: dict[str, bool] = {}
"""Whether this worker's JVM mapped the class archive (set when its session starts)."""


def _spark() -> Any:
    from spotify_ops.class_archive import session_maps_archive
    from spotify_ops.spark import local_spark_session

    spark = local_spark_session("spotify-benchmark", cores=2)
    ARCHIVE_MAPPED["mapped"] = session_maps_archive(spark)
    return spark


def _worker_ours(staging: Path, out: Path, warm: bool = False) -> dict[str, Any]:
    from spotify_glue import etl

    spark = _spark()
    args = etl.JobArgs(str(staging), str(out))
    if warm:
        etl.run(spark, args)
    started = time.perf_counter()
    summary = etl.run(spark, args)
    seconds = time.perf_counter() - started
    spark.stop()
    return {
        "seconds": seconds,
        "rows_in": summary.rows_read["albums"],
        "rows_out": summary.rows_written,
        "table": summary.table_location,
    }


def _worker_seed(staging: Path, out: Path, warm: bool = False) -> dict[str, Any]:
    from benchmarks.seed_job import run_seed

    spark = _spark()
    table = str(out / "datawarehouse")
    if warm:
        run_seed(spark, str(staging), str(out / "first-run"))
    started = time.perf_counter()
    run_seed(spark, str(staging), table)
    seconds = time.perf_counter() - started
    rows_out = spark.read.parquet(table).count()
    spark.stop()
    return {"seconds": seconds, "rows_out": rows_out, "table": table}


def _typed_csv(spark: Any, staging: Path, source: Any) -> Any:
    """A source file parsed by Spark's own CSV reader with the contract's typed schema, every
    field: with column pruning Spark would parse only the columns a query uses, and a junk
    value elsewhere would pass unseen, where the job must judge each."""
    from spotify_glue.layout import join_uri
    from spotify_glue.records import CSV_FORMAT

    spark.conf.set(CSV_PRUNING, "false")
    reader = spark.read.options(header="true", **CSV_FORMAT).schema(source.ddl())
    return reader.csv(join_uri(str(staging), source.file_name))


ARROW_SPLIT_BYTES: Final = 32 * 2**20
"""Bytes of a file each Python task parses, as Spark splits the files it reads."""


def owned_lines(path: Path, start: int, end: int) -> bytes:
    """The lines whose first byte lies in [start, end) of the file, without the header: ranges
    that cover the file read each line once."""
    with path.open("rb") as file:
        file.seek(max(start - 1, 0))
        # From 0 this skips the header; from later, the line holding byte start - 1, which
        # is the range before's.
        file.readline()
        begin = file.tell()
        data = file.read(max(end - begin, 0))
        if data and not data.endswith(b"\n"):
            data += file.readline()  # a line that starts before end is this range's
    return data


def _as_strings(names: list[str]) -> Any:
    """pyarrow's conversion options reading every field as a string: no typing."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))


def _arrow_strings(spark: Any, staging: Path, source: Any) -> Any:
    """A source file parsed by pyarrow's CSV parser inside Spark: Python tasks read byte
    ranges of the file themselves and hand Spark the fields as strings (``mapInArrow``).
    No typing: the least a vectorized parser's output costs to enter Spark."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = staging / source.file_name
    size = path.stat().st_size
    ranges = [(s, min(s + ARROW_SPLIT_BYTES, size)) for s in range(0, size, ARROW_SPLIT_BYTES)]
    names = list(source.header)

    def parse(batches: Iterator[Any]) -> Iterator[Any]:
        read = pacsv.ReadOptions(column_names=names, use_threads=False)
        quoting = pacsv.ParseOptions(quote_char='"', double_quote=True)
        for batch in batches:
            for start, end in zip(*(batch.column(i).to_pylist() for i in range(2)), strict=True):
                data = owned_lines(path, start, end)
                if data:  # a range inside the last line owns none; pyarrow refuses empty input
                    table = pacsv.read_csv(pa.BufferReader(data), read, quoting, _as_strings(names))
                    yield from table.to_batches()

    splits = spark.sparkContext.parallelize(ranges, len(ranges)).toDF("start long, end long")
    return splits.mapInArrow(parse, source.text_ddl())


def _arrow_alone(staging: Path) -> float:
    """pyarrow's CSV parser reading the four files to strings in this process, no Spark."""
    import pyarrow.csv as pacsv
    from spotify_glue.contract import JOB_SOURCES

    started = time.perf_counter()
    for source in JOB_SOURCES:
        pacsv.read_csv(staging / source.file_name, convert_options=_as_strings(list(source.header)))
    return time.perf_counter() - started


def _worker_parse_arrow(staging: Path) -> dict[str, Any]:
    """Warm, in one session: Spark's reader parsing the four files typed, against pyarrow's
    parser feeding Spark (``_arrow_strings``), and pyarrow alone. Each Spark parse runs once
    before it is timed."""
    from spotify_glue.contract import JOB_SOURCES

    spark = _spark()
    readers = {"spark_reader": _typed_csv, "arrow_in_spark": _arrow_strings}

    def parse(reader: Any) -> float:
        started = time.perf_counter()
        for source in JOB_SOURCES:
            reader(spark, staging, source).write.format("noop").mode("overwrite").save()
        return time.perf_counter() - started

    for reader in readers.values():
        parse(reader)
    parts = {name: parse(reader) for name, reader in readers.items()}
    parts["arrow_alone"] = _arrow_alone(staging)
    rows = 0
    for source in JOB_SOURCES:
        # As many rows from both, or the comparison is void.
        arrow_rows, spark_rows = (
            reader(spark, staging, source).count() for reader in readers.values()
        )
        if arrow_rows != spark_rows:
            raise RuntimeError(
                f"{source.file_name}: pyarrow parsed {arrow_rows:,} rows, Spark {spark_rows:,}"
            )
        rows += spark_rows
    spark.stop()
    return {"seconds": parts["arrow_in_spark"], "parts": parts, "rows_out": rows}


def _worker_floor(staging: Path, out: Path, table: Path, warm: bool) -> dict[str, Any]:
    from spotify_glue.contract import JOB_SOURCES

    spark = _spark()
    rows = spark.read.parquet(str(table)).cache()

    def parse() -> float:
        started = time.perf_counter()
        for source in JOB_SOURCES:
            _typed_csv(spark, staging, source).write.format("noop").mode("overwrite").save()
        return time.perf_counter() - started

    def write(target: Path) -> float:
        started = time.perf_counter()
        rows.write.option("compression", "snappy").parquet(str(target))
        return time.perf_counter() - started

    if warm:
        parse(), write(out / "first-run")
    # Cold, the parse is the first work of the session, as the jobs' is; the rows to write
    # are then read into memory untimed, so the write is timed alone (the job never reads
    # its table back): a floor.
    parse_seconds = parse()
    rows_out = rows.count()
    parts = {"parse": parse_seconds, "write": write(out / "table")}
    spark.stop()
    return {
        "seconds": sum(parts.values()),
        "parts": parts,
        "rows_out": rows_out,
        "table": str(out / "table"),
    }


def _worker_floor_joins(staging: Path, out: Path) -> dict[str, Any]:
    from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
    from spotify_glue.contract import ALBUMS, ARTISTS, FEATURES, TRACKS, SourceFile
    from spotify_glue.transform import FEATURE_COLUMNS

    from benchmarks.seed_job import seed_transform

    spark = _spark()

    def typed(source: SourceFile) -> Any:
        return _typed_csv(spark, staging, source)

    table = out / "table"
    started = time.perf_counter()
    # The seed's plan broadcasts artists and tracks (Spark's estimate of their strings is
    # small enough); typed, the tracks estimate is not, and Spark would shuffle the album
    # side for them: a second shuffle of it, which neither the seed nor the job makes.
    seed = seed_transform(typed(ALBUMS), F.broadcast(typed(ARTISTS)), F.broadcast(typed(TRACKS)))
    features = typed(FEATURES).select(
        F.col("id").alias("features_key"),
        *(F.col(src).alias(dst) for src, dst in FEATURE_COLUMNS.items()),
    )
    joined = seed.join(features, seed["track_id"] == features["features_key"], "left")
    joined.drop("features_key").write.option("compression", "snappy").parquet(str(table))
    seconds = time.perf_counter() - started
    rows_out = spark.read.parquet(str(table)).count()
    spark.stop()
    return {"seconds": seconds, "rows_out": rows_out, "table": str(table)}


def _worker_floor_groups(staging: Path, out: Path) -> dict[str, Any]:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
    from spotify_glue.classify import RAW_COLUMN, REASON_COLUMN
    from spotify_glue.contract import JOB_SOURCES
    from spotify_glue.etl import job_settings
    from spotify_glue.layout import join_uri
    from spotify_glue.records import ODD_COLUMN, RECORD_ID_COLUMN
    from spotify_glue.transform import USED_COLUMNS, enrich, group_records, publishable

    spark = _spark()
    uris = {s.key: join_uri(str(staging), s.file_name) for s in JOB_SOURCES}
    table = out / "table"
    with job_settings(spark, uris):
        started = time.perf_counter()
        # Every record usable, as if classified: the columns the job's aggregate reads.
        records = {
            s.key: _typed_csv(spark, staging, s).select(
                *USED_COLUMNS[s.key],
                F.lit(None).cast("string").alias(REASON_COLUMN),
                F.lit(None).cast("string").alias(RAW_COLUMN),
                F.lit(0).cast("long").alias(RECORD_ID_COLUMN),
                F.lit(False).alias(ODD_COLUMN),
            )
            for s in JOB_SOURCES
        }
        groups = group_records(records).persist(StorageLevel.DISK_ONLY)
        publishable(enrich(groups)).write.option("compression", "snappy").parquet(str(table))
        seconds = time.perf_counter() - started
        groups.unpersist()
    rows_out = spark.read.parquet(str(table)).count()
    spark.stop()
    return {"seconds": seconds, "rows_out": rows_out, "table": str(table)}


def _worker_duckdb(staging: Path, out: Path) -> dict[str, Any]:
    import duckdb
    from spotify_glue.contract import ALBUMS, ARTISTS, TRACKS

    from benchmarks.seed_job import SEED_COLUMNS

    def csv(file_name: str) -> str:
        path = str(staging / file_name).replace("'", "''")
        # the seed reads strings; rows with a wrong field count are skipped, not fatal
        return (
            f"read_csv('{path}', header = true, all_varchar = true, quote = '\"', "
            "escape = '\"', ignore_errors = true)"
        )

    table = out / "datawarehouse"
    table.mkdir(parents=True)
    sources = {"al": ALBUMS.header, "ar": ARTISTS.header, "t": TRACKS.header}
    owner = {c: next(a for a, h in sources.items() if c in h) for c in SEED_COLUMNS if c != "genre"}
    select = ", ".join([*(f"{owner[c]}.{c}" for c in owner), "ar.genre_0 AS genre"])
    target = str(table / "part-0.parquet").replace("'", "''")
    query = (
        f"COPY (SELECT {select} FROM {csv(ALBUMS.file_name)} AS al "
        f"JOIN {csv(ARTISTS.file_name)} AS ar ON al.artist_id = ar.id "
        f"JOIN {csv(TRACKS.file_name)} AS t ON al.track_id = t.id) "
        f"TO '{target}' (FORMAT parquet, COMPRESSION snappy)"
    )
    connection = duckdb.connect(config={"threads": 2})
    started = time.perf_counter()
    connection.execute(query)
    seconds = time.perf_counter() - started
    row = connection.execute(f"SELECT COUNT(*) FROM read_parquet('{target}')").fetchone()
    connection.close()
    return {"seconds": seconds, "rows_out": int(row[0]) if row else 0, "table": str(table)}


def worker_main(argv: list[str]) -> None:
    _exit_with_parent()
    engine, staging, out, rows = argv[0], Path(argv[1]), Path(argv[2]), int(argv[3])
    engine = SMALL_HEAP_ENGINES.get(engine, engine)
    if engine == "generate":
        result = _worker_generate(staging, rows)
    elif engine in ("ours", "ours-warm"):
        result = _worker_ours(staging, out, warm=engine.endswith("-warm"))
    elif engine in ("seed", "seed-warm"):
        result = _worker_seed(staging, out, warm=engine.endswith("-warm"))
    elif engine in FLOORS:
        result = _worker_floor(staging, out, Path(argv[4]), warm=engine.endswith("-warm"))
    elif engine == JOIN_FLOOR:
        result = _worker_floor_joins(staging, out)
    elif engine == ARROW_PARSE:
        result = _worker_parse_arrow(staging)
    elif engine == GROUP_FLOOR:
        result = _worker_floor_groups(staging, out)
    else:
        result = _worker_duckdb(staging, out)
    if ARCHIVE_MAPPED:
        result["class_archive"] = ARCHIVE_MAPPED["mapped"]
    print("RESULT " + json.dumps(result), flush=True)


# --- Measurements ---------------------------------------------------------------------------


@dataclass
class Step:
    engine: str
    seconds: float
    """Time of the work itself (generation, or the job after the engine started)."""
    wall_seconds: float
    """The whole process, start-up included."""
    peak_rss_bytes: int
    rows_in: int
    rows_out: int = 0
    files: int = 0
    bytes_out: int = 0
    table: str = ""
    parts: dict[str, float] = field(default_factory=dict)
    """Seconds of each part of the step, where it has parts."""
    runs: list[float] = field(default_factory=list)
    """Job seconds of each run, when the step ran more than once (``seconds`` is the median)."""
    peaks: list[int] = field(default_factory=list)
    """Peak bytes of each run, likewise (``peak_rss_bytes`` is the median)."""
    class_archive: bool | None = None
    """Whether the step's Spark JVM mapped the class archive (None: no Spark)."""

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Scanned:
    """The bytes an insight query would scan in each table (None: the seed cannot answer)."""

    ours: int
    seed: int | None
    """The seed's table, counting tracks as that table must: distinct track ids."""
    seed_same_text: int | None
    """The seed's table, running our query's text as is."""


@dataclass
class ScaleResult:
    scale: float
    album_rows: int
    csv_bytes: int
    steps: dict[str, Step] = field(default_factory=dict)
    scanned: dict[str, Scanned] = field(default_factory=dict)
    """Insight query -> the bytes it would scan."""
    failed: dict[str, str] = field(default_factory=dict)
    """Engine -> why a run of it failed, for the engines allowed to fail (``SMALL_HEAP_ENGINES``:
    a job may not fit that heap)."""


class StepFailedError(RuntimeError):
    """A measured step's process failed; ``cause`` is the error it ended with."""

    def __init__(self, engine: str, returncode: int, stderr: str, cause: str = "") -> None:
        # The innermost cause of a Java error comes last; stack frames ("at ...") name none.
        lines = [x.strip() for x in stderr.splitlines()]
        errors = [
            x for x in lines if not x.startswith("at ") and ("Error" in x or "Exception" in x)
        ]
        named = [x for x in errors if x.startswith("Caused by:")] or errors
        self.cause = cause or (named[-1][:200] if named else f"exit status {returncode}")
        super().__init__(f"{engine} failed ({self.cause}):\n{stderr[-4000:]}")


class StepTimedOutError(StepFailedError):
    """A measured step ran past its time limit; its processes were stopped."""

    def __init__(self, engine: str, seconds: float, stderr: str) -> None:
        super().__init__(engine, -signal.SIGKILL, stderr, f"timed out after {seconds:g} s")


def step_timeout(scale: float, per_scale: float = STEP_TIMEOUT) -> float:
    """The time limit of one measured step at ``scale``; never under the 1x limit."""
    return per_scale * max(1.0, scale)


def _stop_process_group(process: subprocess.Popen[str]) -> str:
    """Stop the worker and everything it started (its JVM), which share its process group:
    SIGTERM, so the JVM's shutdown hooks remove Spark's temporary folders, then SIGKILL for
    whatever is left after ``STOP_GRACE_SECONDS``. Returns the rest of its standard error."""
    if process.pid == os.getpgrp():  # never this process's own group
        return ""
    try:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return process.communicate(timeout=STOP_GRACE_SECONDS)[1]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.communicate()[1]


@contextlib.contextmanager
def _lifeline(env: dict[str, str]) -> Iterator[int]:
    """A pipe for a worker to watch (``_exit_with_parent``): this process holds its write end
    until the step is over, and the system closes it if this process is killed outright.
    Yields the read end, for the worker to inherit."""
    lifeline, held = os.pipe()
    env[LIFELINE_VARIABLE] = str(lifeline)
    try:
        yield lifeline
    finally:
        os.close(held)
        os.close(lifeline)


def _exit_with_parent() -> None:
    """In a worker: exit once the benchmark's end of the lifeline closes. A worker has a
    process group of its own, so no signal to the benchmark reaches it; its JVM then sees
    its own standard input close, and PySpark's gateway shuts down on that."""
    fd = os.environ.pop(LIFELINE_VARIABLE, None)
    if fd is None:
        return

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(int(fd), 1):
                pass
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def measure(
    engine: str,
    staging: Path,
    out: Path,
    album_rows: int,
    *extra: str,
    timeout: float | None = None,
) -> Step:
    """One step in a fresh worker process. Past ``timeout`` seconds the worker and its JVM are
    killed and ``StepTimedOutError`` raised; so they are when the benchmark is interrupted."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.job_benchmark",
        "--worker",
        engine,
        str(staging),
        str(out),
        str(album_rows),
        *extra,
    ]
    env = dict(os.environ)
    if engine in SMALL_HEAP_ENGINES:
        from spotify_ops.spark import DRIVER_MEMORY_VARIABLE

        env[DRIVER_MEMORY_VARIABLE] = SMALL_HEAP
    started = time.perf_counter()
    # A process group of its own, so a timeout or Ctrl-C stops the worker's JVM too.
    with _lifeline(env) as lifeline:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            pass_fds=(lifeline,),
        )
        try:
            with PeakMemory(process.pid) as memory:
                stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stopped = _stop_process_group(process)
            raise StepTimedOutError(engine, timeout or 0.0, stopped) from None
        except BaseException:
            _stop_process_group(process)
            raise
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise StepFailedError(engine, process.returncode, stderr)
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    step = Step(
        engine=engine,
        seconds=float(result["seconds"]),
        wall_seconds=wall,
        peak_rss_bytes=memory.peak,
        rows_in=int(result.get("rows_in", album_rows)),
        rows_out=int(result.get("rows_out", 0)),
        table=str(result.get("table", "")),
        parts={k: float(v) for k, v in result.get("parts", {}).items()},
        class_archive=result.get("class_archive"),
    )
    if step.table:
        parquet = list(_parquet_files(Path(step.table)))
        step.files, step.bytes_out = len(parquet), sum(p.stat().st_size for p in parquet)
    return step


def _parquet_files(table: Path) -> Iterator[Path]:
    yield from sorted(p for p in table.rglob("*.parquet") if p.is_file())


def column_chunk_bytes(table: Path) -> dict[str, int]:
    """Compressed bytes per top-level column over every row group of every file."""
    import pyarrow.parquet as pq

    sizes: dict[str, int] = {}
    for path in _parquet_files(table):
        metadata = pq.ParquetFile(path).metadata
        for g in range(metadata.num_row_groups):
            group = metadata.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                name = str(chunk.path_in_schema).split(".")[0]
                sizes[name] = sizes.get(name, 0) + int(chunk.total_compressed_size)
    return sizes


def query_columns(sql: str, table_columns: set[str]) -> set[str]:
    """The table columns a query references (sqlglot, Athena dialect); aliases excluded."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="athena")
    return {col.name for col in tree.find_all(exp.Column) if col.name in table_columns}


def counts_rows(sql: str) -> bool:
    """Whether the query holds a ``COUNT(*)``."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="athena")
    return any(isinstance(count.this, exp.Star) for count in tree.find_all(exp.Count))


def scanned_bytes(ours: Path, seed: Path) -> dict[str, Scanned]:
    ours_sizes, seed_sizes = column_chunk_bytes(ours), column_chunk_bytes(seed)
    result: dict[str, Scanned] = {}
    for path in sorted(INSIGHTS_DIR.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        columns = query_columns(sql, set(ours_sizes))
        seed_columns = {SEED_EQUIVALENT.get(c, c) for c in columns}
        if None in seed_columns:
            result[path.stem] = Scanned(sum(ours_sizes[c] for c in columns), None, None)
            continue
        same_text = sum(seed_sizes[c] for c in seed_columns if c)
        if counts_rows(sql):
            # Our table holds each track once (the gate), so a query counts tracks by rows;
            # the seed's keeps duplicate tracks and must count distinct track ids.
            seed_columns.add("track_id")
        seed_bytes = sum(seed_sizes[c] for c in seed_columns if c)
        result[path.stem] = Scanned(sum(ours_sizes[c] for c in columns), seed_bytes, same_text)
    return result


def median_step(runs: list[Step]) -> Step:
    """The first run's outputs with the median of the runs' times, parts and peaks, and each
    run's time and peak."""
    if len(runs) == 1:
        return runs[0]
    return replace(
        runs[0],
        seconds=statistics.median(r.seconds for r in runs),
        wall_seconds=statistics.median(r.wall_seconds for r in runs),
        peak_rss_bytes=round(statistics.median(r.peak_rss_bytes for r in runs)),
        parts={part: statistics.median(r.parts[part] for r in runs) for part in runs[0].parts},
        runs=[r.seconds for r in runs],
        peaks=[r.peak_rss_bytes for r in runs],
        class_archive=None if runs[0].class_archive is None else all(r.class_archive for r in runs),
    )


def _printed(step: Step) -> str:
    return (
        f"   {step.engine}: job {step.seconds:.1f}s, wall {step.wall_seconds:.1f}s, "
        f"peak {step.peak_rss_bytes / 2**20:,.0f} MiB, {step.rows_out:,} rows out"
        + {True: ", class archive mapped", False: ", NO class archive", None: ""}[
            step.class_archive
        ]
        + "".join(f", {name} {seconds:.1f}s" for name, seconds in step.parts.items())
    )


def scale_dir(workdir: Path, scale: float) -> Path:
    """Where a scale's CSVs and outputs go."""
    return workdir / f"scale-{scale:g}"


def _scales(text: str) -> list[float]:
    """``--scales``: comma-separated positive numbers."""
    try:
        scales = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers, e.g. 1,10 or 0.05"
        ) from None
    if not scales or any(not 0 < s <= MAX_SCALE for s in scales):
        raise argparse.ArgumentTypeError(
            f"scales must be numbers above 0 and at most {MAX_SCALE:g}, e.g. 1,10; got {text!r}"
        )
    # A scale given twice runs once; so do two that would share a folder (1 and 1.0000001).
    by_folder = {scale_dir(Path(), s).name: s for s in reversed(scales)}
    return sorted(by_folder.values(), key=scales.index)


def run_scale(
    scale: float, workdir: Path, keep: bool, repeat: int = 1, timeout: float = STEP_TIMEOUT
) -> ScaleResult:
    """Every engine at ``scale``; ``timeout`` is the 1x limit of a step (``step_timeout``)."""
    from spotify_ops.generate import REAL_ALBUM_ROWS

    limit = step_timeout(scale, timeout)

    album_rows = max(1, round(REAL_ALBUM_ROWS * scale))
    root = scale_dir(workdir, scale)
    staging = root / "staging"
    print(f"\n== scale {scale:g}: {album_rows:,} album rows ({root})", flush=True)
    generated = measure("generate", staging, root, album_rows, timeout=limit)
    csv_bytes = sum(p.stat().st_size for p in staging.glob("*.csv"))
    result = ScaleResult(scale=scale, album_rows=album_rows, csv_bytes=csv_bytes)
    result.steps["generate"] = generated
    print(f"   generate: {generated.seconds:.1f}s, {csv_bytes / 1e6:,.0f} MB of CSV", flush=True)
    cold_floor, warm_floor = FLOORS
    cold_engines = (*ENGINES, cold_floor, JOIN_FLOOR, GROUP_FLOOR, *SMALL_HEAP_ENGINES)
    cold: dict[str, list[Step]] = {engine: [] for engine in cold_engines}
    for turn in range(repeat):
        for engine in cold:
            # each run its own output folder: the seed appends
            out = root / (engine if turn == 0 else f"{engine}-{turn}")
            extra = (cold["ours"][0].table,) if engine == cold_floor else ()
            if engine in result.failed:
                continue
            try:
                cold[engine].append(
                    measure(engine, staging, out, album_rows, *extra, timeout=limit)
                )
            except StepFailedError as failure:
                if engine not in SMALL_HEAP_ENGINES:
                    raise
                result.failed[engine] = f"run {turn + 1} of {repeat}: {failure.cause}"
                print(f"   {engine}: failed: {result.failed[engine]}", flush=True)
                continue
            print(_printed(cold[engine][-1]), flush=True)
    for engine, runs in cold.items():
        if engine not in result.failed:
            result.steps[engine] = median_step(runs)
    for engine in WARM_ENGINES:
        result.steps[engine] = measure(engine, staging, root / engine, album_rows, timeout=limit)
        print(_printed(result.steps[engine]), flush=True)
    ours_table = result.steps["ours"].table
    floor = measure(warm_floor, staging, root / warm_floor, album_rows, ours_table, timeout=limit)
    result.steps[warm_floor] = floor
    print(_printed(floor), flush=True)
    arrow = measure(ARROW_PARSE, staging, root / ARROW_PARSE, album_rows, timeout=limit)
    result.steps[ARROW_PARSE] = arrow
    print(_printed(arrow), flush=True)
    result.scanned = scanned_bytes(
        Path(result.steps["ours"].table), Path(result.steps["seed"].table)
    )

    if not keep:
        shutil.rmtree(root)
    return result


# --- Report ---------------------------------------------------------------------------------


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def report(results: list[ScaleResult]) -> str:
    """Markdown tables of every figure, then the goals judged against them."""
    lines = [
        "| scale | album rows | CSV MB | step | job s | wall s | album rows/s | peak MiB "
        "| rows out | files | output MiB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, s in r.steps.items():
            out = "" if name == "generate" else f"{s.rows_out:,} | {s.files} | {_mib(s.bytes_out)}"
            lines.append(
                f"| {r.scale:g}x | {r.album_rows:,} | {r.csv_bytes / 1e6:,.0f} | {name} "
                f"| {s.seconds:.1f} | {s.wall_seconds:.1f} | {s.rows_per_second:,.0f} "
                f"| {_mib(s.peak_rss_bytes)} | {out or ' | | '} |"
            )
    for r in results:
        spark = [name for name, s in r.steps.items() if s.class_archive is not None]
        without = [name for name in spark if not r.steps[name].class_archive]
        lines.append(
            f"\nClass archive at {r.scale:g}x: mapped by every Spark engine's JVM"
            if not without
            else f"\nClass archive at {r.scale:g}x: NOT mapped by {', '.join(without)}"
        )
    for r in results:
        for name, s in r.steps.items():
            if s.runs:
                times = ", ".join(f"{t:.1f}" for t in s.runs)
                peaks = ", ".join(_mib(p) for p in s.peaks)
                lines.append(
                    f"\n{name} at {r.scale:g}x, {len(s.runs)} cold runs: job s {times}; "
                    f"peak MiB {peaks} (the table gives the medians)"
                )
    for r in results:
        lines += [
            "",
            f"Bytes the insight queries would scan at {r.scale:g}x (Parquet column chunks):",
            "",
            "| query | ours KiB | seed KiB | ours / seed | seed KiB, same text | ours / that |",
            "|---|---:|---:|---:|---:|---:|",
        ]

        def kib(n: int | None) -> str:
            return f"{n / 1024:,.0f}" if n is not None else "n/a"

        def ratio(ours: int, seed: int | None) -> str:
            if seed is None:
                return "n/a (seed lacks the columns)"
            return f"{ours / seed:.2f}" if seed else "n/a (reads no column)"

        for name, q in r.scanned.items():
            lines.append(
                f"| {name} | {kib(q.ours)} | {kib(q.seed)} | {ratio(q.ours, q.seed)} "
                f"| {kib(q.seed_same_text)} | {ratio(q.ours, q.seed_same_text)} |"
            )
        comparable = [q for q in r.scanned.values() if q.seed]
        if comparable:
            ours_total = sum(q.ours for q in comparable)
            seed_total = sum(q.seed or 0 for q in comparable)
            same_total = sum(q.seed_same_text or 0 for q in comparable)
            lines.append(
                f"| **all comparable** | {kib(ours_total)} | {kib(seed_total)} "
                f"| **{ours_total / seed_total:.2f}** | {kib(same_total)} "
                f"| {ours_total / same_total:.2f} |"
            )
    lines += ["", *goals(results)]
    return "\n".join(lines)


def _judged(name: str, ratio: float, goal: float) -> str:
    return f"- {name}: {ratio:.2f} (goal <= {goal:g}: {'met' if ratio <= goal else 'NOT met'})"


def small_heap_line(result: ScaleResult) -> str:
    """Both jobs' peak memory with ``SMALL_HEAP``, or why one did not run in it."""
    said, peaks = [], {}
    for engine, job in SMALL_HEAP_ENGINES.items():
        step = result.steps.get(engine)
        if step is None:
            said.append(f"{job} failed ({result.failed[engine]})")
        else:
            said.append(f"{job} {_mib(step.peak_rss_bytes)} MiB in {step.seconds:.1f} s")
            peaks[job] = step.peak_rss_bytes
    ratio = f": {peaks['ours'] / peaks['seed']:.2f}" if len(peaks) == 2 else ""
    return (
        f"- peak memory ours/seed with a {SMALL_HEAP} heap each, cold at {result.scale:g}x "
        f"({'; '.join(said)}){ratio}"
    )


def goals(results: list[ScaleResult]) -> list[str]:
    """The issue's goals at the scale nearest 1x, each measured side by side in this run."""
    out = ["Goals:"]
    base = min(results, key=lambda r: abs(r.scale - 1.0))
    steps = base.steps
    ours, seed, duck = steps["ours"], steps["seed"], steps["duckdb"]
    at = f"at {base.scale:g}x"
    out.append(
        _judged(
            f"job time ours/seed, cold {at} ({ours.seconds:.1f} s / {seed.seconds:.1f} s)",
            ours.seconds / seed.seconds,
            0.9,
        )
    )
    if "ours-warm" in steps and "seed-warm" in steps:
        warm, seed_warm = steps["ours-warm"], steps["seed-warm"]
        out.append(
            _judged(
                f"job time ours/seed, warm {at} ({warm.seconds:.1f} s / {seed_warm.seconds:.1f} s)",
                warm.seconds / seed_warm.seconds,
                0.9,
            )
        )
    for floor_engine, seed_engine, when in (
        ("floor", "seed", "cold"),
        (FLOORS[1], "seed-warm", "warm"),
    ):
        if floor_engine in steps and seed_engine in steps:
            floor, seed_run = steps[floor_engine], steps[seed_engine]
            out.append(
                f"- floor, {when} {at}: Spark's CSV reader parsing the four files typed "
                f"{floor.parts['parse']:.1f} s + writing our table's rows "
                f"{floor.parts['write']:.1f} s = {floor.seconds:.1f} s, "
                f"{floor.seconds / seed_run.seconds:.2f}x the seed's {when} job: what reading "
                "these files typed and writing this table costs before any other work"
            )
    if ARROW_PARSE in steps:
        parts = steps[ARROW_PARSE].parts
        out.append(
            f"- a vectorized parser feeding Spark, warm {at}: pyarrow's CSV parser in Spark's "
            f"Python tasks, the four files to strings, {parts['arrow_in_spark']:.1f} s, "
            f"{parts['arrow_in_spark'] / parts['spark_reader']:.2f}x Spark's own reader "
            f"parsing them typed in the same session ({parts['spark_reader']:.1f} s); pyarrow "
            f"alone, in one process, {parts['arrow_alone']:.2f} s"
        )
    for engine, what in (
        (JOIN_FLOOR, "the seed's joins on the four files parsed typed, features joined left"),
        (GROUP_FLOOR, "the job's de-duplication and joins on the four files parsed typed"),
    ):
        if engine in steps:
            floor = steps[engine]
            out.append(
                f"- {engine}, cold {at}: {what}, {floor.seconds:.1f} s, "
                f"{floor.seconds / seed.seconds:.2f}x the seed's cold job, peak "
                f"{_mib(floor.peak_rss_bytes)} MiB, "
                f"{floor.peak_rss_bytes / seed.peak_rss_bytes:.2f}x the seed's"
            )
    out.append(
        _judged(
            f"peak memory ours/seed, cold {at} ({_mib(ours.peak_rss_bytes)} MiB / "
            f"{_mib(seed.peak_rss_bytes)} MiB)",
            ours.peak_rss_bytes / seed.peak_rss_bytes,
            1.0,
        )
    )
    out += [small_heap_line(r) for r in results]
    comparable = [q for q in base.scanned.values() if q.seed]
    if comparable:
        ours_total = sum(q.ours for q in comparable)
        seed_total = sum(q.seed or 0 for q in comparable)
        same_total = sum(q.seed_same_text or 0 for q in comparable)
        out.append(
            _judged(
                f"scanned bytes ours/seed {at}, the same query text", ours_total / same_total, 0.33
            )
        )
        out.append(
            _judged(
                f"scanned bytes ours/seed {at}, the seed counting its tracks as distinct ids",
                ours_total / seed_total,
                0.33,
            )
        )
    out.append(
        _judged(
            f"job time ours/DuckDB {at} ({ours.seconds:.1f} s / {duck.seconds:.1f} s; an aim)",
            ours.seconds / duck.seconds,
            10,
        )
    )
    out.append(
        f"- job time seed/DuckDB {at} ({seed.seconds:.1f} s / {duck.seconds:.1f} s): "
        f"{seed.seconds / duck.seconds:.2f}, the seed's own job on Spark"
    )
    if len(results) > 1:
        big = max(results, key=lambda r: r.scale)
        small = min(results, key=lambda r: r.scale)
        factor = big.album_rows / small.album_rows
        for engine in ENGINES:
            grew = big.steps[engine].seconds / small.steps[engine].seconds
            out.append(
                f"- scaling {engine}: {factor:.1f}x rows took {grew:.2f}x time "
                f"(linear = {factor:.1f}x; rows/s {small.steps[engine].rows_per_second:,.0f} -> "
                f"{big.steps[engine].rows_per_second:,.0f})"
            )
    return out


def class_archive_note() -> str:
    """Whether the Spark engines' JVMs will be given the class archive: it changes their fixed
    cost. Each engine's line says whether its JVM mapped it."""
    from spotify_ops.class_archive import archive_path, sharing_options

    if sharing_options():
        return f"Spark JVMs are given the class archive {archive_path()}"
    return "Spark JVMs load every class (no class archive: scripts/bootstrap builds it)"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        worker_main(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scales",
        type=_scales,
        default=_scales("1,10"),
        help="comma-separated multiples of the real 438,938 album rows (default: 1,10)",
    )
    parser.add_argument("--workdir", type=Path, help="where to generate and write (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep generated CSVs and outputs")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="cold runs of each engine, in turn; figures are the medians (default: 1)",
    )
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=STEP_TIMEOUT,
        metavar="SECONDS",
        help="time limit of one measured step at 1x, scaled by the scale; a step past it is "
        f"killed (default: {STEP_TIMEOUT:g})",
    )
    options = parser.parse_args(argv)
    _check_options(parser, options)
    scales: list[float] = options.scales
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="spotify-benchmark-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, workdir {workdir}")
    print(class_archive_note(), flush=True)
    results: list[ScaleResult] = []
    stopped: tuple[int, str] | None = None  # exit status, and why
    # Closing the terminal or a SIGTERM stops the step's JVM too, as Ctrl-C does.
    handlers = {sig: signal.signal(sig, _exit_on) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        for scale in scales:
            results.append(
                run_scale(scale, workdir, options.keep, options.repeat, options.step_timeout)
            )
    except StepFailedError as failure:
        stopped = (1, f"benchmark stopped: {failure}")
    except KeyboardInterrupt:
        stopped = (130, "interrupted: the benchmark stopped")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        # A folder of our own making (gigabytes of CSV at 10x) goes, however the run ends.
        if not options.workdir and not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    unwritten = None
    if results:
        print("\n" + report(results), flush=True)
        if options.json:
            unwritten = _write_json(options.json, results)
    if stopped:
        status, why = stopped
        finished = ", ".join(f"{r.scale:g}x" for r in results)
        tail = (
            f"\nthe figures above are of the scales that finished: {finished}" if finished else ""
        )
        parser.exit(status, "".join(f"{line}\n" for line in (unwritten, f"{why}{tail}") if line))
    if unwritten:
        parser.exit(1, f"{unwritten}\n")


def _write_json(path: Path, results: list[ScaleResult]) -> str | None:
    """Write the figures to a new file at ``path``; what went wrong, or None. A file there
    already (made during the run) is left as it is; a part-written one of ours goes."""
    text = json.dumps([_as_json(r) for r in results], indent=2) + "\n"
    try:
        with path.open("x", encoding="utf-8") as handle:
            try:
                handle.write(text)
            except OSError:
                path.unlink(missing_ok=True)  # ours, part-written
                raise
    except OSError as error:
        return f"--json {path} not written: {error.strerror or error}; the figures are above"
    return None


def _exit_on(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _check_options(parser: argparse.ArgumentParser, options: argparse.Namespace) -> None:
    """Every argument checked before anything runs; a bad one exits 2 with the fix."""
    if options.repeat < 1:
        parser.error(f"--repeat must be 1 or more, not {options.repeat}")
    limit = step_timeout(max(options.scales), options.step_timeout)
    if not 0 < options.step_timeout < float("inf") or limit > MAX_STEP_TIMEOUT:
        parser.error(
            "--step-timeout must be a number of seconds above 0, and times the largest scale "
            f"at most {MAX_STEP_TIMEOUT:,.0f}; got {options.step_timeout:g}"
        )
    if options.workdir and options.workdir.exists() and not options.workdir.is_dir():
        parser.error(f"--workdir {options.workdir} is a file; give a folder")
    if options.workdir:
        # The seed's job appends: a previous run's folders would change the figures.
        taken = [
            str(scale_dir(options.workdir, s))
            for s in options.scales
            if scale_dir(options.workdir, s).exists()
        ]
        if taken:
            verb, pronoun = ("exists", "it") if len(taken) == 1 else ("exist", "them")
            parser.error(
                f"{', '.join(taken)} already {verb} (a previous run's); "
                f"give another --workdir, or move {pronoun} away"
            )
    if options.json:
        problem = _json_problem(options.json)
        if problem:
            parser.error(f"--json {options.json} {problem}")


def _json_problem(path: Path) -> str | None:
    """Why the figures could not be written to ``path`` at the end, found before the run:
    a file already there (never overwritten), or a folder that cannot be made or written in.
    Checked last, so a refused argument leaves no folder made."""
    if path.exists() or path.is_symlink():
        return "already exists; give another path or move it away"
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Creating a file is the one test of writing that holds for root and read-only mounts.
        probe, name = tempfile.mkstemp(dir=folder, prefix=".benchmark-probe-")
        os.close(probe)
        Path(name).unlink()
    except OSError as error:
        # mkdir's "File exists" for a file where the folder should be would mislead.
        why = " is a file" if folder.is_file() else f": {error.strerror or error}"
        return (
            f"cannot be written (its folder {folder}{why}); "
            "give a path in a folder you can write to"
        )
    return None


def _as_json(result: ScaleResult) -> Mapping[str, Any]:
    data = asdict(result)
    for name, step in result.steps.items():
        data["steps"][name]["rows_per_second"] = step.rows_per_second
    return data


if __name__ == "__main__":
    main()
