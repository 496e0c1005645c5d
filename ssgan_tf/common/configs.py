"""Gin config files: where `--gin_file=gin/quickstart.gin` is found, and parsing with errors
that name the file and the binding (gin's own are raw tokenizer / parser tracebacks).

A gin file is code: gin can import modules and call functions. Use gin files you trust.
"""

from __future__ import annotations

import contextlib
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
    elif isinstance(error, tokenize.TokenError) and len(error.args) == 2:
        line = error.args[1][0] if isinstance(error.args[1], tuple) else "?"
        text = (f"syntax error at line {line}: {error.args[0]} (a bracket or string opened "
                "earlier is never closed)")
    return text or type(error).__name__


@contextlib.contextmanager
def isolated_gin_config():
    """Runs the body on an empty gin config and puts the caller's config back afterwards (its
    bindings, imports, singletons and operative record), so a library call that parses another
    run's config.gin (e.g. `runs.load_gan` inside a training hook or a notebook) does not wipe
    the live process's configuration. gin has no public API for this: it saves and refills the
    module's registries in place."""
    state = gin.config
    # Two-level copies: deepcopy would evaluate `@Hook()` references (gin's __deepcopy__).
    saved = ({k: dict(v) for k, v in state._CONFIG.items()}, dict(state._SINGLETONS),
             set(state._IMPORTS), {k: dict(v) for k, v in state._OPERATIVE_CONFIG.items()},
             state._CONFIG_IS_LOCKED)
    gin.clear_config()
    try:
        yield
    finally:
        gin.clear_config()
        config, singletons, imports, operative, locked = saved
        state._CONFIG.update(config)
        state._SINGLETONS.update(singletons)
        state._IMPORTS.update(imports)
        with state._OPERATIVE_CONFIG_LOCK:
            state._OPERATIVE_CONFIG.update(operative)
        state._set_config_is_locked(locked)
