"""The package as `pip install .` ships it: every subpackage and the data the app reads at run time.

Installed (no dependencies, no build isolation: nothing is downloaded) into a folder of its own, then the app's
own files (app.py, pages/, .streamlit/) are run from another folder with only that install importable as
charlstm: the home page shows the measured tutorial comparison, which lives in the package's data.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HOME_PAGE = """
import sys
from streamlit.testing.v1 import AppTest
import charlstm
assert "/site/charlstm/" in charlstm.__file__, charlstm.__file__  # the installed copy, not the checkout
at = AppTest.from_file("app.py", default_timeout=120).run()
assert not at.exception, [e.value for e in at.exception]
expander = [e for e in at.expander if "classic tutorial learns slowly" in e.label]
assert expander, [e.label for e in at.expander]
texts = " ".join(m.value for m in expander[0].markdown)
assert "| " in texts and "held-out windows" in texts, texts[:300]
print("comparison shown", len(texts))
"""


@pytest.mark.timeout(300)
def test_an_installed_package_serves_the_home_page_with_the_comparison(tmp_path):
    site = tmp_path / "site"
    build = tmp_path / "src"
    shutil.copytree(ROOT, build, ignore=shutil.ignore_patterns(".venv*", ".git", "tests", "bench", "docs", "build",
                                                               "*.egg-info", "__pycache__", ".pytest_cache"))
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(site), str(build)], capture_output=True, text=True,
                         timeout=240)
    assert pip.returncode == 0, pip.stderr[-2000:]
    assert (site / "charlstm" / "data" / "tutorial_results.json").is_file()
    assert sorted(p.name for p in (site / "charlstm").iterdir() if (p / "__init__.py").is_file()) == [
        "cli", "insight", "model", "runs", "serve", "text", "training", "views"]
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "app.py", app)
    shutil.copytree(ROOT / "pages", app / "pages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".streamlit", app / ".streamlit")
    env = dict(os.environ, PYTHONPATH=str(site), CHARLSTM_HOME=str(tmp_path / "home"), CHARLSTM_MODE="personal")
    r = subprocess.run([sys.executable, "-c", HOME_PAGE], cwd=app, capture_output=True, text=True, env=env,
                       timeout=240)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert "comparison shown" in r.stdout
