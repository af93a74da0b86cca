"""Faults caused for real on real servers (issue #40): every test here is ``slow`` (its module says so).

The service's registries come from ``tests/service/conftest.py`` (built once, copied per test).
"""

from __future__ import annotations

from tests.service.conftest import champion_v1, champion_v1_template  # noqa: F401 (fixtures)
