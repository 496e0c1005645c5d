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

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where the shipped configs are: gin/ at the top of a checkout (their source), and ssgan_tf/gin
# inside an installed package (setup.py copies them there).
REPO_ROOT = os.path.dirname(PACKAGE_DIR)
CHECKOUT_GIN_DIR = os.path.join(REPO_ROOT, "gin")
PACKAGE_GIN_DIR = os.path.join(PACKAGE_DIR, "gin")


def config_dirs() -> list[str]:
    """The directories holding the shipped gin configs (a checkout's gin/, the package's)."""
    in_checkout = os.path.isfile(os.path.join(REPO_ROOT, "setup.py"))
    dirs = ([CHECKOUT_GIN_DIR] if in_checkout else []) + [PACKAGE_GIN_DIR]
    return [d for d in dirs if os.path.isdir(d)]


def shipped_configs() -> list[str]:
    """The names of the shipped gin configs (`quickstart.gin`, ...)."""
    return sorted({n for d in config_dirs() for n in os.listdir(d) if n.endswith(".gin")})


def resolve_gin_file(path: str) -> str:
    """A gin file as given (relative to the current directory, or absolute), else a shipped
    config: `quickstart.gin` and `gin/quickstart.gin` work in a checkout and when installed."""
    if os.path.isfile(path):
        return path
    if not os.path.isabs(path):
        name = path[4:] if path.startswith(("gin/", "gin" + os.sep)) else path
        for directory in config_dirs():
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                return candidate
    raise ConfigError(f"--gin_file={path!r} does not exist: it is neither a file (from the "
                      f"current directory {os.getcwd()}) nor a shipped config "
                      f"({', '.join(shipped_configs()) or 'none found'}).")


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
