"""The import graph of one Python package, read with ast (nothing is imported or run).

Every `import` and `from … import` anywhere in a module counts, including those inside functions and under
`if TYPE_CHECKING:` — a lazy import still ties two modules together. `from pkg import name` points at the module
`pkg.name` when that is a module, otherwise at `pkg`.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Graph:
    package: str                      # e.g. "reports"
    root: Path                        # the folder of the package
    modules: dict[str, Path] = field(default_factory=dict)  # dotted name -> file
    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> modules of this package it imports
    external: dict[str, set[str]] = field(default_factory=dict)  # module -> top-level names outside the package

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one module, or a module importing itself."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []
        counter = [0]

        def visit(v: str) -> None:  # Tarjan's algorithm; recursion is deep enough for packages this size
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.edges.get(v, ())):
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
                if len(component) > 1 or v in self.edges.get(v, ()):
                    found.append(sorted(component))

        for v in sorted(self.modules):
            if v not in index:
                visit(v)
        return found


def module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read(root: Path, *, skip: tuple[str, ...] = ()) -> Graph:
    """The graph of the package in folder `root` (its name is the folder's); `skip`: folder names left out."""
    package = root.name
    graph = Graph(package, root)
    for path in sorted(root.rglob("*.py")):
        if any(part in skip for part in path.relative_to(root).parts):
            continue
        graph.modules[module_name(package, root, path)] = path
    for name, path in graph.modules.items():
        is_package = path.name == "__init__.py"
        inside, outside = set(), set()
        for target in imported(name, is_package, ast.parse(path.read_text(), str(path)), graph.modules):
            if target == package or target.startswith(package + "."):
                inside.add(target)
            else:
                outside.add(target.split(".")[0])
        graph.edges[name] = {t for t in inside if t in graph.modules}
        graph.external[name] = outside
    return graph


def imported(module: str, is_package: bool, tree: ast.AST, modules: dict[str, Path]):
    """Dotted names of the modules `module` imports."""
    here = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield nearest_module(alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = here.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in modules else nearest_module(base, modules)


def nearest_module(name: str, modules: dict[str, Path]) -> str:
    """`a.b.c` when it is a module of the package, else the longest prefix that is (or the name itself outside)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in modules:
            return prefix
    return name
