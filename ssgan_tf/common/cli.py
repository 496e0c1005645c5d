"""The one command-line shell of every ssgan_tf tool (`python -m ssgan_tf.<tool>`).

argparse, the same everywhere: `--help` prints the tool's docstring and flags and exits 0; bad
input (a wrong flag, a missing file, a binding that does not fit: `SsganError`, ValueError,
OSError, ...) is one `error: ...` paragraph on stderr and exit code 1, never a traceback (set
SSGAN_TF_DEBUG=1 to see one). Flags read `--name=value` or `--name value`; booleans also
`--name`, `--noname`, `--name=false`; repeatable flags (`--gin_file`) collect a list.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import types
import typing
from typing import Callable, Sequence

from ssgan_tf.common.errors import SsganError

# What counts as bad input (reported in one paragraph) rather than a bug.
USER_ERRORS = (SsganError, ValueError, OSError, FloatingPointError, TypeError, KeyError)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class UsageError(SsganError):
    """A flag that does not parse (argparse would exit 2; we exit 1 like every other error)."""


class Parser(argparse.ArgumentParser):
    """argparse with the shell's conventions: errors raise `UsageError`."""

    def __init__(self, prog: str, doc: str):
        super().__init__(prog=f"python -m {prog}", description=doc,
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         allow_abbrev=False)

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(f"{message} (see --help)")

    def add_bool(self, name: str, default: bool = False, help: str = "") -> None:
        """`--name`, `--name=true|false` and `--noname`."""
        def parse(text: str) -> bool:
            if text.lower() in TRUE:
                return True
            if text.lower() in FALSE:
                return False
            raise argparse.ArgumentTypeError(f"--{name}={text!r}: expected true or false")

        self.add_argument(f"--{name}", nargs="?", const=True, default=default, type=parse,
                          help=f"{help} (default: {default})")
        self.add_argument(f"--no{name}", dest=name, action="store_false",
                          help=argparse.SUPPRESS)

    def add_list(self, name: str, help: str = "") -> None:
        """A repeatable flag: `--name=a --name=b` -> ["a", "b"]."""
        self.add_argument(f"--{name}", action="append", default=[], help=f"{help} (repeatable)")


    def add_csv(self, name: str, default: Sequence[str], help: str = "") -> None:
        """A comma-separated list: `--name=a,b` -> ["a", "b"]."""
        self.add_argument(f"--{name}", default=list(default),
                          type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
                          help=f"{help} (comma-separated; default: {','.join(default)})")

    def add_fields(self, config_cls, helps: dict[str, str],
                   choices: dict[str, Sequence[str]] | None = None) -> None:
        """One flag per field of a config dataclass (its type and default); `args_to(cls,
        args)` builds the dataclass back. Fields without a help text get no flag."""
        hints = typing.get_type_hints(config_cls)
        for field in dataclasses.fields(config_cls):
            if field.name not in helps:
                continue
            kind = hints[field.name]
            if typing.get_origin(kind) in (typing.Union, types.UnionType):
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
            default = field.default
            if kind is bool:
                self.add_bool(field.name, default, helps[field.name])
                continue
            self.add_argument(f"--{field.name}", type=kind, default=default,
                              choices=(choices or {}).get(field.name),
                              help=f"{helps[field.name]} (default: {default!r})")


def args_to(config_cls, args: argparse.Namespace):
    """The config dataclass of the flags `Parser.add_fields` defined."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(args).items() if k in names})


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    if isinstance(error, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return text or type(error).__name__


def run(parser: Parser, action: Callable[[argparse.Namespace], int | None],
        argv: Sequence[str] | None = None) -> int:
    """Parses `argv` (default: sys.argv[1:]) and calls `action(args)`; returns the exit code:
    action's own (None = 0), 1 for bad input, 130 for Ctrl-C."""
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        return int(action(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if os.environ.get("SSGAN_TF_DEBUG"):
            raise
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 1
