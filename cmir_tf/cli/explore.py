"""`cmir-explore` (`python -m cmir_tf explore`): a local web page over a song index (`cmir-search index`):
the songs on a 2-D map coloured by genre, playback, nearest songs, tag and genre queries, playlists continued
from chosen songs and downloaded as .m3u (`cmir_tf.explore`, docs/explore.md).

  cmir-explore --index=music.idx                    # http://127.0.0.1:8000/ on this machine only
  cmir-explore --index=music.idx --port=8080 --model=moved/export
  cmir-explore --index=music.idx --host=0.0.0.0     # reachable from other machines (a warning says so)

The map is computed once, the first time an index is explored, and stored in the index folder. Ctrl-C stops
the server.
"""

from __future__ import annotations

from absl import flags

from cmir_tf import errors
from cmir_tf.cli import runner
from cmir_tf.explore import server


def define_flags() -> None:
    flags.DEFINE_string("index", None, "Index folder written by `cmir-search index`.")
    flags.DEFINE_string("model", None, "The index's model if it moved (default: where the index says it is).")
    flags.DEFINE_string("host", "127.0.0.1", "Address to listen on; anything but a loopback address exposes the "
                        "index's songs to the network.")
    flags.DEFINE_integer("port", 8000, "Port to listen on (0: any free port).")


FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    if not FLAGS.index:
        raise errors.UsageError("give --index=DIR, an index folder written by `cmir-search index`")
    server.serve(server.ExploreConfig(FLAGS.index, FLAGS.model, FLAGS.host, FLAGS.port))


def run() -> None:
    """Console entry (`cmir-explore`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-explore")


if __name__ == "__main__":
    run()
