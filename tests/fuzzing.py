"""Hypothesis settings shared by the fuzz tests (tests/test_fuzz_*.py) and the schemathesis test.

``fuzz(n)``: ``n`` examples per test, no deadline (the shared machine's load would make timings flaky;
speed is measured in bench/), no example database (several people share the checkout; a failure
prints its falsifying example, which a regression test then pins). Under Hypothesis's built-in
``ci`` profile (the CI environment variable, or ``pytest --hypothesis-profile=ci``) every test runs
``CI_FACTOR`` times as many examples, derandomized as that profile is.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 200
CI_FACTOR = 5


def fuzz(examples: int = DEFAULT_EXAMPLES) -> settings:
    """Settings for one fuzz test: ``examples`` examples (times CI_FACTOR under the ``ci`` profile)."""
    factor = CI_FACTOR if settings.get_current_profile_name() == "ci" else 1
    return settings(
        max_examples=examples * factor,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
