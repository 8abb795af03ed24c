"""attribute, components, compare and trace --csv on the shipped model: tables that say what the library says."""

import os
import subprocess
import sys

import numpy as np
import pytest

from charlstm.cli.main import main
from charlstm.insight import attribution, gates
from charlstm.runs.store import demo_run
from charlstm.views import tables

EXAMPLE = "Divya likes to eat. Reena is not fat."


@pytest.fixture
def run_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHARLSTM_HOME", str(tmp_path / "home"))

    def go(*argv: str) -> tuple[int, str, str]:
        rc = main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    return go


def rows(out: str, after: str) -> list[list[str]]:
    """The whitespace-split lines of the table under the header line that starts with `after`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(after)) + 1
    table = []
    for line in lines[start:]:
        if not line.strip():
            break
        table.append(line.split())
    return table


def test_attribute_lists_the_librarys_top_characters(run_cli):
    rc, out, _ = run_cli("attribute", "demo", "--text", EXAMPLE, "--at", "19", "--top", "5")
    assert rc == 0
    assert out.startswith("log p('R' next) at position 19 ('Divya likes to eat. '), by integrated gradients, "
                          "32 steps from ' '")
    assert "the scores add up to" in out and "missing the change by" in out
    run = demo_run()
    want = attribution.top_characters(attribution.attribute(run.weights, run.vocab, EXAMPLE, 19, baseline=" "), 5)
    got = rows(out, "rank")
    assert [int(r[1]) for r in got] == [t for t, _, _ in want]
    assert [float(r[3]) for r in got] == pytest.approx([s for _, _, s in want], abs=1e-4)


def test_attribute_explains_a_units_gate(run_cli):
    rc, out, _ = run_cli("attribute", "demo", "--text", EXAMPLE, "--at", "19", "--unit", "3", "--gate", "cell",
                         "--layer", "1", "--method", "gxi", "--top", "3")
    assert rc == 0 and out.startswith("unit 3's cell state in layer 1 at position 19") and "gradient × input" in out
    assert len(rows(out, "rank")) == 3


@pytest.mark.parametrize("argv,message", [
    (["--at", "99"], "error: the position must be 0 to 36, not 99"),
    (["--unit", "256"], "error: unit 256 is outside layer 2's 256 units (0 to 255)"),
    (["--baseline", "é"], "error: the baseline character 'é' is not in the model's vocabulary"),
    (["--steps", "0"], "error: integrated gradients needs 1 to 1,024 steps, not 0"),
    (["--layer", "3", "--unit", "0"], "error: --layer must be 1 to 2 for this 2-layer model, not 3"),
])
def test_attribute_refuses_bad_requests_in_one_line(run_cli, argv, message):
    rc, out, err = run_cli("attribute", "demo", "--text", EXAMPLE, *argv)
    assert rc == 2 and err == message + "\n" and out == ""


def test_components_tables_k_components_over_the_corpus_sample(run_cli):
    rc, out, _ = run_cli("components", "demo", "--k", "4")
    assert rc == 0
    assert out.startswith("4 components of layer 2's forget by non-negative matrix factorisation, over 2,000 "
                          "characters from the held-out end of tiny Shakespeare")
    table = rows(out, "comp")
    assert [r[0] for r in table] == ["1", "2", "3", "4"]
    shares = [float(r[1].rstrip("%")) for r in table]
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 100) < 0.5
    rc, out, _ = run_cli("components", "demo", "--k", "3", "--state", "cell", "--layer", "1", "--text", EXAMPLE * 3)
    assert rc == 0 and "3 components of layer 1's cell by principal components, over the text given" in out
    rc, _, err = run_cli("components", "demo", "--k", "8", "--text", "Hi.")
    assert rc == 2 and err == "error: the text has 3 characters the model knows; give at least 8\n"


def test_compare_the_shipped_model_with_itself(run_cli):
    rc, out, _ = run_cli("compare", "demo", "demo", "--text", "ROMEO: But soft, what light? ñ", "--units", "4")
    assert rc == 0
    assert "over 29 characters both read" in out and "left out, since one of the two cannot read them: 'ñ'" in out
    matches = rows(out, "layer")
    assert len(matches) == 4 and all(r[1] == r[4] and r[0] == r[3] and r[5] == "+1.000" for r in matches)
    assert all(r[3] == "+0.00" for r in rows(out, "position"))


def test_trace_csv_writes_the_pages_table(run_cli, tmp_path):
    path = tmp_path / "trace.csv"
    rc, out, _ = run_cli("trace", "demo", "--text", EXAMPLE, "--csv", str(path))
    assert rc == 0 and out.startswith(f"wrote {path}: {len(EXAMPLE)} rows")
    back = tables.read_csv(path.read_bytes())
    expected = tables.trace_table(gates.trace(demo_run(), EXAMPLE))
    assert list(back.columns) == list(expected.columns) and len(back.columns) == 2 + 2 * 6 * 256
    assert "".join(back["char"]) == EXAMPLE
    np.testing.assert_allclose(back.iloc[:, 2:].to_numpy(), expected.iloc[:, 2:].to_numpy(), rtol=1e-6, atol=1e-7)


def test_a_real_process_exits_2_with_one_line():
    env = {**os.environ, "CHARLSTM_HOME": os.devnull + "-no-home"}
    p = subprocess.run([sys.executable, "-m", "charlstm", "compare", "demo", "demo", "--text", "ñé"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2 and p.stderr == "error: fewer than two characters of this text are known to both models\n"
