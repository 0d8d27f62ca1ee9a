"""token-classification, piece by piece: reading CoNLL/JSONL, sub-token alignment, truncation, seqeval metrics."""
import numpy as np
import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from helpers.ner_toy import ner_rows, write_conll, write_jsonl
from tuneforge.data import load_data
from tuneforge.data.conll import read_conll
from tuneforge.data.words import WordSequences, encode_words
from tuneforge.data.bundle import Split
from tuneforge.errors import DataError
from tuneforge.evaluation import token_metrics as tm
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS

TASK = TASKS.get("token-classification")
NAMES = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def _onehot(tags_per_sentence, names=NAMES):
    """Logits [N, W, K] that predict the given tags (NaN padding beyond each sentence)."""
    width = max(len(t) for t in tags_per_sentence)
    out = np.full((len(tags_per_sentence), width, len(names)), np.nan, dtype=np.float32)
    for i, tags in enumerate(tags_per_sentence):
        out[i, :len(tags)] = -5.0
        for w, tag in enumerate(tags):
            out[i, w, names.index(tag)] = 5.0
    return out


def _ids(tags_per_sentence):
    return [np.array([NAMES.index(t) for t in tags]) for tags in tags_per_sentence]


def test_conll_file_reads_one_row_per_sentence(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text("-DOCSTART-\tO\n\nthe\tO\nking\tB-PER\n\t\nnorth\tB-LOC\ncity\tI-LOC\n", encoding="utf-8")
    df = read_conll(path)
    assert df["tokens"].tolist() == [["the", "king"], ["north", "city"]]
    assert df["tags"].tolist() == [["O", "B-PER"], ["B-LOC", "I-LOC"]]
    assert df.attrs["tuneforge.lines"] == [3, 6]   # a row's first line, for messages


def test_malformed_conll_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("the\tO\nking B-PER\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.conll:2: expected 'token<TAB>tag'"):
        read_conll(path)


def test_conll_and_jsonl_load_the_same_sentences(tmp_path):
    rows = ner_rows(40, seed=3)
    conll = load_data(DataSection(train=str(write_conll(tmp_path / "t.conll", rows)), validation=None, test=None),
                      TASK, 0)
    jsonl = load_data(DataSection(train=str(write_jsonl(tmp_path / "t.jsonl", rows)), validation=None, test=None),
                      TASK, 0)
    assert conll.label_names == jsonl.label_names == ["O", "B-LOC", "I-LOC", "B-PER"]
    assert list(conll.train.inputs) == list(jsonl.train.inputs) == [r["tokens"] for r in rows]
    assert all((a == b).all() for a, b in zip(conll.train.targets, jsonl.train.targets))
    assert isinstance(conll.train.inputs, WordSequences)


def test_words_and_tags_must_pair_up(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"tokens": ["a", "b"], "tags": ["O", "O"]},
                                               {"tokens": ["a", "b", "c"], "tags": ["O", "B-PER"]}])
    with pytest.raises(DataError, match=r"row 2 \(line 2 of .*t\.jsonl\): 3 words but 2 tags"):
        load_data(DataSection(train=str(path), validation=None, test=None), TASK, 0)


def test_non_bio_tags_are_refused(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"tokens": ["a", "b"], "tags": ["O", "PER"]}])
    with pytest.raises(DataError, match="tag 'PER' is not BIO"):
        load_data(DataSection(train=str(path), validation=None, test=None), TASK, 0)


class _Model:
    def __init__(self, tokenizer, names):
        self.preprocessor, self.label_names, self.source = tokenizer, names, "tiny"


@pytest.fixture(scope="module")
def tokenizer(bert_dir):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(bert_dir)


def _encode(tokenizer, words, tags, mode="first", max_length=32):
    split = Split(WordSequences([words]), np.array([np.array([NAMES.index(t) for t in tags])], dtype=object)
                  if tags else np.array([None], dtype=object))
    data = DataSection(train="x", max_length=max_length, subword_labels=mode)
    return encode_words(split, _Model(tokenizer, NAMES), data)


def test_first_sub_token_carries_the_tag_the_rest_are_ignored(tokenizer):
    words, tags = ["the", "sea-port", "king"], ["O", "B-LOC", "B-PER"]
    enc = _encode(tokenizer, words, tags)
    pieces = tokenizer.convert_ids_to_tokens(enc.token_ids[0])
    assert pieces == ["[CLS]", "the", "sea", "-", "port", "king", "[SEP]"]
    assert enc.sub_labels[0].tolist() == [-100, 0, 1, -100, -100, 3, -100]
    assert enc.word_starts[0].tolist() == [1, 2, 5]


def test_all_labels_every_sub_token_and_later_pieces_get_inside_tags(tokenizer):
    enc = _encode(tokenizer, ["the", "sea-port", "king"], ["O", "B-LOC", "B-PER"], mode="all")
    assert enc.sub_labels[0].tolist() == [-100, 0, 1, 2, 2, 3, -100]   # B-LOC, then I-LOC on "-" and "port"


def test_truncation_is_counted_reported_and_costs_recall(tokenizer):
    words = ["the", "king", "went", "to", "the", "sea-port", "with", "the", "boy"]
    tags = ["O", "B-PER", "O", "O", "O", "B-LOC", "O", "O", "B-PER"]
    enc = _encode(tokenizer, words, tags, max_length=8)   # [CLS] the king went to the sea [SEP]: 3 words cut
    assert enc.truncation["sentences"] == 1 and enc.truncation["words"] == 3
    assert "truncated" in enc.notes("test")[0] and "data.max_length=8" in enc.notes("test")[0]
    batch = enc.batch(np.array([0]))
    assert batch["word_index"][0].tolist() == [1, 2, 3, 4, 5, 6, -1, -1, -1]   # "sea-port" kept its first piece
    # a model right on every word it sees still misses the entity of the cut words ("boy")
    logits = np.full((1, 9, len(NAMES)), np.nan, dtype=np.float32)
    logits[0, :6] = _onehot([tags[:6]])[0]
    m = tm.token_metrics(_ids([tags]), logits, NAMES)
    assert m["entity_precision"] == 1.0 and m["entity_recall"] == pytest.approx(2 / 3)


def test_metrics_equal_seqeval_and_strict_differs_where_it_should():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC", "I-LOC", "O"], ["B-PER", "O", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["O", "I-LOC", "I-LOC", "O"], ["B-PER", "O", "B-LOC", "O"]]
    m = tm.token_metrics(_ids(gold), _onehot(pred), NAMES)
    assert m["entity_f1"] == pytest.approx(f1_score(gold, pred))
    assert m["entity_precision"] == pytest.approx(precision_score(gold, pred))
    assert m["entity_recall"] == pytest.approx(recall_score(gold, pred))
    assert m["entity_f1_strict"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOB2))
    # "I-LOC I-LOC" counts as the gold LOC in the default (conlleval) mode, not in the strict one
    assert m["entity_f1"] > m["entity_f1_strict"]
    assert m["per_type"]["LOC"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_type"]["PER"]["f1"] == 1.0
    assert m["token_accuracy"] == pytest.approx(9 / 12)   # one wrong word per sentence
    confusion = dict(zip(m["type_confusion"]["labels"], m["type_confusion"]["matrix"]))
    assert confusion["LOC"] == [1, 0, 1] and confusion["O"] == [1, 0, 0]   # one LOC missed, one false LOC


def test_bootstrap_resamples_sentences():
    gold = [["B-PER", "O"], ["B-LOC", "O"]] * 10
    perfect = tm.confidence_intervals(_ids(gold), _onehot(gold), NAMES, 300, 0.95, 0)
    assert perfect["entity_f1"] == [1.0, 1.0]
    half = [["B-PER", "O"], ["O", "O"]] * 10   # every LOC sentence missed: recall varies with the resample
    ci = tm.confidence_intervals(_ids(gold), _onehot(half), NAMES, 300, 0.95, 0)
    point = tm.token_metrics(_ids(gold), _onehot(half), NAMES)["entity_recall"]
    assert ci["entity_recall"][0] < point == 0.5 < ci["entity_recall"][1]
    stats = TASK.test_statistics(_ids(gold), _onehot(half), NAMES, _Eval(), 0)
    assert stats["bootstrap_unit"] == "sentences" and set(stats["test_ci"]) >= {"entity_f1", "token_accuracy"}
    same = tm.paired_bootstrap(_ids(gold), _onehot(half), _onehot(half), NAMES, "entity_f1", 200, 0.95, 0)
    assert same["difference"] == 0.0 and same["p_value"] == 1.0
    better = tm.paired_bootstrap(_ids(gold), _onehot(gold), _onehot(half), NAMES, "entity_f1", 200, 0.95, 0)
    assert better["difference"] > 0 and better["p_value"] < 0.05


class _Eval:
    bootstrap, confidence = 200, 0.95


def test_majority_predicts_outside_everywhere():
    train = _ids([["O", "B-PER", "O"], ["O", "O"]])
    out = TASK.majority_outputs(train, 2, NAMES)
    m = tm.token_metrics(_ids([["B-PER", "O"], ["O", "O", "B-LOC"]]), out, NAMES)
    assert m["entity_f1"] == 0.0 and m["token_accuracy"] == pytest.approx(3 / 5)


def test_paired_bootstrap_through_the_task_uses_the_scored_tags():
    from tuneforge.tasks.token_classification import TokenClassificationTask

    task = TokenClassificationTask()
    gold = [["B-PER", "I-PER", "O"], ["O", "B-LOC", "O"]] * 5
    with pytest.raises(DataError, match="tag names of these outputs are unknown"):
        task.paired_bootstrap(_ids(gold), _onehot(gold), _onehot(gold), "entity_f1", 50, 0.95, 0)
    task.compute_metrics(_ids(gold), _onehot(gold), NAMES)
    res = task.paired_bootstrap(_ids(gold), _onehot(gold), TASK.majority_outputs(_ids(gold), 10, NAMES),
                                "entity_f1", 100, 0.95, 0)
    assert res["difference"] == 1.0 and res["p_value"] < 0.05
