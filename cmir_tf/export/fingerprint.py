"""The identity of an exported model's content: what embedding caches and song indexes are keyed by."""

from __future__ import annotations

import hashlib
import os


def model_fingerprint(model_dir: str) -> str:
    """`<folder name>-<12 hex digits>`: a hash of the SavedModel graph and variable index."""
    digest = hashlib.sha256()
    for name in ("saved_model.pb", os.path.join("variables", "variables.index")):
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                digest.update(f.read())
    folder = os.path.basename(os.path.normpath(model_dir)) or "model"
    return f"{folder}-{digest.hexdigest()[:12]}"
