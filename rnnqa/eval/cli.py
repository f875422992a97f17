"""``qa-eval``: answer quality of a bundle on labelled and out-of-domain questions."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rnnqa.cli_common import report_errors

DEFAULT_BUNDLE_DIR = Path("artifacts/bundle")
BATCH = 256


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("bundle_dir", required=False, default=DEFAULT_BUNDLE_DIR, type=click.Path(path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="question,answer CSV to score (answers must be answers the bundle knows).")
@click.option("--ood", "ood_path", type=click.Path(dir_okay=False, path_type=Path),
              help='Out-of-domain questions, one per line, that should get "I don\'t know".')
@click.option("--near-miss", "near_path", type=click.Path(dir_okay=False, path_type=Path),
              help='Near misses that should get "I don\'t know": a question,kind CSV (rnnqa/data/default_near_miss.csv) '
                   "or one question per line.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Override the bundle's threshold.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a reliability diagram (PNG) of --csv.")
@click.option("--sweep", is_flag=True, help="Score every threshold from 0.10 to 0.95, to choose one for qa-export.")
@click.option("--target-rejection", type=click.FloatRange(0, 1),
              help="With --sweep and --ood or --near-miss: suggest the threshold with the most correct and "
                   "confident answers among those rejecting at least this share of the out-of-domain questions "
                   "and of the near misses.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@report_errors
def main(bundle_dir: Path, csv_path: Path | None, ood_path: Path | None, near_path: Path | None,
         threshold: float | None, plot_path: Path | None, sweep: bool, target_rejection: float | None,
         as_json: bool) -> None:
    """Score BUNDLE_DIR: accuracy, accuracy when confident, coverage, confidently wrong answers,
    out-of-domain and near-miss rejection.

    With --sweep, at every threshold: the trade-off between answers and "I don't know", from which
    `qa-export --threshold` sets the bundle's.
    """
    import numpy as np

    from rnnqa.errors import ConfigError, DataError
    from rnnqa.eval.metrics import quality, reliability
    from rnnqa.eval.metrics import sweep as sweep_reports
    from rnnqa.eval.questions import read_near_misses, read_questions
    from rnnqa.runtime import QAModel

    if csv_path is None and ood_path is None and near_path is None:
        raise ConfigError("give --csv, --ood, --near-miss or several")
    if target_rejection is not None and not (sweep and (ood_path is not None or near_path is not None)):
        raise ConfigError("--target-rejection needs --sweep and --ood or --near-miss")
    model = QAModel.load(bundle_dir, threshold=threshold)
    questions, labels = [], np.zeros(0, dtype=np.int64)
    if csv_path is not None:
        from rnnqa.data.table import load_qa_csv

        pairs = load_qa_csv(csv_path, model.vocab.tokenizer)
        index = {a: i for i, a in enumerate(model.vocab.answers)}
        unknown = [(a, line) for a, line in zip(pairs.answers, pairs.lines) if a not in index]
        if unknown:
            raise DataError(f"answer {unknown[0][0]!r} is not one the bundle knows", path=csv_path, line=unknown[0][1])
        questions, labels = pairs.questions, np.array([index[a] for a in pairs.answers], dtype=np.int64)
    probs = _probabilities(model, questions)
    ood = None if ood_path is None else _probabilities(model, read_questions(ood_path))
    near, kinds = (None, None) if near_path is None else read_near_misses(near_path)
    near = None if near is None else _probabilities(model, near)
    report = quality(probs, labels, model.threshold, ood, near, kinds)
    if plot_path is not None and len(labels):
        from rnnqa.eval.plots import plot_reliability

        plot_reliability(reliability(probs, labels), plot_path, title=f"reliability: {csv_path.name}")
    if sweep:
        _print_sweep(sweep_reports(probs, labels, ood, near_probs=near, near_kinds=kinds), target_rejection, as_json)
    else:
        click.echo(json.dumps(report.to_json()) if as_json else report.summary())


def _print_sweep(reports, target_rejection, as_json) -> None:
    from rnnqa.eval.metrics import pick_threshold

    pick = None if target_rejection is None else pick_threshold(reports, target_rejection)
    if as_json:
        click.echo(json.dumps({"thresholds": [r.to_json() for r in reports],
                               "suggested_threshold": None if pick is None else pick.threshold}))
        return
    fmt = lambda v: "-" if v is None or v != v else f"{v:.3f}"  # noqa: E731 (nan and None: "-")
    click.echo("threshold  coverage  correct&confident  confidently-wrong  ood-rejected  near-miss-rejected")
    for r in reports:
        click.echo(f"{r.threshold:9.2f}  {fmt(r.coverage):>8}  {fmt(r.correct_and_confident):>17}  "
                   f"{fmt(r.confidently_wrong if r.questions else None):>17}  {fmt(r.rejection_rate):>12}  "
                   f"{fmt(r.near_miss_rejection):>18}")
    if target_rejection is not None:
        click.echo(f"no threshold up to {reports[-1].threshold:g} rejects {target_rejection:g} of the "
                   "out-of-domain questions and near misses while answering a --csv question right"
                   if pick is None else
                   f"suggested: qa-export --threshold {pick.threshold:g} ({pick.summary()})")


def _probabilities(model, questions):
    import numpy as np

    chunks = [model.probabilities(questions[i : i + BATCH]) for i in range(0, len(questions), BATCH)]
    return np.concatenate(chunks) if chunks else np.zeros((0, len(model.vocab.answers)))
