"""The ``fake_vantage`` fixture: a running :class:`~tests.fakes.vantage.FakeVantage`, stopped after the test.

Defaults: ``api_key="vk_test"``, ``integration_token="accss_crdntl_test"``. For other options build your own::

    @pytest.fixture
    def strict_vantage():
        yield from fake_vantage_fixture(rate_limit=5, read_only_keys={"vk_read"})

Tests outside tests/fakes/ can import the class (``from tests.fakes.vantage import FakeVantage``) or reuse this
fixture by importing it into their own conftest (``from tests.fakes.conftest import fake_vantage``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.vantage import FakeVantage, fake_vantage_fixture


@pytest.fixture
def fake_vantage() -> Iterator[FakeVantage]:
    yield from fake_vantage_fixture()
