"""The one error base class: bad input a user can fix (a file, a binding, a value).

Every tool reports an `SsganError` (and the ValueError / FileNotFoundError family raised by
configuration checks) as one `error: ...` paragraph with exit code 1; anything else is a bug
and keeps its traceback. It subclasses ValueError so `except ValueError` code keeps working.
"""

from __future__ import annotations


class SsganError(ValueError):
    """Bad input: the message says which file / binding / value and what was expected."""


class ConfigError(SsganError):
    """A gin file or binding that does not parse or does not fit (which file, which binding)."""
