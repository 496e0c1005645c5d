"""GAN losses and D penalties by name: gin binds the functions (`GAN.loss_fn = @hinge`), configs
and `.keras` files store their names (`"hinge"`), and both resolve here."""

from __future__ import annotations

import keras

from ssgan_tf.gans import losses as losses_lib
from ssgan_tf.gans import penalties as penalties_lib

REGISTRIES = {"loss_fn": losses_lib.LOSSES, "penalty_fn": penalties_lib.PENALTIES}


def resolve(value, binding: str):
    """A loss / penalty function from a function, a registered name or a serialized function."""
    if value is None or callable(value):
        return value
    registry = REGISTRIES[binding]
    if isinstance(value, str):
        if value not in registry:
            raise ValueError(f"GAN.{binding}={value!r}; expected one of {tuple(registry)}.")
        return registry[value]
    return keras.saving.deserialize_keras_object(value)


def to_config(function, binding: str):
    """The registered name of `function`, else its Keras serialization (a custom function must
    be registered with `keras.saving.register_keras_serializable` to load back)."""
    if function is None:
        return None
    name = getattr(function, "__name__", None)
    known = REGISTRIES[binding].get(name)
    if known is not None and (known is function or getattr(function, "__module__", None)
                              == getattr(known, "__module__", None)):
        return name
    return keras.saving.serialize_keras_object(function)
