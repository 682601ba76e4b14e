"""Per-invocation AWS credentials for the functions the local stack runs as threads of one process.

Lambda gives each function its role's credentials in its own environment; here every function
shares the process's environment and its cached boto3 clients. So every botocore session of the
process signs with `InvocationCredentials`: the credentials of the role whose function this thread
is running (set by LambdaRuntime around each handler call), else the process's own (the harness).
botocore asks for frozen credentials at every request it signs (RequestSigner.get_auth_instance),
so a client created in one invocation signs the next one with that one's role.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.session import Session

_current: ContextVar[Credentials | None] = ContextVar("aurora_restore_credentials", default=None)
_original_get_credentials: list[Any] = []


class InvocationCredentials(Credentials):
    """The running invocation's credentials, or the session's own outside any invocation."""

    def __init__(self, fallback: Credentials | None) -> None:
        self._fallback = fallback
        self.method = "aurora-restore-local-invocation"

    def _active(self) -> Credentials | None:
        return _current.get() or self._fallback

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        active = self._active()
        if active is None:
            raise RuntimeError("no credentials outside a function invocation")
        return active.get_frozen_credentials()

    @property
    def access_key(self) -> str | None:
        active = self._active()
        return active.access_key if active else None

    @property
    def secret_key(self) -> str | None:
        active = self._active()
        return active.secret_key if active else None

    @property
    def token(self) -> str | None:
        active = self._active()
        return active.token if active else None


def install() -> None:
    """Every botocore session of this process signs with the running invocation's role."""
    if _original_get_credentials:
        return
    original = Session.get_credentials
    _original_get_credentials.append(original)

    def get_credentials(self: Session) -> Credentials:
        own = original(self)
        return own if isinstance(own, InvocationCredentials) else InvocationCredentials(own)

    Session.get_credentials = get_credentials


def uninstall() -> None:
    if _original_get_credentials:
        Session.get_credentials = _original_get_credentials.pop()


@contextlib.contextmanager
def acting_as(credentials: Credentials | None) -> Iterator[None]:
    """Run the block (one handler call) with these credentials; None keeps the process's."""
    token = _current.set(credentials)
    try:
        yield
    finally:
        _current.reset(token)
