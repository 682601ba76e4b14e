"""Per-invocation AWS credentials for the functions the local stack runs as threads of one process.

Lambda gives each function its role's credentials in its own environment; here every function
shares the process's environment and its cached boto3 clients. So every botocore session of the
process signs with `InvocationCredentials`: the credentials of the role whose function this thread
is running (set by LambdaRuntime around each handler call), else the process's own (the harness).
botocore asks for frozen credentials at every request it signs (RequestSigner.get_auth_instance),
so a client created in one invocation signs the next one with that one's role.

Code that reads the credentials from the environment itself, as Lambda documents them
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: "the access keys obtained from the
function's execution role", https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
#configuration-envvars-runtime), finds them there too: the bot's self-invocation signs with them
and its Parameters and Secrets extension client sends the session token. While installed,
`os.environ` answers those names with the running invocation's role; everything else, and every
read outside an invocation, is the process's own environment.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.session import Session

_current: ContextVar[Credentials | None] = ContextVar("aurora_restore_credentials", default=None)
_original_get_credentials: list[Any] = []
# Lambda's names for the role's credentials (AWS_SECURITY_TOKEN: the older name botocore reads).
_ENVIRONMENT_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "access_key",
    "AWS_SECRET_ACCESS_KEY": "secret_key",
    "AWS_SESSION_TOKEN": "token",
    "AWS_SECURITY_TOKEN": "token",
}


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


class _InvocationEnvironment(os._Environ[str]):
    """`os.environ`, where a function's invocation finds its role's credentials."""

    def __getitem__(self, key: str) -> str:
        credentials = _current.get()
        attribute = _ENVIRONMENT_CREDENTIALS.get(key)
        if credentials is not None and attribute is not None:
            value = getattr(credentials.get_frozen_credentials(), attribute)
            if value:
                return str(value)
        return super().__getitem__(key)


def install() -> None:
    """Every botocore session of this process signs with the running invocation's role, and
    each invocation reads its role's credentials in the environment."""
    if _original_get_credentials:
        return
    original = Session.get_credentials
    _original_get_credentials.append(original)

    def get_credentials(self: Session) -> Credentials:
        # The session's own credentials as the process has them, even when first resolved
        # inside an invocation (botocore's environment provider would read the role's).
        own = contextvars.Context().run(original, self)
        return own if isinstance(own, InvocationCredentials) else InvocationCredentials(own)

    Session.get_credentials = get_credentials
    os.environ.__class__ = _InvocationEnvironment  # the same mapping: every holder of it sees


def uninstall() -> None:
    if _original_get_credentials:
        Session.get_credentials = _original_get_credentials.pop()
        os.environ.__class__ = os._Environ


@contextlib.contextmanager
def acting_as(credentials: Credentials | None) -> Iterator[None]:
    """Run the block (one handler call) with these credentials; None keeps the process's."""
    token = _current.set(credentials)
    try:
        yield
    finally:
        _current.reset(token)
