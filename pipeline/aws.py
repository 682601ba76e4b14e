"""AWS clients, built lazily and injected into the logic functions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config


# Adaptive retries absorb short throttling bursts before our own typed errors (and the state
# machine's Retry) take over. The attempt count follows AWS_MAX_ATTEMPTS (botocore's default: 3);
# AWS_RETRY_MODE overrides the mode (the local stack, whose functions share one process and so
# would share adaptive mode's client-side rate limiter, uses `standard`).
def _boto_config() -> Config:
    return Config(retries={"mode": os.environ.get("AWS_RETRY_MODE", "adaptive")})


@dataclass
class AwsClients:
    """One place that creates clients; tests and the local stack pass an endpoint or clients."""

    region: str
    endpoint_url: str | None = None
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._cache:
            self._cache[key] = boto3.client(
                service,
                region_name=key[1],
                endpoint_url=self.endpoint_url,
                config=_boto_config(),
            )
        return self._cache[key]

    def rds(self, region: str | None = None) -> Any:
        return self.client("rds", region)

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def secretsmanager(self) -> Any:
        return self.client("secretsmanager")

    @property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")
