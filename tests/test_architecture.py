"""The package's architecture: layers, import cycles, module size and top-level breadth.

The import graph is built by parsing every ``.py`` file under ``src/privacy_kit`` with :mod:`ast`,
never by importing it. Every ``import`` and ``from ... import`` counts wherever it sits: at module
level, inside a function, or under ``if TYPE_CHECKING:``. Each imported name maps to the deepest
``privacy_kit`` module that exists as a file (``from ..adapters import Eq`` is an edge to
``privacy_kit.adapters``, its ``__init__``; ``from .. import model`` one to ``privacy_kit.model``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "privacy_kit"
SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE_DIR = SRC / PACKAGE

MAX_MODULE_LINES = 650
MAX_TOP_LEVEL_MODULES = 10

# The layers, lowest first (see docs/architecture.md). A module may import from its own layer or
# any lower one, never a higher one. "pkg.*" means the package pkg and every module under it; a
# name without ".*" means that one module. The package data (src/privacy_kit/data) has no code.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "privacy_kit._errors",
            "privacy_kit._types",
            "privacy_kit._html",
            "privacy_kit._lazy",
            "privacy_kit._version",
        ),
    ),
    ("model", ("privacy_kit.model.*",)),
    ("adapters", ("privacy_kit.adapters.*",)),
    ("audit", ("privacy_kit.audit.*",)),
    ("scope", ("privacy_kit._scope", "privacy_kit._stores")),
    ("lifecycle", ("privacy_kit.lifecycle.*",)),
    ("retention", ("privacy_kit.retention.*",)),
    ("rights", ("privacy_kit.rights.*",)),
    ("notices", ("privacy_kit.notices.*",)),
    ("interop", ("privacy_kit.interop.*",)),
    ("engine", ("privacy_kit.engine.*",)),
    ("testing", ("privacy_kit.testing.*",)),
    ("cli", ("privacy_kit.cli.*", "privacy_kit.__main__")),
    # Framework integrations (optional extras): they build engines, commands and admin actions.
    ("contrib", ("privacy_kit.contrib.*",)),
    # The package __init__ lazily re-exports from every layer: it may import anything.
    ("top", ("privacy_kit",)),
)


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of ``module``'s layer, or None if no layer lists it."""
    found = [
        index
        for index, (_, patterns) in enumerate(LAYERS)
        for pattern in patterns
        if module == pattern.removesuffix(".*")
        or (pattern.endswith(".*") and module.startswith(pattern[:-1]))
    ]
    return found[0] if len(found) == 1 else None


def layer_label(index: int) -> str:
    return f"layer {index} {LAYERS[index][0]}"


# --- the import graph --------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package a relative import in this module starts from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    path: Path
    line: int
    lazy: bool  # under ``if TYPE_CHECKING:``

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(SRC.parent).as_posix()}:{self.line}"


@dataclass(frozen=True)
class Graph:
    modules: Mapping[str, Module]
    edges: tuple[Edge, ...]
    unresolved: tuple[str, ...]  # imports of privacy_kit modules that do not exist


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def discover_modules() -> dict[str, Module]:
    return {
        module_name(path): Module(module_name(path), path, path.name == "__init__.py")
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_nodes(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement anywhere in ``tree``, with whether it is under TYPE_CHECKING."""
    lazy: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            lazy.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, id(node) in lazy


def _in_package(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def import_targets(
    module: Module, node: ast.Import | ast.ImportFrom, modules: Mapping[str, Module]
) -> Iterator[tuple[str, bool]]:
    """The privacy_kit modules ``node`` imports, each with whether the name exists as written.

    A name maps to the deepest module that exists as a file; ``from X import name`` maps to
    ``X.name`` when that is a module (``from . import _rules``), else to ``X`` itself.
    """

    def deepest(name: str) -> tuple[str, bool]:
        existing = name
        while existing not in modules and "." in existing:
            existing = existing.rpartition(".")[0]
        return existing, existing == name

    if isinstance(node, ast.Import):
        for alias in node.names:
            if _in_package(alias.name):
                yield deepest(alias.name)
        return
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.package.split(".")
        up = node.level - 1
        if up >= len(parts):
            yield f"<relative import beyond {PACKAGE}: level {node.level}>", False
            return
        base = ".".join([*parts[: len(parts) - up], *([node.module] if node.module else [])])
    if not _in_package(base):
        return
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        yield (candidate, True) if candidate in modules else deepest(base)


@cache
def build_graph() -> Graph:
    modules = discover_modules()
    edges: list[Edge] = []
    unresolved: list[str] = []
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
        for node, lazy in import_nodes(tree):
            for target, exact in import_targets(module, node, modules):
                edge = Edge(module.name, target, module.path, node.lineno, lazy)
                if exact:
                    edges.append(edge)
                else:
                    unresolved.append(f"{edge.where}: {ast.unparse(node)}")
    return Graph(modules, tuple(edges), tuple(unresolved))


def adjacency(edges: Iterable[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        graph[edge.importer].add(edge.imported)
    return graph


def strongly_connected_components(
    nodes: Iterable[str], graph: Mapping[str, set[str]]
) -> list[list[str]]:
    """Tarjan's algorithm; components in a stable order, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return sorted(components)


def _is_inside(module: str, package: str) -> bool:
    return module.startswith(package + ".")


def _grouped(edges: Iterable[Edge]) -> dict[tuple[str, str], list[str]]:
    """importer -> imported pairs, sorted, each with every place it is imported."""
    places: dict[tuple[str, str], list[str]] = defaultdict(list)
    for edge in edges:
        places[edge.importer, edge.imported].append(edge.where)
    return dict(sorted(places.items()))


def _describe(edges: Iterable[Edge]) -> list[str]:
    return [f"{a} -> {b}  [{', '.join(where)}]" for (a, b), where in _grouped(edges).items()]


def _report(title: str, violations: list[str]) -> str:
    return f"{title} ({len(violations)}):\n" + "\n".join(f"  {line}" for line in violations)


def cycle_violations(graph: Graph) -> list[str]:
    """Every import cycle in ``graph``, each naming its edges."""
    # A package __init__'s TYPE_CHECKING imports of its own submodules are lazy re-exports, not
    # load-time dependencies. Every other edge counts, eager __init__ imports included.
    counted = [
        edge
        for edge in graph.edges
        if not (
            graph.modules[edge.importer].is_package
            and _is_inside(edge.imported, edge.importer)
            and edge.lazy
        )
    ]
    components = [
        component
        for component in strongly_connected_components(graph.modules, adjacency(counted))
        if len(component) > 1
    ]
    component_of = {member: number for number, comp in enumerate(components) for member in comp}
    violations: list[str] = []
    for component in components:
        inner = [e for e in counted if e.importer in component and e.imported in component]
        violations.append("cycle among " + ", ".join(component) + ":")
        violations.extend("    " + line for line in _describe(inner))
    violations.extend(
        "imports itself: " + line
        for line in _describe(e for e in counted if e.importer == e.imported)
    )
    # A submodule importing its own package's __init__ closes a cycle even though the lazy
    # re-export edges are left out above: Python imports the package before the submodule, and the
    # package (eagerly or lazily) re-exports from its submodules. When the package imports the
    # submodule eagerly, the component above already shows it.
    to_own_package = (
        e
        for e in counted
        if _is_inside(e.importer, e.imported)
        and component_of.get(e.importer, -1) != component_of.get(e.imported, -2)
    )
    violations.extend(
        "imports its own package's __init__, which re-exports from it: " + line
        for line in _describe(to_own_package)
    )
    return violations


def upward_violations(graph: Graph) -> list[str]:
    """Every import from a lower layer to a higher one, as ``importer -> imported (layers)``."""
    violations: list[str] = []
    for (importer, imported), where in _grouped(graph.edges).items():
        low, high = layer_of(importer), layer_of(imported)
        if low is not None and high is not None and low < high:
            violations.append(
                f"{importer} -> {imported} ({layer_label(low)} -> {layer_label(high)})"
                f"  [{', '.join(where)}]"
            )
    return violations


# --- the rules ---------------------------------------------------------------------------------


def test_no_import_cycles() -> None:
    violations = cycle_violations(build_graph())
    assert not violations, _report("Import cycles", violations)


def test_no_upward_imports() -> None:
    violations = upward_violations(build_graph())
    assert not violations, _report("Imports from a lower layer to a higher one", violations)


def test_every_module_is_in_exactly_one_layer() -> None:
    unplaced = [name for name in build_graph().modules if layer_of(name) is None]
    assert not unplaced, _report(
        "Modules in no layer, or in more than one (update LAYERS and docs/architecture.md)",
        unplaced,
    )


def test_modules_are_not_too_long() -> None:
    too_long = [
        f"{module.path.relative_to(SRC.parent).as_posix()}: {lines} lines"
        for module in build_graph().modules.values()
        if (lines := len(module.path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, _report(f"Modules longer than {MAX_MODULE_LINES} lines", too_long)


def test_top_level_stays_small() -> None:
    top_level = sorted(path.name for path in PACKAGE_DIR.glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, _report(
        f"More than {MAX_TOP_LEVEL_MODULES} modules directly in src/{PACKAGE}/", top_level
    )


# --- the graph builder itself, so the rules above cannot pass vacuously ------------------------


def test_every_privacy_kit_import_resolves_to_a_module_file() -> None:
    graph = build_graph()
    assert len(graph.modules) > 30
    assert len(graph.edges) > 100
    assert not graph.unresolved, _report(
        "Imports of privacy_kit modules that do not exist", list(graph.unresolved)
    )


def test_the_engine_imports_the_rights_and_retention_layers() -> None:
    graph = build_graph()
    defining = [
        module.name
        for module in graph.modules.values()
        if _is_inside(module.name, f"{PACKAGE}.engine")
        and any(
            isinstance(node, ast.ClassDef) and node.name == "Engine"
            for node in ast.parse(module.path.read_text(encoding="utf-8")).body
        )
    ]
    assert len(defining) == 1, f"expected one module under engine/ to define Engine: {defining}"
    imported_layers = {
        LAYERS[layer][0]
        for edge in graph.edges
        if edge.importer == defining[0] and (layer := layer_of(edge.imported)) is not None
    }
    assert {"rights", "retention"} <= imported_layers, imported_layers


def test_type_checking_and_eager_init_imports_are_told_apart() -> None:
    edges = build_graph().edges
    lazy = {(e.importer, e.imported) for e in edges if e.lazy}
    eager = {(e.importer, e.imported) for e in edges if not e.lazy}
    # model/__init__.py re-exports lazily; adapters/__init__.py imports its core modules eagerly,
    # the selections lazily (made when the first one is).
    assert ("privacy_kit.model", "privacy_kit.model._policy") in lazy
    assert ("privacy_kit.model", "privacy_kit.model._policy") not in eager
    assert ("privacy_kit.adapters", "privacy_kit.adapters._base") in eager
    assert ("privacy_kit.adapters", "privacy_kit.adapters._selection") in lazy
    assert ("privacy_kit.adapters", "privacy_kit.adapters._selection") not in eager


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("privacy_kit._errors", "foundation"),
        ("privacy_kit._version", "foundation"),
        ("privacy_kit.model", "model"),
        ("privacy_kit.model._datamap", "model"),
        ("privacy_kit.adapters._sqlite", "adapters"),
        ("privacy_kit._scope", "scope"),
        ("privacy_kit._stores", "scope"),
        ("privacy_kit.rights._erasure_plan", "rights"),
        ("privacy_kit.interop.fides", "interop"),
        ("privacy_kit.engine._engine", "engine"),
        ("privacy_kit.cli._main", "cli"),
        ("privacy_kit.__main__", "cli"),
        ("privacy_kit", "top"),
    ],
)
def test_layer_of_known_modules(module: str, layer: str) -> None:
    index = layer_of(module)
    assert index is not None
    assert LAYERS[index][0] == layer


@pytest.mark.parametrize(
    "module", ["privacy_kit._scopes", "privacy_kit.modeling", "privacy_kit.new"]
)
def test_layer_of_unknown_modules(module: str) -> None:
    assert layer_of(module) is None


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        (
            "privacy_kit.retention._plan",
            "from ..model._datamap import DataMap",
            "privacy_kit.model._datamap",
        ),
        ("privacy_kit.retention._plan", "from ..adapters import Eq", "privacy_kit.adapters"),
        ("privacy_kit.retention._plan", "from . import _rules", "privacy_kit.retention._rules"),
        (
            "privacy_kit.retention._plan",
            "from ._rules import cutoff",
            "privacy_kit.retention._rules",
        ),
        ("privacy_kit.retention._plan", "from .. import model", "privacy_kit.model"),
        ("privacy_kit.retention._plan", "from .. import Duration", "privacy_kit"),
        ("privacy_kit.retention._plan", "from . import Action", "privacy_kit.retention"),
        ("privacy_kit.retention", "from . import _rules", "privacy_kit.retention._rules"),
        ("privacy_kit.retention", "from .._lazy import attach", "privacy_kit._lazy"),
        ("privacy_kit", "from .adapters import Eq", "privacy_kit.adapters"),
        ("privacy_kit", "from . import _types", "privacy_kit._types"),
        ("privacy_kit.cli._main", "import privacy_kit.adapters._sql", "privacy_kit.adapters._sql"),
        ("privacy_kit.cli._main", "from privacy_kit.model import Policy", "privacy_kit.model"),
        (
            "privacy_kit.cli._main",
            "from privacy_kit.interop import fides",
            "privacy_kit.interop.fides",
        ),
    ],
)
def test_imports_resolve_to_the_deepest_module(importer: str, source: str, expected: str) -> None:
    modules = build_graph().modules
    source = f"def f() -> None:\n    if TYPE_CHECKING:\n        {source}\n"
    [(node, lazy)] = import_nodes(ast.parse(source))
    assert lazy
    assert list(import_targets(modules[importer], node, modules)) == [(expected, True)]


def test_imports_of_other_packages_are_ignored() -> None:
    modules = build_graph().modules
    tree = ast.parse(
        "import os, attrs\nfrom pydantic import Field\nfrom typing import TYPE_CHECKING\n"
    )
    module = modules["privacy_kit.model._policy"]
    assert [
        t for node, _ in import_nodes(tree) for t in import_targets(module, node, modules)
    ] == []


def _synthetic_graph(*edges: tuple[str, str, bool]) -> Graph:
    """A made-up graph: (importer, imported, under TYPE_CHECKING) triples."""
    names = {name for importer, imported, _ in edges for name in (importer, imported)}
    packages = {"privacy_kit", "privacy_kit.model", "privacy_kit.notices"}
    modules = {
        name: Module(name, PACKAGE_DIR / "fake.py", is_package=name in packages) for name in names
    }
    return Graph(
        modules,
        tuple(Edge(a, b, PACKAGE_DIR / "fake.py", n, lazy) for n, (a, b, lazy) in enumerate(edges)),
        (),
    )


def test_cycle_check_sees_cycles_and_spares_lazy_reexports() -> None:
    clean = _synthetic_graph(
        ("privacy_kit.model", "privacy_kit.model._a", True),
        ("privacy_kit.model", "privacy_kit.model._b", True),
        ("privacy_kit.model._b", "privacy_kit.model._a", False),
        ("privacy_kit.notices._n", "privacy_kit.model", False),
    )
    assert cycle_violations(clean) == []
    broken = _synthetic_graph(
        ("privacy_kit.model", "privacy_kit.model._a", True),
        ("privacy_kit.model._a", "privacy_kit.model", False),  # from . import x
        ("privacy_kit.model._b", "privacy_kit.model._c", False),
        ("privacy_kit.model._c", "privacy_kit.model._b", False),
        ("privacy_kit.model._d", "privacy_kit.model._d", False),
        ("privacy_kit.notices", "privacy_kit.notices._n", False),  # eager
        ("privacy_kit.notices._n", "privacy_kit.notices", False),
    )
    found = "\n".join(cycle_violations(broken))
    assert "cycle among privacy_kit.model._b, privacy_kit.model._c" in found
    assert "cycle among privacy_kit.notices, privacy_kit.notices._n" in found
    assert "imports itself: privacy_kit.model._d -> privacy_kit.model._d" in found
    assert "own package's __init__, which re-exports from it: privacy_kit.model._a ->" in found
    assert "own package's __init__, which re-exports from it: privacy_kit.notices._n" not in found


def test_upward_check_names_both_layers() -> None:
    graph = _synthetic_graph(
        ("privacy_kit.model._a", "privacy_kit.notices._n", False),
        ("privacy_kit.notices._n", "privacy_kit.model._a", False),
        ("privacy_kit", "privacy_kit.cli._main", True),
    )
    assert [line.split("  [")[0] for line in upward_violations(graph)] == [
        "privacy_kit.model._a -> privacy_kit.notices._n (layer 1 model -> layer 8 notices)"
    ]
