"""The index saved on disk: loaded only for the same corpus, identical results."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.corpus import load_corpus
from bot.index_cache import cache_key, load_or_build
from bot.retriever import Retriever
from tests.conftest import ROOT

QUESTIONS = ["kyfoplasty recovry", "when can i drive after my stint", "is ufe painful",
             "how long does it take", "what is y90", "zzzz"]


def test_saved_index_gives_identical_results(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = load_corpus(ROOT / "corpus")
    _, built = load_or_build(corpus, tmp_path)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1

    def no_fitting(*args: object, **kwargs: object) -> None:
        raise AssertionError("the saved index should have been used")

    monkeypatch.setattr(Retriever, "fit", no_fitting)
    analyzer, loaded = load_or_build(corpus, tmp_path)
    for question in QUESTIONS:
        assert loaded.search(question, k=10) == built.search(question, k=10)
        prepared = analyzer.prepare(question)
        assert loaded.content_words(prepared) == built.content_words(prepared)
    assert analyzer.prepare("kyfoplasty recovry") == "kyphoplasty recovery"


def test_a_changed_corpus_gets_a_new_index(tmp_path: Path) -> None:
    directory = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", directory)
    before = load_corpus(directory)
    load_or_build(before, tmp_path / "cache")
    file = directory / "general.yaml"
    file.write_text(file.read_text().replace("alternates:\n", "alternates:\n      - zebra words\n",
                                             1))
    after = load_corpus(directory)
    params = Retriever(load_or_build(after, None)[0]).params()
    assert cache_key(before, params) != cache_key(after, params)
    _, retriever = load_or_build(after, tmp_path / "cache")
    assert retriever.search("zebra words")[0].faq_id == "gen-overview-what-is-ir"


def test_an_unreadable_cache_is_rebuilt(tmp_path: Path) -> None:
    corpus = load_corpus(ROOT / "corpus")
    load_or_build(corpus, tmp_path)
    saved = next(p for p in tmp_path.iterdir() if p.is_dir())
    (saved / "index.json").write_text("{not json")
    _, retriever = load_or_build(corpus, tmp_path)
    assert retriever.search("what is y90")[0].faq_id == "tace-overview-what-is-y90"


def test_serving_from_the_cache_does_not_import_scikit_learn(tmp_path: Path) -> None:
    code = (
        "import sys; from bot.corpus import load_corpus; "
        "from bot.index_cache import load_or_build; from pathlib import Path; "
        f"c = load_corpus({str(ROOT / 'corpus')!r}); "
        f"a, r = load_or_build(c, Path({str(tmp_path)!r})); r.search('stent'); "
        "print('sklearn' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=ROOT, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert first.stdout.strip() == "True"  # built: scikit-learn fits
    assert second.stdout.strip() == "False"  # loaded: no scikit-learn at all
