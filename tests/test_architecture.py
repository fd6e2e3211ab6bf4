"""The package's imports follow the layer table of docs/architecture.md, and no top-level parts form a cycle.

The table is read from the document itself, so the picture a contributor reads is the rule the
tests enforce (one fact, one place): in its second column, the backticked names outside
parentheses are the parts of that layer (`kql.py`, `sources/`, `__init__.py`, and the discovery
leaves `sigma/pipelines/azure_aks`). Every import is found with `ast`: at module level and inside
functions, `import x` and `from x import y`, absolute and relative; an import of a name from the
package root (`from .. import __version__`) is an import of `__init__.py` unless the name is a
part. `python tests/test_architecture.py` prints the parts, their imports and the count of parts
in cycles.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "sigma_azure_aks"
DISCOVERY = ("sigma/pipelines/azure_aks", "sigma/backends/azure_aks")
ROOT_PART = "__init__"


@dataclass(frozen=True)
class Import:
    """One import statement between two parts: where it is written and what it names."""

    importer: str
    imported: str
    where: str  # file:line
    statement: str


# ---- the layer table ---------------------------------------------------------------------------
def layer_table(markdown: str) -> list[tuple[str, tuple[str, ...]]]:
    """(layer, parts) for each row of the table under `## Layers`, from the bottom up."""
    section = re.search(r"^## Layers\n(.*?)(?=^## )", markdown, re.S | re.M)
    if section is None:
        raise ValueError("no '## Layers' section")
    rows = []
    for line in section.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        outside = cells[1]
        while re.search(r"\([^()]*\)", outside):
            outside = re.sub(r"\([^()]*\)", "", outside)
        parts = tuple(_part_name(name) for name in re.findall(r"`([^`]+)`", outside))
        rows.append((cells[0], parts))
    if not rows:
        raise ValueError("the '## Layers' section has no table rows")
    return rows


def _part_name(written: str) -> str:
    """`kql.py` -> kql, `sources/` -> sources, `__init__.py` -> __init__; discovery paths stay."""
    if written.startswith("sigma/"):
        return written.rstrip("/")
    return written.rstrip("/").removesuffix(".py")


# ---- the imports -------------------------------------------------------------------------------
def package_parts(repo: Path) -> set[str]:
    """The top-level parts of the package (modules and subpackages), its root, and the discovery leaves."""
    root = repo / PACKAGE
    parts = {p.stem for p in root.glob("*.py") if p.name != "__init__.py"}
    parts |= {p.parent.name for p in root.glob("*/__init__.py")}
    return parts | {ROOT_PART} | {leaf for leaf in DISCOVERY if (repo / leaf / "__init__.py").is_file()}


def _module_of(repo: Path, path: Path) -> tuple[str, bool]:
    """(dotted module name, whether it is a package's __init__)."""
    parts = list(path.relative_to(repo).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _part_of_module(module: str, names: Iterable[str], parts: set[str]) -> set[str]:
    """The parts an import of `names` from `module` reaches (empty outside the package)."""
    for leaf in DISCOVERY:
        if module == leaf.replace("/", ".") or module.startswith(leaf.replace("/", ".") + "."):
            return {leaf}
    if module == PACKAGE:  # `import sigma_azure_aks`, `from sigma_azure_aks import x`
        return {name if name in parts else ROOT_PART for name in names} or {ROOT_PART}
    if module.startswith(PACKAGE + "."):
        return {module.split(".")[1]}
    return set()


def _file_part(repo: Path, path: Path) -> str:
    relative = path.relative_to(repo).as_posix()
    for leaf in DISCOVERY:
        if relative.startswith(leaf + "/"):
            return leaf
    inner = path.relative_to(repo / PACKAGE).parts
    return ROOT_PART if inner == ("__init__.py",) else inner[0].removesuffix(".py")


def source_files(repo: Path) -> list[Path]:
    files = sorted((repo / PACKAGE).rglob("*.py"))
    return files + [repo / leaf / "__init__.py" for leaf in DISCOVERY if (repo / leaf / "__init__.py").is_file()]


def imports_between_parts(repo: Path) -> list[Import]:
    """Every import, at any depth of any file, from one part to another."""
    parts = package_parts(repo)
    found = []
    for path in source_files(repo):
        module, is_package = _module_of(repo, path)
        importer = _file_part(repo, path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [(alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = module if is_package else module.rpartition(".")[0]
                if node.level:
                    anchor = base.split(".")
                    if node.level - 1 >= len(anchor):
                        raise ValueError(f"{path}:{node.lineno}: relative import beyond the top level")
                    base = ".".join(anchor[: len(anchor) - (node.level - 1)])
                    target = f"{base}.{node.module}" if node.module else base
                else:
                    target = node.module or ""
                targets = [(target, [alias.name for alias in node.names])]
            else:
                continue
            for target, names in targets:
                for imported in _part_of_module(target, names, parts):
                    if imported != importer:
                        where = f"{path.relative_to(repo).as_posix()}:{node.lineno}"
                        found.append(Import(importer, imported, where, ast.unparse(node)))
    return found


# ---- the checks --------------------------------------------------------------------------------
def graph_of(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for item in imports:
        graph[item.importer].add(item.imported)
    return graph


def parts_in_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected groups of two or more parts (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    nodes = sorted(set(graph) | {n for targets in graph.values() for n in targets})

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in nodes:
        if node not in index:
            visit(node)
    return sorted(groups)


def layer_problems(imports: Iterable[Import], table: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Each import of a part from a higher layer, and each imported or importing part the table lacks."""
    level = {part: number for number, (_, parts) in enumerate(table) for part in parts}
    layer = {part: name for name, parts in table for part in parts}
    problems = []
    for item in imports:
        missing = [p for p in (item.importer, item.imported) if p not in level]
        if missing:
            problems.append(f"{item.where}: {', '.join(missing)} is in no layer of docs/architecture.md")
        elif level[item.imported] > level[item.importer]:
            problems.append(
                f"{item.where}: {item.importer} ({layer[item.importer]}) imports {item.imported} "
                f"({layer[item.imported]}), a higher layer: `{item.statement}`"
            )
    return problems


def table_problems(parts: set[str], table: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    named = [part for _, row in table for part in row]
    problems = [f"{part}: in no layer of docs/architecture.md" for part in sorted(parts - set(named))]
    problems += [f"{part}: in the layer table, not in the package" for part in sorted(set(named) - parts)]
    problems += [f"{part}: in more than one layer" for part in sorted({p for p in named if named.count(p) > 1})]
    return problems


def cycle_report(imports: list[Import]) -> tuple[int, list[str]]:
    """(number of parts in cycles, a line per cycle with the imports that close it)."""
    groups = parts_in_cycles(graph_of(imports))
    lines = []
    for group in groups:
        inside = [i for i in imports if i.importer in group and i.imported in group]
        lines.append(
            f"cycle {' <-> '.join(group)}: " + "; ".join(f"{i.where} `{i.statement}`" for i in inside)
        )
    return sum(len(group) for group in groups), lines


# ---- the package -------------------------------------------------------------------------------
def _doc_table() -> list[tuple[str, tuple[str, ...]]]:
    return layer_table((REPO / "docs" / "architecture.md").read_text(encoding="utf-8"))


def test_every_part_is_in_exactly_one_layer() -> None:
    assert table_problems(package_parts(REPO), _doc_table()) == []


def test_no_top_level_parts_form_a_cycle() -> None:
    count, lines = cycle_report(imports_between_parts(REPO))
    print(f"top-level parts in cycles: {count}")
    assert count == 0, "\n".join(lines)


def test_every_import_goes_down_the_layer_table() -> None:
    assert layer_problems(imports_between_parts(REPO), _doc_table()) == []


def test_the_walk_sees_function_local_relative_and_absolute_imports() -> None:
    """Imports the checks must see: only inside a function (query_guard), relative from a
    subpackage (lifecycle), absolute (kql_parser, the discovery leaves), and from the root."""
    found = {(i.importer, i.imported, i.where.split(":")[0]) for i in imports_between_parts(REPO)}
    assert ("query_guard", "kql_parser", "sigma_azure_aks/query_guard.py") in found
    assert ("lifecycle", "analytics", "sigma_azure_aks/lifecycle/manifest.py") in found
    assert ("lifecycle", ROOT_PART, "sigma_azure_aks/lifecycle/manifest.py") in found
    assert ("kql_parser", "sources", "sigma_azure_aks/kql_parser/checker.py") in found
    assert ("sigma/backends/azure_aks", "backend", "sigma/backends/azure_aks/__init__.py") in found


# ---- the checks can fail -----------------------------------------------------------------------
SYNTHETIC_DOC = """# x

## Layers

| layer | modules | what it knows |
|---|---|---|
| bottom | `__init__.py` (`__version__`), `low.py` | a |
| middle | `mid/` (`inner.py`, `deep.py`) | b |
| top | `high.py` | c |
| discovery | `sigma/backends/azure_aks` | d |

## Next
"""


def _synthetic_package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for name, text in {
        f"{PACKAGE}/__init__.py": "__version__ = '1'\n",
        "sigma/backends/azure_aks/__init__.py": f"from {PACKAGE}.high import X\n",
        **files,
    }.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_table_is_read_from_the_document() -> None:
    assert layer_table(SYNTHETIC_DOC) == [
        ("bottom", ("__init__", "low")),
        ("middle", ("mid",)),
        ("top", ("high",)),
        ("discovery", ("sigma/backends/azure_aks",)),
    ]


def test_a_cycle_hidden_in_a_function_and_an_upward_import_are_reported(tmp_path: Path) -> None:
    repo = _synthetic_package(
        tmp_path,
        {
            f"{PACKAGE}/low.py": "from . import __version__\n\ndef f():\n    from .mid.deep import g\n",
            f"{PACKAGE}/mid/__init__.py": "",
            f"{PACKAGE}/mid/inner.py": "import sigma_azure_aks.low\n",
            f"{PACKAGE}/mid/deep.py": "def g():\n    from ..high import X\n",
            f"{PACKAGE}/high.py": "X = 1\n\ndef h():\n    from sigma_azure_aks.mid import inner\n",
            f"{PACKAGE}/extra.py": "",
        },
    )
    imports = imports_between_parts(repo)
    edges = {(i.importer, i.imported) for i in imports}
    assert edges == {
        ("low", ROOT_PART),
        ("low", "mid"),
        ("mid", "low"),
        ("mid", "high"),
        ("high", "mid"),
        ("sigma/backends/azure_aks", "high"),
    }
    count, lines = cycle_report(imports)
    assert count == 3  # low <-> mid <-> high
    assert lines[0].startswith("cycle high <-> low <-> mid: ")
    table = layer_table(SYNTHETIC_DOC)
    problems = layer_problems(imports, table)
    assert sorted(p.split(":")[0] for p in problems) == [
        "sigma_azure_aks/low.py",  # low imports mid, a higher layer
        "sigma_azure_aks/mid/deep.py",  # mid imports high
    ]
    assert "low (bottom) imports mid (middle), a higher layer" in " ".join(problems)
    assert table_problems(package_parts(repo), table) == ["extra: in no layer of docs/architecture.md"]


def test_a_part_the_table_lacks_is_reported(tmp_path: Path) -> None:
    repo = _synthetic_package(tmp_path, {f"{PACKAGE}/low.py": "from . import stray\n", f"{PACKAGE}/stray.py": ""})
    problems = layer_problems(imports_between_parts(repo), layer_table(SYNTHETIC_DOC))
    assert problems == ["sigma_azure_aks/low.py:1: stray is in no layer of docs/architecture.md"]


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"c"}}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}}, [["a", "b", "c"], ["d", "e"]]),
    ],
)
def test_cycles_are_found_in_a_graph(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert parts_in_cycles(graph) == expected


def main() -> int:
    imports = imports_between_parts(REPO)
    graph = graph_of(imports)
    for table_layer, parts in _doc_table():
        for part in parts:
            print(f"{table_layer:16} {part:26} -> {', '.join(sorted(graph.get(part, ()))) or '-'}")
    count, lines = cycle_report(imports)
    problems = table_problems(package_parts(REPO), _doc_table()) + layer_problems(imports, _doc_table())
    for line in lines + problems:
        print(line)
    print(f"top-level parts in cycles: {count}")
    return 1 if count or problems else 0


if __name__ == "__main__":
    sys.exit(main())
