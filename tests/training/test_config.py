"""TrainConfig: every `train.*` binding of every gin file still configures it, and a value that
does not fit is refused with the binding, the value and what was expected."""

import dataclasses
from pathlib import Path

import gin
import pytest

import ssgan_tf.pipelines.s2gan  # noqa: F401 - registers S2GAN.* (bound by the s2gan gin files)
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.common.errors import ConfigError
from ssgan_tf.training.config import TrainConfig, current_config, make_config

GIN_DIR = Path(__file__).resolve().parents[2] / "gin"


@pytest.mark.parametrize("name", sorted(p.name for p in GIN_DIR.glob("*.gin")))
def test_every_gin_file_binds_a_valid_config(name):
    parse_gin([str(GIN_DIR / name)], [])
    config = make_config()
    text = (GIN_DIR / name).read_text()
    bound = [line.split("=")[0].strip()[len("train."):] for line in text.splitlines()
             if line.startswith("train.")]
    assert bound and "num_steps" in bound
    for key in bound:  # each binding reached the dataclass with its gin value
        assert getattr(config, key) == gin.query_parameter(f"train.{key}"), key


def test_a_binding_reaches_the_field_and_the_defaults_are_the_old_ones():
    parse_gin([], ["train.num_steps = 20", "train.batch_size = 8", "train.hooks = []"])
    config = make_config()
    assert (config.num_steps, config.batch_size, config.hooks) == (20, 8, ())
    assert (config.dataset, config.architecture, config.z_dim, config.precision,
            config.steps_per_loop, config.log_every, config.save_every) == (
        "digits", "sndcgan", 128, "float32", 25, 100, 500)
    assert make_config(batch_size=4).batch_size == 4  # overrides win over the bindings
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.num_steps = 3


@pytest.mark.parametrize("binding,message", [
    ("train.batch_size = 'x'", "train.batch_size='x': expected a positive integer."),
    ("train.batch_size = True", "train.batch_size=True: expected a positive integer."),
    ("train.num_steps = 3.5", "train.num_steps=3.5: expected a positive integer."),
    ("train.num_steps = 0", "train.num_steps=0: expected a positive integer."),
    ("train.num_steps = -5", "train.num_steps=-5: expected a positive integer."),
    ("train.seed = -1", "train.seed=-1: expected an integer >= 0."),
    ("train.resolution = '32'", "train.resolution='32': expected a positive integer or None"),
    ("train.conditional = 'yes'", "train.conditional='yes': expected True or False."),
    ("train.strategy = 'horovod'", "train.strategy='horovod': expected one of 'default', "
                                   "'mirrored', 'multi_worker', 'tpu'."),
    ("train.precision = 'fp8'", "train.precision='fp8': expected one of 'float32', "
                                "'mixed_bfloat16', 'mixed_float16', 'auto'."),
    ("train.nan_policy = 'ignore'", "train.nan_policy='ignore': expected one of 'stop', "
                                    "'restore'."),
    ("train.labelled_fraction = 1.5", "train.labelled_fraction=1.5: expected a number in "
                                      "(0, 1] or None."),
    ("train.hooks = [3]", "train.hooks=(3,): expected a list of training hooks"),
])
def test_a_value_that_does_not_fit_names_binding_value_and_expectation(binding, message):
    parse_gin([], ["train.num_steps = 10", "train.conditional = True", binding])
    with pytest.raises(ConfigError) as error:
        make_config()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)  # one paragraph (gin's "In call to..." line is cut)


def test_missing_num_steps_and_unknown_settings_are_config_errors():
    with pytest.raises(ConfigError, match=r"train.num_steps is not set.*train.num_steps=1000"):
        make_config()
    with pytest.raises(ConfigError, match=r"Unknown training settings \['batch'\]"):
        make_config(num_steps=1, batch=3)
    with pytest.raises(ConfigError, match="only make sense for a conditional model"):
        make_config(num_steps=1, labelled_fraction=0.1)


def test_tools_read_the_config_without_num_steps():
    """benchmark / s2gan / the study build what training builds but never run its loop."""
    parse_gin([], ["train.architecture = 'resnet_cifar'"])
    assert current_config().architecture == "resnet_cifar"
    assert isinstance(current_config(), TrainConfig)
