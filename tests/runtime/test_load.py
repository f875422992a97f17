"""Load: 32 threads × 1,000 answers on one QAModel match serial answers, and memory stays flat."""

import random
import threading

import pytest

from rnnqa.runtime import QAModel

THREADS, CALLS = 32, 1000


def rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def random_questions(model: QAModel, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = [t for t in model.vocab.tokens[2:]] + ["zzz", "qqq"]
    return [" ".join(rng.choices(words, k=rng.randint(1, model.max_len))) for _ in range(n)]


@pytest.mark.slow
def test_32_threads_match_serial_and_memory_stays_flat(make_bundle):
    model = QAModel.load(make_bundle("gru", epochs=30))
    questions = random_questions(model, THREADS * CALLS, seed=0)
    serial = [model.answer(q) for q in questions]
    results: list[list] = [[] for _ in range(THREADS)]

    def work(t: int) -> None:
        results[t] = [model.answer(q) for q in questions[t * CALLS : (t + 1) * CALLS]]

    def threaded_round() -> None:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [a for chunk in results for a in chunk] == serial

    threaded_round()  # warm-up: thread stacks, malloc arenas, onnxruntime's per-thread state
    warm = rss_kib()
    for _ in range(3):
        threaded_round()
    growth_mib = (rss_kib() - warm) / 1024
    print(f"\nRSS after warm-up {warm / 1024:.1f} MiB; growth over 3 more rounds of "
          f"{THREADS}×{CALLS} calls: {growth_mib:.1f} MiB")
    assert growth_mib < 8
