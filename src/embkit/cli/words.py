"""Word-vector commands: analogy, neighbors."""

import typer

from .common import JsonOpt, _print_json, app

WordModelOpt = typer.Option("glove-50d", "--model",
                            help="Word vectors: a catalog name (glove-50d) or a .txt/.vec/.bin word-vector file.")
CountOpt = typer.Option(10, "-k", "--k", help="Number of words to show.")


@app.command()
def analogy(a: str = typer.Argument(..., help="The word to start from, e.g. king."),
            b: str = typer.Argument(..., help="The word to take away, e.g. man."),
            c: str = typer.Argument(..., help="The word to add, e.g. woman."),
            model: str = WordModelOpt,
            k: int = CountOpt,
            as_json: bool = JsonOpt) -> None:
    """Words closest to A - B + C (king - man + woman: queen), the three inputs left out."""
    from ..analysis.analogy import analogy as run
    from ..analysis.analogy import word_encoder

    words = word_encoder(model)
    results = run(words, a, b, c, k)
    if as_json:
        _print_json({"query": {"a": a, "b": b, "c": c}, "model": words.name, "results": _rows(results)})
        return
    typer.echo(f"{a} - {b} + {c}:")
    _print_rows(results)


@app.command()
def neighbors(word: str = typer.Argument(..., help="The word whose neighbours to show."),
              model: str = WordModelOpt,
              k: int = CountOpt,
              as_json: bool = JsonOpt) -> None:
    """Words whose vectors are closest (cosine) to WORD's."""
    from ..analysis.analogy import neighbors as run
    from ..analysis.analogy import word_encoder

    words = word_encoder(model)
    results = run(words, word, k)
    if as_json:
        _print_json({"query": {"word": word}, "model": words.name, "results": _rows(results)})
        return
    typer.echo(f"nearest to {word}:")
    _print_rows(results)


def _rows(results: list[tuple[str, float]]) -> list[dict]:
    return [{"rank": rank, "word": word, "score": score} for rank, (word, score) in enumerate(results, 1)]


def _print_rows(results: list[tuple[str, float]]) -> None:
    for rank, (word, score) in enumerate(results, 1):
        typer.echo(f"{rank:>4}. {score:.4f}  {word}")
