"""Normalisation, typo tolerance and the TF-IDF retriever."""

from __future__ import annotations

import numpy as np
import pytest

from bot.analysis import plain_analyzer
from bot.domain import FaqEntry
from bot.normalise import PhraseMap, normalise
from bot.query_vectors import QueryVector
from bot.retriever import Retriever, _strip_stop_words
from bot.spelling import Speller


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I can\u2019t BREATHE!!", "i can not breathe"),
        ("What's a stent?", "what is a stent"),
        ("dont know", "do not know"),
        ("Embolisation \u2013 caf\u00e9", "embolisation cafe"),
        ("Y-90 or TACE?", "y 90 or tace"),
        ("my mom's stent", "my mom stent"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_phrase_map_prefers_longer_phrases() -> None:
    mapping = PhraseMap({"cath": "catheter", "heart cath": "cardiac catheterization"})
    assert mapping.apply("my heart cath and the cath") == (
        "my cardiac catheterization and the catheter")


def test_speller_fixes_typos_but_not_real_words() -> None:
    speller = Speller(["recovery", "kyphoplasty", "embolization", "chest", "pain", "stent"])
    assert speller.correct(["recovry", "kyfoplasty", "embolisation", "pian"]) == [
        "recovery", "kyphoplasty", "embolization", "pain"]
    # Ordinary English words stay as typed, even when close to a corpus word.
    assert speller.correct(["grandkids", "paint", "chess", "rest"]) == [
        "grandkids", "paint", "chess", "rest"]
    assert speller.correct(["y90", "ok"]) == ["y90", "ok"]


def test_bundled_lexicon_maps_lay_terms(bot) -> None:  # type: ignore[no-untyped-def]
    prepared = bot.analyzer.prepare("stint in my leg, kyfoplasty, cement in my back")
    assert "stent" in prepared and "kyphoplasty" in prepared and "vertebroplasty" in prepared
    assert bot.analyzer.procedures_named(bot.analyzer.prepare("my UFE next week")) == [
        "uterine-fibroid-embolization"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("kyfoplasty recovry", "vert-recovery-overview"),
        ("when can i drve after kyfoplasty", "vert-recovery-driving"),
        ("how long does a kyphoplasty take", "vert-procedure-duration"),
        ("is ufe painful", "ufe-procedure-awake-pain"),
        ("what is y90", "tace-overview-what-is-y90"),
        ("can i fly after a lung biopsy", "biopsy-recovery-flying"),
    ],
)
def test_typical_questions_rank_first(bot, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert bot.rank(question)[0].faq_id == expected


def entries() -> list[FaqEntry]:
    return [
        FaqEntry("drive", "When can I drive after a stent?", "After a few days.", "general",
                 "recovery", ("driving after stent", "car after stent")),
        FaqEntry("shower", "When can I shower?", "After a day.", "general", "recovery",
                 ("can i take a bath",)),
        FaqEntry("cost", "How much does it cost?", "Ask billing.", "general", "logistics"),
    ]


def test_search_is_deterministic_and_sorted() -> None:
    retriever = Retriever(plain_analyzer()).fit(entries())
    first = retriever.search("when can i drive", k=3)
    assert first == retriever.search("when can i drive", k=3)
    assert first[0].faq_id == "drive"
    assert [m.score for m in first] == sorted((m.score for m in first), reverse=True)
    assert all(0 < m.score <= 1 for m in first)


def test_empty_and_unknown_queries() -> None:
    retriever = Retriever(plain_analyzer()).fit(entries())
    assert retriever.search("???") == []
    assert retriever.search("the and of") == []


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="char_weight"):
        Retriever(plain_analyzer(), char_weight=2)
    with pytest.raises(ValueError, match="empty corpus"):
        Retriever(plain_analyzer()).fit([])
    with pytest.raises(ValueError, match="k must be"):
        Retriever(plain_analyzer()).fit(entries()).search("x", k=0)


def test_query_vector_matches_scikit_learn(bot) -> None:  # type: ignore[no-untyped-def]
    retriever = Retriever(bot.analyzer).fit(bot.corpus.entries)
    for question in ("when can i drive after kyphoplasty", "stint in my leg", "zzzz qqqq",
                     "a b", "y90 and tace"):
        prepared = _strip_stop_words(bot.analyzer.prepare(question))
        for vectorizer, features in ((retriever.word_vectorizer_, retriever.word_features_),
                                     (retriever.char_vectorizer_, retriever.char_features_)):
            assert features.analyze(prepared) == vectorizer.build_analyzer()(prepared)
            reference = vectorizer.transform([prepared]).toarray().ravel()
            vector = QueryVector.of(features, prepared)
            mine = np.zeros_like(reference)
            mine[vector.indices] = vector.values
            np.testing.assert_allclose(mine, reference, atol=1e-6)


def test_procedure_name_alone_is_not_evidence(bot) -> None:  # type: ignore[no-untyped-def]
    prepared = bot.analyzer.prepare("will my cat mind the smell after the kyphoplasty")
    assert not bot.retriever.shares_content(prepared, "vert-recovery-driving")
    prepared = bot.analyzer.prepare("when can i drive after the kyphoplasty")
    assert bot.retriever.shares_content(prepared, "vert-recovery-driving")


@pytest.mark.parametrize("limit", [0, 10_000_000])
def test_dot_matches_scipy_on_both_paths(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy import sparse

    import bot.query_vectors as vectors

    monkeypatch.setattr(vectors, "_GATHER_LIMIT", limit)
    rng = np.random.default_rng(0)
    matrix = sparse.random(300, 50, density=0.1, format="csr", random_state=1, dtype=np.float32)
    for _ in range(30):
        indices = np.unique(rng.integers(0, 300, size=rng.integers(1, 8)))
        values = rng.random(indices.size).astype(np.float32)
        expected = np.asarray(matrix[indices].T @ values).ravel()
        got = vectors.dot(QueryVector(indices, values), matrix)
        np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("ngrams", [(1, 1), (1, 2), (2, 3), (3, 5), (1, 4)])
def test_own_analyzers_equal_scikit_learn(ngrams: tuple[int, int]) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.query_vectors import Features

    texts = ["when can i drive", "a", "ab abc", "y90   tace  x", "", "one two three four five"]
    for kind in ("word", "char_wb"):
        options = {"token_pattern": r"(?u)\b\w+\b"} if kind == "word" else {}
        vectorizer = TfidfVectorizer(analyzer=kind, ngram_range=ngrams, lowercase=False,
                                     **options).fit(texts[:1] + texts[2:])
        features = Features.of(vectorizer, kind, ngrams)
        for text in texts:
            assert features.analyze(text) == vectorizer.build_analyzer()(text), (kind, text)


def test_stop_word_copy_equals_scikit_learn() -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as theirs

    from bot.stopwords import ENGLISH_STOP_WORDS as ours

    assert ours == theirs
