"""The shared shell of the small command-line tools (export, linear_eval): their own absl
FlagValues (importing a tool defines no global flag, so tools coexist with `ssgan_tf.train`),
`--help`, and bad input reported as one `error: ...` paragraph with exit code 1."""

from __future__ import annotations

import sys
from typing import Callable


def run_flag_cli(argv: list[str], doc: str, flag_values, action: Callable,
                 errors: tuple[type[BaseException], ...]) -> int:
    """Parses `argv` into `flag_values` and calls `action(flag_values)`; returns the exit code.

    `errors`: the exception types that mean bad input (reported without a traceback)."""
    from absl import flags

    if any(a in ("-h", "--help", "--helpfull") for a in argv[1:]):
        print(doc + "\nflags:\n" + flag_values.get_help(include_special_flags=False))
        return 0
    try:
        rest = flag_values(argv)
        if len(rest) > 1:
            raise ValueError(f"unexpected arguments {rest[1:]} (see --help).")
        action(flag_values)
    except (*errors, ValueError, flags.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
