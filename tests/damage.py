"""Damage done to files on purpose by the fault tests."""

import os


def flip_a_byte(path: str) -> None:
    """Inverts the byte in the middle of `path`: same size, another sha256 (inside a TFRecord: a bad CRC)."""
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
