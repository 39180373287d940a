"""A catalogue of one's own music as prepare's second source (docs/catalogue.md): a folder of audio, a track
table or the files' tags, playlists as M3U files or a CSV.

`read_catalogue` reads it (`source.py`: `tracks.py`, `playlists.py`, `table.py`, mess counted in `mess.py`),
`fingerprint` gives its recipe, and `write_view` computes the mels (`mels.py`) and writes a Melon-format view
of it (`view.py`) that prepare's stages read as they read Melon. `recipes.py` turns FMA's and MTG-Jamendo's
metadata into track tables.
"""

from cmir_tf.data.catalogue.source import Catalogue, fingerprint, read_catalogue
from cmir_tf.data.catalogue.table import CatalogueInputError
from cmir_tf.data.catalogue.view import CatalogueView, write_view

__all__ = ["Catalogue", "CatalogueInputError", "CatalogueView", "fingerprint", "read_catalogue", "write_view"]
