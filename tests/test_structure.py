"""The shape of the library, read from its source: short classes and functions, no import cycle, no Streamlit, and
one process that trains never importing the distributed module's collectives into its path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_data

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "gan_core"
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 70


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = ast.parse(path.read_text(), filename=str(path))
    return out


MODULES = _modules()


def _sizes(kind: type | tuple[type, ...]) -> list[tuple[int, str]]:
    return sorted(((node.end_lineno or node.lineno) - node.lineno + 1, f"{mod}.{node.name}")
                  for mod, tree in MODULES.items() for node in ast.walk(tree) if isinstance(node, kind))


def test_the_library_is_found():
    assert {"gan_core.training", "gan_core.step", "gan_core.recorder", "gan_core.live", "gan_core.config"} <= set(MODULES)


def test_no_class_is_longer_than_its_bound():
    long = [(n, name) for n, name in _sizes(ast.ClassDef) if n > MAX_CLASS_LINES]
    assert not long, f"classes over {MAX_CLASS_LINES} lines: {long}"


def test_no_function_is_longer_than_its_bound():
    long = [(n, name) for n, name in _sizes((ast.FunctionDef, ast.AsyncFunctionDef)) if n > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def _import_time_edges(mod: str, tree: ast.Module) -> set[str]:
    """The gan_core modules `mod` imports when it loads: module-level imports, not those in functions or under
    TYPE_CHECKING."""
    edges: set[str] = set()
    package = mod if (LIBRARY / Path(*mod.split(".")[1:]) / "__init__.py").exists() else mod.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)) else ():
            if isinstance(sub, ast.Import):
                edges |= {a.name for a in sub.names if a.name.startswith("gan_core")}
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1] + ([base] if base else []))
                if base.startswith("gan_core"):
                    edges.add(base)
                    edges |= {f"{base}.{a.name}" for a in sub.names if f"{base}.{a.name}" in MODULES}
    return {e for e in edges if e in MODULES and e != mod}


def test_no_import_cycle_between_library_modules():
    graph = {mod: _import_time_edges(mod, tree) for mod, tree in MODULES.items()}
    # A package's __init__ re-exporting its modules is not a cycle with them.
    graph = {m: {e for e in es if not (m.startswith(e + ".") and (LIBRARY / Path(*e.split(".")[1:])).is_dir())}
             for m, es in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for e in sorted(graph[m]):
            if state.get(e) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(e):], e]))
            if e not in state:
                visit(e)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert graph["gan_core.training"] >= {"gan_core.step", "gan_core.recorder", "gan_core.live"}


@pytest.mark.parametrize("module", ["gan_core.training", "gan_core.cli", "gan_core.metrics", "gan_core.runs"])
def test_the_library_never_imports_streamlit(module):
    code = f"import sys, {module}; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@needs_data
def test_one_process_never_calls_into_the_distributed_module(tiny_config, runs_root, monkeypatch):
    """A one-process run trains, records and ends without a single call to gan_core.distributed's functions."""
    from gan_core import distributed
    from gan_core.training import Trainer

    called: list[str] = []
    for name in ("init", "close", "agree", "shard", "check_batch", "broadcast_text", "broadcast_weights",
                 "broadcast_buffers", "check_agreement", "wrap", "sync_batchnorm", "device_for"):
        real = getattr(distributed, name)
        monkeypatch.setattr(distributed, name,
                            lambda *a, _n=name, _r=real, **k: (called.append(_n), _r(*a, **k))[1])
    snap = Trainer(tiny_config.replace(name="solo", max_steps=4), runs_root=runs_root).run()
    assert snap.status == "finished", snap.message
    assert called == []
