"""Every operation of the registry, COS twins included, has its ``OperationContract`` subclass.

Read from the test modules' source (no test module imports another): a class whose ``operation = X()`` is set
in a ``tests/unit/test_operation_*.py`` module counts for X.
"""

from __future__ import annotations

import ast
from pathlib import Path

from batchops.operations.registry import OPERATIONS

UNIT_TESTS = Path(__file__).parent


def contracted_operations() -> set[str]:
    names: set[str] = set()
    for module in UNIT_TESTS.glob("test_operation_*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test") and node.name.endswith("Contract"):
                names |= {name for statement in node.body if (name := _constructed(statement))}
    return names


def _constructed(statement: ast.stmt) -> str | None:
    """``X`` of a class body's ``operation = X()``."""
    if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)):
        return None
    targets = [t.id for t in statement.targets if isinstance(t, ast.Name)]
    function = statement.value.func
    return function.id if targets == ["operation"] and isinstance(function, ast.Name) else None


def test_every_registered_operation_has_a_contract() -> None:
    registered = {type(operation).__name__ for operation in OPERATIONS.values()}
    assert registered - contracted_operations() == set()
