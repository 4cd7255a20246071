"""The rows of the five files: the real dataset's scale and quirk rates, and a generator
that derives artists from their index and streams albums with their tracks and features."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from spotify_glue.contract import ALBUMS, DENORMALISED_FILE_NAME, FEATURES, TRACKS

from spotify_ops.generate_vocabulary import POOL_SIZE, Pools, artist_name, spotify_id

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


@dataclass(frozen=True)
class Artist:
    id: str
    name: str
    popularity: int
    followers: int
    genres: tuple[str, ...]


class RowGenerator:
    def __init__(self, album_rows: int, seed: int, quirks: QuirkRates) -> None:
        self.album_rows = album_rows
        self.seed = seed
        self.q = quirks
        self.rng = random.Random(seed)
        self.pools = Pools(random.Random(seed * 7919 + 1))
        self.n_artists = max(3, round(album_rows * ARTISTS_PER_ALBUM_ROW))
        # Orphans reuse a small id range so each orphan artist owns several albums, as real
        # dangling references do.
        self.n_orphans = max(1, self.n_artists // 40)

    def new_id(self) -> str:
        return spotify_id(self.rng.getrandbits(132))

    def artist(self, index: int) -> Artist:
        """The artist at ``index``: a pure function of (seed, index)."""
        r = random.Random(self.seed * 1_000_003 + index)
        artist_id = spotify_id(r.getrandbits(132))
        followers = int(math.exp(min(r.gauss(8.5, 2.6), 18.8)))
        popularity = min(100, max(0, int(6.0 * math.log1p(followers) - 10 + r.gauss(0, 8))))
        genres: tuple[str, ...] = ()
        if r.random() >= self.q.empty_genres:
            count = min(7, 1 + int(r.expovariate(0.55)))
            picked = r.choices(self.pools.genres, cum_weights=self.pools.genre_cum_weights, k=count)
            genres = tuple(dict.fromkeys(picked))  # unique, first-seen order
        return Artist(artist_id, artist_name(r), popularity, followers, genres)

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

    def write_album_stream(
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
        n_pool = POOL_SIZE
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
