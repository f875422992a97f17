import torch

from rnnqa.train.augment import (augment_batch, content_tokens, distinctive_tokens, mask_one_word, outlier_batch,
                                 row_hashes, swap_one_word)

IDS = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 10, 0, 0, 0, 0], [11, 12, 13, 14, 15, 16]])
LENGTHS = torch.tensor([4, 2, 6])


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def rows(ids, lengths):
    return [ids[i, : lengths[i]].tolist() for i in range(len(lengths))]


def test_no_noise_is_the_identity():
    ids, lengths = augment_batch(IDS, LENGTHS, gen())
    assert torch.equal(ids, IDS) and torch.equal(lengths, LENGTHS)


def test_dropout_keeps_order_padding_and_at_least_one_token():
    for seed in range(20):
        ids, lengths = augment_batch(IDS, LENGTHS, gen(seed), token_dropout=0.9)
        assert (lengths >= 1).all() and (lengths <= LENGTHS).all()
        for original, kept in zip(rows(IDS, LENGTHS), rows(ids, lengths)):
            assert kept == [t for t in original if t in kept]  # a subsequence, same order
        pos = torch.arange(IDS.shape[1])
        assert (ids[pos >= lengths[:, None]] == 0).all()


def test_shuffle_permutes_within_a_row_and_unk_replaces():
    ids, lengths = augment_batch(IDS, LENGTHS, gen(1), shuffle_window=5.0)
    assert torch.equal(lengths, LENGTHS)
    assert [sorted(r) for r in rows(ids, lengths)] == [sorted(r) for r in rows(IDS, LENGTHS)]
    ids, _ = augment_batch(IDS, LENGTHS, gen(2), unk_rate=0.999)
    assert rows(ids, LENGTHS) == [[1] * n for n in LENGTHS.tolist()]


def test_protected_tokens_are_never_dropped_or_replaced():
    protect = torch.zeros_like(IDS, dtype=torch.bool)
    protect[:, 0] = True
    for seed in range(20):
        ids, lengths = augment_batch(IDS, LENGTHS, gen(seed), token_dropout=0.9, unk_rate=0.5, protect=protect)
        assert all(IDS[i, 0].item() in r for i, r in enumerate(rows(ids, lengths)))


def test_distinctive_tokens_are_each_rows_rarest():
    ids = torch.tensor([[2, 3, 4, 0], [2, 3, 5, 6], [2, 7, 0, 0]])
    mask = distinctive_tokens(ids, torch.tensor([3, 4, 2]))
    assert mask.tolist() == [[False, False, True, False], [False, False, True, True], [False, True, False, False]]


def test_outlier_rows_are_padded_random_words():
    ids, lengths = outlier_batch(50, 7, 30, gen(), torch.device("cpu"))
    assert ids.shape == (50, 7) and lengths.min() >= 1 and lengths.max() <= 7
    pos = torch.arange(7)
    assert (ids[pos < lengths[:, None]] >= 1).all() and (ids[pos >= lengths[:, None]] == 0).all()


def test_content_tokens_are_the_known_words_in_few_questions():
    # token 2 ("what") is in every question, 3 in two of four, 1 is <UNK>
    ids = torch.tensor([[2, 3, 4, 0], [2, 3, 5, 6], [2, 7, 1, 0], [2, 8, 0, 0]])
    lengths = torch.tensor([3, 4, 3, 2])
    assert content_tokens(ids, lengths, 0.5).tolist() == [[False, False, True, False], [False, False, True, True],
                                                          [False, True, False, False], [False, True, False, False]]
    assert content_tokens(ids, lengths, 0.6)[:2, 1].all()  # 3 is in 2/4 < 0.6 of the questions


def test_mask_one_word_masks_exactly_one_candidate_per_row():
    candidates = torch.tensor([[False, True, True, False, False, False], [False] * 6, [True] * 6])
    seen = set()
    for seed in range(30):
        masked, has = mask_one_word(IDS, candidates, gen(seed))
        assert has.tolist() == [True, False, True]
        changed = masked != IDS
        assert changed.sum(1).tolist() == [1, 0, 1] and (masked[changed] == 1).all()
        assert not (changed & ~candidates).any()
        seen.add(int(changed[0].nonzero()))
    assert seen == {1, 2}  # either candidate of row 0, at random


def test_row_hashes_ignore_word_order_and_padding_but_not_words():
    token_hash = torch.randint(-(2 ** 62), 2 ** 62, (20,), generator=gen())
    ids = torch.tensor([[5, 6, 7, 0], [7, 5, 6, 0], [5, 6, 8, 0], [5, 6, 7, 9]])
    hashes = row_hashes(ids, torch.tensor([3, 3, 3, 3]), token_hash).tolist()
    assert hashes[0] == hashes[1] == hashes[3] and hashes[0] != hashes[2]  # row 3's 4th token is padding


def test_swap_one_word_takes_a_donor_word_and_never_makes_a_taught_question():
    # "capital russia" and "currency japan"; "capital japan" is taught, so only "currency russia" is new
    capital, russia, currency, japan, what = 3, 4, 5, 6, 2
    ids = torch.tensor([[what, capital, russia], [what, currency, japan]])
    lengths = torch.tensor([3, 3])
    candidates = ids != what
    token_hash = torch.randint(-(2 ** 62), 2 ** 62, (10,), generator=gen())
    taught = row_hashes(torch.tensor([[what, capital, russia], [what, currency, japan], [what, capital, japan]]),
                        torch.tensor([3, 3, 3]), token_hash)
    made = set()
    for seed in range(40):
        swapped, new = swap_one_word(ids, lengths, candidates, ids.flip(0), candidates.flip(0), token_hash, taught,
                                     gen(seed))
        assert ((swapped != ids).sum(1) == 1).all()  # one word replaced, by one of the donor's candidates
        for row, is_new in zip(swapped.tolist(), new.tolist()):
            words = frozenset(row)
            assert is_new == (words not in {frozenset([what, capital, russia]), frozenset([what, currency, japan]),
                                            frozenset([what, capital, japan])} and len(set(row)) == 3)
            if is_new:
                made.add(words)
    assert frozenset([what, currency, russia]) in made and frozenset([what, capital, japan]) not in made
