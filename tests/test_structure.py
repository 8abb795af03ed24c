"""The shape of the code, checked from its source: the import graph, the layers, module sizes, settings.

Everything here reads files with `ast`; nothing is imported, so a cycle or a stray TensorFlow import is found
even where no test happens to exercise it.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
TF = ("tensorflow", "keras")


@cache
def modules() -> dict[str, Path]:
    """Our modules by dotted name: the library, the pages and app.py."""
    out = {"app": ROOT / "app.py"}
    for top in ("charlstm", "pages"):
        for p in sorted((ROOT / top).rglob("*.py")):
            parts = p.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"))


def imports(name: str) -> list[tuple[str, ast.stmt, bool]]:
    """(imported module, statement, at module level?) for every import statement in a module, however deep."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = set(map(id, tree(name).body))
    out = []
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(stem + ([node.module] if node.module else []))
            # `from package import module` imports the module; `from module import name`, the module
            targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules()] or [base]
        else:
            continue
        for t in targets:
            out.append((t, node, id(node) in top))
    return out


def ours(target: str) -> str | None:
    return target if target in modules() else None


def edges(level_only: bool = False) -> dict[str, set[str]]:
    return {m: {t for t, _, top in imports(m) if ours(t) and t != m and (top or not level_only)} for m in modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def imports_tf_at_top(name: str) -> bool:
    return any(t.split(".")[0] in TF for t, _, top in imports(name) if top)


@cache
def loads_tf(name: str, seen: frozenset = frozenset()) -> bool:
    """Whether importing this module imports TensorFlow: it or a module it imports at module level, transitively."""
    if imports_tf_at_top(name):
        return True
    return any(loads_tf(t, seen | {name}) for t, _, top in imports(name) if top and ours(t) and t not in seen
               and t != name)


def test_there_are_no_import_cycles_between_our_modules_counting_imports_inside_functions():
    assert cycles(edges()) == []


def test_the_checks_find_a_cycle_and_a_tensorflow_reach_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert loads_tf("charlstm.model.network") and not loads_tf("charlstm.insight.gates")


def test_the_library_never_imports_streamlit():
    bad = [(m, t) for m in modules() if m.startswith("charlstm") for t, _, _ in imports(m)
           if t.split(".")[0] == "streamlit"]
    assert bad == []


def test_the_server_never_imports_tensorflow_when_it_loads_its_pages():
    """What app.py and every page import at module level, followed through our modules: no TensorFlow."""
    start = ["app"] + [m for m in modules() if m.startswith("pages")]
    seen, todo = set(), list(start)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += [t for t, _, top in imports(m) if top and ours(t)]
    assert sorted(m for m in seen if imports_tf_at_top(m)) == []
    assert "charlstm.model.network" not in seen  # the Keras model is built only in a worker


def test_an_import_inside_a_function_is_only_there_to_keep_tensorflow_away_and_says_so():
    """A function-local import of one of our modules is allowed only when importing that module imports TensorFlow,
    and the line (or the one above) carries a comment saying why."""
    bad = []
    for m in modules():
        lines = modules()[m].read_text(encoding="utf-8").splitlines()
        for t, node, top in imports(m):
            if top or not ours(t) or t == m:
                continue
            said = "#" in lines[node.lineno - 1] or "#" in lines[node.lineno - 2]
            if not loads_tf(t) or not said:
                bad.append(f"{m}:{node.lineno} imports {t}" + ("" if said else " (no comment)"))
    assert sorted(set(bad)) == []


@pytest.mark.parametrize("top", ["charlstm", "pages"])
def test_no_module_is_over_400_lines(top):
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in (ROOT / top).rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_the_package_root_holds_only_its_entry_points_and_the_config():
    assert sorted(p.name for p in (ROOT / "charlstm").glob("*.py")) == ["__init__.py", "__main__.py", "config.py"]
    packages = sorted(p.name for p in (ROOT / "charlstm").iterdir() if (p / "__init__.py").is_file())
    assert packages == ["cli", "insight", "model", "runs", "serve", "text", "training", "views"]
    for pkg in packages:  # each says what it owns and what it may import
        doc = ast.get_docstring(tree(f"charlstm.{pkg}"))
        assert doc and "import" in doc, pkg


def env_reads(module: ast.AST) -> set[str]:
    """The CHARLSTM_ variables a module reads: os.environ.get("X"), os.environ["X"], os.getenv("X"), and any
    environ.get(name) with a computed name (counted as "*": only the settings loader may do that)."""
    found = set()
    for node in ast.walk(module):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            owner = ast.unparse(node.func.value)
            if (node.func.attr == "get" and owner.endswith("environ")) or node.func.attr == "getenv":
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
            if isinstance(node.ctx, ast.Load):
                key = node.slice
        if key is None:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            if key.value.startswith("CHARLSTM_"):
                found.add(key.value)
        else:
            found.add("*")
    return found


def test_each_charlstm_variable_is_read_in_exactly_one_file():
    readers: dict[str, set[str]] = {}
    for m in modules():
        for var in env_reads(tree(m)):
            readers.setdefault(var, set()).add(m)
    assert readers.pop("*", set()) == {"charlstm.serve.settings"}  # every computed name: the one loader
    assert {v: sorted(ms) for v, ms in readers.items() if len(ms) != 1} == {}
    assert readers, "no reads found: the check has gone blind"


def test_the_env_check_sees_a_read_in_each_of_its_shapes():
    src = ('import os\nos.environ.get("CHARLSTM_A")\nos.environ["CHARLSTM_B"]\nos.getenv("CHARLSTM_C")\n'
           'environ.get(name)\nos.environ["CHARLSTM_D"] = "1"\nos.environ.get("HOME")\n')
    assert env_reads(ast.parse(src)) == {"CHARLSTM_A", "CHARLSTM_B", "CHARLSTM_C", "*"}  # a write is no read


# What each subpackage may import (its docstring says the same in words): a layer imports only those below it.
LAYERS = {
    "text": {"config"},
    "model": {"config", "text"},
    "insight": {"config", "text", "model"},
    "runs": {"config", "text", "model", "insight", "serve"},  # serve: only limits and settings, for bundle caps
    "training": {"config", "text", "model", "insight", "runs"},
    "views": {"config", "text", "model", "insight", "training"},
    "serve": {"config", "text", "model", "insight", "runs", "training"},
    "cli": {"config", "text", "model", "insight", "runs", "training", "serve", "views"},
}


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "charlstm" and len(parts) > 1 else parts[0]


def test_each_subpackage_imports_only_the_layers_below_it():
    crossings = {}
    for m, targets in edges().items():
        if not m.startswith("charlstm.") or package(m) not in LAYERS:
            continue
        for t in targets:
            if package(t) != package(m) and t not in ("charlstm",) and package(t) not in LAYERS[package(m)]:
                crossings.setdefault(m, set()).add(t)
    assert crossings == {}
    serve_in_runs = {t for m, ts in edges().items() if package(m) == "runs" for t in ts if package(t) == "serve"}
    assert serve_in_runs - {"charlstm.serve"} == {"charlstm.serve.limits", "charlstm.serve.settings"}
