"""What every command shares: the app, common options, JSON output, the progress bar."""

import contextlib
import json
import warnings
from typing import Optional

import numpy as np
import typer

from ..errors import EmbkitError, EmbkitWarning
from ..store import parse_where
from ..store.where import MAX_DEPTH as MAX_WHERE_DEPTH

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="embkit: embed, store and search text by meaning, offline.")

eval_app = typer.Typer(no_args_is_help=True, help="Measure quality on benchmark data.")
train_app = typer.Typer(no_args_is_help=True, help="Train models (needs the torch extra).")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")

DirArg = typer.Argument(..., help="Collection folder, or postgresql://…/db?collection=NAME.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")
WhereOpt = typer.Option(None, "--where", help='Metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'.')
SpaceOpt = typer.Option(None, "--space", help="Vector space (e.g. image; default: text, or an image "
                        "collection's image).")


@contextlib.contextmanager
def open_space(path: str, space: Optional[str] = None, **options):
    """The collection at `path`, seen through vector space `space`."""
    from ..collection import open as open_collection

    with open_collection(path, **options) as col:
        yield col.in_space(space)


def _print_json(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=_json_default))


def _json_default(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot serialize {type(x).__name__}")


def slice_size(col, where: Optional[dict]) -> int:
    """How many documents `where` selects, for a progress bar, without filter warnings:
    the analysis verb that follows refuses an empty slice with an error naming a field
    no document has, and one line says it better than a warning and an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmbkitWarning)
        return col.count(where)


def _where(text: Optional[str]) -> Optional[dict]:
    if text is None:
        return None
    try:
        return parse_where(text)
    except RecursionError:  # JSON nested thousands deep: json.loads gives up before the compiler sees it
        raise EmbkitError(f"where: nested more than {MAX_WHERE_DEPTH} levels deep") from None


class _progress:
    """A rich progress bar on stderr that the encoder advances batch by batch. It
    appears with the first finished batch, so input rejected up front draws nothing,
    and stops once complete, so what runs next (another bar) draws cleanly."""

    def __init__(self, total: int, label: str, quiet: bool = False):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             console=Console(stderr=True), disable=quiet)
        self._task = self._bar.add_task("", total=total, start=False)
        self._total, self._done = total, 0
        self._started = self._stopped = False

    def advance(self, n: int) -> None:
        if not self._started:
            self._started = True
            self._bar.start()
            self._bar.start_task(self._task)
        self._bar.advance(self._task, n)
        self._done += n
        if self._done >= self._total:
            self._stop()

    def _stop(self) -> None:
        if self._started and not self._stopped:
            self._stopped = True
            self._bar.stop()

    def __enter__(self):
        return self.advance

    def __exit__(self, *exc) -> None:
        self._stop()
