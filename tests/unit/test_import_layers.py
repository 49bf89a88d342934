"""The package's shape, read from its source with ``ast``: every import goes down the layers, no module imports
itself back through others, and no import hides inside a function except the few that only defer a heavy load.

The layers are ``LAYERS``, lowest first: a package may import only the ones below it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import batchops

ROOT = Path(batchops.__file__).parent

#: Lowest first. Leaf helpers, then the domain, settings, the parts that talk to stores, and the edges on top.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "errors sigv4 devstore logs metrics_dir",
        "knobs wire_numbers arns listening metrics webhooks",
        "xmlutil tenancy domain",
        "settings",
        "auth s3 store functions aws_hooks",
        "manifests",
        "operations reports",
        "engine service",
        "jobfile jobfile_export",
        "api client",
        "console cli_jobs cli_db awscli_plugin",
        "server",
        "demo",
        "cli",
        "__main__ __init__",
    )
)
#: Imports that stay inside a function on purpose: each only defers loading something heavy, none hides a loop.
DEFERRED = {
    ("batchops.cli", "batchops.server"),  # the server's stack takes ~0.7 s to import; `batchops job …` skips it
    ("batchops.cli", "batchops.demo"),
    ("batchops.cli", "batchops.engine.queueworker"),
    # prometheus-client reads PROMETHEUS_MULTIPROC_DIR when imported: `batchops server` sets it first
    ("batchops.cli", "batchops.metrics"),  # procrastinate, SQLAlchemy, aiobotocore: `batchops worker` only
    ("batchops.cli_jobs", "batchops.client"),  # boto3, for the commands that call the API only
    ("batchops.cli_jobs", "batchops.jobfile_export"),  # botocore's parser and PyYAML, for `job export` only
    ("batchops.cli_db", "batchops.store.sql.database"),  # SQLAlchemy and Alembic, for `batchops db` only
    ("batchops.cli_db", "batchops.store.sql.urls"),
    ("batchops", "batchops.client"),  # `batchops.Client`, loaded on first use
    ("batchops.jobfile", "batchops.operations.registry"),  # every operation's code, for a job file's check only
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.relative_to(ROOT).parts:
            continue  # frozen history: checked by test_migrations
        name = ".".join(("batchops", *path.relative_to(ROOT).with_suffix("").parts))
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, bool]]:
    """(imported batchops module, inside a function?) for each import of ``name``; TYPE_CHECKING blocks left out."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]

    def visit(node: ast.AST, local: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                yield from ((alias.name, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                for alias in child.names:
                    yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base), inner
            yield from visit(child, inner)

    for target, local in visit(ast.parse(path.read_text()), False):
        while target not in MODULES and "." in target:
            target = target.rsplit(".", 1)[0]
        if target.startswith("batchops") and target != name and target in MODULES:
            yield target, local


EDGES = {(name, target, local) for name, path in MODULES.items() for target, local in _imports(name, path)}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(package: str) -> int:
    return next(n for n, layer in enumerate(LAYERS) if package in layer)


def test_every_package_has_a_layer() -> None:
    assert {_top(m) for m in MODULES} - set().union(*LAYERS) == set()


def test_every_import_goes_down_the_layers() -> None:
    upward = sorted(
        f"{name} imports {target}"
        for name, target, _ in EDGES
        if _top(name) != _top(target) and _layer(_top(target)) >= _layer(_top(name))
    )
    assert upward == []


def test_no_module_imports_itself_back() -> None:
    graph: dict[str, set[str]] = {}
    for name, target, _ in EDGES:
        if not (name == "batchops" or (MODULES[name].name == "__init__.py" and target.startswith(name + "."))):
            graph.setdefault(name, set()).add(target)
    loops = [f"{a} ⇄ {b}" for a in graph for b in graph[a] if _reaches(graph, b, a)]
    assert loops == []


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def test_imports_inside_functions_only_defer_heavy_loads() -> None:
    assert {(name, target) for name, target, local in EDGES if local} <= DEFERRED


def test_the_edges_reach_jobs_only_through_the_service() -> None:
    edges, behind = {"api", "console", "cli_jobs", "client"}, {"store", "engine"}
    bypass = sorted(
        f"{name} imports {target}" for name, target, _ in EDGES if _top(name) in edges and _top(target) in behind
    )
    assert bypass == []
