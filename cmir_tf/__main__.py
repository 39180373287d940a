"""`python -m cmir_tf COMMAND [flags]`: any cmir-tf command without its console script (`cmir-COMMAND`).

`python -m cmir_tf --help` lists the commands; `python -m cmir_tf COMMAND --help` shows one's flags.
"""

import sys

from cmir_tf.cli import COMMANDS, start
from cmir_tf.errors import USAGE_EXIT


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] in COMMANDS:
        name = sys.argv.pop(1)
        sys.argv[0] = f"cmir-{name}"
        start(name)
        return
    width = max(map(len, COMMANDS))
    listing = "\n".join(f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items())
    text = f"usage: python -m cmir_tf COMMAND [flags]   (or the console script cmir-COMMAND)\n\ncommands:\n{listing}"
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(text)
        return
    print(text, file=sys.stderr)
    given = f"unknown command {sys.argv[1]!r}" if len(sys.argv) > 1 else "give a command"
    print(f"cmir_tf: error: {given}", file=sys.stderr)
    sys.exit(USAGE_EXIT)


if __name__ == "__main__":
    main()
