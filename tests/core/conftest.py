"""Fixtures shared by the interactive-mode and terminal tests of tests/core."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Kaiwa
from tests.harness.term import Term


@pytest.fixture
def term_for(kaiwa: Kaiwa) -> Iterator[Callable[..., Term]]:
    """`term_for(*args, **env)`: chat.py with these arguments in a pseudo-terminal, closed after the test."""
    terms: list[Term] = []

    def make(*args: str, **env: str) -> Term:
        terms.append(Term(kaiwa, *args, **env))
        return terms[-1]

    yield make
    for t in terms:
        t.close()
