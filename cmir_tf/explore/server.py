"""The HTTP server of `cmir-explore`: the page (package data under `static/`), the JSON API (`api`) and the
indexed songs' audio, by song id, with byte ranges so that the player can seek.

Only three kinds of path are served: the page's fixed files, `/api/...` and `/audio/<song id>`; the file of
`/audio/<id>` is the index's own list entry `id`, so no path a client sends is ever opened. Every request is
a GET answered from the read-only `Explorer`; anything else gets a 4xx with a JSON message. The server listens
on 127.0.0.1 unless told otherwise (`ExploreConfig.host`), and its request log is silent.
"""

from __future__ import annotations

import dataclasses
import http
import importlib.resources
import ipaddress
import json
import mimetypes
import os
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cmir_tf import errors
from cmir_tf.explore import api
from cmir_tf.explore.explorer import BadRequest, Explorer, open_explorer

STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/static/explore.js": ("explore.js", "text/javascript"),
          "/static/explore.css": ("explore.css", "text/css")}
# Everything the page loads comes from this server: a browser refuses any other origin.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; media-src 'self'; "
          "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")
CHUNK = 1 << 16


@dataclasses.dataclass(frozen=True)
class ExploreConfig:
    """`cmir-explore`'s settings: the index folder, its model if moved (`None`: where the index says), and the
    address to listen on (port 0: any free one)."""

    index_dir: str
    model_dir: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000

    def __post_init__(self):
        if not 0 <= self.port <= 65535:
            raise errors.UsageError(f"--port must be 0 to 65535, got {self.port}")


class RangeNotSatisfiable(errors.UsageError):
    """A Range header this server cannot answer for a file of that size (416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single `bytes=` range of a `size`-byte file, None without a header;
    `RangeNotSatisfiable` for a malformed, multiple or out-of-file range."""
    if header is None:
        return None
    found = RANGE.fullmatch(header.strip())
    if not found or not (found[1] or found[2]) or size == 0:
        raise RangeNotSatisfiable(header)
    if not found[1]:  # the last n bytes
        if int(found[2]) == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - int(found[2])), size - 1
    first, last = int(found[1]), int(found[2]) if found[2] else size - 1
    if first > last or first >= size:
        raise RangeNotSatisfiable(header)
    return first, min(last, size - 1)


def static_files() -> dict[str, tuple[bytes, str]]:
    """{path: (the page file's bytes, content type)}, read once from the package."""
    folder = importlib.resources.files("cmir_tf.explore") / "static"
    return {path: ((folder / name).read_bytes(), kind) for path, (name, kind) in STATIC.items()}


class Handler(BaseHTTPRequestHandler):
    """Answers GET requests from `explorer`; a subclass per server sets the two class attributes."""

    explorer: Explorer
    files: dict[str, tuple[bytes, str]]
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "cmir-explore"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        """Quiet: no line per request."""

    def send_body(self, response: api.Response, body: bool = True) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (a malformed request line, a header too long, an unknown method) as JSON."""
        if code == http.HTTPStatus.NOT_IMPLEMENTED:  # a method this server does not know
            code, message = http.HTTPStatus.METHOD_NOT_ALLOWED, f"only GET is served, not {self.command}"
        self.close_connection = True
        self.send_body(api.error_response(code, message or http.HTTPStatus(code).phrase),
                       body=self.command != "HEAD" and code >= 200)

    def refuse_method(self) -> None:
        self.send_error(http.HTTPStatus.NOT_IMPLEMENTED)  # answered 405, as for a method http.server does not know

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = refuse_method

    def do_GET(self) -> None:
        try:
            self.answer_get()
        except (BrokenPipeError, ConnectionResetError):  # the player went away (e.g. it seeks elsewhere)
            self.close_connection = True

    def answer_get(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path in self.files:
            content, kind = self.files[url.path]
            headers = (("Content-Security-Policy", POLICY), ("Referrer-Policy", "no-referrer"))
            self.send_body(api.Response(200, kind, content, headers))
        elif url.path.startswith("/api/"):
            self.send_body(api.answer(self.explorer, url.path, url.query))
        elif url.path.startswith("/audio/"):
            self.send_audio(url.path[len("/audio/"):])
        else:
            self.send_body(api.error_response(404, f"no such page {url.path[:100]!r}"))

    def send_audio(self, song: str) -> None:
        """Song `song`'s file (the index's entry, never a client path), whole or the requested byte range."""
        try:
            path = self.explorer.audio_path(api.number("song id", song))
        except BadRequest as error:
            self.send_body(api.error_response(error.status, str(error)))
            return
        try:
            file = open(path, "rb")
        except OSError as error:
            self.send_body(api.error_response(404, f"song {song}'s file cannot be read: "
                                              f"{errors.describe_os_error(error, path)}"))
            return
        with file:
            size = os.fstat(file.fileno()).st_size
            try:
                span = byte_range(self.headers.get("Range"), size)
            except RangeNotSatisfiable:
                message = f"cannot serve the range {self.headers.get('Range')[:60]!r} of a {size}-byte file"
                self.send_body(api.Response(416, api.JSON, json.dumps({"error": message}).encode(),
                                            (("Content-Range", f"bytes */{size}"), ("Accept-Ranges", "bytes"))))
                return
            first, last = span or (0, size - 1)
            self.send_response(206 if span else 200)
            self.send_header("Content-Type", mimetypes.guess_type(path)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(last - first + 1))
            self.send_header("Accept-Ranges", "bytes")
            if span:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.end_headers()
            file.seek(first)
            copy_bytes(file, self.wfile, last - first + 1)


def copy_bytes(source, target, count: int) -> None:
    """Copies `count` bytes from `source` to `target` in chunks of `CHUNK`."""
    while count > 0:
        block = source.read(min(CHUNK, count))
        if not block:
            break
        target.write(block)
        count -= len(block)


def make_server(explorer: Explorer, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A threading HTTP server answering from `explorer`, bound to (host, port) (not yet serving)."""
    handler = type("ExploreHandler", (Handler,), {"explorer": explorer, "files": static_files()})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise errors.UsageError(f"cannot listen on {host}:{port}: {errors.describe_os_error(error)}; choose "
                                "another --port or --host") from error
    server.daemon_threads = True
    return server


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(config: ExploreConfig) -> None:
    """Opens the index (its map computed once), listens and serves until interrupted (Ctrl-C raises
    `KeyboardInterrupt` out of here, the server closed)."""
    explorer = open_explorer(config.index_dir, config.model_dir)
    server = make_server(explorer, config.host, config.port)
    try:
        host, port = server.server_address[:2]
        if not is_loopback(config.host):
            print(f"cmir-explore: warning: listening on {host}: anyone who can reach this machine can list the "
                  "index's songs and play them", file=sys.stderr)
        shown = "127.0.0.1" if host == "0.0.0.0" else host
        print(f"cmir-explore: {len(explorer.paths)} songs of {config.index_dir} at http://{shown}:{port}/ "
              "(Ctrl-C stops)", flush=True)
        server.serve_forever()
    finally:
        server.server_close()
