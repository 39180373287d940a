"""The JSON API: a request's path and query string -> `Response` (status, content type, body), with no socket
involved (the server sends it; tests call `answer` directly).

    GET /api/songs                          the map: coordinates, colour labels, legend, names
    GET /api/song?id=3&k=10                 a song's genres, tags and k nearest songs
    GET /api/query?q=운동+신나는&k=20         the k songs closest to playlist tags and genre codes or names
    GET /api/continue?ids=3,7&k=20          the continuation of the seed songs (JSON)
    GET /api/continue.m3u?ids=3,7&k=20      the same as a downloadable playlist

Every failure is a 4xx with `{"error": message}`: an unknown path or parameter, a malformed or repeated one,
a number out of range, an unknown song.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse

from cmir_tf.explore.explorer import MAX_SEEDS, BadRequest, Explorer

JSON = "application/json; charset=utf-8"
M3U = "audio/x-mpegurl; charset=utf-8"
DEFAULT_K = {"/api/song": 10, "/api/query": 20, "/api/continue": 20, "/api/continue.m3u": 20}
PARAMETERS = {"/api/songs": set(), "/api/song": {"id", "k"}, "/api/query": {"q", "k"},
              "/api/continue": {"ids", "k"}, "/api/continue.m3u": {"ids", "k"}}
NUMBER = re.compile(r"[0-9]{1,9}")
MAX_FIELDS = 4


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def json_response(value: object, status: int = 200) -> Response:
    return Response(status, JSON, json.dumps(value, ensure_ascii=False).encode("utf-8"))


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def parameters(route: str, query: str) -> dict[str, str]:
    """The query string's parameters, each given at most once and known to `route`; `BadRequest` otherwise."""
    try:
        parsed = urllib.parse.parse_qs(query, keep_blank_values=True, strict_parsing=False, errors="strict",
                                       max_num_fields=MAX_FIELDS)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"malformed query string: {error}") from error
    unknown = sorted(set(parsed) - PARAMETERS[route])
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r} for {route} (it takes: "
                         f"{', '.join(sorted(PARAMETERS[route])) or 'none'})")
    repeated = [name for name, values in parsed.items() if len(values) > 1]
    if repeated:
        raise BadRequest(f"parameter {repeated[0]!r} given {len(parsed[repeated[0]])} times")
    return {name: values[0] for name, values in parsed.items()}


def number(name: str, text: str) -> int:
    """A non-negative whole number of at most 9 digits, else `BadRequest`."""
    if not NUMBER.fullmatch(text):
        raise BadRequest(f"{name} must be a whole number, got {text[:40]!r}")
    return int(text)


def required(given: dict[str, str], name: str) -> str:
    if name not in given:
        raise BadRequest(f"missing parameter {name!r}")
    return given[name]


def seed_ids(text: str) -> list[int]:
    """`ids=3,7,12` -> [3, 7, 12] (at most `MAX_SEEDS`)."""
    parts = text.split(",")
    if len(parts) > MAX_SEEDS:
        raise BadRequest(f"give 1 to {MAX_SEEDS} seed songs, got {len(parts)}")
    return [number("ids", part) for part in parts]


def answer(explorer: Explorer, route: str, query: str) -> Response:
    """The response to `GET route?query` (`route` a path starting with /api/)."""
    if route not in PARAMETERS:
        return error_response(404, f"no such endpoint {route[:100]!r} (there are: {', '.join(PARAMETERS)})")
    try:
        given = parameters(route, query)
        k = number("k", given["k"]) if "k" in given else DEFAULT_K.get(route, 0)
        if route == "/api/songs":
            return Response(200, JSON, explorer.songs_json)
        if route == "/api/song":
            return json_response(explorer.song(number("id", required(given, "id")), k))
        if route == "/api/query":
            return json_response(explorer.query(required(given, "q"), k))
        seeds = seed_ids(required(given, "ids"))
        if route == "/api/continue":
            return json_response(explorer.continuation(seeds, k))
        return Response(200, M3U, explorer.m3u(seeds, k).encode("utf-8"),
                        (("Content-Disposition", 'attachment; filename="cmir-explore-continuation.m3u"'),))
    except BadRequest as error:
        return error_response(error.status, str(error))
