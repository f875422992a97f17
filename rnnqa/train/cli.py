"""``qa-train``: train an answer classifier on a question,answer CSV."""

from __future__ import annotations

import dataclasses
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from rnnqa.cli_common import report_errors
from rnnqa.errors import RnnqaError
from rnnqa.data.text import TOKENIZERS
from rnnqa.train.model import CELLS, READOUTS, ModelConfig
from rnnqa.train.trainer import TrainConfig

DEFAULT_RUN_DIR = Path("artifacts/run")


_DEFAULTS = TrainConfig()
_MODEL = {f.name: f.default for f in dataclasses.fields(ModelConfig)}  # the defaults, said once


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("csv_path", metavar="[CSV]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", default=DEFAULT_RUN_DIR, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory to write (replaced only when training succeeds).")
@click.option("--val-csv", type=click.Path(dir_okay=False, path_type=Path), help="Validation CSV.")
@click.option("--val-split", default=_DEFAULTS.val_split, type=float, help="Share of CSV held out for validation.")
@click.option("--ood", "ood_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Out-of-domain questions, one per line: report how many get \"I don't know\".")
@click.option("--near-miss", "near_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Near misses (a question,kind CSV or one per line): report how many get \"I don't know\".")
@click.option("--target-rejection", default=0.95, type=click.FloatRange(0, 1),
              help="With validation questions and --ood or --near-miss, and no --threshold: the threshold is "
                   "the one with the most correct and confident validation answers among those rejecting at "
                   "least this share of the out-of-domain questions and near misses (qa-eval --sweep's rule).")
@click.option("--cell", default=_MODEL["cell"], type=click.Choice(list(CELLS)), help="Recurrent cell.")
@click.option("--readout", default=_MODEL["readout"], type=click.Choice(list(READOUTS)),
              help="What the output layer reads: the max over every token's state, or the last state.")
@click.option("--embed-dim", default=_MODEL["embed_dim"], type=int)
@click.option("--hidden-dim", default=_MODEL["hidden_dim"], type=int)
@click.option("--layers", default=_MODEL["layers"], type=int)
@click.option("--dropout", default=_MODEL["dropout"], type=float)
@click.option("--max-len", default=_MODEL["max_len"], type=int, help="Questions are cut to this many tokens.")
@click.option("--tokenizer", default=_DEFAULTS.tokenizer, type=click.Choice(list(TOKENIZERS)))
@click.option("--epochs", default=_DEFAULTS.epochs, type=int)
@click.option("--batch-size", default=_DEFAULTS.batch_size, type=int)
@click.option("--lr", default=_DEFAULTS.lr, type=float)
@click.option("--weight-decay", default=_DEFAULTS.weight_decay, type=float)
@click.option("--label-smoothing", default=_DEFAULTS.label_smoothing, type=float)
@click.option("--token-dropout", default=_DEFAULTS.token_dropout, type=float, help="Augmentation: drop words.")
@click.option("--unk-rate", default=_DEFAULTS.unk_rate, type=float, help="Augmentation: words → <UNK>.")
@click.option("--shuffle-window", default=_DEFAULTS.shuffle_window, type=float, help="Augmentation: word order.")
@click.option("--outliers", default=_DEFAULTS.outliers, type=float, help="Random-word rows per row, towards uniform.")
@click.option("--masked-outliers", default=_DEFAULTS.masked_outliers, type=float,
              help="Rows with their subject words as <UNK>, towards uniform.")
@click.option("--masked-words", default=_DEFAULTS.masked_words, type=float,
              help="Rows with one content word as <UNK>, towards uniform.")
@click.option("--clean-rows", default=_DEFAULTS.clean_rows, type=float,
              help="Weight of the loss on each batch's questions as written, besides the noisy copies.")
@click.option("--gate/--no-gate", default=_DEFAULTS.gate,
              help="The substitution gate: halve the confidence of a taught question with one word swapped.")
@click.option("--aliases/--no-aliases", default=_DEFAULTS.aliases,
              help="Map words the CSV never had onto their WordNet synonyms in the vocabulary (\"biggest\" → "
                   "\"largest\"), as data in the tokenizer declaration.")
@click.option("--synonym-gate/--no-synonym-gate", default=_DEFAULTS.synonym_gate,
              help="The substitution gate takes a swap for a WordNet synonym as no swap.")
@click.option("--glove", is_flag=True,
              help="Start the token embeddings from GloVe 6B 50d (the glove extra): more reworded questions "
                   "answered, more near misses too (QUALITY.md, \"Synonyms\"). Needs --embed-dim 50.")
@click.option("--threshold", type=click.FloatRange(0, 1),
              help="\"I don't know\" below this confidence: for the report, and for the bundle unless "
                   f"qa-export --threshold says otherwise. Default: chosen from validation data when given "
                   f"(--target-rejection), else {_DEFAULTS.threshold}.")
@click.option("--no-augment", is_flag=True, help="Plain training: no augmentation or outlier rows.")
@click.option("--seed", default=_DEFAULTS.seed, type=int)
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--early-stop", is_flag=True, help="Stop once train accuracy is 1.0 and the loss is flat.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@report_errors
def main(csv_path, out_dir, val_csv, val_split, ood_path, near_path, target_rejection, cell, readout, embed_dim,
         hidden_dim, layers, dropout, max_len, tokenizer, epochs, batch_size, lr, weight_decay, label_smoothing,
         token_dropout, unk_rate, shuffle_window, outliers, masked_outliers, masked_words, clean_rows, gate, aliases,
         synonym_gate, glove, threshold,
         no_augment, seed, device, early_stop, quiet) -> None:
    """Train on CSV (default: the dataset bundled with rnnqa) and write a run to --out.

    The defaults are the measured best for reworded and out-of-domain questions (QUALITY.md).
    --early-stop ends training once train accuracy is 1.0 and the loss fell by less than 5% over
    the last 3 epochs. Under torchrun (`torchrun --nproc-per-node N --no-python qa-train …`) every
    process trains a data-parallel replica on its share of each --batch-size batch; rank 0 alone
    reports and writes the run.
    """
    from rnnqa.data.table import default_dataset_path, load_qa_csv
    from rnnqa.data.text import make_tokenizer
    from rnnqa.train.distributed import process_group
    from rnnqa.train.trainer import resolve_device, train

    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed,
                         device=device, val_split=val_split, early_stop=early_stop, tokenizer=tokenizer,
                         label_smoothing=label_smoothing, token_dropout=token_dropout, unk_rate=unk_rate,
                         shuffle_window=shuffle_window, outliers=outliers, masked_outliers=masked_outliers,
                         masked_words=masked_words, clean_rows=clean_rows, gate=gate, aliases=aliases,
                         synonym_gate=synonym_gate, glove=glove,
                         threshold=_DEFAULTS.threshold if threshold is None else threshold)
    if no_augment:
        config = config.without_augmentation()
    model_config = dict(cell=cell, readout=readout, embed_dim=embed_dim, hidden_dim=hidden_dim, layers=layers,
                        dropout=dropout, max_len=max_len)
    with process_group(resolve_device(device)) as distributed:
        main_rank = distributed is None or distributed.is_main
        quiet = quiet or not main_rank  # one progress bar and one report per job, from rank 0
        csv_path = csv_path or default_dataset_path()
        pairs = load_qa_csv(csv_path, make_tokenizer(tokenizer))
        val_pairs = None if val_csv is None else load_qa_csv(val_csv, make_tokenizer(tokenizer))
        if main_rank:
            for note in pairs.notes:
                click.echo(f"note: {csv_path}: {note}", err=True)
            where = "" if distributed is None else f" with {distributed.world_size} data-parallel processes"
            click.echo(f"training on {len(pairs)} question(s) from {csv_path}{where}", err=True)
        bar = click.progressbar(length=epochs, label="epochs", file=sys.stderr,
                                item_show_func=lambda m: m and _metrics_line(m))
        with nullcontext() if quiet else bar:
            result = train(pairs, model_config, config, val_pairs,
                           on_epoch=None if quiet else lambda m: bar.update(1, m), distributed=distributed)
        failure = None
        if main_rank:
            try:
                _report_and_save(result, pairs, val_pairs, csv_path, out_dir, threshold, ood_path, near_path,
                                 target_rejection)
            except RnnqaError as exc:
                failure = exc
        if distributed is not None:  # the other ranks wait for rank 0, and fail in one line if it failed
            distributed.finish(None if failure is None else str(failure))
        if failure is not None:
            raise failure


def _report_and_save(result, pairs, val_pairs, csv_path: Path, out_dir: Path, threshold: float | None,
                     ood_path: Path | None, near_path: Path | None, target_rejection: float) -> None:
    """Pick the threshold when data allows, write the run and print its summary."""
    from rnnqa.train.report import choose_threshold, quality_report
    from rnnqa.train.run import save_run
    from rnnqa.train.trainer import split_pairs

    config = result.train_config
    held_out = val_pairs if val_pairs is not None or not config.val_split else \
        split_pairs(pairs, config.val_split, config.seed)[1]
    notes = list(pairs.notes) + result.notes
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    pick = None
    if threshold is None and held_out is not None and (ood_path or near_path):
        pick = choose_threshold(result, held_out, ood_path, near_path, target_rejection)
        if pick is None:
            click.echo(f"note: no threshold rejects {target_rejection:g} of the out-of-domain questions and near "
                       f"misses while answering a validation question right; keeping {config.threshold:g}",
                       err=True)
        else:
            result.train_config = dataclasses.replace(config, threshold=pick.threshold)
            notes.append(f"threshold {pick.threshold:g} chosen on the validation questions (target rejection "
                         f"{target_rejection:g})")
            click.echo(f"threshold {pick.threshold:g}: the most correct and confident validation answers among "
                       f"those rejecting ≥ {target_rejection:g} of out-of-domain questions and near misses", err=True)
    save_run(result, out_dir, data=str(csv_path), notes=notes)
    click.echo(result.summary())
    if pick is not None:  # already scored at the chosen threshold, on the questions that chose it
        click.echo(pick.summary() + " (on the questions that chose the threshold: optimistic)")
    elif held_out is not None or ood_path is not None or near_path is not None:
        click.echo(quality_report(result, held_out, ood_path, near_path).summary())
    click.echo(f"wrote {out_dir}")


def _metrics_line(m) -> str:
    text = f"loss {m.train_loss:.4f} acc {m.train_accuracy:.3f}"
    if m.val_accuracy is not None:
        text += f" val_acc {m.val_accuracy:.3f}"
    if m.train_seconds > 0:
        text += f" {m.samples / m.train_seconds:,.0f} q/s"
    return text

