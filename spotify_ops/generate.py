"""Synthetic "Spotify Dataset 2023" CSVs with the real files' names, headers, formats and quirks.

The real files cannot be redistributed, so the pipeline is exercised on look-alikes: the same
five file names and headers, the same value formats (``2016-11-10 00:00:00 UTC`` dates,
Python-list strings, ``true``/``false``), and the quirks the job must survive: quoted commas,
doubled quotes, accents/CJK/emoji, empty genre lists, duplicate keys, album rows whose artist or
popularity row is missing, tracks without audio features, and junk in numeric columns.

Generation streams: one album at a time goes to every file, so memory stays flat at any scale.
Artists are derived from their index alone (a per-index seeded RNG), which lets the album
stream name an artist without holding the artist table. Output is byte-for-byte deterministic
for a seed.

The parts: generate_vocabulary (word and value pools), generate_rows (scale, quirk rates and
the rows); this module writes the files and is the command.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from spotify_glue.contract import ALBUMS, ARTISTS, DENORMALISED_FILE_NAME, FEATURES, TRACKS

from spotify_ops.exit_codes import ExitCode
from spotify_ops.generate_rows import (
    DEFAULT_QUIRKS,
    DEFAULT_SEED,
    DENORMALISED_HEADER,
    QuirkRates,
    RowGenerator,
)

# Re-exported: callers size a full-scale run by it.
from spotify_ops.generate_rows import REAL_ALBUM_ROWS as REAL_ALBUM_ROWS


@dataclass(frozen=True)
class FileStats:
    file_name: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class GenerateSummary:
    out_dir: Path
    album_rows: int
    seed: int
    files: tuple[FileStats, ...]
    seconds: float

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def album_rows_per_second(self) -> float:
        return self.album_rows / self.seconds if self.seconds > 0 else float("inf")


FILE_NAMES: Final = (
    ALBUMS.file_name,
    ARTISTS.file_name,
    TRACKS.file_name,
    FEATURES.file_name,
    DENORMALISED_FILE_NAME,
)
"""The five files, in the order the summary lists them."""


def _write_files(
    rows: RowGenerator, out_dir: Path, progress: Callable[[int], None] | None
) -> list[FileStats]:
    """Write the files in a scratch folder inside ``out_dir``, then move each into place:
    an interrupted or failed run leaves the previous files, never a part of one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(dir=out_dir, prefix=".partial-generate-") as scratch,
        ExitStack() as stack,
    ):
        partial = Path(scratch)

        def open_csv(name: str, header: Sequence[str]) -> Any:
            handle: TextIO = stack.enter_context(
                (partial / name).open("w", encoding="utf-8", newline="", buffering=1 << 20)
            )
            writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
            writer.writerow(header)
            return writer

        artists_w = open_csv(ARTISTS.file_name, ARTISTS.header)
        counts[ARTISTS.file_name] = 0
        for row in rows.artist_rows():
            artists_w.writerow(row)
            counts[ARTISTS.file_name] += 1
        counts.update(
            rows.write_album_stream(
                open_csv(ALBUMS.file_name, ALBUMS.header),
                open_csv(TRACKS.file_name, TRACKS.header),
                open_csv(FEATURES.file_name, FEATURES.header),
                open_csv(DENORMALISED_FILE_NAME, DENORMALISED_HEADER),
                progress,
            )
        )
        stack.close()
        for name in counts:
            (partial / name).replace(out_dir / name)
    return [FileStats(name, counts[name], (out_dir / name).stat().st_size) for name in FILE_NAMES]


def generate(
    out_dir: Path,
    album_rows: int = REAL_ALBUM_ROWS,
    seed: int = DEFAULT_SEED,
    quirks: QuirkRates = DEFAULT_QUIRKS,
    progress: Callable[[int], None] | None = None,
) -> GenerateSummary:
    """Write the five Spotify-2023 files into ``out_dir`` (created if needed, files replaced).

    ``album_rows`` is the exact number of data rows in the albums file; the other files scale
    with it in the real dataset's ratios. ``progress`` is called with album rows written so far.
    """
    if album_rows < 1:
        raise ValueError(f"album_rows must be at least 1, got {album_rows}")
    started = time.perf_counter()
    files = _write_files(RowGenerator(album_rows, seed, quirks), out_dir, progress)
    return GenerateSummary(
        out_dir=out_dir,
        album_rows=album_rows,
        seed=seed,
        files=tuple(files),
        seconds=time.perf_counter() - started,
    )


# --- CLI ------------------------------------------------------------------------------------


def format_summary(summary: GenerateSummary) -> Table:
    table = Table(title=f"Generated into {summary.out_dir} (seed {summary.seed})")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("bytes", justify="right")
    for f in summary.files:
        table.add_row(f.file_name, f"{f.rows:,}", f"{f.bytes:,}")
    table.add_row(
        "total",
        "",
        f"{summary.total_bytes:,}",
        end_section=True,
    )
    table.caption = (
        f"{summary.album_rows:,} album rows in {summary.seconds:.1f} s "
        f"({summary.album_rows_per_second:,.0f} rows/s)"
    )
    return table


BYTES_PER_ALBUM_ROW: Final = 835
"""What the five files take per album row (16,698,950 bytes for 20,000 rows, 367 MB at the real
scale); a test holds the generator to it."""


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_space_problem(out: Path, album_rows: int) -> str | None:
    """Why ``album_rows`` cannot fit where ``--out`` is, naming the fix; None when it fits.
    The files replace any of the same names only once all five are written, so the space
    must be free beside them."""
    needed = album_rows * BYTES_PER_ALBUM_ROW
    free = shutil.disk_usage(_nearest_existing(out)).free
    if needed <= free:
        return None
    return (
        f"--album-rows {album_rows:,} would write about {needed / 1e9:,.1f} GB "
        f"({BYTES_PER_ALBUM_ROW} bytes per album row), but {out} has {free / 1e9:,.1f} GB "
        f"free; ask for at most {free // BYTES_PER_ALBUM_ROW:,} album rows or free some space"
    )


def existing_files_problem(out: Path, replace: bool) -> str | None:
    """Why generating into ``out`` would replace what is there, naming the fix; None when
    nothing of the five files' names is there, or ``replace`` allows their replacement. A
    folder under one of the names is never replaced."""
    present = [name for name in FILE_NAMES if (out / name).exists() or (out / name).is_symlink()]
    folders = [name for name in present if (out / name).is_dir()]
    if folders:
        return (
            f"{out / folders[0]} is a folder, where generate writes a file of that name; move "
            "it or choose another --out"
        )
    if present and not replace:
        return (
            f"--out {out} already holds {', '.join(present)}; give --replace to replace them "
            "(once all five new files are written), or choose another folder"
        )
    return None


def out_folder_problem(out: Path) -> str | None:
    """Why ``--out`` cannot take the files, naming the fix; None when it can (it is then
    created, with its parents)."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; give a folder (it is created if missing)"
    if out.is_symlink() and not out.exists():
        return (
            f"--out {out} is a link to {out.readlink()}, which does not exist; create that "
            "folder or give another"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or str(error)
        return f"cannot create --out {out}: {reason}; choose a folder you can write to"
    if not os.access(out, os.W_OK | os.X_OK):
        return f"cannot write to --out {out}: permission denied; choose a folder you can write to"
    return None


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove the folders a run created that are still empty, innermost first: a refused or
    failed run leaves none behind; one that holds anything (the files, or something someone
    else wrote there meanwhile) stays."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def generate_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the five CSV files into.")],
    album_rows: Annotated[
        int,
        typer.Option(
            "--album-rows",
            min=1,
            help=f"Data rows in the albums file; the real dataset has {REAL_ALBUM_ROWS:,}.",
        ),
    ] = REAL_ALBUM_ROWS,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = DEFAULT_SEED,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace files of the same names in --out (once all five new ones are "
            "written); without it generate refuses an --out that holds any.",
        ),
    ] = False,
) -> None:
    """Write synthetic Spotify-2023 CSVs with the real files' names, headers and quirks.

    An --out that already holds files of those names is refused unless --replace is given."""
    console = Console()
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    # Folders this run creates for --out; a run that ends without its files removes them.
    created = [folder for folder in (out, *out.absolute().parents) if not folder.exists()]
    try:
        summary = _generate_checked(out, album_rows, seed, replace, console, errors)
    finally:
        _remove_empty(created)  # only empty ones: after a success, none of them is
    console.print(format_summary(summary))


def _generate_checked(
    out: Path, album_rows: int, seed: int, replace: bool, console: Console, errors: Console
) -> GenerateSummary:
    """The command's checks, then the files; each refusal or failure as one line and its exit
    code."""
    problem = (
        existing_files_problem(out, replace)
        or out_folder_problem(out)
        or disk_space_problem(out, album_rows)
    )
    if problem is not None:
        errors.print(f"[bold red]generate failed:[/bold red] {escape(problem)}")
        raise typer.Exit(ExitCode.USAGE)
    try:
        with Progress(
            TextColumn("generating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("albums", total=album_rows)
            summary = generate(
                out, album_rows, seed, progress=lambda done: bar.update(task, completed=done)
            )
    except KeyboardInterrupt:
        errors.print(
            f"[bold red]generate interrupted:[/bold red] nothing in {escape(str(out))} "
            "was written or replaced"
        )
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except OSError as error:
        reason = escape(error.strerror or str(error))
        errors.print(
            f"[bold red]generate failed:[/bold red] {reason} while writing to "
            f"{escape(str(out))}; nothing there was replaced"
        )
        raise typer.Exit(ExitCode.ENVIRONMENT) from None
    return summary
