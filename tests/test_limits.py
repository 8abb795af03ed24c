"""Server caps: each one refuses what exceeds it, with a message naming it."""

import re

import pytest

from charlstm.config import PRESETS, Config
from charlstm.serve.limits import Limits, estimate_training_mb


def test_every_cap_names_itself():
    lim = Limits(max_layers=2, max_units=64, max_embedding=16, max_seq_len=64, max_batch_size=64,
                 max_training_mb=760, max_epochs=3)
    assert lim.problems(Config(layers=2, units=64, embedding=16, seq_len=16, batch_size=64, epochs=3)) == []
    too_big = Config(layers=3, units=65, embedding=17, seq_len=65, batch_size=65, epochs=4)
    text = "; ".join(lim.problems(too_big, corpus_bytes=11_000_000))
    for part in ("layers is 3", "units per layer is 65", "embedding size is 17", "sequence length is 65",
                 "batch size is 65", "epochs is 4", "MB of memory", "corpus is 11.0 MB"):
        assert part in text
    # by hand: 65 x 65 x 3 x 65 = 823,875 unit-characters at 57 bytes = 46.96 MB, + 745 MB = 791.96, whole MB: 791
    assert "about 791 MB of memory" in text and "at most 760 MB" in text
    # the accepted config above: 64 x 16 x 2 x 64 = 131,072 at 57 bytes = 7.5 MB, + 745 = 752 MB, under the 760 cap
    assert estimate_training_mb(Config(layers=2, units=64, embedding=16, seq_len=16, batch_size=64)) == 752


def test_memory_estimate_matches_what_was_measured():
    # peaks measured on the built-in corpus (see the docstring of estimate_training_mb): measurements, not the
    # formula, so the expectation is independent of the code; the formula was fitted to them, hence the 60 MB slack
    assert abs(estimate_training_mb(Config()) - 800) < 60
    assert abs(estimate_training_mb(Config(layers=3, units=512, seq_len=128, batch_size=64)) - 1462) < 60
    assert abs(estimate_training_mb(Config(layers=3, units=512, seq_len=128, batch_size=128)) - 2179) < 60


def test_default_caps_accept_the_presets_and_refuse_the_largest_mix():
    lim = Limits()
    for name, config in PRESETS.items():
        assert lim.problems(config) == [], name
    (msg,) = lim.problems(Config(layers=3, units=512, seq_len=128, batch_size=128))
    # by hand: 128 x 128 x 3 x 512 = 25,165,824 unit-characters at 57 bytes = 1,434 MB, + 745 = 2,179 MB
    assert "about 2,179 MB" in msg and "at most 1,500 MB" in msg
    assert "1,500 MB while training" in lim.describe()


# ---- boundaries and parsing (each test here killed a mutant of `make mutate` that the others let live)
def test_a_value_at_a_cap_is_allowed_and_one_past_it_is_not():
    import dataclasses

    config = Config(layers=2, units=64, batch_size=32, seq_len=32)
    need = estimate_training_mb(config)
    assert Limits(max_training_mb=need).problems(config) == []
    assert Limits(max_training_mb=need - 1).problems(config)
    lim = Limits(max_corpus_mb=1.0)
    assert lim.problems(config, corpus_bytes=1_000_000) == [] and lim.problems(config, corpus_bytes=1_000_001)
    with pytest.raises(dataclasses.FrozenInstanceError):  # one Limits is shared by every session of a server
        lim.max_units = 10**6


@pytest.mark.parametrize("raw,message", [
    ("0", "CHARLSTM_MAX_UNITS must be a positive integer, got '0'"),
    ("-3", "must be a positive integer"),
    (True, "must be a positive integer, got True"),
    (2.5, "must be a positive integer, got 2.5"),
    ("many", "must be a positive number, got 'many'"),
])
def test_a_cap_that_is_not_a_positive_whole_number_is_refused_naming_it(raw, message):
    from charlstm.serve.settings import from_env

    with pytest.raises(ValueError, match=re.escape(message)):
        from_env({}, {"max_units": raw})


def test_whole_floats_count_for_integer_caps_and_fractions_for_float_ones():
    from charlstm.serve.settings import from_env

    assert from_env({}, {"max_units": 3.0}).max_units == 3
    assert from_env({"CHARLSTM_MAX_CORPUS_MB": "0.5"}).max_corpus_mb == 0.5  # a float cap keeps its fraction
    with pytest.raises(ValueError, match="CHARLSTM_MAX_CORPUS_MB must be a positive number, got '0'"):
        from_env({"CHARLSTM_MAX_CORPUS_MB": "0"})


def test_a_runs_disk_estimate_counts_the_models_parameters_as_keras_does():
    from charlstm.runs.store import demo_run
    from charlstm.serve.limits import estimate_run_bytes

    run = demo_run()  # 2 x 256 over an embedding of 64: the first layer's input is the embedding, the second's not
    assert estimate_run_bytes(run.config, len(run.vocab)) == 16 * run.meta["params"] + 200_000


def test_the_pattern_and_bundle_caps_come_from_the_environment_and_go_back_to_it():
    from charlstm.serve.settings import from_env, to_env

    env = {"CHARLSTM_MAX_PATTERN": "50", "CHARLSTM_MAX_BUNDLE_MB": "2.5", "CHARLSTM_MAX_BUNDLE_FILE_MB": "1",
           "CHARLSTM_MAX_BUNDLE_UNPACKED_MB": "3", "CHARLSTM_MAX_BUNDLE_ENTRIES": "9", "CHARLSTM_MAX_JSON_KB": "64",
           "CHARLSTM_MAX_JSON_DEPTH": "8"}
    lim = from_env(env, {"max_json_depth": 6})  # st.secrets over the environment, as for every cap
    assert (lim.max_pattern, lim.max_bundle_mb, lim.max_bundle_file_mb, lim.max_bundle_unpacked_mb,
            lim.max_bundle_entries, lim.max_json_kb, lim.max_json_depth) == (50, 2.5, 1.0, 3.0, 9, 64, 6)
    assert from_env(to_env(lim)) == lim  # what the import process is handed is what the server applies
    with pytest.raises(ValueError, match="CHARLSTM_MAX_BUNDLE_ENTRIES must be a positive integer"):
        from_env({"CHARLSTM_MAX_BUNDLE_ENTRIES": "0"})


TEXT_CAPS = ("max_gates_text", "max_units_text", "max_teach_text", "max_prime", "max_generate_length",
             "max_attribution_text", "max_ig_steps", "max_components_text", "max_compare_text")


@pytest.mark.parametrize("field", TEXT_CAPS)
def test_each_input_cap_is_read_from_its_environment_variable(field):
    from charlstm.serve.settings import env_name, from_env

    assert getattr(from_env({env_name(field): "17"}), field) == 17
    assert getattr(from_env({}, {field: 18}), field) == 18  # st.secrets over the environment
    with pytest.raises(ValueError, match=f"{env_name(field)} must be a positive integer"):
        from_env({env_name(field): "0"})


def test_a_generation_cap_past_the_librarys_own_is_refused_naming_it():
    from charlstm.model.sampling import MAX_LENGTH
    from charlstm.serve.settings import from_env

    assert from_env({"CHARLSTM_MAX_GENERATE_LENGTH": str(MAX_LENGTH)}).max_generate_length == MAX_LENGTH
    with pytest.raises(ValueError, match="CHARLSTM_MAX_GENERATE_LENGTH must be at most 20,000"):
        from_env({"CHARLSTM_MAX_GENERATE_LENGTH": str(MAX_LENGTH + 1)})


def test_a_text_is_cut_to_its_cap_and_the_cut_is_said():
    from charlstm.serve.limits import clip, cut_note

    assert clip("abcdef", 4) == "abcd" and clip(None, 4) == "" and clip("abcd", 4) == "abcd"
    assert cut_note(4, 4) is None
    assert cut_note(1_005, 4) == "Only the first 4 of these 1,005 characters are read: this server's limit."
