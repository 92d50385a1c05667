"""The HTTP server: a FastAPI application over the Collection API, API keys with scopes,
limits, and a web page (search and map).

The names below load on first use, so that `embkit keys` and the `--workers` supervisor,
which need no web framework, do not import FastAPI (each process of `embkit serve` pays
for what it imports)."""

from importlib import import_module

_WHERE = {
    "create_app": ".app",
    "Collections": ".hosting",
    "check_name": ".hosting",
    "KeyStore": ".keys",
    "SCOPES": ".keys",
    "Limits": ".limits",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name], __name__), name)
