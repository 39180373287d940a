"""sha256 of files, read in 1 MiB blocks (shards and input JSON files are hashed alike)."""

from __future__ import annotations

import hashlib


def sha256_file(path: str) -> str:
    """Hex sha256 of the file at `path`, streamed (memory does not grow with the file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
