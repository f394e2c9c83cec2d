"""Fixtures for the deployment tests: a real Prefect server, a shared vault."""

from tests.deployments.fixtures import prefect_server, shared_vault

__all__ = ["prefect_server", "shared_vault"]
