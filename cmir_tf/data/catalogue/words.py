"""Genre words and playlist titles of a catalogue, normalised so that spellings of one word meet.

A genre word is NFKC-normalised (full-width and compatibility forms folded, Hangul composed), case-folded and
its whitespace collapsed to single spaces: "Indie  Rock", "indie rock" and "ＩＮＤＩＥ ROCK" are one genre,
"indie rock". Its display name is the spelling the catalogue uses most (`display_names`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

GENRE_SEPARATORS = re.compile(r"[|;,]")  # between the genres of one table cell or file tag


def normalise_word(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and stripped ("" for blank text)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def split_words(cell: str) -> list[str]:
    """The non-blank parts of a cell holding several genres or tags separated by `|`, `;` or `,`, stripped."""
    return [part.strip() for part in GENRE_SEPARATORS.split(cell) if part.strip()]


def title_words(title: str) -> list[str]:
    """A playlist title's distinct normalised words (letters and digits; punctuation dropped), in order:
    the playlist's tags when none are given ("Summer Hits 2020!" -> summer, hits, 2020)."""
    return list(dict.fromkeys(re.findall(r"\w+", normalise_word(title))))


def display_names(spellings: Iterable[str]) -> dict[str, str]:
    """{normalised word: its most frequent spelling (ties: the first in sorted order)} over `spellings`."""
    counts = Counter(s.strip() for s in spellings)
    names: dict[str, str] = {}
    for spelling, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        names.setdefault(normalise_word(spelling), spelling)
    return names
