"""Run keys are pinned: a stored run, a bundle and the shipped demo are found by the key of their corpus and config.

A Config field added without a default in LATER_FIELDS would change every key (the cache misses, the shipped demo's
key moves, old bundles no longer import as themselves). These literals were computed once and must never change;
a new field must leave them as they are.
"""

import dataclasses

import pytest

from charlstm.config import LATER_FIELDS, PRESETS, Config
from charlstm.runs.store import demo_run, run_key

SHAKESPEARE = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"  # the built-in corpus's sha256
PINNED = {
    "quick demo": "8d0c39c48424f022",
    "default": "4eb435a590a8f737",
    "classic tutorial": "bff5c9ff41b83006",
    "the tutorial, exactly": "288c10504b7e3653",
}


def test_the_shipped_demo_is_found_under_its_pinned_key():
    demo = demo_run()
    assert demo.key == "1c06e0fd443e99f6"
    assert run_key(demo.meta["corpus_sha256"], demo.config) == "1c06e0fd443e99f6"


@pytest.mark.parametrize("name", sorted(PINNED))
def test_each_presets_key_on_the_built_in_corpus_is_pinned(name):
    assert run_key(SHAKESPEARE, PRESETS[name]) == PINNED[name]


def test_a_small_config_on_another_corpus_is_pinned():
    assert run_key("0" * 64, Config(layers=1, units=8, epochs=1)) == "3f7abf17bab9e05e"


def test_the_fields_added_later_are_left_out_of_the_key_at_their_old_values():
    base = Config(layers=1, units=8, epochs=1)
    for name, old in LATER_FIELDS.items():
        assert getattr(Config(), name) == old, name  # the default is what every older run had
    assert run_key("0" * 64, dataclasses.replace(base, minutes=0.0)) == "3f7abf17bab9e05e"
    assert run_key("0" * 64, dataclasses.replace(base, minutes=2.0)) != "3f7abf17bab9e05e"  # a new value counts
