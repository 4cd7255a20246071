"""The sample-data generator writes the real dataset's files, headers, formats and quirks."""

from __future__ import annotations

import ast
import csv
import errno
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress
from spotify_glue.contract import ALBUMS, ARTISTS, FEATURES, TRACKS, SourceFile
from typer.testing import CliRunner

from spotify_ops import generate as generate_module
from spotify_ops.cli import app
from spotify_ops.exit_codes import ExitCode
from spotify_ops.generate import BYTES_PER_ALBUM_ROW, generate
from spotify_ops.generate_rows import (
    DEFAULT_SEED,
    DENORMALISED_HEADER,
    REAL_ALBUM_ROWS,
    REAL_ARTISTS,
    SAMPLE_ALBUM_ROWS,
)
from tests.cli.conftest import snapshot
from tests.conftest import SAMPLE_DIR

# Headers copied from DATA.md, so a drift in the contract or the generator fails here.
EXPECTED_HEADERS = {
    "spotify-albums_data_2023.csv": (
        "track_name,track_id,track_number,duration_ms,album_type,artists,total_tracks,"
        "album_name,release_date,label,album_popularity,album_id,artist_id,artist_0,artist_1,"
        "artist_2,artist_3,artist_4,artist_5,artist_6,artist_7,artist_8,artist_9,artist_10,"
        "artist_11,duration_sec"
    ),
    "spotify_artist_data_2023.csv": (
        "id,name,artist_popularity,artist_genres,followers,genre_0,genre_1,genre_2,genre_3,"
        "genre_4,genre_5,genre_6"
    ),
    "spotify_tracks_data_2023.csv": "id,track_popularity,explicit",
    "spotify_features_data_2023.csv": (
        "danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,"
        "liveness,valence,tempo,type,id,uri,track_href,analysis_url,duration_ms,time_signature"
    ),
}
DENORMALISED = "spotify_data_12_20_2023.csv"
ALBUM_ROWS = 6_000
ID_RE = re.compile(r"^[0-9A-Za-z]{22}$")
INT_RE = re.compile(r"^-?\d+$")


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate(out, ALBUM_ROWS, seed=7)
    return out


def _rows_fixture(source: SourceFile) -> Any:
    """A module fixture named after the source (``albums``, ...): its generated file's rows."""

    @pytest.fixture(scope="module", name=source.key)
    def rows(generated: Path) -> list[dict[str, str]]:
        """The generated file's rows, by header name."""
        return read_rows(generated / source.file_name)

    return rows


albums = _rows_fixture(ALBUMS)
artists = _rows_fixture(ARTISTS)
tracks = _rows_fixture(TRACKS)
features = _rows_fixture(FEATURES)


def test_writes_exactly_the_five_real_file_names(generated):
    """The output folder holds the five files, named exactly as the real dataset names them."""
    assert sorted(p.name for p in generated.iterdir()) == sorted([*EXPECTED_HEADERS, DENORMALISED])


@pytest.mark.parametrize("file_name", sorted(EXPECTED_HEADERS))
def test_header_is_exactly_the_real_one(generated, file_name):
    """Each job input file starts with the real header, byte for byte, and a newline."""
    first_line = (generated / file_name).read_text(encoding="utf-8").split("\n", 1)[0]
    assert first_line == EXPECTED_HEADERS[file_name]


def test_every_row_parses_to_the_header_width(generated):
    """Quoting is right: every data row of every file parses into as many fields as its header."""
    for path in generated.iterdir():
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            width = len(next(reader))
            widths = Counter(len(row) for row in reader)
        assert widths.keys() == {width}, path.name


def test_denormalised_file_is_49_columns_wide(generated):
    """The pre-joined file has the real file's 49 columns and rows no more than the albums."""
    rows = read_rows(generated / DENORMALISED)
    assert len(DENORMALISED_HEADER) == 49
    assert list(rows[0].keys()) == list(DENORMALISED_HEADER)
    assert 0.7 * ALBUM_ROWS < len(rows) < ALBUM_ROWS


def test_album_rows_are_exact_and_other_files_follow_real_ratios(albums, artists, tracks, features):
    """The albums file has exactly the rows asked for; artists, tracks and features scale in
    the real dataset's ratios (about one track row and one features row per unique track)."""
    assert len(albums) == ALBUM_ROWS
    assert len(artists) == round(ALBUM_ROWS * REAL_ARTISTS / REAL_ALBUM_ROWS)
    unique_tracks = len({a["track_id"] for a in albums})
    assert 0.98 * unique_tracks < len(tracks) <= 1.01 * unique_tracks
    assert 0.93 * unique_tracks < len(features) < unique_tracks
    albums_per_row = len({a["album_id"] for a in albums}) / ALBUM_ROWS
    assert albums_per_row == pytest.approx(78_172 / REAL_ALBUM_ROWS, rel=0.15)


def test_value_formats_match_the_real_files(albums, tracks, features):
    """Dates look like '2016-11-10 00:00:00 UTC', ids are 22 base-62 characters, album_type is
    album/single/compilation, explicit is true/false and duration_sec is a float."""
    date_re = re.compile(r"^\d{4}-\d{2}-\d{2} 00:00:00 UTC$")
    assert all(date_re.match(a["release_date"]) for a in albums)
    assert all(ID_RE.match(a["track_id"]) and ID_RE.match(a["artist_id"]) for a in albums)
    assert {a["album_type"] for a in albums} == {"album", "single", "compilation"}
    assert {t["explicit"] for t in tracks} == {"true", "false"}
    floats = [a["duration_sec"] for a in albums if re.match(r"^\d+\.\d+$", a["duration_sec"])]
    assert len(floats) > 0.99 * len(albums)
    assert all(f["uri"] == f"spotify:track:{f['id']}" for f in features)
    assert any("e-" in f["instrumentalness"] for f in features)


def test_track_names_hold_commas_and_doubled_quotes_at_real_rates(generated, albums):
    """About 5.7% of track names hold a comma and about 1% a double quote, which the file
    escapes by doubling it inside a quoted field."""
    names = [a["track_name"] for a in albums]
    comma_rate = sum("," in n for n in names) / len(names)
    quote_rate = sum('"' in n for n in names) / len(names)
    assert 0.04 < comma_rate < 0.08
    assert 0.005 < quote_rate < 0.02
    raw = (generated / "spotify-albums_data_2023.csv").read_text(encoding="utf-8")
    assert '""' in raw


def test_artists_and_genres_are_python_list_strings(albums, artists):
    """artists and artist_genres are Python-list strings; an artist credit list with several
    names holds commas; about 70% of artists have an empty genre list."""
    credits = [ast.literal_eval(a["artists"]) for a in albums]
    assert all(isinstance(c, list) and c for c in credits)
    assert any(len(c) > 1 for c in credits)
    genres = [ast.literal_eval(a["artist_genres"]) for a in artists]
    empty_rate = sum(g == [] for g in genres) / len(genres)
    assert 0.6 < empty_rate < 0.8
    for artist, listed in zip(artists, genres, strict=True):
        columns = [artist[f"genre_{i}"] for i in range(7)]
        assert columns[: len(listed)] == listed
        assert not any(columns[len(listed) :])


def test_names_include_accents_cjk_emoji_and_commas(albums, artists):
    """Track and artist names carry accents, CJK characters and emoji; some artist names hold a
    comma, like 'Emerson, Lake & Palmer'."""
    text = " ".join(a["track_name"] for a in albums) + " ".join(a["name"] for a in artists)
    assert re.search(r"[À-ÿ]", text)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]", text)
    assert re.search(r"[\U0001F300-\U0001FAFF]", text)
    assert any("," in a["name"] for a in artists)


def test_duplicate_track_ids_appear_in_albums_and_tracks(albums, tracks):
    """Some track ids repeat in the albums file and in the tracks file, as in the real data."""
    album_dupes = len(albums) - len({a["track_id"] for a in albums})
    track_dupes = len(tracks) - len({t["id"] for t in tracks})
    assert 0 < album_dupes < 0.01 * len(albums)
    assert 0 < track_dupes < 0.01 * len(tracks)


def test_some_album_rows_lack_an_artist_or_a_popularity_row(albums, artists, tracks):
    """A small share of album rows name an artist with no artist row or a track with no tracks
    row: the job's inner joins drop them, well within the default 10% join-loss gate."""
    artist_ids = {a["id"] for a in artists}
    track_ids = {t["id"] for t in tracks}
    no_artist = sum(a["artist_id"] not in artist_ids for a in albums) / len(albums)
    no_track = sum(a["track_id"] not in track_ids for a in albums) / len(albums)
    assert 0 < no_artist < 0.04
    assert 0 < no_track < 0.02


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_numeric_columns_occasionally_hold_junk(albums, artists, tracks, features):
    """A few rows of every file hold text in a numeric column, well within the 5% quarantine
    gate."""
    numeric = {
        "albums": (albums, ("track_number", "duration_ms", "total_tracks", "album_popularity")),
        "artists": (artists, ("followers", "artist_popularity")),
        "tracks": (tracks, ("track_popularity",)),
        "features": (features, ("danceability", "loudness", "tempo", "duration_ms")),
    }
    for name, (rows, columns) in numeric.items():
        junk = sum(any(not is_number(r[c]) for c in columns) for r in rows)
        assert 0 < junk < 0.02 * len(rows), name


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path):
    """Output is deterministic for a seed, and the seed matters."""
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(first, 1500, seed=11)
    generate(second, 1500, seed=11)
    generate(other, 1500, seed=12)
    for path in first.iterdir():
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
        assert path.read_bytes() != (other / path.name).read_bytes(), path.name


def test_committed_sample_is_reproduced_by_the_generator_and_small(tmp_path):
    """data/sample/ is exactly what the generator makes for the documented rows and seed, and
    stays under 2 MB."""
    summary = generate(tmp_path, SAMPLE_ALBUM_ROWS, DEFAULT_SEED)
    committed = sorted(p.name for p in SAMPLE_DIR.glob("*.csv"))
    assert committed == sorted(f.file_name for f in summary.files)
    for name in committed:
        assert (SAMPLE_DIR / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert sum((SAMPLE_DIR / n).stat().st_size for n in committed) < 2_000_000


def test_summary_counts_rows_and_bytes(tmp_path):
    """The summary reports each file's data rows (header excluded) and its size on disk."""
    summary = generate(tmp_path, 300, seed=1)
    for stats in summary.files:
        path = tmp_path / stats.file_name
        assert stats.bytes == path.stat().st_size
        assert stats.rows == len(read_rows(path))
    assert summary.total_bytes == sum(f.bytes for f in summary.files)


def test_rejects_a_non_positive_row_count(tmp_path):
    """Asking for zero album rows is an error that names the argument."""
    with pytest.raises(ValueError, match="album_rows"):
        generate(tmp_path, 0)


def test_cli_generate_writes_the_files_and_prints_a_summary(tmp_path):
    """`spotify-ops generate` writes the five files and prints each one's rows and bytes."""
    out = tmp_path / "gen"
    result = CliRunner().invoke(
        app, ["generate", "--out", str(out), "--album-rows", "250", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.csv"))) == 5
    albums = out / "spotify-albums_data_2023.csv"
    assert len(read_rows(albums)) == 250
    flat = " ".join(result.output.split())
    assert f"spotify-albums_data_2023.csv │ 250 │ {albums.stat().st_size:,}" in flat


def test_cli_generate_rejects_zero_rows(tmp_path):
    """A non-positive --album-rows is a usage error that names the option."""
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--album-rows", "0"])
    assert result.exit_code == ExitCode.USAGE
    assert "--album-rows" in result.output


def _a_file(tmp: Path) -> Path:
    path = tmp / "sample.csv"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


def _a_dangling_link(tmp: Path) -> Path:
    link = tmp / "data"
    link.symlink_to(tmp / "gone")
    return link


@pytest.mark.parametrize(
    ("out_of", "message"),
    [
        (_a_file, "is a file; give a folder (it is created if missing)"),
        (lambda tmp: _a_file(tmp) / "sub", "Not a directory; choose a folder you can write to"),
        (lambda tmp: Path("/proc/spotify-ops-generate"), "choose a folder you can write to"),
        (_a_dangling_link, "which does not exist; create that folder or give another"),
    ],
)
def test_cli_generate_refuses_an_unusable_out_in_one_line(tmp_path, out_of, message):
    """--out naming a file, a path below a file or an uncreatable folder (/proc) exits 2 with
    one line naming the fix, and changes nothing."""
    out = out_of(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--album-rows", "5"])
    assert result.exit_code == ExitCode.USAGE
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("generate failed: ")
    assert str(out) in lines[0]
    assert message in lines[0]
    assert snapshot(tmp_path) == before


def test_cli_generate_interrupted_leaves_the_previous_files(tmp_path, monkeypatch):
    """Ctrl-C while generating exits 130 with one line; the files of an earlier run in --out
    keep their bytes, and no partial file or scratch folder is left."""
    out = tmp_path / "gen"
    generate(out, 40, seed=1)
    before = snapshot(out)

    def interrupt(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "update", interrupt)
    result = CliRunner().invoke(
        app, ["generate", "--out", str(out), "--album-rows", "300", "--replace"]
    )
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.output.strip().splitlines() == [
        f"generate interrupted: nothing in {out} was written or replaced"
    ]
    assert snapshot(out) == before


def test_cli_generate_write_error_exits_3_and_keeps_the_previous_files(tmp_path, monkeypatch):
    """A write that fails midway (here: the disk is full) exits 3 with one line naming the
    cause; the files of an earlier run keep their bytes and no scratch folder is left."""
    out = tmp_path / "gen"
    generate(out, 40, seed=1)
    before = snapshot(out)

    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Progress, "update", disk_full)
    result = CliRunner().invoke(
        app, ["generate", "--out", str(out), "--album-rows", "300", "--replace"]
    )
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert result.output.strip().splitlines() == [
        f"generate failed: No space left on device while writing to {out}; nothing there was "
        "replaced"
    ]
    assert snapshot(out) == before


@pytest.mark.parametrize(
    ("failure", "code"),
    [(KeyboardInterrupt(), ExitCode.INTERRUPTED), (OSError(errno.ENOSPC, "full"), 3)],
    ids=["ctrl-c", "disk full"],
)
def test_cli_generate_that_writes_nothing_leaves_no_new_folder(
    tmp_path, monkeypatch, failure, code
):
    """Ctrl-C or a failed write into a new --out removes the empty folders the run made for
    it, as a refused request does."""

    def fail(*_args, **_kwargs):
        raise failure

    monkeypatch.setattr(Progress, "update", fail)
    out = tmp_path / "new" / "gen"
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--album-rows", "300"])
    assert result.exit_code == code
    assert list(tmp_path.iterdir()) == []


def test_the_space_estimate_holds_for_the_generated_files(generated):
    """``BYTES_PER_ALBUM_ROW``, which sizes a request against the free space, is within 5% of
    what the generator writes per album row."""
    written = sum(path.stat().st_size for path in generated.glob("*.csv"))
    assert written / ALBUM_ROWS == pytest.approx(BYTES_PER_ALBUM_ROW, rel=0.05)


def _must_not_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("generate ran: it would write until the disk is full")


def test_cli_generate_refuses_more_rows_than_the_disk_holds_in_one_line(tmp_path, monkeypatch):
    """--album-rows beyond the free space exits 2 before writing, with one line naming the
    size, the free space and the most rows that fit; a previous file is left as it was."""

    monkeypatch.setattr(generate_module, "generate", _must_not_run)
    out = tmp_path / "gen"
    out.mkdir()
    (out / "spotify-albums_data_2023.csv").write_text("previous\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = CliRunner().invoke(
        app, ["generate", "--out", str(out), "--album-rows", str(10**30), "--replace"]
    )
    assert result.exit_code == ExitCode.USAGE, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("generate failed: --album-rows 1,000,000,000,000,000,000")
    assert "free; ask for at most" in lines[0]
    assert snapshot(tmp_path) == before


def test_cli_generate_refused_for_disk_space_creates_no_out_folder(tmp_path, monkeypatch):
    """A request refused for its size leaves no trace: the --out it names (and its parents)
    are not created."""
    monkeypatch.setattr(generate_module, "generate", _must_not_run)
    out = tmp_path / "new" / "gen"
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--album-rows", str(10**30)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "free; ask for at most" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_generate_refuses_an_out_holding_files_of_its_names_without_replace(tmp_path):
    """An --out that already holds one of the five file names (the real Kaggle files, say) is
    refused with exit 2 and one line naming the files and --replace; nothing changes."""
    out = tmp_path / "spotify-2023"
    out.mkdir()
    (out / "spotify_artist_data_2023.csv").write_text("the user's real file\n", encoding="utf-8")
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--album-rows", "20"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.output.strip().splitlines() == [
        f"generate failed: --out {out} already holds spotify_artist_data_2023.csv; give "
        "--replace to replace them (once all five new files are written), or choose another "
        "folder"
    ]
    assert snapshot(tmp_path) == before


def test_cli_generate_with_replace_replaces_the_files_of_its_names(tmp_path):
    """With --replace the five files are written over earlier ones; other files stay."""
    out = tmp_path / "gen"
    generate(out, 40, seed=1)
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    before = snapshot(out)
    result = CliRunner().invoke(
        app, ["generate", "--out", str(out), "--album-rows", "30", "--replace"]
    )
    assert result.exit_code == 0, result.output
    after = snapshot(out)
    assert after["notes.txt"] == before["notes.txt"]
    assert all(after[name] != before[name] for name in generate_module.FILE_NAMES)


def test_cli_generate_never_replaces_a_folder_named_like_its_files(tmp_path):
    """A folder under one of the file names is refused even with --replace, with exit 2 and
    one line naming it."""
    out = tmp_path / "gen"
    (out / "spotify_artist_data_2023.csv").mkdir(parents=True)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(
        app, ["generate", "--out", str(out), "--album-rows", "20", "--replace"]
    )
    assert result.exit_code == ExitCode.USAGE, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "spotify_artist_data_2023.csv is a folder" in lines[0]
    assert snapshot(tmp_path) == before
