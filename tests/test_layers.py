"""The layer contract: core <- theory <- numerics <- verify <- experiments <- emt (the CLI).

A module may import its own layer and the layers below it, never one above (a static reading of
every ``import`` in the source, lazy imports inside functions included); no two modules import
each other, directly or through others, at any level; and no module imports another's private
(underscore) name.  Every module also
imports on its own in a fresh interpreter, so no pair of modules depends on an import order.
The static part needs nothing installed: ``tox -e lint`` runs it too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Installed name -> (source folder, layer).  The root package `emt` (its `__init__`, which holds
# only `__version__`) is loaded before any subpackage, so it imports nothing of ours but the
# standard-library base `emt.core`.
LAYERS = {
    "emt.core": ("emt/core", 0),
    "emt.theory": ("emt/theory", 1),
    "emt.numerics": ("emt/numerics", 2),
    "emt.verify": ("emt/verify", 3),
    "emt.experiments": ("emt/experiments", 4),
    "emt.cli": ("emt/cli.py", 5),
    "emt.commands": ("emt/commands", 5),
}
TOP_LEVEL = ("theory", "numerics", "verify", "experiments")


def _layer_of(module: str, layers: dict = LAYERS) -> int | None:
    for prefix, (_, layer) in layers.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def _source_files(layers: dict = LAYERS, root: Path = ROOT) -> list[tuple[str, Path]]:
    """``(installed module name, path)`` for every source file of every layer."""
    out = []
    for prefix, (folder, _) in layers.items():
        path = root / folder
        files = [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))
        for f in files:
            rel = f.relative_to(path.parent if path.suffix == ".py" else path).with_suffix("")
            parts = [] if path.suffix == ".py" else list(rel.parts)
            if parts and parts[-1] == "__init__":
                parts.pop()
            out.append((".".join([prefix, *parts]), f))
    return out


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in ``path`` (relative imports made absolute)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: relative import; use emt.* names")
            base = node.module or ""
            # `from emt import verify` imports the subpackage emt.verify
            found.extend((node.lineno, f"{base}.{a.name}" if base == "emt" else base)
                         for a in node.names)
    return found


def upward_imports(layers: dict = LAYERS, root: Path = ROOT) -> list[str]:
    """One line per import of a higher layer (or of a bare top-level folder name)."""
    bad = []
    for module, path in _source_files(layers, root):
        own = _layer_of(module, layers)
        assert own is not None
        where = path.relative_to(root)
        for line, target in _imports(path):
            if target.split(".")[0] in TOP_LEVEL:
                bad.append(f"{where}:{line}: imports {target!r}; the installed name is "
                           f"emt.{target}")
                continue
            layer = _layer_of(target, layers)
            if layer is not None and layer > own:
                bad.append(f"{where}:{line}: {module} (layer {own}) imports {target} "
                           f"(layer {layer})")
    return bad


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert upward_imports() == []


def test_the_root_package_imports_only_the_base() -> None:
    targets = [t for _, t in _imports(ROOT / "emt" / "__init__.py")]
    ours = [t for t in targets if t.split(".")[0] in ("emt", *TOP_LEVEL)]
    assert all(t == "emt.core" or t.startswith("emt.core.") for t in ours), ours


def import_graph(layers: dict = LAYERS, root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (at any level, inside functions too)."""
    files = dict(_source_files(layers, root))
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    target = sub if sub in files else node.module
                    if target in files and target != module:
                        graph[module].add(target)
            elif isinstance(node, ast.Import):
                graph[module].update(a.name for a in node.names
                                     if a.name in files and a.name != module)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def private_imports(layers: dict = LAYERS, root: Path = ROOT) -> list[str]:
    """One line per ``from emt.x import _name`` of another module's private name."""
    bad = []
    for module, path in _source_files(layers, root):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("emt"):
                bad.extend(f"{path.relative_to(root)}:{node.lineno}: {node.module}.{a.name}"
                           for a in node.names if a.name.startswith("_")
                           and not a.name.endswith("__")
                           and node.module != module)
    return bad


def test_no_import_cycle_at_any_level() -> None:
    assert import_cycles(import_graph()) == []


def test_no_module_imports_another_modules_private_name() -> None:
    assert private_imports() == []


def test_the_cycle_and_private_checks_can_fail(tmp_path: Path) -> None:
    (tmp_path / "emt" / "verify").mkdir(parents=True)
    (tmp_path / "emt" / "verify" / "a.py").write_text("from emt.verify.b import _hidden\n")
    (tmp_path / "emt" / "verify" / "b.py").write_text("def f():\n    from emt.verify import a\n")
    layers = {"emt.verify": ("emt/verify", 3)}
    assert import_cycles(import_graph(layers, tmp_path)) == [["emt.verify.a", "emt.verify.b"]]
    assert private_imports(layers, tmp_path) == ["emt/verify/a.py:1: emt.verify.b._hidden"]


def test_tests_import_only_installed_names() -> None:
    bad = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for line, target in _imports(path):
            if target.split(".")[0] in TOP_LEVEL:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    assert bad == []


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a lazy import of verify from theory is caught,
    # a downward import is not, and a bare folder name is.
    for folder, text in (("emt/theory", "def f():\n    from emt.verify import judge\n"),
                         ("emt/verify", "from emt.theory import registry\nimport numerics.data\n")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "mod.py").write_text(text)
    layers = {"emt.theory": ("emt/theory", 1), "emt.verify": ("emt/verify", 3)}
    bad = upward_imports(layers, tmp_path)
    assert len(bad) == 2
    assert "emt.theory.mod (layer 1) imports emt.verify" in bad[0]
    assert "imports 'numerics.data'" in bad[1]


def test_every_module_imports_on_its_own(tmp_path: Path) -> None:
    """Each module imported first, in a clean module table (shared third-party modules stay
    loaded, which keeps this fast): an import cycle hidden by import order fails here.  Run
    outside the repository, so the folders theory/, verify/ ... cannot shadow anything."""
    pytest.importorskip("emt.theory")
    modules = sorted({m for m, _ in _source_files()})
    code = (
        "import importlib, sys\n"
        f"failed = []\n"
        f"for name in {modules!r}:\n"
        "    for key in [k for k in sys.modules if k == 'emt' or k.startswith('emt.')]:\n"
        "        del sys.modules[key]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "for bare in ('theory', 'numerics', 'verify', 'experiments'):\n"
        "    try:\n"
        "        importlib.import_module(bare)\n"
        "        failed.append(f'import {bare} works, but only emt.* may be installed')\n"
        "    except ImportError:\n"
        "        pass\n"
        "print('\\n'.join(failed)); sys.exit(1 if failed else 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=False, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
