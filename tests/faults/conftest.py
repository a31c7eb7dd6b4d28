"""The integration tests' real stacks and servers, for the fault scenarios."""

from tests.integration.conftest import (  # noqa: F401
    broker_url,
    recorder_factory,
    server,
    stack,
)
