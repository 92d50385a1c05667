"""Who may call what: `Authorization: Bearer KEY`, checked against the key store.
401 without a valid key, 403 when the key's scope or collections do not cover the
request. With auth off (`--no-auth`, loopback only), every request is allowed."""

from fastapi import Request

from .errors import ApiError
from .keys import Key, KeyStore


class Auth:
    def __init__(self, keys: KeyStore | None):
        self.keys = keys  # None: auth is off

    def check(self, request: Request, scope: str, collection: str | None = None) -> Key | None:
        if self.keys is None:
            return None
        header = request.headers.get("authorization", "")
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "authorization: missing API key (send 'Authorization: Bearer KEY')",
                           headers={"WWW-Authenticate": "Bearer"})
        key = self.keys.verify(presented.strip())
        if key is None:
            raise ApiError(401, "authorization: the API key is not valid or was revoked",
                           headers={"WWW-Authenticate": "Bearer"})
        if not key.allows(scope):
            raise ApiError(403, f"scope: this key has scope {key.scope!r}; this request needs {scope!r}")
        if collection is not None and not key.allows(scope, collection):
            raise ApiError(403, f"collection: this key does not cover collection {collection!r}")
        return key

    def visible(self, key: Key | None, names: list[str]) -> list[str]:
        if key is None or key.collections is None:
            return names
        return [n for n in names if n in key.collections]


def requires(scope: str):
    """A route dependency: the key for this request, checked for `scope` and for the
    collection named in the path (if any). Async on purpose: the check is a stat() and a
    hash, so it runs on the event loop instead of costing a trip to the thread pool."""

    async def dependency(request: Request) -> Key | None:
        return request.app.state.auth.check(request, scope, request.path_params.get("name"))

    dependency.__name__ = f"requires_{scope}"
    return dependency
