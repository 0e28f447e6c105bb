"""The package's layout rules (README, "Layout"): no module imports a private name of another, and
the imports between modules, deferred ones included, form no circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "conslaw_cli"


def _modules() -> dict[str, ast.Module]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (path, ast.parse(path.read_text()))
    return modules


def _imported_module(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    package = package[:len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _imports(modules) -> dict[str, set[str]]:
    """Module -> the package modules it imports, at the top or inside a function."""
    edges = {name: set() for name in modules}
    for name, (path, tree) in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                base = _imported_module(name, path.name == "__init__.py", node)
                for alias in node.names:
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    if target in modules and target != name:
                        edges[name].add(target)
            elif isinstance(node, ast.Import):
                edges[name] |= {a.name for a in node.names if a.name in modules and a.name != name}
    return edges


def test_no_module_imports_a_private_name():
    private = [(name, node.lineno, alias.name) for name, (_, tree) in _modules().items()
               for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module != "__future__"
               for alias in node.names if alias.name.startswith("_")]
    assert private == []


def test_module_imports_form_no_circle():
    edges = _imports(_modules())
    done: set[str] = set()

    def circle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for target in sorted(edges[module]):
            if found := circle_from(target, path + [module]):
                return found
        done.add(module)
        return None

    assert [c for m in sorted(edges) if (c := circle_from(m, []))] == []
    assert "conslaw_cli.counting.graph.blocks" in edges["conslaw_cli.counting.graph.lawcheck"]  # the probe sees imports
