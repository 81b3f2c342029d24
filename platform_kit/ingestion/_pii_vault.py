"""Reversible vault tokenisation in PostgreSQL, access-checked and audited.

The vault hands out *random* tokens (``vlt_<24 hex>``): a token says nothing about its value, and
only the vault maps it back. The same value always gets the same token (a keyed HMAC of the value,
the *blind index*, is unique in the vault), so vault tokens still join. Detokenising needs a grant
for a (principal, purpose) pair, and every attempt, allowed or denied, is written to the audit
table in its own committed transaction before any value leaves the vault.

Tables (``<name>`` defaults to ``pii_vault``): ``<name>_tokens`` (token, blind index, value, kind),
``<name>_grants`` (principal, purpose), ``<name>_audit`` (who, why, how many, allowed, when).
In production the vault is a separate, locked-down database whose values are encrypted at rest;
here it is a schema in the lab's PostgreSQL.

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError, WorkbenchError

__all__ = ["AccessDeniedError", "TokenVault", "VAULT_TOKEN"]

_log = logging.getLogger(__name__)

#: Shape of a vault token.
VAULT_TOKEN = re.compile(r"^vlt_[0-9a-f]{24}$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


class AccessDeniedError(WorkbenchError):
    """A principal asked the vault for values without a grant for that purpose (the attempt is audited)."""


class TokenVault:
    """Random tokens for values, stored in PostgreSQL; detokenising is granted per principal and purpose.

    Args:
        pg: A :class:`~platform_kit.services.Postgres` (anything with ``connect()``).
        index_key: Secret key of the blind index (HMAC of each value), e.g. ``managed_key("vault")``.
        name: Table-name prefix.
    """

    def __init__(self, pg: Any, index_key: bytes, *, name: str = "pii_vault") -> None:
        if not _NAME.match(name):
            raise ConfigError(f"vault name {name!r} must be a lower-case SQL identifier", fix="e.g. 'pii_vault'")
        if not isinstance(index_key, bytes) or len(index_key) < 16:
            raise ConfigError("the vault's index key must be at least 16 random bytes", fix="managed_key('vault')")
        self.pg, self.name, self._key = pg, name, index_key
        self.tokens_table, self.grants_table, self.audit_table = (f"{name}_{t}" for t in ("tokens", "grants", "audit"))
        self._ready = False

    def __repr__(self) -> str:
        return f"TokenVault(name={self.name!r})"

    def _connect(self) -> Any:
        conn = self.pg.connect()
        conn.autocommit = False
        return conn

    def setup(self) -> TokenVault:
        """Create the tables (idempotent; safe when several processes start at once)."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.name,))
                cur.execute(f"""
                    CREATE TABLE IF NOT EXISTS {self.tokens_table} (
                        token text PRIMARY KEY, blind_index text NOT NULL UNIQUE, value text NOT NULL,
                        kind text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
                    CREATE TABLE IF NOT EXISTS {self.grants_table} (
                        principal text NOT NULL, purpose text NOT NULL, PRIMARY KEY (principal, purpose));
                    CREATE TABLE IF NOT EXISTS {self.audit_table} (
                        id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(),
                        principal text NOT NULL, purpose text NOT NULL, tokens integer NOT NULL,
                        allowed boolean NOT NULL, detail text NOT NULL DEFAULT '')""")
            conn.commit()
        finally:
            conn.close()
        self._ready = True
        return self

    def _index(self, value: str) -> str:
        return hmac.digest(self._key, value.encode("utf-8"), "sha256").hex()

    def tokenize(self, values: pd.Series, kind: str = "value") -> pd.Series:
        """Vault tokens of ``values`` (one round trip per call: distinct values are stored once).

        Missing values stay missing. Values are stored as text.
        """
        if not isinstance(values, pd.Series):
            raise ConfigError(f"tokenize expects a pandas Series, got {type(values).__name__}", fix="pass one column")
        if not self._ready:
            self.setup()
        from psycopg2.extras import execute_values

        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        texts = [str(u) for u in uniques]
        if not texts:
            return pd.Series([None] * len(values), index=values.index, name=values.name, dtype=object)
        rows = [(f"vlt_{secrets.token_hex(12)}", self._index(t), t, kind) for t in texts]
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                execute_values(cur, f"INSERT INTO {self.tokens_table} (token, blind_index, value, kind) VALUES %s "
                                    "ON CONFLICT (blind_index) DO NOTHING", rows, page_size=1000)
                cur.execute(f"SELECT blind_index, token FROM {self.tokens_table} WHERE blind_index = ANY(%s)",
                            ([r[1] for r in rows],))
                by_index = dict(cur.fetchall())
            conn.commit()
        finally:
            conn.close()
        tokens = [by_index[r[1]] for r in rows] + [None]
        return pd.Series([tokens[c] for c in codes], index=values.index, name=values.name, dtype=object)

    def grant(self, principal: str, purpose: str) -> None:
        """Allow ``principal`` to detokenise for ``purpose``."""
        if not self._ready:
            self.setup()
        self.pg.query(f"INSERT INTO {self.grants_table} VALUES (%s, %s) ON CONFLICT DO NOTHING", (principal, purpose))

    def revoke(self, principal: str, purpose: str) -> None:
        """Withdraw a grant."""
        if not self._ready:
            self.setup()
        self.pg.query(f"DELETE FROM {self.grants_table} WHERE principal = %s AND purpose = %s", (principal, purpose))

    def _audit(self, principal: str, purpose: str, count: int, allowed: bool, detail: str) -> None:
        self.pg.query(f"INSERT INTO {self.audit_table} (principal, purpose, tokens, allowed, detail) "
                      "VALUES (%s, %s, %s, %s, %s)", (principal, purpose, count, allowed, detail[:500]))

    def detokenize(self, tokens: pd.Series, *, principal: str, purpose: str) -> pd.Series:
        """The values behind ``tokens``, when ``principal`` holds a grant for ``purpose``.

        Raises:
            AccessDeniedError: No such grant (the denied attempt is audited first).
            ConfigError: A value is not a vault token, or a token is unknown to this vault.
        """
        if not isinstance(tokens, pd.Series):
            raise ConfigError(f"detokenize expects a pandas Series, got {type(tokens).__name__}", fix="pass one column")
        if not principal or not purpose:
            raise ConfigError("detokenize needs a principal and a purpose", fix="say who asks and why")
        if not self._ready:
            self.setup()
        present = tokens.dropna().astype(str)
        malformed = present[~present.str.fullmatch(VAULT_TOKEN.pattern)]
        allowed = bool(self.pg.query(f"SELECT 1 FROM {self.grants_table} WHERE principal = %s AND purpose = %s",
                                     (principal, purpose)))
        if not allowed:
            self._audit(principal, purpose, len(present), False, "denied: no grant")
            raise AccessDeniedError(
                f"{principal!r} may not detokenise for purpose {purpose!r} (attempt on {len(present)} token(s) audited "
                f"in {self.audit_table})",
                fix=f"ask the data owner for a grant: vault.grant({principal!r}, {purpose!r})",
            )
        if len(malformed):
            self._audit(principal, purpose, len(present), False, f"rejected: {len(malformed)} malformed token(s)")
            raise ConfigError(f"{len(malformed)} value(s) are not vault tokens, e.g. {malformed.iloc[0][:30]!r}",
                              fix="pass only tokens made by TokenVault.tokenize")
        unique = list(dict.fromkeys(present))
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"INSERT INTO {self.audit_table} (principal, purpose, tokens, allowed, detail) "
                            "VALUES (%s, %s, %s, true, %s)", (principal, purpose, len(present), "detokenised"))
                cur.execute(f"SELECT token, value FROM {self.tokens_table} WHERE token = ANY(%s)", (unique,))
                values = dict(cur.fetchall())
            conn.commit()  # audit row and read commit together: no value leaves without its audit
        finally:
            conn.close()
        unknown = [t for t in unique if t not in values]
        if unknown:
            raise ConfigError(f"{len(unknown)} token(s) are unknown to vault {self.name!r}, e.g. {unknown[0]!r}",
                              fix="they were made by another vault or deleted; check the source")
        return tokens.map(lambda t: values.get(str(t)) if isinstance(t, str) else None).astype(object)

    def audit_log(self, limit: int = 50) -> pd.DataFrame:
        """The latest audit rows, newest first."""
        if not self._ready:
            self.setup()
        rows = self.pg.query(f"SELECT id, at, principal, purpose, tokens, allowed, detail FROM {self.audit_table} "
                             "ORDER BY id DESC LIMIT %s", (int(limit),))
        return pd.DataFrame(rows, columns=["id", "at", "principal", "purpose", "tokens", "allowed", "detail"])
