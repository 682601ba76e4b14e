"""Secrets Manager's staging labels as AWS moves them, where moto does not.

UpdateSecretVersionStage with VersionStage=AWSCURRENT makes MoveToVersionId the version that
GetSecretValue returns when no version is named ("GetSecretValue ... By default, Secrets Manager
retrieves the version with the staging label AWSCURRENT"; UpdateSecretVersionStage: "You can move
the AWSCURRENT staging label to this version by including it in this call", botocore
secretsmanager 2017-10-17). moto 5 moves the label but keeps answering with the version that
was current before, so a swap's promoted credentials would never be read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend

Patch = Callable[[type, str, Any], None]
_ABSENT = object()


def install(patch: Patch) -> None:
    original = SecretsManagerBackend.update_secret_version_stage
    patch(SecretsManagerBackend, "update_secret_version_stage", _follow_current(original))


def _follow_current(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def update_secret_version_stage(
        self: SecretsManagerBackend,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> Any:
        result = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == "AWSCURRENT" and move_to_version_id:
            secret = self.secrets[secret_id]
            if isinstance(secret, FakeSecret):  # a replica follows its primary
                secret.set_default_version_id(move_to_version_id)
        return result

    return update_secret_version_stage


@contextmanager
def labels_enforced() -> Iterator[None]:
    """The rules on moto (in process) for a block; moto as before after."""
    saved: list[tuple[type, str, Any]] = []

    def patch(owner: type, name: str, replacement: Any) -> None:
        saved.append((owner, name, owner.__dict__.get(name, _ABSENT)))
        setattr(owner, name, replacement)

    install(patch)
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
