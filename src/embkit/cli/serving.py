"""`embkit serve` (the HTTP API and web page) and `embkit keys` (API keys)."""

import ipaddress
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from ..errors import EmbkitError
from ..validate import MAX_DOCUMENT_BYTES
from .common import JsonOpt, _print_json, app

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's names

keys_app = typer.Typer(no_args_is_help=True, help="API keys for `embkit serve` (stored as salted hashes).")
app.add_typer(keys_app, name="keys")
KeysFileOpt = typer.Option(None, "--keys-file", help="Key store (default: EMBKIT_HOME/keys.json).")


@app.command()
def serve(folders: list[str] = typer.Argument(None, help="Collection folders (served by folder name) or "
                                             "postgresql://…/db?collection=NAME URLs (served as NAME)."),
          root: Optional[Path] = typer.Option(None, "--root", help="Serve every collection under DIR; "
                                              "collections created over HTTP go here."),
          host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8080, "--port"),
          no_auth: bool = typer.Option(False, "--no-auth", help="No API keys: single user, loopback only."),
          keys_file: Optional[Path] = KeysFileOpt,
          reranker: Optional[Path] = typer.Option(None, "--reranker", help="Cross-encoder folder for rerank=N."),
          read_url: Optional[str] = typer.Option(None, "--read-url", help="PostgreSQL replica for the reads of "
                                                 "PostgreSQL collections."),
          max_batch: int = typer.Option(1000, "--max-batch", help="Documents or texts per request."),
          max_text_chars: int = typer.Option(100_000, "--max-text-chars", help="Characters per text or query."),
          max_k: int = typer.Option(1000, "--max-k", help="Results per search."),
          max_body_bytes: int = typer.Option(16 * 1024 * 1024, "--max-body-bytes", help="Request body size."),
          max_document_bytes: int = typer.Option(MAX_DOCUMENT_BYTES, "--max-document-bytes",
                                                 help="Largest document stored (UTF-8 bytes of text)."),
          image_root: list[Path] = typer.Option(None, "--image-root", help="Thumbnails may also be made from "
                                                "image files under DIR (repeatable); by default only from files "
                                                "the collection keeps itself."),
          source_root: list[Path] = typer.Option(None, "--source-root", help="The web page renders a markdown "
                                                 "document from its file when it lies under DIR (repeatable); "
                                                 "by default it shows the stored text."),
          audio_root: list[Path] = typer.Option(None, "--audio-root", help="The web page plays and draws the "
                                                "waveform of audio files under DIR (repeatable); by default "
                                                "none (sounds are found, not played)."),
          workers: int = typer.Option(1, "--workers", help="Server processes on the port: searches use "
                                      "this many cores (each process holds its own copy of the indexes)."),
          log_level: str = typer.Option("info", "--log-level")) -> None:
    """Serve collections over HTTP (OpenAPI at /docs) with a search-and-map page at /."""
    from ..server import Collections, KeyStore, Limits  # no FastAPI: the --workers supervisor never needs it
    from ..server.workers import Settings, application
    from ..store.sqlite_busy import busy_timeout

    if not folders and root is None:
        raise EmbkitError("folders: give collection folders to serve, or --root DIR")
    if no_auth and not _loopback(host):
        raise EmbkitError(f"no_auth: refused on {host!r}; --no-auth is only for a loopback address "
                          "(127.0.0.1, ::1, localhost)")
    for field, value in (("max_batch", max_batch), ("max_text_chars", max_text_chars), ("max_k", max_k),
                         ("max_body_bytes", max_body_bytes), ("max_document_bytes", max_document_bytes),
                         ("workers", workers)):
        if value < 1:
            raise EmbkitError(f"{field}: must be a positive integer, got {value}")
    log_level = log_level.lower()
    if log_level not in LOG_LEVELS:
        raise EmbkitError(f"log_level: unknown {log_level!r} (allowed: {', '.join(LOG_LEVELS)})")
    if reranker is not None and not (reranker / "config.json").is_file():
        raise EmbkitError(f"reranker: {reranker} is not a model folder (no config.json)")
    busy_timeout()  # a bad EMBKIT_BUSY_TIMEOUT refused now, not in an error on every request
    keys = None if no_auth else KeyStore(keys_file)
    if keys is not None and not any(k.revoked is None for k in keys.list()):
        typer.echo(f"note: no API keys in {keys.path} yet; create one with `embkit keys create --scope read`",
                   err=True)
    limits = Limits(max_batch, max_text_chars, max_k, max_body_bytes, max_document_bytes)
    image_roots = [str(check_image_root(r)) for r in image_root or []]
    source_roots = [str(check_root(r, "source_root")) for r in source_root or []]
    audio_roots = [str(check_root(r, "audio_root")) for r in audio_root or []]
    Collections(folders or [], root, read_url).close()  # checks the folders, names and databases now, here
    settings = Settings([str(f) for f in folders or []], str(root) if root else None, read_url,
                        None if keys is None else str(keys.path), no_auth, asdict(limits),
                        str(reranker) if reranker else None, log_level, image_roots, source_roots, audio_roots)
    settings.configure_logging()
    if workers == 1:
        import uvicorn

        uvicorn.run(application(settings), host=host, port=port, log_level=log_level, access_log=False)
    else:  # each worker process builds its own application from the settings
        from ..server.supervisor import become_supervisor

        settings.export()
        become_supervisor(workers, host, port, log_level=log_level, access_log=False)  # does not return


def check_image_root(folder: Path) -> Path:
    """An --image-root must be an existing folder; kept resolved (symlinks followed)."""
    return check_root(folder, "image_root")


def check_root(folder: Path, field: str) -> Path:
    """A folder option (--image-root, --source-root) must name an existing folder; kept
    resolved (symlinks followed)."""
    if not folder.is_dir():
        raise EmbkitError(f"{field}: {folder} is not a folder")
    return folder.resolve()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


@keys_app.command("create")
def keys_create(scope: str = typer.Option(..., "--scope", help="read, write (includes read) or admin (all)."),
                name: str = typer.Option("", "--name", help="A label to recognise the key by."),
                collection: list[str] = typer.Option(None, "--collection", help="Limit the key to this collection "
                                                     "(repeatable; default: all)."),
                keys_file: Optional[Path] = KeysFileOpt, as_json: bool = JsonOpt) -> None:
    """Create a key and print it once: only its salted hash is stored."""
    from ..server import KeyStore

    secret, key = KeyStore(keys_file).create(scope, name, list(collection) if collection else None)
    if as_json:
        _print_json({"key": secret, **key.public()})
        return
    typer.echo(secret)
    typer.echo(f"id {key.id}, scope {key.scope}, collections {', '.join(key.collections or ['all'])}. "
               "Store it now: it is not shown again.", err=True)


@keys_app.command("list")
def keys_list(keys_file: Optional[Path] = KeysFileOpt, as_json: bool = JsonOpt) -> None:
    """Every key: id, name, scope, collections, created, revoked (never the key itself)."""
    import time

    from ..server import KeyStore

    keys = [k.public() for k in KeyStore(keys_file).list()]
    if as_json:
        _print_json(keys)
        return
    for k in keys:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(k["created"]))
        state = "revoked" if k["revoked"] else "active"
        typer.echo(f"{k['id']}  {k['scope']:<5}  {state:<7}  {created}  {','.join(k['collections'] or ['all'])}"
                   f"  {k['name']}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The key's id (from `embkit keys list`)."),
                keys_file: Optional[Path] = KeysFileOpt) -> None:
    """Revoke a key; a running server refuses it from its next request."""
    from ..server import KeyStore

    key = KeyStore(keys_file).revoke(key_id)
    typer.echo(f"revoked {key.id} ({key.scope})")
