"""The vocabularies a genre encoder (codes in id order and their names) and a playlist-tag encoder (tags in id
order) were trained on."""

from __future__ import annotations

import dataclasses

from cmir_tf.data.catalogue.words import normalise_word
from cmir_tf.data.prepared import PreparedFolder


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

    def resolve(self, query: str) -> str | None:
        """The code `query` names: a code itself (Melon's "GN0101"; a catalogue's genre word, "indie rock"), else
        the code whose code or name equals it once both are normalised (`normalise_word`: Unicode, case,
        whitespace), so "Indie  ROCK" finds "indie rock" and "Ballad" Melon's GN0100; None when none does."""
        if query in self.codes:
            return query
        wanted = normalise_word(query)
        return next((code for code, name in zip(self.codes, self.names)
                     if wanted and wanted in (normalise_word(code), normalise_word(name))), None)

    @classmethod
    def from_prepared(cls, data_dir: str) -> GenreVocabulary:
        """Reads the genre vocabulary and, if present, the genre names of a prepared data folder."""
        folder = PreparedFolder(data_dir)
        codes = _in_id_order(folder.genre_vocab(), folder.genre_vocab_path)
        names = folder.genre_names()
        return cls(codes, tuple(str(names.get(code, "")) for code in codes))


def tags_from_prepared(data_dir: str) -> tuple[str, ...]:
    """The playlist tags of a prepared data folder in tag-id order (ids 1..V)."""
    folder = PreparedFolder(data_dir)
    return _in_id_order(folder.tag_vocab(), folder.tag_vocab_path)


def _in_id_order(ids: dict[str, int], path: str) -> tuple[str, ...]:
    """The words of a {word: id} vocabulary read from `path`, in id order; ids must be 1..V."""
    if sorted(ids.values()) != list(range(1, len(ids) + 1)):
        raise ValueError(f"{path}: ids must be 1..{len(ids)}")
    return tuple(sorted(ids, key=ids.get))
