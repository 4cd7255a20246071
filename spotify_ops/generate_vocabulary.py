"""The synthetic dataset's vocabulary: fixed word pools, and the value pools drawn from them
once per seed, which rows pick from by index."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Final

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

POOL_SIZE: Final = 4096


class Pools:
    """Value pools drawn once per seed; rows pick from them by index, which is what keeps
    per-row work cheap."""

    def __init__(self, rng: random.Random) -> None:
        self.track_names = _title_pool(rng, POOL_SIZE, comma=0.057, quote=0.01)
        self.album_names = _title_pool(rng, POOL_SIZE // 2, comma=0.04, quote=0.01)
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
            for u in (rng.random() for _ in range(POOL_SIZE))
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
    return tuple(repr(round(draw(), digits)) for _ in range(POOL_SIZE))


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


def artist_name(rng: random.Random) -> str:
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


def spotify_id(bits: int) -> str:
    """A 22-character base-62 id, as Spotify's, from 132 random bits."""
    return "".join([_PAIRS[(bits >> s) & 4095] for s in _ID_SHIFTS])
