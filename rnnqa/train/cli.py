"""``qa-train``: train an answer classifier on a question,answer CSV."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import click

from rnnqa.cli_common import report_errors
from rnnqa.train.model import CELLS

DEFAULT_RUN_DIR = Path("artifacts/run")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("csv_path", metavar="[CSV]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", default=DEFAULT_RUN_DIR, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory to write (replaced only when training succeeds).")
@click.option("--val-csv", type=click.Path(dir_okay=False, path_type=Path), help="Validation CSV.")
@click.option("--val-split", default=0.0, type=float, help="Share of CSV held out for validation.")
@click.option("--cell", default="rnn", type=click.Choice(list(CELLS)), help="Recurrent cell.")
@click.option("--embed-dim", default=50, type=int)
@click.option("--hidden-dim", default=64, type=int)
@click.option("--layers", default=1, type=int)
@click.option("--dropout", default=0.0, type=float)
@click.option("--max-len", default=32, type=int, help="Questions are cut to this many tokens.")
@click.option("--tokenizer", default="notebook", type=click.Choice(["notebook", "words"]))
@click.option("--epochs", default=300, type=int, help="Upper bound; early stop usually ends sooner.")
@click.option("--batch-size", default=16, type=int)
@click.option("--lr", default=1e-2, type=float)
@click.option("--weight-decay", default=0.0, type=float)
@click.option("--seed", default=0, type=int)
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--no-early-stop", is_flag=True, help="Always run every epoch.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@report_errors
def main(csv_path, out_dir, val_csv, val_split, cell, embed_dim, hidden_dim, layers, dropout, max_len,
         tokenizer, epochs, batch_size, lr, weight_decay, seed, device, no_early_stop, quiet) -> None:
    """Train on CSV (default: the dataset bundled with rnnqa) and write a run to --out.

    Training stops early once train accuracy is 1.0 and the loss fell by less than 5% over the
    last 3 epochs; --no-early-stop runs all --epochs.
    """
    from rnnqa.data.table import default_dataset_path, load_qa_csv
    from rnnqa.data.text import Tokenizer
    from rnnqa.train.run import save_run
    from rnnqa.train.trainer import TrainConfig, train

    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed,
                         device=device, val_split=val_split, early_stop=not no_early_stop, tokenizer=tokenizer)
    model_config = dict(cell=cell, embed_dim=embed_dim, hidden_dim=hidden_dim, layers=layers,
                        dropout=dropout, max_len=max_len)
    csv_path = csv_path or default_dataset_path()
    pairs = load_qa_csv(csv_path, Tokenizer(tokenizer))
    val_pairs = None if val_csv is None else load_qa_csv(val_csv, Tokenizer(tokenizer))
    for note in pairs.notes:
        click.echo(f"note: {csv_path}: {note}", err=True)
    click.echo(f"training on {len(pairs)} question(s) from {csv_path}", err=True)

    bar = click.progressbar(length=epochs, label="epochs", file=sys.stderr,
                            item_show_func=lambda m: m and _metrics_line(m))
    with nullcontext() if quiet else bar:
        result = train(pairs, model_config, config, val_pairs, on_epoch=None if quiet else lambda m: bar.update(1, m))
    save_run(result, out_dir, data=str(csv_path), notes=pairs.notes)
    click.echo(f"{result.summary()}\nwrote {out_dir}")


def _metrics_line(m) -> str:
    text = f"loss {m.train_loss:.4f} acc {m.train_accuracy:.3f}"
    if m.val_accuracy is not None:
        text += f" val_acc {m.val_accuracy:.3f}"
    return text

