"""A small mutation run: flip one comparison, boolean operator, `not` or True/False at a time in a module and see
whether its tests notice.

    python bench/mutate.py charlstm/serve/limits.py tests/test_limits.py tests/test_caps.py
    make mutate          # the critical modules (workspace isolation, store, worker protocol, limits, bounded input)

Written here rather than taken from mutmut: mutmut 3 copies the whole tree into mutants/ and runs the full suite
through its own trampoline, which on this project means TensorFlow imports and browser tests per mutant; this script
mutates one node with Python's ast, runs only the named fast tests (stopping at the first failure, each under a
timeout), and restores the file whatever happens. A survivor is a line worth a look: a test that should fail
does not, or the mutant is equivalent (the README of docs/mutation.md says which).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def mutation_points(tree: ast.AST) -> list[tuple[int, str]]:
    """(index among walked nodes, description) of every node this script can mutate."""
    out = []
    for i, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAP_CMP:
            op = type(node.ops[0])
            out.append((i, f"line {node.lineno}: {op.__name__} -> {SWAP_CMP[op].__name__}"))
        elif isinstance(node, ast.BoolOp):
            other = "Or" if isinstance(node.op, ast.And) else "And"
            out.append((i, f"line {node.lineno}: {type(node.op).__name__} -> {other}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((i, f"line {node.lineno}: drop not"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            out.append((i, f"line {node.lineno}: {node.value} -> {not node.value}"))
    return out


class Mutate(ast.NodeTransformer):
    def __init__(self, target: int):
        self.target, self.i = target, -1
        self.order = {}

    def apply(self, tree: ast.AST) -> ast.AST:
        self.order = {id(n): i for i, n in enumerate(ast.walk(tree))}
        return self.visit(tree)

    def generic_visit(self, node):
        node = super().generic_visit(node)
        if self.order.get(id(node)) != self.target:
            return node
        if isinstance(node, ast.Compare):
            node.ops[0] = SWAP_CMP[type(node.ops[0])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            node.value = not node.value
        return node


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("module")
    ap.add_argument("tests", nargs="+")
    ap.add_argument("--timeout", type=int, default=240, help="seconds for one mutant's tests")
    ap.add_argument("--lines", default="", help="only mutants on these lines, e.g. 10-80 or 51,152,400-421")
    ap.add_argument("--defs", default="", help="only mutants inside these functions or classes, e.g. _parse,Job")
    ap.add_argument("--marks", default="not slow", help="pytest -m expression for the tests run per mutant")
    args = ap.parse_args()
    path = ROOT / args.module
    source = path.read_text()
    tree = ast.parse(source)
    points = mutation_points(tree)
    if args.defs:  # a part of a big module (jobs.py's protocol), by name: line numbers move as the file changes
        names = set(args.defs.split(","))
        spans = [(n.lineno, n.end_lineno) for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names]
        if not spans:
            ap.error(f"no function or class named {args.defs} in {args.module}")
        points = [(i, d) for i, d in points if any(lo <= int(d.split(":")[0].split()[1]) <= hi for lo, hi in spans)]
    if args.lines:  # a rerun of the survivors only
        spans = [tuple(map(int, (part + "-" + part).split("-")[:2])) for part in args.lines.split(",")]
        points = [(i, d) for i, d in points if any(lo <= int(d.split(":")[0].split()[1]) <= hi for lo, hi in spans)]
    survivors, killed, t0 = [], 0, time.monotonic()
    try:
        for i, what in points:
            mutant = ast.unparse(Mutate(i).apply(ast.parse(source)))
            path.write_text(mutant)
            try:
                cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                       "-o", f"timeout={args.timeout}", "-m", args.marks, *args.tests]
                r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout + 60)
                alive = r.returncode == 0
            except subprocess.TimeoutExpired:
                alive = False  # a mutant that hangs the tests is caught by the per-test timeout
            if alive:
                survivors.append(what)
                print(f"SURVIVED {args.module} {what}", flush=True)
            else:
                killed += 1
    finally:
        path.write_text(source)
    print(f"{args.module}: {len(points)} mutants, {killed} killed, {len(survivors)} survived "
          f"({time.monotonic() - t0:.0f} s)")
    for s in survivors:
        print(f"  survivor: {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
