"""The repository documents itself: docs/ covers every tolerance, and nothing cites notes that
are not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from emt.core.limits import LIMIT_BOUNDS, LIMITS, limits_table
from emt.verify.tolerances import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("emt", "theory", "numerics", "verify", "experiments", "tests", "benchmarks", "docs")


def test_every_tolerance_has_a_documented_reason() -> None:
    text = (ROOT / "docs" / "tolerances.md").read_text()
    documented = set(re.findall(r"^### `([^`]+)`", text, flags=re.MULTILINE))
    assert set(DEFAULTS) - documented == set()


def test_no_file_cites_notes_outside_the_repository() -> None:
    # Private design notes and issue numbers mean nothing to a reader of the repository.
    pattern = re.compile(r"\bSPEC\b|SPEC\.md|DESIGN\.md|\bDESIGN\b|[Ii]ssue \d+|[Ii]ssue #\d+")
    paths = [ROOT / "README.md", *(p for d in SOURCES for p in (ROOT / d).rglob("*")
                                   if p.suffix in (".py", ".md", ".toml"))]
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in paths if p.name != "test_docs.py"
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def _readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_readme_python_example_runs_as_written(tmp_path, monkeypatch) -> None:
    blocks = _readme_python_blocks()
    assert blocks, "the README has no ```python example"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102


# -- the README is a front door, and every path and link in the documentation resolves ----------

README_MAX_LINES = 200
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A repository path in backticks starts with one of these; anything else in backticks (runs/rc3,
# RUN_DIR/model.json, weights.npz) is an example of the user's own files.
REPO_PATH = re.compile(r"^(?:emt|docs|tests|results|benchmarks|derivations|theory|numerics|verify|"
                       r"experiments)/[\w.*/-]*$|^(?:tox\.ini|pyproject\.toml|constraints\.txt)$")
DOTTED = re.compile(r"^emt(?:\.[A-Za-z_]\w*)+$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _code_spans(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"`([^`\n]+)`", text)


def _dotted_name_resolves(name: str) -> bool:
    """``emt.a.b`` is a module or package; ``emt.a.b.X[.y]`` names ``X`` defined at the top of
    module ``emt.a.b`` (read from the source: importing would pull in TensorFlow)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else (
            base / "__init__.py" if (base / "__init__.py").is_file() else None)
        if module is None:
            continue
        if cut == len(parts):
            return True
        defined = rf"^(?:def|class) {parts[cut]}\b|^{parts[cut]}\s*[:=]"
        return re.search(defined, module.read_text(), flags=re.MULTILINE) is not None
    return False


def test_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_every_path_the_documentation_names_exists() -> None:
    missing = []
    for doc in DOCS:
        for span in _code_spans(doc):
            if REPO_PATH.match(span) and not list(ROOT.glob(span.rstrip("/"))):
                missing.append(f"{doc.relative_to(ROOT)}: {span}")
            elif DOTTED.match(span) and not _dotted_name_resolves(span):
                missing.append(f"{doc.relative_to(ROOT)}: {span}")
    assert missing == []


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_resolves() -> None:
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists() or (anchor and path.suffix == ".md"
                                     and anchor not in _anchors(path)):
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert broken == []


def test_a_missing_path_or_link_is_caught() -> None:
    assert REPO_PATH.match("emt/theory/limits.py") and not list(ROOT.glob("emt/theory/limits.py"))
    assert not _dotted_name_resolves("emt.verify.judge.no_such_function")
    assert not _dotted_name_resolves("emt.theory.limits")
    assert _dotted_name_resolves("emt.verify.judge.verify_weights")
    assert "exit-codes" in _anchors(ROOT / "docs" / "cli.md")
    assert "no-such-section" not in _anchors(ROOT / "docs" / "cli.md")


# -- the limits table of docs/cli.md is the code's ----------------------------------------------

def test_limits_table_in_the_docs_is_what_the_code_renders() -> None:
    assert set(LIMIT_BOUNDS) == set(LIMITS), "every limit needs one line in LIMIT_BOUNDS"
    text = (ROOT / "docs" / "cli.md").read_text()
    found = re.search(r"<!-- limits-table: [^\n]*-->\n(.*?)<!-- end limits-table -->", text,
                      flags=re.DOTALL)
    assert found, "docs/cli.md has no generated limits table"
    assert found.group(1) == limits_table(), (
        "docs/cli.md's limits table is stale: paste emt.core.limits.limits_table() between "
        "its markers")


# -- the fast tier names real files and declared markers ----------------------------------------

def test_fast_tier_ignores_existing_files_and_selects_declared_markers() -> None:
    tox = (ROOT / "tox.ini").read_text()
    fast = tox.split("[testenv:fast]", 1)[1].split("\n[", 1)[0]
    ignored = re.findall(r"--ignore=(\S+)", fast)
    assert ignored and [p for p in ignored if not (ROOT / p).is_file()] == []
    declared = set(re.findall(r'^\s*"(\w+): ', (ROOT / "pyproject.toml").read_text(),
                              flags=re.MULTILINE))
    expression = re.search(r'-m "([^"]+)"', fast)
    assert expression
    used = set(re.findall(r"\w+", expression.group(1))) - {"not", "and", "or"}
    assert used and used <= declared
