"""Deterministic keyed tokens (HMAC-SHA256) and the keys that make them.

A token is ``tok_<key id>_<hex>``: the hex is the HMAC-SHA256 of the value under a secret key,
truncated to ``digest_chars`` hex digits (128 bits by default). The same value gives the same
token under the same key, so joins and group-bys on tokens give the same answers as on the raw
values; without the key nobody can recompute a token from a guessed value (a plain hash of an
e-mail or a phone number is reversed by hashing every plausible value). The key id in the token
says which key made it, so a rotated key never silently mixes with the old one.

Keys never live in the repository: :func:`managed_key` reads ``$WORKBENCH_PII_KEY_<ID>`` (hex or
base64, e.g. injected from a secret manager) or else a key file under the state directory
(``<state>/secrets/pii-<id>.key``), created with mode 0600 and refused when group/others can read it.

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._state import state_dir
from platform_kit.errors import ConfigError

__all__ = ["KEY_ENV_PREFIX", "KeyRing", "Tokenizer", "ensure_same_key", "key_id_of", "managed_key"]

#: Environment variable prefix of managed keys: ``WORKBENCH_PII_KEY_V1`` holds key id ``v1``.
KEY_ENV_PREFIX = "WORKBENCH_PII_KEY_"
_KEY_ID = re.compile(r"^[a-z0-9]{1,16}$")
_TOKEN = re.compile(r"^tok_([a-z0-9]{1,16})_[0-9a-f]+$")
_MIN_KEY_BYTES = 16


def _check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ConfigError(
            f"key id {key_id!r} must be 1-16 lower-case letters or digits (it is embedded in every token)",
            fix="use ids such as 'v1', 'v2', '2025q3'",
        )
    return key_id


def _check_key(key: Any, key_id: str) -> bytes:
    if not isinstance(key, bytes | bytearray):
        raise ConfigError(
            f"the key of {key_id!r} must be bytes, got {type(key).__name__}",
            fix="pass managed_key(...) or bytes.fromhex(...) rather than a text password",
        )
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigError(
            f"the key of {key_id!r} has {len(key)} bytes; an HMAC key needs at least {_MIN_KEY_BYTES} "
            "(32 recommended) random bytes",
            fix="generate one with secrets.token_bytes(32), or let managed_key() create it",
        )
    return bytes(key)


class Tokenizer:
    """Deterministic keyed tokens: ``tok_<key_id>_<hex>`` = HMAC-SHA256(key, value).

    Args:
        key: The secret key (at least 16 random bytes; see :func:`managed_key`).
        key_id: Short id of the key, embedded in every token (``v1``).
        digest_chars: Hex digits of the HMAC kept in the token (16-64; 32 = 128 bits).

    Raises:
        ConfigError: The key is too short or not bytes, or the key id is malformed.
    """

    def __init__(self, key: bytes, key_id: str, *, digest_chars: int = 32) -> None:
        self.key_id = _check_key_id(key_id)
        self._key = _check_key(key, key_id)
        if not 16 <= int(digest_chars) <= 64:
            raise ConfigError(f"digest_chars must be 16-64, got {digest_chars}", fix="keep the default, 32")
        self.digest_chars = int(digest_chars)
        self.prefix = f"tok_{key_id}_"

    def __repr__(self) -> str:  # never show the key
        return f"Tokenizer(key_id={self.key_id!r}, digest_chars={self.digest_chars})"

    def _token(self, text: str) -> str:
        return self.prefix + hmac.digest(self._key, text.encode("utf-8"), "sha256").hex()[: self.digest_chars]

    def tokenize_value(self, value: Any, *, normalize: bool = False) -> str | None:
        """The token of one value (``None`` for a missing value)."""
        return self.tokenize(pd.Series([value], dtype=object), normalize=normalize).iloc[0]

    def tokenize(self, values: pd.Series, *, normalize: bool = False) -> pd.Series:
        """Tokens of ``values``, vectorised: each distinct value is hashed once, then mapped back.

        Values are tokenised as their text (``str(1) == "1"``, so an int key and its string form
        join; bytes are decoded as UTF-8). Missing values (None, NaN, NA) stay missing: tokenising them would make every
        unknown value join every other one.

        Args:
            values: The column (any index; it is kept).
            normalize: Strip and case-fold text first, so ``" Ann@X.org"`` and ``"ann@x.org"`` get
                one token (use it for e-mails; never for case-sensitive ids).

        Returns:
            A Series of ``str`` tokens (object dtype, missing values ``None``), same index and name.

        Raises:
            ConfigError: ``values`` is not a Series, or is a float column (``1.0`` vs ``1`` would
                give different tokens: cast ids to ``Int64`` or ``str`` first).
        """
        if not isinstance(values, pd.Series):
            raise ConfigError(f"tokenize expects a pandas Series, got {type(values).__name__}",
                              fix="pass one column, e.g. frame['email']")
        if pd.api.types.is_float_dtype(values.dtype):
            raise ConfigError(
                f"column {values.name!r} is float ({values.dtype}): 1.0 and 1 would get different tokens",
                fix="cast integer ids with .astype('Int64') (or to str) before tokenising",
            )
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        texts = (u.decode("utf-8", "replace") if isinstance(u, bytes) else str(u) for u in uniques)
        if normalize:
            texts = (t.strip().casefold() for t in texts)
        tokens = np.array([self._token(t) for t in texts] + [None], dtype=object)
        return pd.Series(tokens[codes], index=values.index, name=values.name, dtype=object)

    def tokenize_frame(self, frame: pd.DataFrame, columns: Iterable[str], *, normalize: bool = False) -> pd.DataFrame:
        """A copy of ``frame`` with ``columns`` tokenised."""
        out = frame.copy()
        for column in columns:
            out[column] = self.tokenize(frame[column], normalize=normalize)
        return out


def key_id_of(tokens: pd.Series) -> pd.Series:
    """The key id inside each token (``None`` where a value is not a ``tok_<id>_<hex>`` token)."""
    extracted = tokens.astype("string").str.extract(_TOKEN, expand=False)
    return extracted.astype(object).where(extracted.notna(), None)


def ensure_same_key(*columns: pd.Series) -> str:
    """Check that every token in ``columns`` was made with one key; return its id.

    A join between a column tokenised with ``v1`` and one tokenised with ``v2`` silently matches
    nothing: call this before joining tokenised columns from different pipelines.

    Raises:
        ConfigError: The columns mix key ids, or hold values that are not tokens.
    """
    seen: set[str] = set()
    for column in columns:
        present = column.dropna()
        ids = key_id_of(present)
        if ids.isna().any():
            bad = present[ids.isna()].iloc[0]
            raise ConfigError(f"column {column.name!r} holds a value that is not a token: {str(bad)[:24]!r}...",
                              fix="tokenise both sides with Tokenizer.tokenize before joining")
        seen |= set(ids)
    if len(seen) > 1:
        raise ConfigError(
            f"the columns were tokenised with different keys ({', '.join(sorted(seen))}): a join would match nothing",
            fix="re-tokenise the older side with the current key (from the raw source or the vault) first",
        )
    if not seen:
        raise ConfigError("no tokens to compare (every value is missing)", fix="check the columns")
    return seen.pop()


def _decode_key(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{source} is neither hex nor base64", fix="store 32 random bytes as hex") from exc


def _key_path(key_id: str, key_dir: Path | None) -> Path:
    return (key_dir or state_dir() / "secrets") / f"pii-{key_id}.key"


def managed_key(key_id: str = "v1", *, env: Mapping[str, str] | None = None, key_dir: Path | None = None,
                create: bool = True) -> bytes:
    """The secret key ``key_id``, from the environment or a 0600 key file (created on first use).

    Order: ``$WORKBENCH_PII_KEY_<KEY_ID>`` (hex or base64), else ``<key_dir>/pii-<key_id>.key``
    (``key_dir`` defaults to ``<state dir>/secrets``, which ``workbench reset`` wipes and git ignores).

    Args:
        key_id: The key id (``v1``).
        env: Environment to read (default ``os.environ``).
        key_dir: Folder of key files.
        create: Create a random 32-byte key file when none exists (else raise).

    Raises:
        ConfigError: The key is malformed or too short, or its file is readable by group/others.
    """
    _check_key_id(key_id)
    variable = KEY_ENV_PREFIX + key_id.upper()
    source = (env if env is not None else os.environ).get(variable)
    if source:
        return _check_key(_decode_key(source, f"${variable}"), key_id)
    path = _key_path(key_id, key_dir)
    if not path.exists():
        if not create:
            raise ConfigError(f"no key {key_id!r}: ${variable} is unset and {path} does not exist",
                              fix=f"set {variable} from your secret manager, or call managed_key({key_id!r})")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: read theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_bytes(32).hex() + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"key file {path} has mode {mode:04o}: group or others can read the key",
            fix=f"chmod 600 {path} (and rotate the key if someone may have read it)",
        )
    return _check_key(_decode_key(path.read_text(), str(path)), key_id)


class KeyRing:
    """Managed keys by id, one of them current: tokenise with the current key, recognise older ones.

    Args:
        current: Id of the key new tokens are made with.
        key_ids: Other ids to load too (older keys still found in stored tokens).
        env, key_dir: Passed to :func:`managed_key`.
    """

    def __init__(self, current: str = "v1", key_ids: Iterable[str] = (), *, env: Mapping[str, str] | None = None,
                 key_dir: Path | None = None) -> None:
        self._env, self._key_dir = env, key_dir
        self._keys: dict[str, bytes] = {}
        for key_id in dict.fromkeys([*key_ids, current]):
            self._keys[key_id] = managed_key(key_id, env=env, key_dir=key_dir)
        self.current = current

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current!r}, ids={sorted(self._keys)})"

    @property
    def key_ids(self) -> list[str]:
        """Loaded key ids, sorted."""
        return sorted(self._keys)

    def tokenizer(self, key_id: str | None = None) -> Tokenizer:
        """A :class:`Tokenizer` for ``key_id`` (default: the current key)."""
        chosen = key_id or self.current
        if chosen not in self._keys:
            raise ConfigError(f"key {chosen!r} is not loaded (have {self.key_ids})", fix="KeyRing(..., key_ids=[...])")
        return Tokenizer(self._keys[chosen], chosen)

    def rotate(self, new_key_id: str) -> Tokenizer:
        """Make ``new_key_id`` current (loading or creating its key) and return its tokenizer.

        Old keys stay loaded, to recognise old tokens; rotating to an id already loaded (a rollback,
        or a notebook cell run twice) just makes it current again.
        """
        if new_key_id not in self._keys:
            self._keys[new_key_id] = managed_key(new_key_id, env=self._env, key_dir=self._key_dir)
        self.current = new_key_id
        return self.tokenizer()
