"""Training commands beyond the reranker: word2vec, contrastive fine-tuning, distillation, PCA rotation."""

import contextlib
from pathlib import Path
from typing import Optional

import typer

from .. import collection  # what opens and creates collections, handed to training (it sits below)
from .common import JsonOpt, _print_json, _progress, train_app

OverwriteOpt = typer.Option(False, "--overwrite", help="Replace the output folder if it exists.")
# held-out data for the before/after evaluation: the benchmark folders beside a checkout
EvalStsOpt = typer.Option(Path("../shared/data/stsb"), "--eval-sts", help="STS Benchmark folder (test split).")
EvalBeirOpt = typer.Option(Path("../shared/data/scifact"), "--eval-beir", help="BEIR folder (test split).")
NoEvalOpt = typer.Option(False, "--no-eval", help="Skip the before/after evaluation.")


def _eval_data(sts: Optional[Path], beir: Optional[Path], skip: bool):
    from ..train.evaluation import EvalData

    return None if skip else EvalData(sts, beir, collections=collection)


def _print_evaluation(summary: dict) -> None:
    from ..train.evaluation import table

    if summary.get("evaluation"):
        for line in table(summary["evaluation"]):
            typer.echo(line)


@train_app.command("word2vec")
def word2vec(corpus: list[Path] = typer.Argument(..., help="Text files or folders of them."),
             output: Path = typer.Option(..., "-o", "--output", help="Folder for vectors.bin and the report."),
             sg: bool = typer.Option(False, "--sg", help="Skip-gram (default: CBOW)."),
             dim: int = typer.Option(100, "--dim"),
             window: int = typer.Option(5, "--window"),
             min_count: int = typer.Option(5, "--min-count", help="Ignore words rarer than this."),
             epochs: int = typer.Option(5, "--epochs"),
             unit: str = typer.Option("line", "--unit", help="A document is a line or a whole file."),
             seed: int = typer.Option(0, "--seed"),
             overwrite: bool = OverwriteOpt,
             as_json: bool = JsonOpt) -> None:
    """Train word2vec (gensim) on text files; the folder works as a static model (--model OUT)."""
    from ..train.word2vec import train_word2vec

    with _progress(epochs, "epochs", quiet=as_json) as advance:
        summary = train_word2vec(corpus, output, sg=sg, dim=dim, window=window, min_count=min_count, epochs=epochs,
                                 unit=unit, seed=seed, overwrite=overwrite, progress=advance)
    if as_json:
        _print_json(summary)
        return
    typer.echo(f"{summary['vocabulary']:,} words × {dim} from {summary['tokens']:,} tokens in "
               f"{summary['documents']:,} documents, {summary['seconds']:.0f}s; saved to {output}")
    ev = summary["evaluation"]
    rows = [("", "WordSim-353 Spearman", "analogy accuracy", "answerable")]
    for label, scores in (("before (glove-50d)", ev["before"]), ("after (trained)", ev["after"])):
        if scores:
            rows.append((label, _fmt(scores["wordsim353_spearman"]), _fmt(scores["analogy_accuracy"]),
                         str(scores["analogies_answerable"])))
    for row in rows:
        typer.echo(f"{row[0]:<20} {row[1]:>22} {row[2]:>17} {row[3]:>11}")


@train_app.command("distill")
def distill(base: str = typer.Option("minilm", "--base", help="Transformer to distill: catalog name or folder."),
            output: Path = typer.Option(..., "-o", "--output", help="Folder for the static model."),
            pca_dims: int = typer.Option(256, "--pca-dims", help="Dimensions kept after PCA."),
            eval_sts: Path = EvalStsOpt, eval_beir: Path = EvalBeirOpt, no_eval: bool = NoEvalOpt,
            overwrite: bool = OverwriteOpt, as_json: bool = JsonOpt) -> None:
    """Distill a transformer into a fast static model (model2vec); usable as --model OUT."""
    from ..train.distill import train_distill

    summary = train_distill(output, base, pca_dims=pca_dims, overwrite=overwrite,
                            evaluation=_eval_data(eval_sts, eval_beir, no_eval))
    if as_json:
        _print_json(summary)
        return
    typer.echo(f"distilled {base} into {output} ({pca_dims} dims) in {summary['seconds']:.0f}s")
    if summary["speed"]:
        s = summary["speed"]
        typer.echo(f"sentences/s: {base} {s['base']:,.0f}, distilled {s['distilled']:,.0f} ({s['ratio']}x)")
    _print_evaluation(summary)


@train_app.command("contrastive")
def contrastive(base: str = typer.Option("minilm", "--base", help="Bi-encoder to start from: catalog name or folder."),
                data: Optional[Path] = typer.Option(None, "--data", help="PAIRS.jsonl (fields depend on --loss)."),
                beir: Optional[Path] = typer.Option(None, "--beir", help="BEIR folder: train on a split's qrels."),
                split: str = typer.Option("train", "--split", help="BEIR split to train on (never test)."),
                loss: str = typer.Option("mnrl", "--loss", help="mnrl (in-batch negatives), triplet or cosine."),
                hard_negatives: int = typer.Option(0, "--hard-negatives", help="Negatives mined per example."),
                matryoshka: Optional[str] = typer.Option(None, "--matryoshka", help="Dimensions, e.g. 384,256,128,64."),
                matryoshka_weights: Optional[str] = typer.Option(
                    None, "--matryoshka-weights", help="Loss weight per --matryoshka dimension, e.g. 1,1,3,1."),
                epochs: int = typer.Option(1, "--epochs"),
                batch_size: int = typer.Option(32, "--batch-size"),
                lr: float = typer.Option(2e-5, "--lr"),
                seed: int = typer.Option(0, "--seed"),
                name: Optional[str] = typer.Option(None, "--name", help="Registered name (default: the folder's)."),
                output: Path = typer.Option(..., "-o", "--output", help="Folder for the trained model."),
                eval_sts: Path = EvalStsOpt, eval_beir: Path = EvalBeirOpt, no_eval: bool = NoEvalOpt,
                overwrite: bool = OverwriteOpt, as_json: bool = JsonOpt) -> None:
    """Fine-tune a bi-encoder (sentence-transformers, CPU); re-run to resume after an interruption."""
    from ..errors import EmbkitError
    from ..train.contrastive import train_contrastive

    try:
        dims = [int(d) for d in matryoshka.split(",")] if matryoshka else []
    except ValueError:
        raise EmbkitError(f"matryoshka: expected comma-separated integers, got {matryoshka!r}") from None
    try:
        weights = [float(w) for w in matryoshka_weights.split(",")] if matryoshka_weights else []
    except ValueError:
        raise EmbkitError(f"matryoshka_weights: expected comma-separated numbers, got {matryoshka_weights!r}") from None
    summary = train_contrastive(output, base, data=data, beir=beir, split=split, loss=loss,
                                hard_negatives=hard_negatives, matryoshka=dims, matryoshka_weights=weights,
                                epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, name=name, overwrite=overwrite,
                                evaluation=_eval_data(eval_sts, eval_beir, no_eval), collections=collection)
    if as_json:
        _print_json(summary)
        return
    typer.echo(f"trained {summary['examples']} examples x {epochs} epochs ({summary['steps']} steps) in "
               f"{summary['seconds']:.0f}s; saved to {output}, registered as {summary['name']!r}")
    _print_evaluation(summary)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


@train_app.command("rotate")
def rotate(model: str = typer.Argument(..., help="Bi-encoder to rotate: registered name, folder or catalog name."),
           beir: Optional[Path] = typer.Option(None, "--beir", help="BEIR folder: fit on its corpus documents."),
           texts: Optional[Path] = typer.Option(None, "--texts",
                                                help="Text file (a text a line, or .jsonl with \"text\")."),
           max_texts: int = typer.Option(20000, "--max-texts", help="Sample at most this many texts."),
           dims: Optional[str] = typer.Option(None, "--dims", help="Truncations to evaluate (default: the model's "
                                                                   "Matryoshka dims, else 256,128,64)."),
           seed: int = typer.Option(0, "--seed"),
           name: Optional[str] = typer.Option(None, "--name", help="Registered name (default: the folder's)."),
           output: Path = typer.Option(..., "-o", "--output", help="Folder for the rotated model."),
           eval_sts: Path = EvalStsOpt, eval_beir: Path = EvalBeirOpt, no_eval: bool = NoEvalOpt,
           overwrite: bool = OverwriteOpt, as_json: bool = JsonOpt) -> None:
    """PCA-rotate a bi-encoder so truncated (Matryoshka) vectors keep more; full-dimension scores are unchanged."""
    from ..errors import EmbkitError
    from ..train.rotate import train_rotate

    try:
        eval_dims = [int(d) for d in dims.split(",")] if dims else []
    except ValueError:
        raise EmbkitError(f"dims: expected comma-separated integers, got {dims!r}") from None
    evaluation = _eval_data(eval_sts, eval_beir, no_eval)
    with contextlib.ExitStack() as stack:
        bar = {}  # the bar appears once the texts are read and counted

        def on_texts(n: int) -> None:
            bar["advance"] = stack.enter_context(_progress(n, "texts", quiet=as_json))

        summary = train_rotate(output, model, beir=beir, texts=texts, max_texts=max_texts, seed=seed, dims=eval_dims,
                               name=name, overwrite=overwrite, evaluation=evaluation, on_texts=on_texts,
                               progress=lambda n: bar["advance"](n))
    if as_json:
        _print_json(summary)
        return
    kept = ", ".join(f"{d} dims {v:.1%}" for d, v in summary["variance_kept"].items())
    typer.echo(f"rotation fit on {summary['texts']:,} texts of {summary['fit_on']} in {summary['seconds']:.0f}s "
               f"(variance kept: {kept}); saved to {output}, registered as {summary['name']!r}")
    _print_evaluation(summary)


@train_app.command("clip")
def clip(images: Path = typer.Option(..., "--images", help="Folder of the images the captions name."),
         captions: Path = typer.Option(..., "--captions", help='JSON lines: {"image": "file.png", "caption": "...", '
                                       '"label": "..." (optional, for zero-shot)}.'),
         output: Path = typer.Option(..., "-o", "--output", help="Folder for the model."),
         text_model: str = typer.Option("minilm", "--text-model", help="Frozen text encoder under the projection."),
         dim: int = typer.Option(64, "--dim", help="Dimension of the shared space."),
         image_size: int = typer.Option(32, "--image-size", help="Images are resized to this square."),
         widths: str = typer.Option("32,64,128", "--widths", help="Channels of the CNN's conv blocks."),
         epochs: int = typer.Option(10, "--epochs"),
         batch_size: int = typer.Option(128, "--batch-size"),
         lr: float = typer.Option(2e-3, "--lr"),
         holdout: float = typer.Option(0.2, "--holdout", help="Share of pairs held out for before/after scores."),
         prompt: str = typer.Option("a photo of {}", "--prompt", help="Zero-shot prompt; {} is a label."),
         seed: int = typer.Option(0, "--seed"),
         name: Optional[str] = typer.Option(None, "--name", help="Registered name (default: the folder's)."),
         overwrite: bool = OverwriteOpt, as_json: bool = JsonOpt) -> None:
    """Train a small image–text model (CNN image tower, frozen text model + projection) with
    symmetric InfoNCE; registered as NAME (texts) and NAME#image (images)."""
    from ..train.clip import train_clip

    width_list = _widths(widths)
    with contextlib.ExitStack() as stack:
        bar = {}  # the bar appears once the data are read and the steps counted

        def steps_known(n: int) -> None:
            bar["advance"] = stack.enter_context(_progress(n, "training steps", quiet=as_json))

        summary = train_clip(output, images, captions, text_model=text_model, dim=dim, image_size=image_size,
                             widths=width_list, epochs=epochs, batch_size=batch_size, lr=lr, holdout=holdout,
                             prompt=prompt, seed=seed, name=name, overwrite=overwrite, steps_known=steps_known,
                             progress=lambda n: bar["advance"](n))
    _print_two_tower(summary, output, epochs, "image", as_json)


def _widths(widths: str) -> tuple[int, ...]:
    from ..errors import EmbkitError

    try:
        return tuple(int(w) for w in widths.split(","))
    except ValueError:
        raise EmbkitError(f"widths: expected comma-separated integers, got {widths!r}") from None


def _print_two_tower(summary: dict, output: Path, epochs: int, media: str, as_json: bool) -> None:
    """`train clip` / `train clap`'s result: where it went and the before/after table."""
    if as_json:
        _print_json(summary)
        return
    typer.echo(f"trained on {summary['train']:,} pairs for {epochs} epochs in {summary['seconds']:.0f}s "
               f"(temperature {summary['temperature']}); saved to {output}, registered as {summary['name']!r} "
               f"({media}: {summary['name']}#{media})")
    ev = summary["evaluation"]
    typer.echo(f"held out: {ev['held_out']} pairs")
    typer.echo(f"{'':<22}{'zero-shot accuracy':>20}{f'text→{media} recall@10':>22}")
    for label in ("chance", "before", "after"):
        scores = ev[label]
        typer.echo(f"{label + (' (random init)' if label == 'before' else ''):<22}"
                   f"{_fmt(scores.get('zero_shot_accuracy')):>20}{_fmt(scores.get('recall@10')):>22}")


@train_app.command("clap")
def clap(audio: Path = typer.Option(..., "--audio", help="Folder of the audio clips the captions name."),
         captions: Path = typer.Option(..., "--captions", help='JSON lines: {"audio": "clip.wav", "caption": "...", '
                                       '"label": "..." (optional, for zero-shot), "split": "train" or "held_out" '
                                       "(optional)}."),
         output: Path = typer.Option(..., "-o", "--output", help="Folder for the model."),
         text_model: str = typer.Option("minilm", "--text-model", help="Frozen text encoder under the projection."),
         dim: int = typer.Option(64, "--dim", help="Dimension of the shared space."),
         clip_seconds: float = typer.Option(1.5, "--clip-seconds", help="Clips are cut or padded to this length."),
         n_mels: int = typer.Option(40, "--n-mels", help="Mel bands of the spectrogram."),
         widths: str = typer.Option("16,32,64,128", "--widths", help="Channels of the CNN's conv blocks."),
         epochs: int = typer.Option(10, "--epochs"),
         batch_size: int = typer.Option(64, "--batch-size"),
         lr: float = typer.Option(3e-3, "--lr"),
         holdout: float = typer.Option(0.2, "--holdout", help="Share held out when the captions carry no split."),
         prompt: str = typer.Option("the spoken word {}", "--prompt", help="Zero-shot prompt; {} is a label."),
         seed: int = typer.Option(0, "--seed"),
         name: Optional[str] = typer.Option(None, "--name", help="Registered name (default: the folder's)."),
         threads: Optional[int] = typer.Option(None, "--threads", help="Torch threads (default: torch's)."),
         overwrite: bool = OverwriteOpt, as_json: bool = JsonOpt) -> None:
    """Train a small audio–text model (CNN over log-mel spectrograms, frozen text model +
    projection) with symmetric InfoNCE; registered as NAME (texts) and NAME#audio (audio)."""
    from ..train.clap import train_clap

    width_list = _widths(widths)
    with contextlib.ExitStack() as stack:
        bar = {}  # the bar appears once the clips are read and the steps counted

        def steps_known(n: int) -> None:
            bar["advance"] = stack.enter_context(_progress(n, "training steps", quiet=as_json))

        summary = train_clap(output, audio, captions, text_model=text_model, dim=dim, clip_seconds=clip_seconds,
                             n_mels=n_mels, widths=width_list, epochs=epochs, batch_size=batch_size, lr=lr,
                             holdout=holdout, prompt=prompt, seed=seed, name=name, overwrite=overwrite,
                             steps_known=steps_known, progress=lambda n: bar["advance"](n), threads=threads)
    _print_two_tower(summary, output, epochs, "audio", as_json)
