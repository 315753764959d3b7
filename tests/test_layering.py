"""The package's layers: imports flow one way and no module imports itself back through others.

errors / settings / io  ←  faces, index  ←  gallery  ←  usecases  ←  cli, api, service;
evaluation sits on top beside them. Every import counts, including those inside functions; imports
under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import lookalike

SRC = Path(lookalike.__file__).resolve().parent
#: the layer of each top-level part of the package (higher may import lower, never the reverse)
LAYERS = {
    "errors": 0, "settings": 0, "io": 0,
    "faces": 1, "index": 1, "fetch": 1,
    "gallery": 2, "clustering": 2,
    "usecases": 3, "training": 3,
    "cli": 4, "api": 4, "service": 4, "evaluation": 4, "__main__": 5, "__init__": 5,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``lookalike.*`` module a file imports at run time."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("lookalike"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lookalike"):
            if node.module != "lookalike":  # `from lookalike import __version__` reads the package's name only
                out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in files and i != m} for m, p in files.items()}


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else "__init__"
    return LAYERS[part]


def test_every_part_has_a_layer() -> None:
    for module in _graph():
        _layer(module)  # KeyError names a part the layering does not know


def test_no_lower_layer_imports_a_higher_one() -> None:
    bad = [f"{m} (layer {_layer(m)}) imports {i} (layer {_layer(i)})"
           for m, deps in _graph().items() for i in deps
           if _layer(i) > _layer(m) and not (i.startswith(m + ".") or m == "lookalike")]
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycles() -> None:
    graph = _graph()
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    edges = {m: {i for i in deps if not i.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n] if n in stack else [m, n])
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(" → ".join(c) for c in cycles)


def test_one_atomic_write_helper() -> None:
    """Only lookalike/io.py renames temporary files into place (fetch.py moves its downloads)."""
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if "os.replace(" in p.read_text() and p.name not in ("io.py", "fetch.py")]
    assert not offenders
