"""A command's help text read from its module's source, so ``xinlian --help`` imports no command.

Listing the commands needs one line of help each, and importing the modules that hold them loads the
web app, Scrapy and the search engine (two seconds on a busy 2-core machine). The help is where the
code says it: a command function's docstring, or the ``help=`` of the ``typer.Typer(...)`` a group
module assigns to its attribute. tests/test_cli_commands.py checks the text read here against the
loaded command's, so the two cannot drift apart.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path


def _module_tree(module: str) -> ast.Module | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"), filename=spec.origin)


def _typer_help(value: ast.expr) -> str | None:
    """The ``help=`` string of a ``typer.Typer(...)`` call."""
    if not isinstance(value, ast.Call):
        return None
    for keyword in value.keywords:
        if keyword.arg == "help" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    return None


def command_help(module: str, attribute: str) -> str | None:
    """The help of ``module.attribute`` (a command function or a Typer group), None if not found."""
    tree = _module_tree(module)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return ast.get_docstring(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == attribute for target in node.targets
        ):
            return _typer_help(node.value)
    return None
