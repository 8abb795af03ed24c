"""One declaration per setting: a field added to Config reaches the command line, the form and validation."""

import argparse
import dataclasses

import pytest

from charlstm.cli import common as cli
from charlstm.config import Config, form_settings, setting, settings


def with_new_settings():
    """Config plus two settings, declared the way config.py declares its own."""
    return dataclasses.make_dataclass("Wider", [
        ("optimizer", str, setting("adam", "Optimizer", "Which optimizer steps the weights.",
                                   choices=("adam", "sgd"), column=2)),
        ("warmup", int, setting(0, "Warm-up steps", "Steps at a rising learning rate.", min=0, max=1000,
                                step=10, column=1)),
    ], bases=(Config,), frozen=True)


def test_a_new_setting_becomes_a_command_line_flag():
    Wider = with_new_settings()
    p = argparse.ArgumentParser()
    cli.add_config_args(p, Wider)
    args = p.parse_args(["--preset", "quick demo", "--optimizer", "sgd", "--warmup", "20", "--units", "32"])
    config = cli.config_from(args, Wider)
    assert (config.optimizer, config.warmup, config.units, config.layers) == ("sgd", 20, 32, 1)
    assert cli.config_from(p.parse_args([]), Wider).optimizer == "adam"
    with pytest.raises(SystemExit):  # argparse refuses a value outside the choices
        p.parse_args(["--optimizer", "rmsprop"])
    assert "Which optimizer steps the weights." in p.format_help()


def test_a_new_setting_is_validated_from_its_bounds():
    Wider = with_new_settings()
    with pytest.raises(ValueError, match=r"warmup must be an integer in \[0, 1000\], got 5000"):
        Wider(warmup=5000)
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd"):
        Wider(optimizer="rmsprop")


def test_a_new_setting_lands_on_the_form_in_its_column():
    names = [(s.name, s.column) for s in form_settings(with_new_settings())]
    assert ("warmup", 1) in names and ("optimizer", 2) in names
    assert [n for n, _ in names if n not in ("warmup", "optimizer")] == [s.name for s in form_settings()]


def test_every_setting_is_declared():
    for s in settings():
        assert s.label and s.help.endswith("."), s.name
        assert s.problem(s.default) is None, s.name
    assert [s.name for s in form_settings()] == ["layers", "units", "embedding", "dropout", "seq_len", "batch_size",
                                                 "epochs", "minutes", "learning_rate", "seed", "patience",
                                                 "lowercase"]


@pytest.mark.parametrize("changes,message", [
    ({"units": 0}, "units must be an integer >= 1, got 0"),
    ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
    ({"val_fraction": 0.5}, "val_fraction must be in (0, 0.5), got 0.5"),
    ({"learning_rate": 0}, "learning_rate must be > 0, got 0"),
    ({"clipnorm": -1.0}, "clipnorm must be >= 0 (0 turns clipping off), got -1.0"),
    ({"lowercase": 1}, "lowercase must be true or false, got 1"),
    ({"layers": True}, "layers must be an integer >= 1, got True"),
])
def test_problems_are_said_in_words(changes, message):
    with pytest.raises(ValueError) as e:
        Config(**changes)
    assert str(e.value) == f"invalid config: {message}"
