"""Reading a delimited text table (a track table, a playlist CSV) with its mess counted, never fatal per row.

A row whose column count differs from the header's is skipped as `malformed_row`, a line that is not UTF-8
as `bad_encoding` (each named by file and line); a UTF-8 byte-order mark is accepted. The delimiter is a tab
for `.tsv` / `.tab` files, else a comma (CSV quoting rules: a cell holding commas is quoted).
"""

from __future__ import annotations

import csv
import os

from cmir_tf import errors
from cmir_tf.data.catalogue.mess import Mess


class CatalogueInputError(errors.InputError, ValueError):
    """A catalogue input that cannot be used at all (no header, a required column missing); names the file."""


def delimiter(path: str) -> str:
    return "\t" if os.path.splitext(path)[1].lower() in (".tsv", ".tab") else ","


def decoded_lines(path: str, mess: Mess) -> list[tuple[int, str]]:
    """(line number from 1, text) of each UTF-8 line of `path`; other lines counted as `bad_encoding`."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise errors.input_error_from_os(error, path, "read") from error
    lines = []
    for number, line in enumerate(raw.removeprefix(b"\xef\xbb\xbf").splitlines(), start=1):
        try:
            lines.append((number, line.decode("utf-8")))
        except UnicodeDecodeError:
            mess.add("bad_encoding", f"{os.path.basename(path)}:{number}")
    return lines


def read_rows(path: str, required: dict[str, tuple[str, ...]], optional: dict[str, tuple[str, ...]],
              mess: Mess) -> list[dict[str, str]]:
    """The rows of a table with a header, as {column role: cell}, malformed rows counted in `mess`.

    Args:
      path: a CSV or TSV file (`delimiter`).
      required, optional: {role: header names accepted for it (case-insensitive)}; a missing required column
        raises `CatalogueInputError`.

    Returns:
      One dict per well-formed, non-blank data row, keyed by the roles found.
    """
    lines = [(n, text) for n, text in decoded_lines(path, mess) if text.strip()]
    if not lines:
        raise CatalogueInputError(f"{path}: empty, or no UTF-8 line: expected a header row")
    parsed = csv.reader([text for _, text in lines], delimiter=delimiter(path))
    header = [cell.strip().casefold() for cell in next(parsed)]
    columns = {}
    for role, names in {**required, **optional}.items():
        found = next((header.index(name) for name in names if name in header), None)
        if found is not None:
            columns[role] = found
        elif role in required:
            raise CatalogueInputError(f"{path}: no {role} column (header {header}; accepted names: "
                                      f"{', '.join(names)})")
    rows = []
    for (number, _), row in zip(lines[1:], parsed):
        if len(row) != len(header):
            mess.add("malformed_row", f"{os.path.basename(path)}:{number} ({len(row)} fields, header {len(header)})")
            continue
        rows.append({role: row[index].strip() for role, index in columns.items()} | {"line": str(number)})
    return rows
