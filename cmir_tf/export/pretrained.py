"""The authors' six released audio encoders as `pretrained:NAME`: downloaded once, verified, converted, cached.

    from cmir_tf.export import ExportedModel
    model = ExportedModel("pretrained:contr_cf_g")       # the first use downloads and converts it
    fetch("contr_cf_g")                                  # -> the cached export folder (what the handle opens)

Ferraro et al. released their trained `AudioEncoder`s (MIT licence) as PyTorch state dicts in their repository
andrebola/contrastive-mir-learning at commit `COMMIT`, `models/<authors' name>/audio_encoder.pt`. `RELEASES`
pins each file by its git blob id (SHA-1 of `b"blob <size>\\0" + content`), so a download is verified without
any other checksum, whatever server it came from.

`fetch(name)`:
1. returns `cache_dir(name)/export` at once when it exists (an export is renamed into place only when whole);
2. otherwise takes the cache folder's lock (waiting for another process fetching the same model), so two
   processes never write the same files;
3. downloads `URL` (base `https://raw.githubusercontent.com/andrebola/contrastive-mir-learning/<COMMIT>/`,
   replaced by `$CMIR_TF_PRETRAINED_MIRROR`, same paths below it) to a temporary name with a tqdm bar, checks its
   git blob id against `RELEASES` and only then renames it to `audio_encoder.pt` (a wrong file is refused and
   removed, never converted);
4. converts it with `cmir_tf.export.torch_import` in the `authors_training` input layout (the one the weights
   were trained with, docs/reuse.md) and exports a SavedModel whose asset records the release (repository,
   commit, path, blob id, licence, layout, URL).

The cache is `$CMIR_TF_HOME` (default `$XDG_CACHE_HOME/cmir-tf`, else `~/.cache/cmir-tf`), one folder per release
named after its blob id: `pretrained/<name>-<blob id[:12]>/{audio_encoder.pt, export/}`.

The expected blob ids are this module's constants: no variable or flag replaces them (tests replace a `RELEASES`
entry in-process), so a mirror can serve the files but never make another file acceptable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request

from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.data.atomic import atomic_path
from cmir_tf.data.lock import exclusive_lock

PREFIX = "pretrained:"
REPOSITORY = "andrebola/contrastive-mir-learning"
COMMIT = "2c317fa723ef598a46dedc4c181377fc67474edc"
LICENCE = "MIT"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/"
MIRROR_VARIABLE = "CMIR_TF_PRETRAINED_MIRROR"
HOME_VARIABLE = "CMIR_TF_HOME"
INPUT_LAYOUT = "authors_training"  # how all six were trained: `.view(-1, 1, 48, 256)` of (256, 48) crops
CHECKPOINT = "audio_encoder.pt"
EXPORT = "export"
TIMEOUT_S = 60  # per connection attempt and per read
BLOCK = 1 << 16  # bytes read from the connection at a time


@dataclasses.dataclass(frozen=True)
class Release:
    """One released encoder: cmir-tf's variant name, the authors' folder name and the file's git blob id."""

    name: str
    authors_name: str
    blob_id: str

    @property
    def path(self) -> str:
        """The file's path in the authors' repository."""
        return f"models/{self.authors_name}/{CHECKPOINT}"


RELEASES = {release.name: release for release in (
    Release("bline_cf", "baseline_MF", "c20fcdd8b440950f14e9447962483b2f3eb6b93b"),
    Release("bline_cf_g", "baseline_MF_gnr", "6d7beac0ffdb22fe304f7f41f77c96cabec4d2d5"),
    Release("bline_g", "baseline_gnr", "08dc4e5f8f673a0580fd672ff0af8bf906035aed"),
    Release("contr_cf", "contrastive_MF", "043dd379bc1a9548f63292560e6e3ddfccaf182f"),
    Release("contr_cf_g", "contrastive_MF_gnr", "35d59e868f0129388ef2c0e1e08ccdb69a7a3e9b"),
    Release("contr_g", "contrastive_gnr", "2a8439d8029c7ecf917bb56c0e883244f97ef7f7"),
)}


class UnknownPretrainedError(errors.UsageError, ValueError):
    """`pretrained:NAME` with a NAME that is not one of the six releases."""


class DownloadError(errors.InputError):
    """The file could not be downloaded (offline, blocked, refused, cut off)."""


class BlobMismatchError(errors.InputError):
    """The downloaded file is not the released one: its git blob id differs."""


class NotFetchedError(errors.InputError):
    """The release is not in the cache yet."""


@dataclasses.dataclass(frozen=True)
class State:
    """What `states` lists: a release, where its export is (or will be), whether it is there, its URL."""

    release: Release
    export_dir: str
    cached: bool
    url: str


def release(name: str) -> Release:
    """The release called `name` (cmir-tf's variant name, e.g. "contr_cf_g"); `UnknownPretrainedError` else."""
    if name not in RELEASES:
        raise UnknownPretrainedError(f"no released encoder {PREFIX}{name}: the authors released "
                                     f"{', '.join(PREFIX + n for n in RELEASES)}")
    return RELEASES[name]


def home() -> str:
    """The cache root: `$CMIR_TF_HOME`, else `$XDG_CACHE_HOME/cmir-tf`, else `~/.cache/cmir-tf`."""
    if os.environ.get(HOME_VARIABLE):
        return os.path.abspath(os.path.expanduser(os.environ[HOME_VARIABLE]))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "cmir-tf")


def cache_dir(name: str) -> str:
    """`<home>/pretrained/<name>-<blob id[:12]>`: the release's folder (its download and its export)."""
    found = release(name)
    return os.path.join(home(), "pretrained", f"{found.name}-{found.blob_id[:12]}")


def export_dir(name: str) -> str:
    """Where the release's SavedModel is (or will be) cached."""
    return os.path.join(cache_dir(name), EXPORT)


def url(name: str) -> str:
    """The release's download URL: the pinned commit's raw file, or the same path below the mirror."""
    base = os.environ.get(MIRROR_VARIABLE) or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/{release(name).path}"


def states() -> list[State]:
    """Every release with its cache state, in `RELEASES` order."""
    return [State(RELEASES[name], export_dir(name), is_cached(name), url(name)) for name in RELEASES]


def is_cached(name: str) -> bool:
    return os.path.isfile(os.path.join(export_dir(name), "saved_model.pb"))


def cached_export(name: str) -> str:
    """The cached export of `name`; `NotFetchedError` when it is not there (nothing is downloaded)."""
    if not is_cached(name):
        raise NotFetchedError(f"{PREFIX}{name} is not fetched yet (cmir-pretrained fetch {name})")
    return export_dir(name)


def resolve(model: str | os.PathLike) -> str | os.PathLike:
    """`model` itself, or for `pretrained:NAME` the folder of its export (fetched first if needed)."""
    return fetch(model[len(PREFIX):]) if isinstance(model, str) and model.startswith(PREFIX) else model


def fetch(name: str, refetch: bool = False) -> str:
    """The export folder of release `name`, downloaded, verified, converted and cached first when needed
    (module docstring). Safe to call from several processes at once.

    Args:
      name: one of `RELEASES`.
      refetch: download and convert again, replacing the cached files only once that succeeded (e.g. for a
        damaged export).

    Raises:
      UnknownPretrainedError: not one of the six names.
      DownloadError: the URL cannot be read (one line naming it and how to convert a file fetched by hand).
      BlobMismatchError: the file read is not the released one (nothing is kept or converted).
      PathError: the cache folder cannot be written.
    """
    target = export_dir(name)
    if is_cached(name) and not refetch:
        return target
    folder = cache_dir(name)
    try:
        with exclusive_lock(folder, f"process fetching {PREFIX}{name}", wait=True):
            if refetch or not is_cached(name):  # another process may have finished while this one waited
                _convert(release(name), _verified_checkpoint(release(name), folder, refetch), target)
                print(f"cmir-tf: {PREFIX}{name}: converted ({INPUT_LAYOUT} input layout) and cached in {target}",
                      file=sys.stderr)
    except OSError as error:
        if isinstance(error, errors.CmirError):
            raise
        raise errors.input_error_from_os(error, error.filename or folder, "write the model cache") from error
    return target


def git_blob_id(path: str) -> str:
    """Git's object id of the file at `path`: SHA-1 of `b"blob <size>\\0"` and its bytes, streamed."""
    digest = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified_checkpoint(found: Release, folder: str, refetch: bool) -> str:
    """`folder/audio_encoder.pt`, downloaded first unless a file with the right blob id is already there (and
    not `refetch`); a download replaces it only once verified."""
    path = os.path.join(folder, CHECKPOINT)
    if not refetch and os.path.isfile(path) and git_blob_id(path) == found.blob_id:
        return path
    source = url(found.name)
    with atomic_path(path) as partial:
        size = _download(source, partial, found.name)
        got = git_blob_id(partial)
        if got != found.blob_id:
            raise BlobMismatchError(
                f"refused {source}: its git blob id is {got} ({size} bytes), {PREFIX}{found.name} is {found.blob_id} "
                f"({REPOSITORY}@{COMMIT[:12]}): a damaged, truncated or different file; nothing was converted or kept")
    return path


def _download(source: str, path: str, name: str) -> int:
    """Writes the body at `source` to `path` with a progress bar; returns its size in bytes."""
    size = 0
    try:
        with urllib.request.urlopen(source, timeout=TIMEOUT_S) as response, open(path, "wb") as f, tqdm(
                total=response.length, unit="B", unit_scale=True, desc=f"{PREFIX}{name}", disable=None,
                leave=False) as bar:
            for block in iter(lambda: response.read(BLOCK), b""):
                f.write(block)
                size += len(block)
                bar.update(len(block))
            if response.length:  # http.client returns b"" when the connection closes before Content-Length
                raise DownloadError(f"the download of {PREFIX}{name} from {source} was cut off after {size} of "
                                    f"{size + response.length} bytes; try again")
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as error:
        reason = (f"HTTP {error.code} {error.reason}" if isinstance(error, urllib.error.HTTPError)
                  else getattr(error, "reason", None) or error)
        raise DownloadError(
            f"cannot download {PREFIX}{name} from {source} ({reason}); offline or blocked? set {MIRROR_VARIABLE} to "
            f"a mirror, or fetch that file by hand and convert it: cmir-from-torch --checkpoint={CHECKPOINT} "
            f"--variant={name} --output=DIR, then use --model=DIR") from error
    return size


def _convert(found: Release, checkpoint: str, target: str) -> None:
    """The verified `checkpoint` -> a SavedModel at `target` recording where it came from."""
    # Keras and the SavedModel writer load only here (the cached exports need neither); torch_import reaches
    # this package's `exported` module, which imports this one.
    from cmir_tf.export.torch_import import export_torch_checkpoint

    origin = {"repository": REPOSITORY, "commit": COMMIT, "path": found.path, "blob_id": found.blob_id,
              "licence": LICENCE, "layout": INPUT_LAYOUT, "url": url(found.name), "authors_name": found.authors_name}
    export_torch_checkpoint(checkpoint, found.name, target, INPUT_LAYOUT, overwrite=True, pretrained=origin)
