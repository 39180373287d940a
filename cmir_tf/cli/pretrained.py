"""`cmir-pretrained` (`python -m cmir_tf pretrained`): the six audio encoders the paper's authors released, as
`pretrained:NAME` models (`cmir_tf.export.pretrained`).

    cmir-pretrained list                  name, the authors' name, cached or not, git blob id, export folder
                                          (cached) or download URL
    cmir-pretrained fetch contr_cf_g ...  downloads, verifies, converts and caches them ("all": the six;
                                          --refetch: again, replacing the cached files)
    cmir-pretrained path contr_cf_g       the cached export folder (exit 1 if not fetched yet)

Every command that takes `--model` accepts `pretrained:NAME` and fetches it on first use; `fetch` does it ahead
of time. The cache is `$CMIR_TF_HOME` (default `~/.cache/cmir-tf`); `$CMIR_TF_PRETRAINED_MIRROR` replaces the
download's base URL (a file must still have the released git blob id). Output lines are tab-separated. Exit
status: 1 when a file cannot be downloaded (the line names the URL and how to convert a file fetched by hand),
is not the released one, or is not fetched yet (`path`); 2 for an unknown name or command.
"""

from __future__ import annotations

from absl import flags

from cmir_tf import errors
from cmir_tf.cli import runner
from cmir_tf.export import pretrained

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_bool("refetch", False, "fetch: download and convert again, replacing the cached files (e.g. a "
                      "damaged export).")


def list_releases() -> None:
    for state in pretrained.states():
        where = state.export_dir if state.cached else state.url
        print("\t".join((state.release.name, state.release.authors_name,
                         "cached" if state.cached else "not fetched", state.release.blob_id, where)))


def fetch(names: list[str], refetch: bool) -> None:
    for name in list(pretrained.RELEASES) if names == ["all"] else names:
        print(pretrained.fetch(name, refetch))


def main(argv: list[str]) -> None:
    command, names = (argv[1], argv[2:]) if len(argv) > 1 else (None, [])
    if command == "list" and not names:
        list_releases()
    elif command == "fetch" and names:
        fetch(names, FLAGS.refetch)
    elif command == "path" and len(names) == 1:
        print(pretrained.cached_export(names[0]))
    else:
        raise errors.UsageError("give `list`, `fetch NAME...` (or `fetch all`) or `path NAME`; names: "
                                + ", ".join(pretrained.RELEASES))


def run() -> None:
    """Console entry (`cmir-pretrained`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-pretrained")


if __name__ == "__main__":
    run()
