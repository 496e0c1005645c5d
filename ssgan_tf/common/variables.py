"""The one way to name a variable inside its model: checkpoints, the trick state and the export
copy all key weights by it, so a renamed model (or a shadow copy of one) maps onto the same keys."""

from __future__ import annotations


def variable_key(variable) -> str:
    """The variable's path inside its model, without the model's own name, "/" -> ".":
    `generator/block1/conv1/kernel` -> `block1.conv1.kernel` (the key checkpoints store)."""
    path = getattr(variable, "path", None) or variable.name.split(":")[0]
    return path.split("/", 1)[-1].replace("/", ".")


def variables_by_key(variables, owner: str = "model") -> dict:
    """{variable_key(v): v}; raises if two variables share a key (they could not be told apart in
    a checkpoint)."""
    variables = list(variables)
    keyed = {variable_key(v): v for v in variables}
    if len(keyed) != len(variables):
        raise ValueError(f"{owner}: variable paths are not unique; cannot key its weights.")
    return keyed
