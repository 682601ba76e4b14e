"""Credentials in Secrets Manager: one secret per user and cluster, one version per operation.

Passwords are rotated once per operation: a new restore gets new credentials, while a retry of the
same operation (a Lambda retry, a re-run of the stage) finds the version it wrote and reuses its
password. The version id is derived from (operation, cluster, user) and passed as
`ClientRequestToken`, so "is this the version of this operation?" is a plain comparison, and a
repeated write of the same value is a no-op for Secrets Manager too.

The secret is written BEFORE the database changes, so whatever is interrupted, a retry converges:
the secret always holds the password the database has or is about to have.

A replace through a swap sets up the new cluster while the target's applications still use the
old one: its versions are written under the AWSPENDING staging label (the label Secrets Manager's
own rotation uses for a version not yet in use), and the swap moves AWSCURRENT onto them once the
new cluster answers on the target's name (pipeline.secret_versions).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from pipeline.aws_errors import aws_call, is_code
from pipeline.database.config import MASTER_SECRET_SUFFIX
from pipeline.database.passwords import generate_password
from pipeline.secret_versions import CURRENT, PENDING, version_token

OPERATION_TAG = "aurora-restore:operation-id"
CLUSTER_TAG = "aurora-restore:cluster"
_SECRET_NAME_SAFE = re.compile(r"[^A-Za-z0-9_+=.@-]")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    dbname: str
    engine: str = "postgres"


@dataclass(frozen=True)
class Credential:
    """A user's password and where it is kept. `reused`: written earlier by this operation."""

    secret_name: str
    username: str
    password: str
    reused: bool

    def __repr__(self) -> str:  # never show the password, even in a traceback's locals
        return f"Credential(secret_name={self.secret_name!r}, username={self.username!r})"


def secret_name(prefix: str, cluster_id: str, user: str) -> str:
    """`{prefix}/{cluster}/{user}`; characters Secrets Manager refuses become `-` plus a hash."""
    safe = _SECRET_NAME_SAFE.sub("-", user)
    if safe != user:
        safe = f"{safe}-{sha256(user.encode()).hexdigest()[:8]}"
    return f"{prefix}/{cluster_id}/{safe}"


def master_secret_name(prefix: str, cluster_id: str) -> str:
    return f"{prefix}/{cluster_id}/{MASTER_SECRET_SUFFIX}"


class CredentialStore:
    """Reads and writes the credential secrets; never logs or returns secret values elsewhere.
    `pending`: write new versions as AWSPENDING, leaving AWSCURRENT where it is."""

    def __init__(
        self, secretsmanager: Any, *, kms_key_id: str | None = None, pending: bool = False
    ) -> None:
        self._sm = secretsmanager
        self._kms_key_id = kms_key_id
        self._pending = pending

    def credential_for_operation(
        self,
        name: str,
        *,
        username: str,
        operation_id: str,
        cluster_id: str,
        endpoint: Endpoint,
    ) -> Credential:
        """This operation's password for `username`: the stored one on a retry, else a new one."""
        token = version_token(operation_id, name)
        current = self._version(name, token)
        if current is not None and current["VersionId"] == token:
            password = str(json.loads(current["SecretString"])["password"])
            return Credential(name, username, password, reused=True)
        password = generate_password()
        value = {
            "engine": endpoint.engine,
            "host": endpoint.host,
            "port": endpoint.port,
            "dbname": endpoint.dbname,
            "username": username,
            "password": password,
            "dbClusterIdentifier": cluster_id,
        }
        self._write(
            name, json.dumps(value), token, operation_id, cluster_id, exists=current is not None
        )
        return Credential(name, username, password, reused=False)

    def _version(self, name: str, token: str) -> dict[str, Any] | None:
        """This operation's version (pending or current) if there is one, else the current one;
        None when the secret does not exist."""
        try:
            with aws_call(f"read secret {name}"):
                description = self._sm.describe_secret(SecretId=name)
        except Exception as exc:
            if is_code(exc.__cause__ or exc, "ResourceNotFoundException"):
                return None
            raise
        if description.get("DeletedDate") is not None:
            # Scheduled for deletion (e.g. by a cleanup): bring it back rather than fail the restore.
            with aws_call(f"restore secret {name}"):
                self._sm.restore_secret(SecretId=name)
        versions: dict[str, list[str]] = description.get("VersionIdsToStages", {})
        if token in versions:
            with aws_call(f"read secret {name}"):
                own: dict[str, Any] = self._sm.get_secret_value(SecretId=name, VersionId=token)
            return own
        if not any(CURRENT in stages for stages in versions.values()):
            return {"VersionId": None, "SecretString": "{}"}
        with aws_call(f"read secret {name}"):
            answer: dict[str, Any] = self._sm.get_secret_value(SecretId=name)
        return answer

    def _write(
        self,
        name: str,
        value: str,
        token: str,
        operation_id: str,
        cluster_id: str,
        *,
        exists: bool,
    ) -> None:
        tags = [
            {"Key": OPERATION_TAG, "Value": operation_id},
            {"Key": CLUSTER_TAG, "Value": cluster_id},
        ]
        if not exists:
            try:
                with aws_call(f"create secret {name}"):
                    # A new secret's first version is AWSCURRENT whatever the labels asked
                    # (PutSecretValue: "If this operation creates the first version for the
                    # secret, then Secrets Manager automatically attaches ... AWSCURRENT"), which
                    # is safe: no application reads a secret that did not exist.
                    extra = {"KmsKeyId": self._kms_key_id} if self._kms_key_id else {}
                    self._sm.create_secret(
                        Name=name,
                        SecretString=value,
                        ClientRequestToken=token,
                        Tags=tags,
                        Description=f"aurora-restore credentials for {cluster_id}",
                        **extra,
                    )
                return
            except Exception as exc:
                if not is_code(exc.__cause__ or exc, "ResourceExistsException"):
                    raise
                # Created concurrently since we looked: fall through and add our version.
        stages = {"VersionStages": [PENDING]} if self._pending else {}
        with aws_call(f"store secret {name}"):
            self._sm.put_secret_value(
                SecretId=name, SecretString=value, ClientRequestToken=token, **stages
            )
        with aws_call(f"tag secret {name}"):
            self._sm.tag_resource(SecretId=name, Tags=tags)
