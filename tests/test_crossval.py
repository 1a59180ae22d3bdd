"""Cross-validation: the fold logic, the runner and `wordrec eval --folds/--group-by`."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_tone_corpus

from wordrec.cli import cli
from wordrec.errors import WordrecError
from wordrec.jobs import crossval, featurise


def corpus_items(counts: dict, speakers=("ann", "bob", "cy")) -> list:
    """(path, word) items named <word>_<speaker>_<k>.wav, speakers in turn."""
    return [
        (Path(w) / f"{w}_{speakers[k % len(speakers)]}_{k}.wav", w)
        for w, n in counts.items()
        for k in range(n)
    ]


def test_kfold_tests_every_item_exactly_once_and_trains_on_the_rest():
    items = corpus_items({"yes": 11, "no": 7, "stop": 5})
    folds = crossval.kfold(items, 4, seed=3)
    assert [name for name, _, _ in folds] == ["1", "2", "3", "4"]
    tested = Counter(it for _, _, test in folds for it in test)
    assert set(tested) == set(items) and set(tested.values()) == {1}
    for _, train, test in folds:
        assert set(train).isdisjoint(test)
        assert len(train) + len(test) == len(items)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_kfold_is_stratified_by_word_and_balanced(k):
    counts = {"yes": 11, "no": 7, "stop": 5, "go": 2}
    folds = crossval.kfold(corpus_items(counts), k, seed=0)
    for word, n in counts.items():
        per_fold = [sum(w == word for _, w in test) for _, _, test in folds]
        assert sum(per_fold) == n
        assert set(per_fold) <= {n // k, -(-n // k)}, (word, per_fold)
    sizes = [len(test) for _, _, test in folds]
    assert max(sizes) - min(sizes) <= 1


def test_kfold_is_deterministic_given_the_seed_and_varies_with_it():
    items = corpus_items({"yes": 20, "no": 20})
    assert crossval.kfold(items, 5, seed=1) == crossval.kfold(items, 5, seed=1)
    assert crossval.kfold(items, 5, seed=1) != crossval.kfold(items, 5, seed=2)


@pytest.mark.parametrize("k", [1, 7])
def test_kfold_refuses_impossible_fold_counts(k):
    with pytest.raises(WordrecError, match="folds"):
        crossval.kfold(corpus_items({"yes": 3, "no": 3}), k, seed=0)


def test_by_group_leaves_each_group_out_once():
    items = corpus_items({"yes": 6, "no": 5})
    folds = crossval.by_group(items, r"_([a-z]+)_")
    assert [name for name, _, _ in folds] == ["ann", "bob", "cy"]
    tested = Counter(it for _, _, test in folds for it in test)
    assert set(tested) == set(items) and set(tested.values()) == {1}
    for name, train, test in folds:
        assert test and all(f"_{name}_" in p.name for p, _ in test)
        assert train and not any(f"_{name}_" in p.name for p, _ in train)
        assert len(train) + len(test) == len(items)


def test_by_group_reads_the_file_name_only_and_skips_names_without_a_group():
    items = [
        (Path("_zed_") / "yes_ann_0.wav", "yes"),
        (Path("_zed_") / "yes_bob_1.wav", "yes"),
        (Path("_zed_") / "stray.wav", "yes"),  # the folder would match; the name does not
        (Path("no") / "no_ann_0.wav", "no"),
        (Path("no") / "no_bob_1.wav", "no"),
    ]
    folds = crossval.by_group(items, r"_([a-z]+)_")
    assert [name for name, _, _ in folds] == ["ann", "bob"]
    in_folds = {it for _, train, test in folds for it in (*train, *test)}
    assert items[2] not in in_folds and len(in_folds) == 4
    assert crossval.ungrouped(items, r"_([a-z]+)_") == [items[2]]


@pytest.mark.parametrize(
    "regex, message",
    [(r"_[a-z]+_", "capture group"), (r"_([a-z]+", "not a valid"), (r"_(ann)_", "at least two"), (r"(q)", "at least two")],
)
def test_by_group_refuses_unusable_expressions(regex, message):
    with pytest.raises(WordrecError, match=message):
        crossval.by_group(corpus_items({"yes": 4}), regex)


class NearestMean:
    """A stand-in trainer: each word is the mean of its training vectors.

    It records what it was trained on, so the tests can check that no
    fold ever trains on the files it tests.
    """

    def __init__(self):
        self.seen = []

    def __call__(self, by_word):
        self.seen.append({w: [f.copy() for f in fs] for w, fs in by_word.items()})
        words = tuple(sorted(by_word))
        means = np.array([np.mean([f.mean(axis=0) for f in by_word[w]], axis=0) for w in words])

        def score(feats):
            if not feats:
                return np.zeros((0, len(words)))
            x = np.array([f.mean(axis=0) for f in feats])
            s = -((x[:, None, :] - means[None]) ** 2).sum(axis=2)
            s[np.array([len(f) for f in feats]) < 2] = -np.inf  # one frame: "too short"
            return s

        return crossval.Scorer(words, score)


def fake_features(items, rng) -> dict:
    """One distinctive feature matrix per path, centred on its word."""
    centre = {w: 3.0 * i for i, w in enumerate(sorted({w for _, w in items}))}
    return {str(p): centre[w] + 0.5 * rng.standard_normal((5 + k % 4, 2)) for k, (p, w) in enumerate(items)}


def test_run_never_trains_on_the_test_files_and_pools_the_folds(rng):
    items = corpus_items({"yes": 9, "no": 8, "stop": 7})
    feats = fake_features(items, rng)
    folds = crossval.kfold(items, 3, seed=0)
    trainer = NearestMean()
    result, failures = crossval.run(folds, feats, trainer)
    assert failures == []
    for (_, train, test), seen in zip(folds, trainer.seen):
        trained = [f for fs in seen.values() for f in fs]
        assert len(trained) == len(train)
        for p, _ in test:
            assert not any(np.array_equal(feats[str(p)], f) for f in trained)
        for p, w in train:
            assert any(np.array_equal(feats[str(p)], f) for f in seen[w])
    rows = result["folds"]
    assert [r["name"] for r in rows] == ["1", "2", "3"]
    assert [r["n_files"] for r in rows] == [len(test) for _, _, test in folds]
    assert result["n_files"] == len(items) == np.sum(result["confusion"])
    assert result["n_correct"] == sum(r["n_correct"] for r in rows)
    assert result["mean_accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in rows]))
    assert result["worst_accuracy"] == min(r["accuracy"] for r in rows)
    assert result["labels"] == ["no", "stop", "yes"]


def test_run_reports_unexplainable_files_and_words_missing_from_training(rng):
    items = corpus_items({"yes": 4, "no": 4}) + [(Path("rare") / "rare_ann_0.wav", "rare")]
    feats = fake_features(items, rng)
    short = str(items[0][0])
    feats[short] = feats[short][:1]
    del feats[str(items[1][0])]  # as if unreadable: in no fold's training or test
    folds = crossval.by_group(items, r"_([a-z]+)_")
    result, failures = crossval.run(folds, feats, NearestMean())
    assert [f.path for f in failures] == [short]
    assert result["n_files"] == len(items) - 2
    ann = next(r for r in result["folds"] if r["name"] == "ann")
    assert ann["missing_words"] == ["rare"]
    assert any(e["truth"] == "rare" for e in result["errors"])


def test_cross_validate_featurises_each_file_once(tmp_path, monkeypatch):
    data = make_tone_corpus(tmp_path / "data", n_per_word=4)
    from wordrec.core.features import FeatureConfig
    from wordrec.core.train import TrainConfig
    from wordrec.io import corpus

    items = list(corpus.load(data).items)
    calls = []
    real = featurise.extract_files

    def counting(paths, cfg, progress=None, **kw):
        calls.extend(map(str, paths))
        return real(paths, cfg, progress, **kw)

    monkeypatch.setattr(crossval, "extract_files", counting)
    folds = crossval.kfold(items, 4, seed=0)
    result, failures = crossval.cross_validate(
        folds, FeatureConfig.for_rate(8000), TrainConfig(n_states=3, n_mix=1, max_iter=3), jobs=1
    )
    assert failures == []
    assert sorted(calls) == sorted(str(p) for p, _ in items)
    assert result["n_files"] == len(items)


@pytest.fixture(scope="module")
def speakers(tmp_path_factory):
    """The tone corpus with a speaker in every name (<word>_<a|b|c>_<k>.wav) and one stray file."""
    root = make_tone_corpus(tmp_path_factory.mktemp("cv") / "data", n_per_word=6)
    for f in sorted(root.rglob("*.wav")):
        word, k = f.stem.split("_")
        f.rename(f.with_name(f"{word}_{'abc'[int(k) % 3]}_{k}.wav"))
    (root / "low" / "stray.wav").write_bytes((root / "low" / "low_a_0.wav").read_bytes())
    return root


TRAIN_OPTS = ["--states", "3", "--mix", "2", "--iters", "5", "-j", "1", "-q"]


def test_eval_group_by_cli_reports_folds_mean_worst_and_pooled(speakers):
    result = CliRunner().invoke(cli, ["eval", str(speakers), "--group-by", "_([a-z]+)_", "--json", *TRAIN_OPTS])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert [(f["name"], f["n_files"]) for f in rep["folds"]] == [("a", 6), ("b", 6), ("c", 6)]
    accs = [f["accuracy"] for f in rep["folds"]]
    assert rep["mean_accuracy"] == pytest.approx(sum(accs) / 3)
    assert rep["worst_accuracy"] == min(accs)
    assert rep["n_files"] == 18 and np.sum(rep["confusion"]) == 18
    assert rep["labels"] == ["high", "low", "mid"]
    assert rep["accuracy"] == pytest.approx(rep["n_correct"] / 18)
    assert rep["accuracy"] >= 0.8, rep["errors"]  # tones are easy: far above chance (1/3)
    assert set(rep["per_word"]) == {"high", "low", "mid"} and isinstance(rep["errors"], list)
    skipped = [line for line in result.stderr.splitlines() if "stray.wav" in line]
    assert len(skipped) == 1 and skipped[0].startswith("Skipped:")
    assert "stray" not in result.stdout


def test_eval_folds_cli_is_stratified_and_deterministic(speakers):
    args = ["eval", str(speakers), "--folds", "3", "--seed", "4", "--json", *TRAIN_OPTS]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    rep = json.loads(first.stdout)
    assert [(f["name"], f["n_files"]) for f in rep["folds"]] == [("1", 7), ("2", 6), ("3", 6)]
    assert rep["n_files"] == 19 and rep["cross_validation"] == {"method": "folds", "folds": 3, "seed": 4}
    again = CliRunner().invoke(cli, args)
    assert again.stdout == first.stdout


def test_eval_cv_text_output(speakers):
    result = CliRunner().invoke(cli, ["eval", str(speakers), "--group-by", "_([a-z]+)_", *TRAIN_OPTS])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "fold\tfiles\tcorrect\taccuracy"
    assert [line.split("\t")[:2] for line in lines[1:4]] == [["a", "6"], ["b", "6"], ["c", "6"]]
    assert lines[4].startswith("mean\t") and lines[5].startswith("worst\t")
    assert "pooled over 3 folds" in result.stdout and "truth\\rec" in result.stdout


@pytest.mark.parametrize(
    "extra",
    [
        [],  # neither a model nor a cross-validation
        ["-m", "x.model", "--folds", "3"],
        ["-m", "x.model", "--group-by", "_([a-z]+)_"],
        ["--folds", "3", "--group-by", "_([a-z]+)_"],
        ["-m", "x.model", "--states", "3"],
        ["--group-by", "[a-z]+"],  # no capture group
        ["--folds", "1"],
    ],
)
def test_eval_usage_errors_exit_2(speakers, extra):
    result = CliRunner().invoke(cli, ["eval", str(speakers), *extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_eval_group_by_with_one_group_is_an_error(speakers):
    result = CliRunner().invoke(cli, ["eval", str(speakers), "--group-by", "_(a)_", "-q"])
    assert result.exit_code == 1
    assert "at least two groups" in result.stderr
