"""Generated passwords and the SCRAM-SHA-256 verifiers sent to PostgreSQL instead of plaintext.

`ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'` stores a pre-computed verifier as is (PostgreSQL
recognises the format), so the plaintext password never travels in SQL text and cannot surface in
server logs, `pg_stat_statements` or error messages. The computation follows RFC 5802 / RFC 7677,
as `psql`'s `\\password` and libpq's `PQencryptPasswordConn` do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

# Letters and digits only: valid for RDS master passwords (which refuse / " @ and spaces) and for
# every client's connection string without escaping. 32 characters carry about 190 bits.
_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
SCRAM_ITERATIONS = 4096  # PostgreSQL's default `scram_iterations`
_SALT_BYTES = 16


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def scram_sha256_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """The verifier PostgreSQL stores for `password` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    # Our generated passwords are ASCII, for which SASLprep is the identity.
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
