"""API keys: scopes, optional collection limits, stored only as salted hashes.

A key reads `ek_<id>_<secret>`. The id is public (it names the key in `embkit keys
list` and `revoke`); the secret is 32 random bytes, shown once at creation. The store
keeps sha256(salt + secret): a 256-bit random secret cannot be guessed, so a slow
password hash would only cost every request time without adding safety."""

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import atomic_write
from ..errors import EmbkitError
from ..paths import embkit_home

SCOPES = ("read", "write", "admin")  # each includes the ones before it
KEY_PATTERN = re.compile(r"^ek_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass
class Key:
    id: str
    name: str
    scope: str
    collections: list[str] | None  # None: every collection
    salt: str
    hash: str
    created: float
    revoked: float | None = None

    def public(self) -> dict:
        """What `keys list` shows: never the salt or the hash."""
        return {"id": self.id, "name": self.name, "scope": self.scope, "collections": self.collections,
                "created": self.created, "revoked": self.revoked}

    def allows(self, scope: str, collection: str | None = None) -> bool:
        if SCOPES.index(self.scope) < SCOPES.index(scope):
            return False
        return collection is None or self.collections is None or collection in self.collections


def default_path() -> Path:
    return embkit_home() / "keys.json"


class KeyStore:
    """The keys file. The server re-reads it when it changes, so a revoked key stops
    working at once without a restart."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._keys: dict[str, Key] = {}

    # ---- managing ----------------------------------------------------------------

    def create(self, scope: str, name: str = "", collections: list[str] | None = None) -> tuple[str, Key]:
        """A new key: returns (the full key, to show once; its record)."""
        if scope not in SCOPES:
            raise EmbkitError(f"scope: must be one of {', '.join(SCOPES)}, got {scope!r}")
        if collections is not None:
            from .hosting import check_name

            collections = [check_name(c) for c in collections]
        keys = self._read()
        key_id = secrets.token_hex(6)
        while key_id in keys:
            key_id = secrets.token_hex(6)
        secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
        key = Key(key_id, name, scope, collections, salt, _digest(salt, secret), time.time())
        keys[key_id] = key
        self._write(keys)
        return f"ek_{key_id}_{secret}", key

    def list(self) -> list[Key]:
        return sorted(self._read().values(), key=lambda k: k.created)

    def revoke(self, key_id: str) -> Key:
        keys = self._read()
        key = keys.get(key_id)
        if key is None:
            raise EmbkitError(f"id: no key with id {key_id!r} (see `embkit keys list`)")
        if key.revoked is None:
            key.revoked = time.time()
            self._write(keys)
        return key

    # ---- checking ----------------------------------------------------------------

    def verify(self, presented: str) -> Key | None:
        """The live key that `presented` is, or None."""
        match = KEY_PATTERN.match(presented or "")
        if not match:
            return None
        key = self._current().get(match.group(1))
        if key is None or key.revoked is not None:
            return None
        return key if hmac.compare_digest(key.hash, _digest(key.salt, match.group(2))) else None

    def _current(self) -> dict[str, Key]:
        """The keys as on disk, re-read only when the file changed."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._keys, self._stamp = self._read(), stamp
            return self._keys

    def _read(self) -> dict[str, Key]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise EmbkitError(f"keys: {self.path} is not a readable key store ({e})") from None
        return {k["id"]: Key(**k) for k in raw.get("keys", [])}

    def _write(self, keys: dict[str, Key]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": 1, "keys": [asdict(k) for k in keys.values()]}, indent=1)
        atomic_write(self.path, lambda tmp: tmp.write_text(text))  # mkstemp makes it owner-only (0600)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()
