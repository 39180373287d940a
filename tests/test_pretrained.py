"""`pretrained:NAME`: the authors' released encoders downloaded from a server (here one on 127.0.0.1 serving a
reference checkpoint made with torch at test time), verified by git blob id, converted once, cached, and opened
by every consumer through `ExportedModel`; wrong, truncated and unreachable files refused in one line.

The expected blob id of the reference file is given in-process (`RELEASES` patched), the only way a test or a
user's program can change it; the mirror variable alone accepts nothing (`test_the_mirror_alone_...`).
"""

import dataclasses
import hashlib
import http.server
import importlib
import json
import os
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from absl import flags

from cmir_tf import hear
from cmir_tf.cli import runner
from cmir_tf.export import ExportedModel, load_keras_encoder, pretrained
from cmir_tf.finetune import build_classifier
from cmir_tf.joint import JointSpace, MissingSignatureError
from torch_reference import ReferenceAudioEncoder  # tests/torch_reference.py

NAME = "contr_cf_g"
command = importlib.import_module("cmir_tf.cli.pretrained")  # `cmir_tf.cli.pretrained` is also the console entry
RELEASED = pretrained.RELEASES[NAME]  # the real entry (the module fixture patches the table)
TESTS = os.path.dirname(os.path.abspath(__file__))


class Server:
    """An HTTP server on 127.0.0.1 (port 0) in a thread, serving `files` (URL path -> bytes); `cut_off` serves
    half of each body under the full Content-Length, then closes the connection."""

    def __init__(self, files: dict[str, bytes], cut_off: bool = False):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut_off else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(the torch reference encoder in eval mode, its saved state dict's bytes, the URL path it is served at)."""
    torch.manual_seed(0)
    model = ReferenceAudioEncoder().eval()
    path = tmp_path_factory.mktemp("reference") / "audio_encoder.pt"
    torch.save(model.state_dict(), path)
    return model, path.read_bytes(), "/" + pretrained.RELEASES[NAME].path


def _accept(monkeypatch, data: bytes) -> None:
    """The test-only hook: `NAME`'s expected blob id becomes that of `data`."""
    monkeypatch.setitem(pretrained.RELEASES, NAME,
                        dataclasses.replace(pretrained.RELEASES[NAME], blob_id=_blob_id(data)))


@pytest.fixture(scope="module")
def fetched(reference, tmp_path_factory):
    """Two threads fetch `pretrained:contr_cf_g` at once into an empty cache (the one conversion of this module);
    the server is stopped before the tests run. Yields (their results, the server's requests, stderr lines)."""
    _, data, url_path = reference
    with pytest.MonkeyPatch.context() as patch:
        _accept(patch, data)
        patch.setenv(pretrained.HOME_VARIABLE, str(tmp_path_factory.mktemp("cmir_tf_home")))
        server = Server({url_path: data})
        patch.setenv(pretrained.MIRROR_VARIABLE, server.url)
        start, results = threading.Barrier(2), []

        def fetch():
            start.wait()
            try:
                results.append(pretrained.fetch(NAME))
            except Exception as error:  # noqa: BLE001 - reported by the test
                results.append(error)

        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        server.stop()
        yield results, server.requests


@pytest.fixture(scope="module")
def opened(fetched):
    return ExportedModel(f"pretrained:{NAME}")


def test_two_fetches_at_once_download_and_convert_once_into_one_cache(fetched, reference):
    results, requests = fetched
    assert results == [pretrained.export_dir(NAME)] * 2
    assert requests == [reference[2]]  # the second fetch waited for the lock and found the export
    folder = pretrained.cache_dir(NAME)
    assert sorted(os.listdir(folder)) == [".lock", "audio_encoder.pt", "export"]  # no temporary left
    assert pretrained.git_blob_id(os.path.join(folder, "audio_encoder.pt")) == _blob_id(reference[1])
    with open(os.path.join(pretrained.export_dir(NAME), "assets", "cmir_tf.json")) as f:
        metadata = json.load(f)["metadata"]
    assert metadata["source"] == "pytorch" and metadata["variant"] == NAME
    assert metadata["pretrained"] == {
        "repository": "andrebola/contrastive-mir-learning", "commit": pretrained.COMMIT,
        "path": "models/contrastive_MF_gnr/audio_encoder.pt", "blob_id": _blob_id(reference[1]), "licence": "MIT",
        "layout": "authors_training", "url": f"{os.environ[pretrained.MIRROR_VARIABLE]}models/contrastive_MF_gnr/"
        "audio_encoder.pt", "authors_name": "contrastive_MF_gnr"}


def test_a_later_open_uses_the_cache_without_the_server_and_embeds_as_torch(opened, reference):
    """The server is stopped: `ExportedModel("pretrained:...")` opens the cached export, whose embedding equals
    the torch encoder's in the authors' training layout."""
    assert opened.model_dir == pretrained.export_dir(NAME) and opened.variant == NAME
    mel = np.random.default_rng(0).normal(size=(2, 256, 48)).astype(np.float32)
    with torch.no_grad():
        _, expected = reference[0](torch.from_numpy(mel).reshape(2, 1, 48, 256))
    np.testing.assert_allclose(opened.chunk_embedder("embedding")(mel), expected.numpy(), atol=1e-4, rtol=0)


def test_hear_and_fine_tuning_accept_pretrained_names(fetched):
    model = hear.load_model(f"pretrained:{NAME}")
    sound = np.random.default_rng(1).uniform(-0.5, 0.5, (1, 16000)).astype(np.float32)
    assert hear.get_scene_embeddings(sound, model).shape == (1, 1024)
    classifier = build_classifier(load_keras_encoder(f"pretrained:{NAME}"), num_classes=3)
    assert classifier(np.zeros((2, 256, 48), np.float32)).shape == (2, 3)


def test_joint_space_uses_say_in_one_line_that_the_released_encoders_have_none(opened):
    with pytest.raises(MissingSignatureError) as raised:
        JointSpace(opened).require("embed_genres", "zero-shot genre tagging (`cmir-search tags`)")
    message = str(raised.value)
    assert "\n" not in message and "released no genre or CF encoder, so it has no joint space" in message
    assert opened.missing("embed_mel") is None and "no joint space" in opened.missing("embed_cf")


@pytest.fixture
def command_flags():
    """The command's flags declared and parsed (defaults) for a test, removed afterwards."""
    was_parsed = flags.FLAGS.is_parsed()
    command.define_flags()
    flags.FLAGS.mark_as_parsed()
    yield
    delattr(flags.FLAGS, "refetch")
    if not was_parsed:
        flags.FLAGS.unparse_flags()


def test_the_command_lists_and_finds_the_cache(fetched, reference, capsys):
    command.main(["cmir-pretrained", "list"])
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [row[0] for row in rows] == list(pretrained.RELEASES)
    assert [NAME, "contrastive_MF_gnr", "cached", _blob_id(reference[1]), pretrained.export_dir(NAME)] in rows
    assert ["contr_g", "contrastive_gnr", "not fetched", "2a8439d8029c7ecf917bb56c0e883244f97ef7f7",
            pretrained.url("contr_g")] in rows
    command.main(["cmir-pretrained", "path", NAME])
    assert capsys.readouterr().out == pretrained.export_dir(NAME) + "\n"
    with pytest.raises(SystemExit) as exit_:
        runner.call_main(command.main, "cmir-pretrained", ["cmir-pretrained", "path", "contr_g"])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "cmir-pretrained: error: pretrained:contr_g is not fetched yet (cmir-pretrained fetch contr_g)"]


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh `$CMIR_TF_HOME`; returns a function listing what the release's cache folder holds."""
    monkeypatch.setenv(pretrained.HOME_VARIABLE, str(tmp_path / "home"))
    return lambda: sorted(os.listdir(pretrained.cache_dir(NAME)))


def _damaged(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_file_with_another_blob_id_is_refused_in_one_line_and_nothing_is_kept(damage, reference, empty_cache,
                                                                                 monkeypatch):
    _, data, url_path = reference
    _accept(monkeypatch, data)
    served = _damaged(data) if damage == "corrupt" else data[: len(data) // 3]
    server = Server({url_path: served})
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, server.url)
    try:
        with pytest.raises(pretrained.BlobMismatchError) as raised:
            ExportedModel(f"pretrained:{NAME}")
    finally:
        server.stop()
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"refused {server.url}{url_path[1:]}: its git blob id is "
                                                       f"{_blob_id(served)} ({len(served)} bytes)")
    assert empty_cache() == [".lock"]  # no download, no temporary, no export


def test_a_refetch_downloads_again_and_keeps_the_cache_when_it_fails(reference, empty_cache, monkeypatch):
    _, data, url_path = reference
    _accept(monkeypatch, data)
    stub = os.path.join(pretrained.export_dir(NAME), "saved_model.pb")  # a cached export, as far as fetch sees
    os.makedirs(os.path.dirname(stub))
    open(stub, "wb").close()
    server = Server({url_path: _damaged(data)})
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, server.url)
    try:
        assert pretrained.fetch(NAME) == pretrained.export_dir(NAME) and not server.requests
        with pytest.raises(pretrained.BlobMismatchError):
            pretrained.fetch(NAME, refetch=True)
    finally:
        server.stop()
    assert server.requests == [url_path] and empty_cache() == [".lock", "export"] and os.path.isfile(stub)


def test_the_mirror_alone_never_makes_another_file_acceptable(reference, empty_cache, monkeypatch):
    """The reference file served as the real release (its blob id not given to the test hook): refused."""
    monkeypatch.setitem(pretrained.RELEASES, NAME, RELEASED)
    server = Server({reference[2]: reference[1]})
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, server.url)
    try:
        with pytest.raises(pretrained.BlobMismatchError, match=f"is {RELEASED.blob_id}"):
            pretrained.fetch(NAME)
    finally:
        server.stop()
    assert empty_cache() == [".lock"]


def test_a_transfer_cut_off_is_a_download_error(reference, empty_cache, monkeypatch):
    _, data, url_path = reference
    _accept(monkeypatch, data)
    server = Server({url_path: data}, cut_off=True)
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, server.url)
    try:
        with pytest.raises(pretrained.DownloadError, match=f"cut off after {len(data) // 2} of {len(data)} bytes"):
            pretrained.fetch(NAME)
    finally:
        server.stop()
    assert empty_cache() == [".lock"]


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_no_server_is_one_line_naming_the_url_and_the_manual_conversion(empty_cache, command_flags, monkeypatch,
                                                                        capsys):
    mirror = _closed_port_url()
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, mirror)
    with pytest.raises(SystemExit) as exit_:
        runner.call_main(command.main, "cmir-pretrained", ["cmir-pretrained", "fetch", NAME])
    assert exit_.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"cmir-pretrained: error: cannot download pretrained:{NAME} from "
                           f"{mirror}models/contrastive_MF_gnr/audio_encoder.pt (")
    assert f"cmir-from-torch --checkpoint=audio_encoder.pt --variant={NAME} --output=DIR" in line
    assert empty_cache() == [".lock"]


def test_a_refused_request_names_the_http_status(empty_cache, monkeypatch):
    server = Server({})
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, server.url)
    try:
        with pytest.raises(pretrained.DownloadError, match=r"\(HTTP 404 Not Found\); offline or blocked\?"):
            pretrained.fetch(NAME)
    finally:
        server.stop()


def test_a_fetch_waits_for_another_process_fetching_the_same_model(empty_cache, monkeypatch, capfd):
    """Another process holds the release's lock: the fetch waits (here it then finds no server)."""
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, _closed_port_url())
    holder = subprocess.Popen([sys.executable, os.path.join(TESTS, "hold_lock.py"), pretrained.cache_dir(NAME)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        outcome = []
        thread = threading.Thread(target=lambda: outcome.append(pytest.raises(pretrained.DownloadError,
                                                                              pretrained.fetch, NAME)))
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive() and not outcome  # waiting for the holder, not failing
    finally:
        holder.communicate("\n", timeout=60)
    thread.join(timeout=60)
    assert outcome and f"(pid {holder.pid})" in capfd.readouterr().err


def test_an_unknown_name_is_a_usage_error_naming_the_six():
    with pytest.raises(pretrained.UnknownPretrainedError, match="pretrained:contr_g"):
        ExportedModel("pretrained:contrastive")
