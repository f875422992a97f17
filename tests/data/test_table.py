import pytest

from rnnqa.data.table import default_dataset_path, load_qa_csv
from rnnqa.data.text import make_tokenizer
from rnnqa.errors import DataError


def test_reads_quoted_commas_trims_and_keeps_answers_verbatim(write_csv):
    path = write_csv('question,answer\n  What is c? , "299,792,458m/s"\n"Sport with a net, ball, and hoop?",Basketball\n')
    pairs = load_qa_csv(path)
    assert pairs.questions == ["What is c?", "Sport with a net, ball, and hoop?"]
    assert pairs.answers == ["299,792,458m/s", "Basketball"]
    assert pairs.lines == [2, 3]


def test_bom_crlf_blank_lines_and_extra_columns(write_csv):
    path = write_csv(b"\xef\xbb\xbfQuestion,answer,source\r\nq one,a,x\r\n\r\nq two,b,y\r\n")
    pairs = load_qa_csv(path)
    assert pairs.questions == ["q one", "q two"] and pairs.lines == [2, 4]
    assert any("ignored column" in n and "source" in n for n in pairs.notes)


def test_identical_duplicates_are_merged_with_a_note(write_csv):
    pairs = load_qa_csv(write_csv("question,answer\nq?,a\nQ,a\nother,b\n"))
    assert pairs.questions == ["q?", "other"]
    assert pairs.notes == ["merged 1 duplicate row(s)"]


def test_multiline_quoted_cells_keep_later_line_numbers_right(write_csv):
    path = write_csv('question,answer\n"two\nline question",a\nok,\n')
    with pytest.raises(DataError, match=r":4: empty answer"):
        load_qa_csv(path)


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b"", r"qa\.csv: file is empty"),
        (b"   \n\n", r"qa\.csv: file is empty"),
        (b"question,answer\n", r"no question/answer rows"),
        (b"question,reply\nq,a\n", r"qa\.csv:1: missing column 'answer'"),
        (b"query,answer\nq,a\n", r"qa\.csv:1: missing column 'question'"),
        (b"question,answer\nq1,a\n  ,b\n", r"qa\.csv:3: empty question"),
        (b"question,answer\nq1,a\nq2,\n", r"qa\.csv:3: empty answer"),
        (b"question,answer\nq1,a\nq2,caf\xe9\n", r"qa\.csv:3: not valid UTF-8"),
        (b"question,answer\nWho?,a\nwho,b\n", r"qa\.csv:3: question 'who' has answer 'b' here but 'a' on line 2"),
        (b"question,answer\nq1,a\nq2,b,c,d\n", r"malformed CSV.*line 3"),
        (b"question,answer\n???,a\n", r"qa\.csv:2: question has no words"),
    ],
)
def test_bad_csv_gives_a_typed_error_with_the_line(write_csv, content, pattern):
    with pytest.raises(DataError, match=pattern):
        load_qa_csv(write_csv(content))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="cannot read CSV"):
        load_qa_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="cannot read CSV"):
        load_qa_csv(tmp_path)


def test_same_question_is_judged_by_the_tokenizer(write_csv):
    path = write_csv("question,answer\nEarth's moon?,Moon\nearths moon,Luna\n")
    with pytest.raises(DataError, match="on line 2"):
        load_qa_csv(path, make_tokenizer("words"))


def test_bundled_dataset_is_valid_larger_and_more_varied_than_the_seed(seed_csv):
    ours, seed = load_qa_csv(default_dataset_path()), load_qa_csv(seed_csv)
    assert ours.notes == [] and len(ours) >= 2 * len(seed)
    assert len(set(ours.answers)) > len(set(seed.answers))
    assert not set(map(str.lower, ours.questions)) & set(map(str.lower, seed.questions))
