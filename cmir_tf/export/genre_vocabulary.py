"""The genre vocabulary a genre encoder was trained on: codes in id order and their names."""

from __future__ import annotations

import dataclasses
import json
import os

VOCAB_FILE = "genre_vocab.json"  # prepared data: {code: id}, ids 1..V (0 = padding)
NAMES_FILE = "genre_names.json"  # prepared data: {code: name} from Melon's genre_gn_all.json (may be absent)


@dataclasses.dataclass(frozen=True)
class GenreVocabulary:
    """`codes[i]` is the genre code of genre id i + 1; `names[i]` its name, "" where none was given."""

    codes: tuple[str, ...]
    names: tuple[str, ...]

    def __post_init__(self):
        if not self.codes or len(self.codes) != len(self.names):
            raise ValueError(f"need >= 1 code and one name per code, got {len(self.codes)} / {len(self.names)}")
        if "" in self.codes or len(set(self.codes)) != len(self.codes):
            raise ValueError("genre codes must be unique and non-empty ('' is the padding)")

    @classmethod
    def from_prepared(cls, data_dir: str) -> GenreVocabulary:
        """Reads `genre_vocab.json` and, if present, `genre_names.json` of a prepared data folder."""
        with open(os.path.join(data_dir, VOCAB_FILE)) as f:
            ids = json.load(f)
        if sorted(ids.values()) != list(range(1, len(ids) + 1)):
            raise ValueError(f"{os.path.join(data_dir, VOCAB_FILE)}: ids must be 1..{len(ids)}")
        names_path = os.path.join(data_dir, NAMES_FILE)
        names = {}
        if os.path.exists(names_path):
            with open(names_path) as f:
                names = json.load(f)
        codes = tuple(sorted(ids, key=ids.get))
        return cls(codes, tuple(str(names.get(code, "")) for code in codes))
