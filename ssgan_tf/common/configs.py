"""Gin config files: where `--gin_file=gin/quickstart.gin` is found, and parsing with errors
that name the file and the binding (gin's own are raw tokenizer / parser tracebacks).

A gin file is code: gin can import modules and call functions. Use gin files you trust.
"""

from __future__ import annotations

import os
import tokenize

import gin

from ssgan_tf.common.errors import ConfigError

# The repository checkout this package runs from (gin/ lives at its top).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resolve_gin_file(path: str) -> str:
    """A gin path as given, or relative to the repository (so `gin/x.gin` works anywhere)."""
    for candidate in (path, os.path.join(REPO_ROOT, path)):
        if os.path.isfile(candidate):
            return candidate
    raise ConfigError(f"--gin_file={path!r} does not exist (looked in the current directory "
                      f"and in the ssgan_tf checkout {REPO_ROOT}).")


def parse_gin(gin_files: list[str], gin_params: list[str], skip_unknown: bool = False) -> None:
    """Parses the files, then the bindings, in order; bad syntax or unknown names raise a
    `ConfigError` naming the file or binding."""
    for path in gin_files:
        resolved = resolve_gin_file(path)
        try:
            gin.parse_config_file(resolved, skip_unknown=skip_unknown)
        except (SyntaxError, tokenize.TokenError, ValueError, ImportError) as e:
            raise ConfigError(f"--gin_file={path}: {_gin_message(e)}") from e
    for binding in gin_params:
        try:
            gin.parse_config(binding, skip_unknown=skip_unknown)
        except (SyntaxError, tokenize.TokenError, ValueError, ImportError) as e:
            raise ConfigError(f"--gin_param={binding!r}: {_gin_message(e)}") from e


def _gin_message(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, SyntaxError) and error.lineno:
        text = f"syntax error at line {error.lineno}: {error.msg}"
    return text or type(error).__name__
