"""The house (issue 21 item 6): imports run one way. No import circles between modules, and an area of the package
imports only areas of lower layers — at module level and inside functions alike (a lazy import is still a
dependency). Read from the source with `ast`; nothing is imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "qclip_hf"

# Lowest first. An area is a top-level subpackage/module of qclip_hf, or `models.<name>`.
LAYERS: list[set[str]] = [
    {"_lazy", "_version", "errors"},
    {"video", "backbones", "metrics", "losses", "synthetic", "model_card"},
    {"models.pe_core", "tuners", "calibration", "data"},
    {"models.qclip"},
    {"pipelines"},
    {"inference", "registration"},
    {"reporting"},
    {"training"},
    {"app", "engines"},
    {"cli"},
    {"testing", "qclip_hf"},
]


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """`{module: {qclip_hf modules it imports}}`, relative and absolute imports, at any depth of the file."""
    modules = {_module_name(p, package): p for p in package.rglob("*.py")}

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
                module = ".".join(p for p in (base, node.module or "") if p)
                targets = [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                found = owner(target) if target.startswith("qclip_hf") else None
                if found is not None and found != name:
                    graph[name].add(found)
    for name in modules:
        graph.setdefault(name, set())
    return graph


def area(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "qclip_hf"
    if parts[1] == "models" and len(parts) > 2:
        return f"models.{parts[2]}"
    return parts[1]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    rank = {name: level for level, names in enumerate(LAYERS) for name in names}
    problems = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = area(source), area(target)
            if a == b:
                continue
            if a not in rank or b not in rank:
                problems.append(f"{source} -> {target}: area {a if a not in rank else b!r} has no layer in LAYERS")
            elif rank[b] >= rank[a]:
                problems.append(f"{source} (layer {rank[a]}) imports {target} (layer {rank[b]})")
    return problems


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_imports_run_from_higher_layers_to_lower_ones():
    assert layer_violations(import_graph()) == []


def test_the_checks_catch_a_circle_and_an_upward_import(tmp_path):
    # The two circles and the upward import this test was written against (issue 21), rebuilt in a scratch package.
    package = tmp_path / "qclip_hf"
    for name, text in {
        "__init__.py": "",
        "data/__init__.py": "",
        "data/checks.py": "def check():\n    from ..training.data import load\n",
        "training/__init__.py": "",
        "training/data.py": "from ..data.checks import check\n",
        "video/__init__.py": "",
        "video/decoding.py": "from .frame_pass import read\n",
        "video/frame_pass.py": "def read():\n    from .decoding import open_stream\n",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    graph = import_graph(package)
    assert circles(graph) == [["qclip_hf.data.checks", "qclip_hf.training.data"],
                              ["qclip_hf.video.decoding", "qclip_hf.video.frame_pass"]]
    assert layer_violations(graph) == ["qclip_hf.data.checks (layer 2) imports qclip_hf.training.data (layer 7)"]
