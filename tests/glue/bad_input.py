"""Bad input for the job, one record per defect, each with its known fate.

Records are built as values in header order and written with Python's csv module (RFC 4180
quoting), or as raw bytes where the defect is in the bytes themselves.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from spotify_glue.contract import ALBUMS, ARTISTS, FEATURES, TRACKS, SourceFile

from tests.glue.conftest import write_staging


def csv_record(values: list[str]) -> str:
    """One record in RFC 4180 quoting, without its line break."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()[:-1]


def album_values(track_id: str, **values: str) -> list[str]:
    """A valid album record for artist ar2 (Beyoncé), with some values replaced."""
    row = {
        "track_name": f"Song {track_id}",
        "track_id": track_id,
        "track_number": "1",
        "duration_ms": "200000",
        "album_type": "album",
        "artists": "['Beyoncé']",
        "total_tracks": "10",
        "album_name": f"Album {track_id}",
        "release_date": "2016-11-10 00:00:00 UTC",
        "label": "Columbia",
        "album_popularity": "50",
        "album_id": f"al-{track_id}",
        "artist_id": "ar2",
        "artist_0": "Beyoncé",
        "duration_sec": "200.0",
        **values,
    }
    return [row.get(name, "") for name in ALBUMS.header]


def album(track_id: str, **values: str) -> str:
    return csv_record(album_values(track_id, **values))


def features(track_id: str, **values: str) -> str:
    row = {
        "danceability": "0.5",
        "energy": "0.5",
        "key": "5",
        "loudness": "-6.0",
        "mode": "1",
        "speechiness": "0.1",
        "acousticness": "0.2",
        "instrumentalness": "0.0",
        "liveness": "0.3",
        "valence": "0.4",
        "tempo": "120.0",
        "type": "audio_features",
        "id": track_id,
        "uri": f"spotify:track:{track_id}",
        "track_href": f"https://api.spotify.com/v1/tracks/{track_id}",
        "analysis_url": f"https://api.spotify.com/v1/audio-analysis/{track_id}",
        "duration_ms": "200000",
        "time_signature": "4",
        **values,
    }
    return csv_record([row[name] for name in FEATURES.header])


@dataclass(frozen=True)
class Published:
    """A record that must reach the table with these exact values."""

    track_id: str
    values: dict[str, object]


@dataclass(frozen=True)
class Quarantined:
    """A record that must be quarantined once, with this reason and exactly this raw text."""

    source: str
    reason: str
    raw: str


@dataclass
class BadInput:
    """Extra records appended (as bytes) to the files of tests/glue/conftest.py."""

    records: dict[str, list[bytes]] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    def add(self, source: SourceFile, record: str | bytes) -> None:
        data = record.encode("utf-8") if isinstance(record, str) else record
        self.records.setdefault(source.key, []).append(data)

    def publish(self, track_id: str, record: str | None = None, **values: object) -> None:
        """A valid album record (with its tracks row) whose values must be published."""
        text = (
            record
            if record is not None
            else album(track_id, **{k: str(v) for k, v in values.items()})
        )
        self.add(ALBUMS, text)
        self.add(TRACKS, f"{track_id},60,false")
        self.published.append(Published(track_id, values))

    def quarantine(self, source: SourceFile, record: str, reason: str) -> None:
        self.add(source, record)
        self.quarantined.append(Quarantined(source.key, reason, record))

    def write(self, folder: Path) -> Path:
        staging = write_staging(folder)
        for source in (ALBUMS, ARTISTS, TRACKS, FEATURES):
            path = staging / source.file_name
            extra = b"".join(record + b"\n" for record in self.records.get(source.key, []))
            path.write_bytes(path.read_bytes() + extra)
        return staging
