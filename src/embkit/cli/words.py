"""Word commands: analogy, neighbors (word vectors); tokens, contextual (inside a transformer)."""

import typer

from .common import JsonOpt, _print_json, app

WordModelOpt = typer.Option("glove-50d", "--model",
                            help="Word vectors: a catalog name (glove-50d) or a .txt/.vec/.bin word-vector file.")
CountOpt = typer.Option(10, "-k", "--k", help="Number of words to show.")
TransformerOpt = typer.Option("minilm", "--model", help="A transformer: catalog name, registered name or folder.")


@app.command()
def analogy(a: str = typer.Argument(..., help="The word to start from, e.g. king."),
            b: str = typer.Argument(..., help="The word to take away, e.g. man."),
            c: str = typer.Argument(..., help="The word to add, e.g. woman."),
            model: str = WordModelOpt,
            k: int = CountOpt,
            as_json: bool = JsonOpt) -> None:
    """Words closest to A - B + C (king - man + woman: queen), the three inputs left out."""
    from ..analysis.analogy import analogy as run, word_encoder

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
    from ..analysis.analogy import neighbors as run, word_encoder

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


@app.command()
def tokens(text: str = typer.Argument(..., help="The text to split into word pieces."),
           model: str = TransformerOpt,
           as_json: bool = JsonOpt) -> None:
    """The word pieces of TEXT, their ids, the vocabulary size and the embedding-matrix shape."""
    from ..encoders.word_pieces import tokens as run

    result = run(text, model)
    if as_json:
        _print_json({**result, "pieces": [vars(p) for p in result["pieces"]]})
        return
    rows, dim = result["embedding_matrix"]
    typer.echo(f"{len(result['pieces'])} pieces; vocabulary {result['vocabulary']:,}; "
               f"embedding matrix {rows:,} × {dim}")
    for p in result["pieces"]:
        typer.echo(f"{p.id:>8}  {p.piece:<20} {text[p.start:p.end]!r}")


@app.command()
def contextual(word: str = typer.Argument(..., help="The word to follow, e.g. bank."),
               sentences: list[str] = typer.Argument(..., help="Two or more sentences that contain WORD."),
               model: str = TransformerOpt,
               as_json: bool = JsonOpt) -> None:
    """Cosine between WORD's contextual vectors in the sentences, next to its static
    (input-embedding) vector's, which is the same in every sentence."""
    from ..encoders.word_pieces import contextual as run

    result = run(word, sentences, model)
    if as_json:
        _print_json(result)
        return
    typer.echo(f"{word!r} = pieces {result['pieces']}")
    n = len(sentences)
    for i in range(n):
        for j in range(i + 1, n):
            typer.echo(f"sentences {i + 1} and {j + 1}: contextual cosine {result['contextual_cosine'][i][j]:.4f}, "
                       f"static cosine {result['static_cosine'][i][j]:.4f}")
