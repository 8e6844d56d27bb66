"""The package reads in pipeline order: no import cycle, and each subpackage imports only those below it.

    base (config, records, store, import_utils, distributed) < world < data < models < loop < evaluation < pipeline
    < interfaces

An import anywhere in a file counts, a function-local one too: a lazy import hides a cycle from Python, not from
the reader.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"
LAYERS = ("world", "data", "models", "loop", "evaluation", "pipeline", "interfaces")
# top-level modules that only re-export a documented import path (`workbench.run.Pipeline`, `python -m workbench`)
REEXPORTS = {"workbench", "workbench.__main__", "workbench.run"}


def modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of the package that `name` imports (a package's own submodules excluded)."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_pkg else name.split(".")[:-1]
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t != "workbench" and not name.startswith(t + "."):
                out.add(t)
    return out


def layer(name: str) -> int:
    """0 for the base modules, 1.. for the subpackages in pipeline order."""
    parts = name.split(".")
    return LAYERS.index(parts[1]) + 1 if len(parts) > 1 and parts[1] in LAYERS else 0


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(m, f, known) for m, f in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_subpackages_import_only_those_below():
    upward = [f"{m} imports {t}" for m, ts in graph().items() if m not in REEXPORTS for t in ts if layer(t) > layer(m)]
    assert upward == []


@pytest.mark.parametrize("pkg", LAYERS)
def test_every_subpackage_says_what_it_holds(pkg):
    init = PACKAGE / pkg / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text()))
    assert doc, f"{init} needs a docstring naming its modules"
    for f in sorted((PACKAGE / pkg).glob("*.py")):
        if f.name != "__init__.py":
            assert f.name in doc, f"{init}'s docstring does not mention {f.name}"


def test_import_workbench_stays_cheap():
    import subprocess
    import sys

    code = ("import sys, workbench, workbench.config, workbench.store, workbench.run; "
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'vllm', 'gradio', 'streamlit') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_documented_import_paths_still_work():
    """The contracts of the README and docs: these import paths keep working whatever the layout."""
    from workbench import Workbench
    from workbench.config import load_config
    from workbench.interfaces.api import Workbench as ApiWorkbench
    from workbench.pipeline.run import Pipeline as PipelinePipeline
    from workbench.run import Pipeline, main
    from workbench.store import connect

    assert Workbench is ApiWorkbench and Pipeline is PipelinePipeline and callable(main)
    assert callable(load_config) and callable(connect)
