"""The suite's own switches: under CI a missing dependency fails a test instead of skipping it."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import on_ci

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value,expected", [
    (None, False), ("", False), ("0", False), ("false", False), ("False", False), (" FALSE ", False),
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("github-actions", True),
])
def test_what_counts_as_ci(value, expected):
    assert on_ci({} if value is None else {"CI": value}) is expected


@pytest.mark.parametrize("ci,outcome", [("1", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    from e2e.conftest import _missing_browser

    monkeypatch.setenv("CI", ci)
    got = None
    try:  # not pytest.raises: a skip escaping it would report this test as skipped, not failed
        _missing_browser("no chromium")
    except (pytest.fail.Exception, pytest.skip.Exception) as e:
        got = e
    assert type(got) is outcome and "no chromium" in str(got)


def _gates_without_keras(tmp_path: Path, ci: str) -> dict[str, str]:
    """Run tests/test_gates.py in a fresh pytest where `import keras` fails; the outcome of each test."""
    report = tmp_path / f"report-ci{ci or '-unset'}.xml"
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci else {})
    code = ("import sys, pytest; sys.modules['keras'] = sys.modules['tensorflow'] = None; "
            "sys.exit(pytest.main(sys.argv[1:]))")  # None in sys.modules: importing it raises ImportError
    r = subprocess.run([sys.executable, "-c", code, "tests/test_gates.py", "-q", "-p", "no:cacheprovider",
                        "-o", "addopts=", f"--junitxml={report}"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert report.exists(), r.stdout + r.stderr
    out = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = {child.tag for child in case} & {"failure", "error", "skipped"}
        out[case.get("name")] = kinds.pop() if kinds else "passed"
    return out


KERAS_FREE = ("test_gates_follow_the_lstm_equations", "test_sentence_boundaries",
              "test_forgetters_on_a_hand_checked_trace", "test_saturation_fractions")


def test_gate_tests_without_keras_skip_outside_ci_and_fail_under_ci(tmp_path):
    """The gate tests that need no Keras always run; the rest skip without Keras, except under CI."""
    local = _gates_without_keras(tmp_path, "")
    assert {name: local.get(name) for name in KERAS_FREE} == dict.fromkeys(KERAS_FREE, "passed"), local
    needs_keras = {name for name, outcome in local.items() if outcome != "passed"}
    assert needs_keras and {local[name] for name in needs_keras} == {"skipped"}, local
    assert "test_numpy_forward_equals_keras_on_a_trained_model" in needs_keras

    ci = _gates_without_keras(tmp_path, "true")
    assert {name: ci[name] for name in KERAS_FREE} == dict.fromkeys(KERAS_FREE, "passed"), ci
    assert {name: ci[name] in ("failure", "error") for name in needs_keras} == dict.fromkeys(needs_keras, True), ci


def _run_without_keras(path: str, ci: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci else {})
    code = ("import sys, pytest; sys.modules['keras'] = sys.modules['tensorflow'] = None; "
            "sys.exit(pytest.main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, path, "-q", "-rs", "-p", "no:cacheprovider", "-o", "addopts="],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_module_that_needs_keras_skips_whole_outside_ci_and_fails_the_run_under_ci():
    """tests/test_tutorial.py asks for Keras at its top (conftest.require, not importorskip)."""
    outside = _run_without_keras("tests/test_tutorial.py", "")
    assert outside.returncode in (0, 5), outside.stdout + outside.stderr  # 5: the only module skipped, nothing ran
    assert "SKIPPED" in outside.stdout and "keras cannot be imported" in outside.stdout, outside.stdout
    under = _run_without_keras("tests/test_tutorial.py", "true")
    assert under.returncode != 0, under.stdout
    assert "under CI that is a failure, not a skip" in under.stdout, under.stdout


def test_a_hanging_test_is_stopped_by_the_timeout_with_its_name_in_the_report(tmp_path):
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_waits_for_ever():\n    time.sleep(600)\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=2",
                        "test_hang.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Timeout" in r.stdout and "test_waits_for_ever" in r.stdout, r.stdout
    assert "1 failed" in r.stdout


def test_the_suite_has_a_per_test_time_limit():
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < int(options["timeout"]) <= 600
    assert not [p for p in (ROOT / "tests").rglob("*.py") if "importorskip(" in p.read_text()
                and p.name != "test_suite.py"]  # conftest.require instead: it fails under CI
