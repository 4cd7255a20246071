"""Staged files from album records with CSV quirks and defects, and what the job must make of
them. Used by a seeded fuzzer (default suite) and by hypothesis (slow suite).

Every album record has a unique track id, an artist row and a tracks row, so a record that is
not quarantined must be published, with exactly its values. A record carries at most one
defect, whose quarantine reason is known; quirks (quotes, commas, line breaks and CRs inside
fields, non-ASCII text, a real U+FFFD, BOM, CRLF, blank lines) must change nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spotify_glue.contract import ALBUMS, ARTISTS, FEATURES, TRACKS
from spotify_glue.records import MAX_RECORD_BYTES, NOT_UTF8, TOO_LONG

TEXT_ALPHABET = "ab Z,\"\n\r'[]é日🎶\ufffd"
"""Characters that stress CSV: the separator, quotes, line breaks, a lone CR, multi-byte
UTF-8 of every length, and a U+FFFD that really is in the file."""
TEXT_COLUMNS = ("track_name", "album_name", "label")
ARTIST = "ar1,Fuzz Artist,50,[],100,,,,,,,"


@dataclass(frozen=True)
class Quirks:
    """Whole-file quirks of the albums file."""

    bom: bool = False
    crlf: bool = False
    blank_lines: bool = False
    final_newline: bool = True


@dataclass(frozen=True)
class Album:
    track_id: str
    values: dict[str, str]
    """Every album column's text as written (before any defect)."""
    defect: str | None = None
    """A key of DEFECTS, or None for a record that must be published."""


def _replace(column: str, value: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda values: {**values, column: value}


DEFECTS: dict[str, tuple[Callable[[dict[str, str]], dict[str, str]], str]] = {
    "ancient date": (
        _replace("release_date", "0216-11-10 00:00:00 UTC"),
        "release_date outside its domain",
    ),
    "future date": (_replace("release_date", "2999-01-01"), "release_date outside its domain"),
    "negative popularity": (
        _replace("album_popularity", "-3"),
        "album_popularity outside its domain",
    ),
    "popularity over 100": (
        _replace("album_popularity", "101"),
        "album_popularity outside its domain",
    ),
    "1e999": (_replace("duration_sec", "1e999"), "duration_sec outside its domain"),
    "Infinity": (_replace("duration_sec", "Infinity"), "duration_sec outside its domain"),
    "-Infinity": (_replace("duration_sec", "-Infinity"), "duration_sec outside its domain"),
    "NaN": (_replace("duration_sec", "NaN"), "duration_sec outside its domain"),
    "zero duration": (_replace("duration_ms", "0"), "duration_ms outside its domain"),
    "track number 0": (_replace("track_number", "0"), "track_number outside its domain"),
    "album type": (_replace("album_type", "EP"), "album_type outside its domain"),
    "junk int": (_replace("duration_ms", "12x"), "duration_ms is not a valid int"),
    "too long": (_replace("track_name", "y" * (MAX_RECORD_BYTES + 1)), TOO_LONG),
    "latin-1": (lambda values: {**values, **dict.fromkeys(TEXT_COLUMNS, "Café")}, NOT_UTF8),
    "too many fields": (lambda values: values, "wrong field count"),
    "too few fields": (lambda values: values, "wrong field count"),
}


def csv_record(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()[:-1]


def record_bytes(album: Album) -> bytes:
    """The album's record as written, defect applied, without its line break."""
    values = album.values
    if album.defect is not None:
        values = DEFECTS[album.defect][0](values)
    fields = [values.get(name, "") for name in ALBUMS.header]
    if album.defect == "too many fields":
        fields += ["x"] * 25_000
    if album.defect == "too few fields":
        fields = fields[:5]
    text = csv_record(fields)
    return text.encode("latin-1" if album.defect == "latin-1" else "utf-8")


def album_values(track_id: str, rng: random.Random, text: Callable[[], str]) -> dict[str, str]:
    """Valid values for every album column, text columns from ``text``."""
    duration_ms = rng.randint(1, 900_000)
    day = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(45_000))
    date = f"{day.isoformat()} 00:00:00 UTC" if rng.random() < 0.8 else day.isoformat()
    return {
        **{column: text() for column in TEXT_COLUMNS},
        "track_id": track_id,
        "track_number": str(rng.randint(1, 40)),
        "duration_ms": str(duration_ms),
        "album_type": rng.choice(("album", "single", "compilation")),
        "artists": "['Fuzz Artist']",
        "total_tracks": str(rng.randint(1, 40)),
        "release_date": date,
        "album_popularity": str(rng.randint(0, 100)),
        "album_id": f"al-{track_id}",
        "artist_id": "ar1",
        "artist_0": "Fuzz Artist",
        "duration_sec": repr(duration_ms / 1000),
    }


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(TEXT_ALPHABET) for _ in range(rng.randint(1, 12)))


def random_albums(rng: random.Random, count: int, defect_rate: float = 0.3) -> list[Album]:
    albums = []
    for i in range(count):
        track_id = f"z{i}"
        values = album_values(track_id, rng, lambda: random_text(rng))
        defect = rng.choice(sorted(DEFECTS)) if rng.random() < defect_rate else None
        albums.append(Album(track_id, values, defect))
    return albums


@dataclass
class Staged:
    folder: Path
    albums: list[Album]
    raws: dict[str, bytes] = field(default_factory=dict)
    """Each album's record bytes, by track id."""

    @property
    def published(self) -> list[Album]:
        return [a for a in self.albums if a.defect is None]

    @property
    def quarantined(self) -> list[Album]:
        return [a for a in self.albums if a.defect is not None]


def stage(folder: Path, albums: list[Album], quirks: Quirks) -> Staged:
    """Write the four sources: the albums with their quirks, one artist, a tracks row for
    every album, and no audio features."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = Staged(folder, albums)
    newline = b"\r\n" if quirks.crlf else b"\n"
    lines = [",".join(ALBUMS.header).encode()]
    for album in albums:
        staged.raws[album.track_id] = record_bytes(album)
        if quirks.blank_lines:
            lines.append(b"")
        lines.append(staged.raws[album.track_id])
    body = newline.join(lines) + (newline if quirks.final_newline else b"")
    (folder / ALBUMS.file_name).write_bytes((b"\xef\xbb\xbf" if quirks.bom else b"") + body)
    tracks = [f"{a.track_id},50,false" for a in albums]
    for source, rows in ((ARTISTS, [ARTIST]), (TRACKS, tracks), (FEATURES, [])):
        text = "\n".join([",".join(source.header), *rows]) + "\n"
        (folder / source.file_name).write_text(text, encoding="utf-8")
    return staged
