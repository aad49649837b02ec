"""The roles tests run chat.py in a project the user trusts (kaiwa/trust.py): before each call its files are
trusted as they are then, as `chat.py trust` would. tests/roles/test_trust.py is about folders that are not."""

from __future__ import annotations

import pytest

from tests.conftest import Kaiwa
from tests.roles.helpers import trust_folder


class TrustedProject(Kaiwa):
    def command(self, *args: str) -> list[str]:
        trust_folder(self.home, self.home / "state")
        return super().command(*args)


@pytest.fixture
def kaiwa(kaiwa: Kaiwa) -> Kaiwa:
    trusted = TrustedProject(kaiwa.home, {})
    trusted.env = kaiwa.env
    return trusted
