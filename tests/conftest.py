"""Test wiring: fixtures live in tests/fixtures/, one module per layer."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.env",
    "tests.fixtures.store",
    "tests.fixtures.sample",
    "tests.fixtures.search",
    "tests.fixtures.web",
    "tests.fixtures.cli",
]
