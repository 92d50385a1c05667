"""Embedding quality beyond retrieval: eval sts, eval classify, eval cluster."""

from pathlib import Path
from typing import Optional

import typer

from ..encoders import DEFAULT_MODEL
from ..errors import EmbkitError
from .common import JsonOpt, _print_json, _progress, eval_app

# The benchmark folders beside a checkout of the project (see shared/data/README.md);
# anywhere else, pass --data.
STSB = Path("../shared/data/stsb")
BANKING77 = Path("../shared/data/banking77")

ModelOpt = typer.Option(DEFAULT_MODEL, "--model", help="Catalog name, model folder or word-vector file.")
ReportOpt = typer.Option(None, "--report", "-o", help="Write the JSON report here.")
RoleOpt = typer.Option(None, "--as", help="query or document: every text with the model's prompt for that role "
                       "(E5 wants query: for symmetric tasks). Default: none, the texts as given.")


@eval_app.command("sts")
def eval_sts(data: Path = typer.Option(STSB, "--data", help="STS Benchmark folder (sts-{train,dev,test}.csv)."),
             model: str = ModelOpt,
             split: str = typer.Option("test", "--split", help="train, dev or test."),
             report: Optional[Path] = ReportOpt,
             role: Optional[str] = RoleOpt,
             as_json: bool = JsonOpt) -> None:
    """Spearman correlation of cosine similarity with human scores on STS-B (MTEB's STSBenchmark)."""
    from ..evaluate.sts import load_sts

    _run(load_sts(data, split), model, report, as_json, role)


@eval_app.command("classify")
def eval_classify(data: Path = typer.Option(BANKING77, "--data", help="Folder with train.csv and test.csv "
                                            "(text,category), e.g. BANKING77."),
                  model: str = ModelOpt,
                  samples_per_label: int = typer.Option(8, "--samples-per-label", help="Train examples per label "
                                                        "in each experiment (MTEB: 8); 0 trains on the whole split."),
                  experiments: int = typer.Option(10, "--experiments", help="Experiments to average (MTEB: 10)."),
                  seed: int = typer.Option(42, "--seed", help="Sampling seed (MTEB: 42)."),
                  report: Optional[Path] = ReportOpt,
                  role: Optional[str] = RoleOpt,
                  as_json: bool = JsonOpt) -> None:
    """Accuracy and macro-F1 of logistic regression on embeddings, trained on train, scored on test."""
    from ..evaluate.classify import classify_task

    _run(classify_task(data, samples_per_label, experiments, seed), model, report, as_json, role)


@eval_app.command("cluster")
def eval_cluster(data: Path = typer.Option(BANKING77, "--data", help="Folder with <split>.csv (text,category)."),
                 model: str = ModelOpt,
                 split: str = typer.Option("test", "--split", help="Which <split>.csv to cluster."),
                 runs: int = typer.Option(5, "--runs", help="k-means runs to average (one seed each)."),
                 seed: int = typer.Option(42, "--seed", help="Seed of the first run."),
                 report: Optional[Path] = ReportOpt,
                 role: Optional[str] = RoleOpt,
                 as_json: bool = JsonOpt) -> None:
    """V-measure of k-means clusters (k = number of labels) against the labels."""
    from ..evaluate.clustering import cluster_task

    _run(cluster_task(data, split, runs, seed), model, report, as_json, role)


def _run(task, model: str, report: Optional[Path], as_json: bool, role: Optional[str] = None) -> None:
    """Embed with a progress bar, score, write the report if asked, print JSON or a table."""
    from ..encoders.prompts import check_role
    from ..evaluate.report import format_table, run_task, write_report

    role = check_role(role, "--as")  # before the model loads
    if report is not None and (report.is_dir() or not report.parent.is_dir()):  # was found after all the embedding
        why = "a folder" if report.is_dir() else "its folder does not exist"
        raise EmbkitError(f"report: cannot write {report} ({why})")
    with _progress(len(task.texts), "embedding", quiet=as_json) as advance:
        result = run_task(task, model, advance, role=role)
    if report:
        write_report(result, report)
    if as_json:
        _print_json(result)
    else:
        typer.echo(format_table(result))
