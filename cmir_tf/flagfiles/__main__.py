"""`python -m cmir_tf.flagfiles [NAME]`: the path of a packaged paper flagfile, or the list of names."""

import sys

from cmir_tf import flagfiles
from cmir_tf.errors import USAGE_EXIT


def main(argv: list[str]) -> int:
    if len(argv) == 1:
        print("\n".join(flagfiles.names()))
        return 0
    try:
        if len(argv) > 2:
            raise ValueError("give one flagfile name")
        print(flagfiles.path(argv[1]))
    except ValueError as error:
        print(f"cmir_tf.flagfiles: error: {error}", file=sys.stderr)
        return USAGE_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
