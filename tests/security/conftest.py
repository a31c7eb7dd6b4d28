"""The security tests' real servers (`digits serve` with its workers), as an attacker meets them."""

from tests.integration.conftest import server  # noqa: F401
