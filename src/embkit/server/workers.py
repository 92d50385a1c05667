"""`embkit serve --workers N`: N server processes on one port (supervisor.py: a socket each),
so that searches use every core. Each process opens the collections itself and keeps its
own in-memory index; writes from all of them go through SQLite's own lock (WAL, one
writer at a time, waiting up to 30 s), and before a search each index catches up with
the other processes' writes through the store's change log.

uvicorn starts each worker from an import string, so the settings travel in an
environment variable."""

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .supervisor import LOG_FORMAT

ENV = "EMBKIT_SERVE_SETTINGS"


@dataclass
class Settings:
    folders: list[str]
    root: str | None
    read_url: str | None
    keys_file: str | None  # None with no_auth
    no_auth: bool
    limits: dict
    reranker: str | None
    log_level: str = "info"
    image_roots: list[str] = field(default_factory=list)  # thumbnails may be made from files under these
    source_roots: list[str] = field(default_factory=list)  # markdown documents rendered from files under these
    audio_roots: list[str] = field(default_factory=list)  # the page plays and draws audio files under these

    def export(self) -> None:
        os.environ[ENV] = json.dumps(asdict(self))

    def configure_logging(self) -> None:
        """One line per request from `embkit.server` (each worker process needs its own)."""
        logging.basicConfig(level=self.log_level.upper(), format=LOG_FORMAT)


def application(settings: Settings):
    from .app import create_app
    from .hosting import Collections
    from .keys import KeyStore
    from .limits import Limits

    keys = None if settings.no_auth else KeyStore(Path(settings.keys_file) if settings.keys_file else None)
    return create_app(Collections(settings.folders, settings.root, settings.read_url), keys,
                      Limits(**settings.limits), settings.reranker, settings.image_roots, settings.source_roots,
                      settings.audio_roots)


def worker_app():
    """The factory each worker process calls (`uvicorn --factory`)."""
    settings = Settings(**json.loads(os.environ[ENV]))
    settings.configure_logging()
    return application(settings)
