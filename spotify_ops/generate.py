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
"""

from __future__ import annotations

import csv
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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

# --- Scale of the real dataset (DATA.md) ------------------------------------------------------

REAL_ALBUM_ROWS: Final = 438_938
REAL_ARTISTS: Final = 37_012
DEFAULT_SEED: Final = 2023
SAMPLE_ALBUM_ROWS: Final = 2_000
"""Album rows of the committed data/sample/ set (regenerate with the same seed)."""

ARTISTS_PER_ALBUM_ROW: Final = REAL_ARTISTS / REAL_ALBUM_ROWS

DENORMALISED_HEADER: Final[tuple[str, ...]] = (
    "track_id",
    "track_name",
    "track_number",
    "track_popularity",
    "explicit",
    "duration_ms",
    "duration_sec",
    "album_id",
    "album_name",
    "album_type",
    "total_tracks",
    "album_popularity",
    "release_date",
    "label",
    "artists",
    "artist_id",
    "name",
    "artist_popularity",
    "followers",
    "artist_genres",
    *(f"genre_{i}" for i in range(7)),
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
    "uri",
    *(f"artist_{i}" for i in range(9)),
)
"""An approximation: DATA.md gives the real file's width (49) but not its header, so this is
the albums, artists, tracks and features columns pre-joined. The job does not read the file."""


@dataclass(frozen=True)
class QuirkRates:
    """How often each quirk appears. Small enough that the default quality gate passes
    (quarantine <= 5%, join loss <= 10%), large enough that a few thousand rows show each."""

    orphan_artist_album: float = 0.012
    """Albums whose artist id has no row in the artists file (dropped by the inner join)."""
    track_without_popularity: float = 0.005
    """Tracks with no row in the tracks file (dropped by the inner join)."""
    track_without_features: float = 0.03
    """Tracks with no audio-features row (kept by the job's left join)."""
    duplicate_album_row: float = 0.004
    """Album rows repeated with the same track_id (half exact copies, half re-crawled)."""
    duplicate_track_row: float = 0.002
    """Rows of the tracks file repeated with the same id."""
    junk_numeric: float = 0.003
    """Rows per file whose numeric column holds text such as ``N/A``."""
    empty_genres: float = 0.70
    """Artists whose genre list is ``[]``."""
    featured_artists: float = 0.15
    """Albums credited to more than one artist."""
    denormalised_keep: float = 0.87
    """Joinable tracks that appear in the pre-joined file (about 375k of 439k in the real set)."""


DEFAULT_QUIRKS: Final = QuirkRates()

JUNK_VALUES: Final = ("N/A", "unknown", "#VALUE!", "12abc", "-", "?", "1,5")

# --- Word pools (fixed, so output depends only on the seed) ---------------------------------

_B62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# 4096 two-character chunks: an id is 11 chunks cut from 132 random bits.
_PAIRS: Final = tuple(_B62[(i // 62) % 62] + _B62[i % 62] for i in range(4096))
_ID_SHIFTS: Final = tuple(range(0, 132, 12))

_WORDS: Final = (
    "love", "night", "heart", "fire", "dream", "summer", "rain", "light", "gold", "ghost",
    "river", "city", "moon", "dance", "shadow", "home", "wild", "blue", "electric", "honey",
    "midnight", "echo", "paper", "velvet", "storm", "ocean", "neon", "forever", "broken",
    "silver", "sugar", "highway", "crystal", "thunder", "paradise", "angel", "magic", "stranger",
    "diamond", "tonight", "daylight", "mirror", "wolves", "satellite", "horizon", "caravan",
)  # fmt: skip
_ACCENTED: Final = (
    "Corazón", "Canción", "Mañana", "Café", "Été", "Über", "Noël", "São Paulo", "Fiancé",
    "Déjà Vu", "Señorita", "Björk", "Ångström", "Łódź", "Zürich", "Piñata",
)  # fmt: skip
_CJK: Final = (
    "夜に駆ける", "紅蓮華", "晴天", "夢", "桜", "青春", "사랑해", "봄날", "다이너마이트",
    "月亮代表我的心", "稻香", "春よ、来い", "残酷な天使のテーゼ", "アイドル", "小さな恋のうた",
)  # fmt: skip
_EMOJI: Final = ("🔥", "💔", "🌙", "✨", "🎶", "😈", "🌊", "❤️", "🚀", "🦋")
_FIRST: Final = (
    "Ava", "Liam", "Maya", "Noah", "Zoe", "Leo", "Nina", "Omar", "Iris", "Jonas", "Lena", "Mateo",
    "Sofia", "Kai", "Elif", "Arjun", "Chloe", "Diego", "Hana", "Ravi", "Tove", "Yuki", "Aaliyah",
)  # fmt: skip
_LAST: Final = (
    "Stone", "Rivera", "Kim", "Novak", "Okafor", "Berg", "Silva", "Moreau", "Tanaka", "Walsh",
    "Khan", "Lindqvist", "Costa", "Mendes", "Park", "Reyes", "Fischer", "Quinn", "Haddad",
)  # fmt: skip
_BAND_NOUNS: Final = (
    "Lions", "Keys", "Kids", "Saints", "Machines", "Foxes", "Pilots", "Strangers", "Tigers",
    "Parade", "Collective", "Orchestra", "Brothers", "Sisters", "Club", "Society", "Project",
)  # fmt: skip
_COMMA_ARTISTS: Final = (
    "Emerson, Lake & Palmer", "Crosby, Stills, Nash & Young", "Earth, Wind & Fire",
    "Peter, Paul and Mary", "Blood, Sweat & Tears", "Tyler, The Creator",
    "Derek & The Dominos, Live", "Chad, Jeremy & Friends",
)  # fmt: skip
_ODD_ARTISTS: Final = (
    "Guns N' Roses", "Weird \"Al\" Yankovic", "Beyoncé", "Sigur Rós", "Mötley Crüe", "Björk",
    "米津玄師", "宇多田ヒカル", "방탄소년단", "周杰倫", "YOASOBI", "Maná", "Café Tacvba",
    "Ñengo Flow", "🌙 Moonlight Collective", "Kendrick Lamar", "Florence + the Machine", "AC/DC",
    "Sinéad O'Connor",
)  # fmt: skip
_GENRE_BASES: Final = (
    "pop", "rap", "rock", "hip hop", "dance pop", "r&b", "indie", "edm", "latin", "trap",
    "country", "house", "soul", "jazz", "metal", "folk", "reggaeton", "k-pop", "j-pop", "techno",
    "punk", "blues", "funk", "mpb", "classical", "ambient", "drill", "afrobeats", "disco", "emo",
)  # fmt: skip
_GENRE_PREFIXES: Final = (
    "", "modern", "classic", "indie", "alternative", "german", "uk", "swedish", "dutch",
    "brazilian", "mexican", "italian", "french", "korean", "japanese", "deep", "dark", "new",
    "australian", "canadian", "nigerian", "turkish", "polish", "chicago", "atlanta",
)  # fmt: skip
_ODD_GENRES: Final = (
    "rock en español", "música mexicana", "chanson française", "c-pop", "canción melódica",
    "nueva ola chilena", "schlager", "k-rap", "anime", "v-pop",
)  # fmt: skip
_LABEL_WORDS: Final = (
    "Records", "Music", "Recordings", "Entertainment", "Sounds", "Audio", "Label Group",
)  # fmt: skip
_BIG_LABELS: Final = (
    "Columbia", "Atlantic Records", "Republic Records", "Universal Music Group", "RCA Records",
    "Interscope Records", "Warner Records", "Sony Music Entertainment", "Island Records",
    "Def Jam Recordings", "XL Recordings", "Sub Pop Records", "Big Hit Music",
    "Rimas Entertainment", "Universal Music, Inc.", "Sony Music Latin, LLC",
)  # fmt: skip

_POOL_SIZE: Final = 4096


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


@dataclass(frozen=True)
class _Artist:
    id: str
    name: str
    popularity: int
    followers: int
    genres: tuple[str, ...]


class _Pools:
    """Value pools drawn once per seed; rows pick from them by index, which is what keeps
    per-row work cheap."""

    def __init__(self, rng: random.Random) -> None:
        self.track_names = _title_pool(rng, _POOL_SIZE, comma=0.057, quote=0.01)
        self.album_names = _title_pool(rng, _POOL_SIZE // 2, comma=0.04, quote=0.01)
        self.labels = _label_pool(rng)
        niche = [f"{p} {b}" for b in _GENRE_BASES for p in _GENRE_PREFIXES if p]
        niche += _ODD_GENRES
        rng.shuffle(niche)
        # Zipf-like over broad genres first: pop, rap and rock are common, niches are rare.
        genre_pool = [*_GENRE_BASES, *niche]
        self.genres = tuple(genre_pool)
        self.genre_cum_weights = tuple(
            _cumulative(1.0 / (rank + 1) ** 1.1 for rank in range(len(genre_pool)))
        )
        self.unit = _float_pool(rng, lambda: rng.betavariate(2.2, 2.0), 3)
        self.speechiness = _float_pool(rng, lambda: rng.betavariate(1.0, 9.0), 4)
        self.acousticness = _float_pool(rng, lambda: rng.betavariate(0.6, 1.6), 5)
        self.instrumentalness = tuple(
            # Tiny values print in scientific notation, as in the real file (1.08e-05).
            "0.0" if u < 0.45 else repr(round(rng.random() ** 6, 8))
            for u in (rng.random() for _ in range(_POOL_SIZE))
        )
        self.liveness = _float_pool(rng, lambda: rng.betavariate(1.4, 6.0), 4)
        self.loudness = _float_pool(rng, lambda: -min(abs(rng.gauss(7.5, 4.0)), 45.0), 3)
        self.tempo = _float_pool(rng, lambda: min(max(rng.gauss(121.0, 29.0), 45.0), 220.0), 3)


def _cumulative(weights: Iterator[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _float_pool(rng: random.Random, draw: Callable[[], float], digits: int) -> tuple[str, ...]:
    del rng  # the draw closes over it; kept in the signature to show where randomness lives
    return tuple(repr(round(draw(), digits)) for _ in range(_POOL_SIZE))


def _title(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.choice((1, 2, 2, 3)))
    return " ".join(w.capitalize() for w in words)


def _title_pool(rng: random.Random, size: int, comma: float, quote: float) -> tuple[str, ...]:
    """Titles where ``comma`` of them hold a comma and ``quote`` a double quote; a few percent
    are accented, CJK or carry emoji."""
    out: list[str] = []
    for i in range(size):
        u = i / size
        if u < comma:
            base = f"{_title(rng)}, {_title(rng)}"
        elif u < comma + quote:
            base = f'{_title(rng)} "{rng.choice(_WORDS).capitalize()}"'
        else:
            base = _title(rng)
        flavour = rng.random()
        if flavour < 0.03:
            base = f"{rng.choice(_ACCENTED)} {base}"
        elif flavour < 0.05:
            base = rng.choice(_CJK)
        elif flavour < 0.06:
            base = f"{base} {rng.choice(_EMOJI)}"
        elif flavour < 0.10:
            base = f"{base} - Remastered {rng.randint(1995, 2022)}"
        elif flavour < 0.13:
            base = f"{base} (feat. {rng.choice(_FIRST)} {rng.choice(_LAST)})"
        out.append(base)
    rng.shuffle(out)
    return tuple(out)


def _label_pool(rng: random.Random) -> tuple[str, ...]:
    labels = list(_BIG_LABELS) * 20
    for _ in range(1500):
        owner = rng.choice((rng.choice(_LAST), _title(rng), rng.choice(_ACCENTED)))
        labels.append(f"{owner} {rng.choice(_LABEL_WORDS)}")
    labels += [""] * 12  # a few albums carry no label
    rng.shuffle(labels)
    return tuple(labels)


def _artist_name(rng: random.Random) -> str:
    u = rng.random()
    if u < 0.012:
        return rng.choice(_COMMA_ARTISTS)
    if u < 0.06:
        return rng.choice(_ODD_ARTISTS)
    if u < 0.09:
        return f"{rng.choice(_ACCENTED)} {rng.choice(_LAST)}"
    if u < 0.35:
        return f"The {rng.choice(_WORDS).capitalize()} {rng.choice(_BAND_NOUNS)}"
    if u < 0.45:
        return f"{rng.choice(_WORDS).upper()}{rng.randint(1, 99)}"
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


class _Generator:
    def __init__(self, album_rows: int, seed: int, quirks: QuirkRates) -> None:
        self.album_rows = album_rows
        self.seed = seed
        self.q = quirks
        self.rng = random.Random(seed)
        self.pools = _Pools(random.Random(seed * 7919 + 1))
        self.n_artists = max(3, round(album_rows * ARTISTS_PER_ALBUM_ROW))
        # Orphans reuse a small id range so each orphan artist owns several albums, as real
        # dangling references do.
        self.n_orphans = max(1, self.n_artists // 40)

    def new_id(self) -> str:
        bits = self.rng.getrandbits(132)
        return "".join([_PAIRS[(bits >> s) & 4095] for s in _ID_SHIFTS])

    def artist(self, index: int) -> _Artist:
        """The artist at ``index``: a pure function of (seed, index)."""
        r = random.Random(self.seed * 1_000_003 + index)
        bits = r.getrandbits(132)
        artist_id = "".join([_PAIRS[(bits >> s) & 4095] for s in _ID_SHIFTS])
        followers = int(math.exp(min(r.gauss(8.5, 2.6), 18.8)))
        popularity = min(100, max(0, int(6.0 * math.log1p(followers) - 10 + r.gauss(0, 8))))
        genres: tuple[str, ...] = ()
        if r.random() >= self.q.empty_genres:
            count = min(7, 1 + int(r.expovariate(0.55)))
            picked = r.choices(self.pools.genres, cum_weights=self.pools.genre_cum_weights, k=count)
            genres = tuple(dict.fromkeys(picked))  # unique, first-seen order
        return _Artist(artist_id, _artist_name(r), popularity, followers, genres)

    def artist_rows(self) -> Iterator[list[object]]:
        junk = self.rng.random
        for index in range(self.n_artists):
            a = self.artist(index)
            followers: object = a.followers
            if junk() < self.q.junk_numeric:
                followers = f"{a.followers / 1e6:.1f}M"
            yield [
                a.id,
                a.name,
                a.popularity,
                repr(list(a.genres)),
                followers,
                *a.genres,
                *([""] * (7 - len(a.genres))),
            ]

    def write(self, out_dir: Path, progress: Callable[[int], None] | None) -> list[FileStats]:
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
            for row in self.artist_rows():
                artists_w.writerow(row)
                counts[ARTISTS.file_name] += 1
            counts.update(
                self._write_album_stream(
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
        order = (ALBUMS.file_name, ARTISTS.file_name, TRACKS.file_name, FEATURES.file_name)
        return [
            FileStats(name, counts[name], (out_dir / name).stat().st_size)
            for name in (*order, DENORMALISED_FILE_NAME)
        ]

    def _write_album_stream(
        self,
        albums_w: Any,
        tracks_w: Any,
        features_w: Any,
        denorm_w: Any,
        progress: Callable[[int], None] | None,
    ) -> dict[str, int]:
        q, p, rng = self.q, self.pools, self.rng
        rand, randint, gauss = rng.random, rng.randint, rng.gauss
        track_names, album_names, labels = p.track_names, p.album_names, p.labels
        unit, speech, acoustic = p.unit, p.speechiness, p.acousticness
        instrumental, live, loud, tempo = p.instrumentalness, p.liveness, p.loudness, p.tempo
        n_tracks_pool, n_album_pool, n_labels = len(track_names), len(album_names), len(labels)
        n_pool = _POOL_SIZE
        albums = tracks = features = denorm = 0
        written = 0
        next_progress = 10_000
        while written < self.album_rows:
            # --- one album ---
            kind = rand()
            if kind < 0.55:
                album_type, total_tracks = "single", randint(1, 3)
            elif kind < 0.92:
                album_type, total_tracks = "album", randint(6, 14)
            else:
                album_type, total_tracks = "compilation", randint(6, 16)
            album_id = self.new_id()
            album_name = album_names[int(rand() * n_album_pool)]
            label = labels[int(rand() * n_labels)]
            year = 2023 - min(int(rand() ** 2.2 * 74), 73)
            release_date = f"{year}-{randint(1, 12):02d}-{randint(1, 28):02d} 00:00:00 UTC"
            if rand() < q.orphan_artist_album:
                artist_index, has_artist = self.n_artists + int(rand() * self.n_orphans), False
            else:
                artist_index, has_artist = int(rand() ** 1.6 * self.n_artists), True
            lead = self.artist(artist_index)
            credited = [lead.name]
            if rand() < q.featured_artists:
                for _ in range(randint(1, 3)):
                    credited.append(self.artist(int(rand() * self.n_artists)).name)
            artists_list = repr(credited)
            artist_cols = [*credited, *([""] * (12 - len(credited)))]
            album_pop = min(100, max(0, int(0.6 * lead.popularity + gauss(8, 12))))
            artist_genres = repr(list(lead.genres))
            genre_cols = [*lead.genres, *([""] * (7 - len(lead.genres)))]
            albums += 1

            for track_number in range(1, total_tracks + 1):
                if written >= self.album_rows:
                    break
                track_id = self.new_id()
                duration_ms = 95_000 + int(rand() * 150_000) + int(rand() * rand() * 300_000)
                row: list[object] = [
                    track_names[int(rand() * n_tracks_pool)],
                    track_id,
                    track_number,
                    duration_ms,
                    album_type,
                    artists_list,
                    total_tracks,
                    album_name,
                    release_date,
                    label,
                    album_pop,
                    album_id,
                    lead.id,
                    *artist_cols,
                    duration_ms / 1000,
                ]
                if rand() < q.junk_numeric:
                    row[(2, 3, 6, 10, 25)[int(rand() * 5)]] = JUNK_VALUES[int(rand() * 7)]
                albums_w.writerow(row)
                written += 1
                if rand() < q.duplicate_album_row and written < self.album_rows:
                    if rand() < 0.5:
                        row = [*row[:10], min(100, album_pop + 1), *row[11:]]
                    albums_w.writerow(row)
                    written += 1

                track_pop = min(100, max(0, int(0.7 * album_pop + gauss(10, 10))))
                explicit = "true" if rand() < 0.27 else "false"
                has_popularity = rand() >= q.track_without_popularity
                if has_popularity:
                    pop_cell: object = track_pop
                    if rand() < q.junk_numeric:
                        pop_cell = JUNK_VALUES[int(rand() * 7)]
                    tracks_w.writerow((track_id, pop_cell, explicit))
                    tracks += 1
                    if rand() < q.duplicate_track_row:
                        tracks_w.writerow((track_id, track_pop, explicit))
                        tracks += 1

                if rand() < q.track_without_features:
                    continue
                time_signature = 4 if rand() < 0.88 else (3, 5, 1, 0)[int(rand() * 4)]
                feat: list[object] = [
                    unit[int(rand() * n_pool)],
                    unit[int(rand() * n_pool)],
                    int(rand() * 12),
                    loud[int(rand() * n_pool)],
                    1 if rand() < 0.62 else 0,
                    speech[int(rand() * n_pool)],
                    acoustic[int(rand() * n_pool)],
                    instrumental[int(rand() * n_pool)],
                    live[int(rand() * n_pool)],
                    unit[int(rand() * n_pool)],
                    tempo[int(rand() * n_pool)],
                    "audio_features",
                    track_id,
                    f"spotify:track:{track_id}",
                    f"https://api.spotify.com/v1/tracks/{track_id}",
                    f"https://api.spotify.com/v1/audio-analysis/{track_id}",
                    duration_ms,
                    time_signature,
                ]
                if rand() < q.junk_numeric:
                    feat[(0, 3, 10, 16)[int(rand() * 4)]] = JUNK_VALUES[int(rand() * 7)]
                features_w.writerow(feat)
                features += 1

                if has_artist and has_popularity and rand() < q.denormalised_keep:
                    denorm_w.writerow(
                        [
                            track_id,
                            row[0],
                            track_number,
                            track_pop,
                            explicit,
                            duration_ms,
                            duration_ms / 1000,
                            album_id,
                            album_name,
                            album_type,
                            total_tracks,
                            album_pop,
                            release_date,
                            label,
                            artists_list,
                            lead.id,
                            lead.name,
                            lead.popularity,
                            float(lead.followers),  # pandas float artefact: mixed types
                            artist_genres,
                            *genre_cols,
                            *feat[:11],
                            time_signature,
                            feat[13],
                            *artist_cols[:9],
                        ]
                    )
                    denorm += 1
            if progress is not None and written >= next_progress:
                progress(written)
                next_progress = written + 10_000
        if progress is not None:
            progress(written)
        return {
            ALBUMS.file_name: written,
            TRACKS.file_name: tracks,
            FEATURES.file_name: features,
            DENORMALISED_FILE_NAME: denorm,
        }


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
    files = _Generator(album_rows, seed, quirks).write(out_dir, progress)
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


def out_folder_problem(out: Path) -> str | None:
    """Why ``--out`` cannot take the files, naming the fix; None when it can (it is then
    created, with its parents)."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; give a folder (it is created if missing)"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or str(error)
        return f"cannot create --out {out}: {reason}; choose a folder you can write to"
    if not os.access(out, os.W_OK | os.X_OK):
        return f"cannot write to --out {out}: permission denied; choose a folder you can write to"
    return None


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
) -> None:
    """Write synthetic Spotify-2023 CSVs with the real files' names, headers and quirks.
    Files of the same names in --out are replaced only once all five are complete."""
    console = Console()
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    problem = out_folder_problem(out)
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
    console.print(format_summary(summary))
