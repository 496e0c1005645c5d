"""Keras serialization for the project's layers and networks: `get_config` is the arguments the
constructor was called with.

`Configurable` records, at construction, the arguments of the outermost `__init__` (after gin
filled in its bindings, so a network built from gin files saves what gin gave it) and returns them
from `get_config` (Keras objects such as initializers serialized); Keras' default `from_config`
calls the constructor with them. Every subclass is registered for `.keras` loading as
`ssgan_tf>module.Class` (e.g. `ssgan_tf>sndcgan.Generator`), so `keras.models.load_model` finds it
without `custom_objects`.
"""

from __future__ import annotations

import functools
import inspect

import keras

# Arguments Keras' own `Layer.get_config` reports (from the layer, not from the call).
_KERAS_KEYS = ("name", "dtype", "trainable")


def _recording(init):
    """`init`, recording its arguments on the instance when it is the outermost constructor."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if "_init_arguments" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            for name, parameter in signature.parameters.items():
                if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(arguments.pop(name, {}))
            self.__dict__["_init_arguments"] = arguments
        init(self, *args, **kwargs)

    wrapper.__signature__ = signature  # what Keras' and gin's introspection should see
    return wrapper


class Configurable:
    """Mixin for keras layers / models: `get_config` from the constructor's arguments."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__init__)
        module = cls.__module__.rsplit(".", 1)[-1]
        keras.saving.register_keras_serializable("ssgan_tf", f"{module}.{cls.__qualname__}")(cls)

    def get_config(self) -> dict:
        arguments = {k: v for k, v in self.__dict__.get("_init_arguments", {}).items()
                     if k not in _KERAS_KEYS}
        config = {k: _serializable(v) for k, v in arguments.items()}
        return {**config, **super().get_config()}


def _serializable(value):
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (tuple, list)):
        return [_serializable(v) for v in value]
    if isinstance(value, dict):
        return {k: _serializable(v) for k, v in value.items()}
    return keras.saving.serialize_keras_object(value)
