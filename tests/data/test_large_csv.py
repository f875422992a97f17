"""A 1-million-row CSV trains (one epoch) in bounded memory, end to end through qa-train."""

import random
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_one_million_rows_train_in_bounded_memory(tmp_path):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    path = tmp_path / "big.csv"
    with open(path, "w") as fh:
        fh.write("question,answer\n")
        for i in range(1_000_000):
            fh.write(f"{' '.join(rng.choices(words, k=rng.randint(4, 12)))}?,a{i % 2000}\n")
    # the child reports its own peak (RUSAGE_CHILDREN here would be the largest of every child pytest waited for)
    code = ("import atexit, resource, sys; from rnnqa.train.cli import main; sys.argv[0] = 'qa-train'; "
            "atexit.register(lambda: print('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "file=sys.stderr)); main()")
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), "--out", str(tmp_path / "run"), "--epochs", "1",
         "--batch-size", "1024", "--device", "cpu", "-q"],
        capture_output=True, text=True, timeout=900,
    )
    peaks = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("PEAK_KIB ")]
    assert len(peaks) == 1, result.stderr[-2000:]
    peak_mib = int(peaks[0]) / 1024
    print(f"\n1M rows: peak RSS {peak_mib:.0f} MiB; {result.stdout.strip()}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trained GRU on cpu for 1 epoch(s)" in result.stdout
    assert (tmp_path / "run" / "model.pt").is_file()
    assert peak_mib < 4096
