"""TF-IDF retrieval over each entry's phrasings, with a small weight on answers.

Follows scikit-learn's conventions: `__init__` stores parameters, `fit`
learns and returns self, learned attributes end in an underscore. No
thresholds and no replies here: only ranked matches.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

# The compiled kernels behind scipy's own row selection and sparse-vector
# product, called directly: for a one-line query scipy's per-call checks and
# object building cost more than the arithmetic. Same kernels, same order of
# additions, so the scores are bit-for-bit those of `matrix[rows].T @ values`.
from .analysis import Analyzer
from .domain import FaqEntry, Match
from .query_vectors import (
    PRUNE_FROM_ROWS,
    TOKEN,
    Features,
    QueryVector,
    dot,
    product_of,
    without_common,
)
from .stopwords import ENGLISH_STOP_WORDS

# Words that carry meaning for patients although sklearn lists them as stop words.
_KEEP = {"back", "after", "before", "during", "not", "no", "long", "first", "off", "eat",
         "bottom", "front", "side", "few", "more", "less", "full", "up", "down"}
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS - _KEEP)
# Kept for ranking, but too common to count as evidence that an entry is about
# what the patient asked.
_WEAK_WORDS = frozenset(_KEEP | {
    "ok", "okay", "soon", "time", "day", "days", "week", "weeks", "month", "months", "get",
    "go", "going", "need", "want", "know", "like", "really", "normal", "just", "will", "did",
    "does", "doing", "done", "having", "had", "mother", "father", "husband", "wife", "son",
    "daughter", "define", "procedure", "hospital", "doctor", "today", "tomorrow", "yesterday",
    "think", "ask", "tell", "say", "said", "make", "let", "safe", "bad", "good", "long",
})


def _strip_stop_words(prepared: str) -> str:
    return " ".join(w for w in prepared.split() if w not in STOP_WORDS)


class Retriever:
    """Ranks FAQ entries for a query.

    Each phrasing (question or alternate) is a row. A row scores the weighted
    sum of its word-n-gram and character-n-gram cosine similarities with the
    query; an entry scores its best row, blended with its answer's similarity.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        *,
        char_weight: float = 0.7,
        answer_weight: float = 0.1,
        entry_weight: float = 0.85,

        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (3, 5),
    ) -> None:
        weights = (("char_weight", char_weight), ("answer_weight", answer_weight),
                   ("entry_weight", entry_weight))
        for name, value in weights:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        self.analyzer = analyzer
        self.char_weight = char_weight
        self.answer_weight = answer_weight
        self.entry_weight = entry_weight
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        # The last query's similarities: `scores` (to shortlist) and
        # `components` (to describe the shortlist) ask for the same products.
        self._recent: _Parts | None = None

    def fit(self, entries: Sequence[FaqEntry]) -> Retriever:
        if not entries:
            raise ValueError("cannot fit a retriever on an empty corpus")
        prepare = self.analyzer.prepare
        self._recent = None
        rows: list[str] = []
        row_entry: list[int] = []
        for index, entry in enumerate(entries):
            for phrasing in entry.phrasings():
                rows.append(_strip_stop_words(prepare(phrasing)))
                row_entry.append(index)
        answers = [_strip_stop_words(prepare(e.answer)) for e in entries]
        # All phrasings of an entry together: one short alternate ("what is
        # tace") cannot then stand for the entry on its own.
        merged: list[list[str]] = [[] for _ in entries]
        for row, index in zip(rows, row_entry, strict=True):
            merged[index].append(row)
        entry_docs = [" ".join(parts) for parts in merged]

        # Imported here: serving a cached index (see `index_cache.py`) needs no
        # scikit-learn, which takes most of a second to import.
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.word_vectorizer_ = TfidfVectorizer(
            ngram_range=self.word_ngrams, sublinear_tf=True, lowercase=False,
            token_pattern=r"(?u)\b\w+\b", dtype=np.float32,
        )
        self.char_vectorizer_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True,
            lowercase=False, dtype=np.float32, min_df=1,
        )
        # Procedure names, so the engine can tell a bare "and for a biopsy?" apart.
        self.procedure_words_ = frozenset(
            w for terms in self.analyzer.lexicon.procedure_terms.values()
            for term in terms for w in term.split()
        )
        self.word_matrix_ = self.word_vectorizer_.fit_transform(rows).T.tocsr()
        self.char_matrix_ = self.char_vectorizer_.fit_transform(rows).T.tocsr()
        # Each entry's own words, to check that an answer shares more with the
        # question than a procedure name (see `shares_content`).
        self.entry_words_ = [
            frozenset(self._without_procedure_words(doc).split()) for doc in entry_docs
        ]
        self.entry_index_ = {e.id: i for i, e in enumerate(entries)}
        # With one phrasing per entry (an imported corpus), entry and row are the same.
        self.single_rows_ = len(rows) == len(entries)
        if not self.single_rows_:
            self.entry_word_matrix_ = self.word_vectorizer_.transform(entry_docs).T.tocsr()
            self.entry_char_matrix_ = self.char_vectorizer_.transform(entry_docs).T.tocsr()
        has_answers = any(answers)
        self.answer_matrix_ = (
            self.word_vectorizer_.transform(answers).T.tocsr() if has_answers else None
        )
        self.row_entry_ = np.asarray(row_entry, dtype=np.int64)
        # Rows of one entry are contiguous, so a segment maximum gives each entry's best row.
        self.segment_starts_ = np.flatnonzero(np.r_[True, np.diff(self.row_entry_) != 0])
        self.entry_ids_ = [e.id for e in entries]
        # Okapi BM25 over each entry's phrasings, stop words kept: a second
        # opinion for the re-ranker, which weighs it against TF-IDF.
        bm25_docs = [" ".join(prepare(p) for p in entry.phrasings()) for entry in entries]
        self.bm25_matrix_, self.bm25_vocabulary_ = _bm25(bm25_docs)
        self.word_features_ = Features.of(self.word_vectorizer_, "word", self.word_ngrams)
        self.char_features_ = Features.of(self.char_vectorizer_, "char_wb", self.char_ngrams)
        return self

    # ------------------------------------------------------- saving a fitted index

    _MATRICES = ("word_matrix_", "char_matrix_", "entry_word_matrix_", "entry_char_matrix_",
                 "answer_matrix_", "bm25_matrix_")

    def params(self) -> dict[str, Any]:
        return {"char_weight": self.char_weight, "answer_weight": self.answer_weight,
                "entry_weight": self.entry_weight, "word_ngrams": list(self.word_ngrams),
                "char_ngrams": list(self.char_ngrams)}

    def to_state(self) -> tuple[dict[str, sparse.csr_matrix], dict[str, Any]]:
        """The fitted index as sparse matrices plus JSON-ready data."""
        matrices = {name: getattr(self, name) for name in self._MATRICES
                    if getattr(self, name, None) is not None}
        data = {
            "params": self.params(),
            "entry_ids": self.entry_ids_,
            "row_entry": self.row_entry_.tolist(),
            "entry_words": [sorted(words) for words in self.entry_words_],
            "procedure_words": sorted(self.procedure_words_),
            "bm25_vocabulary": self.bm25_vocabulary_,
            "features": {name: {"kind": f.kind, "ngram_range": list(f.ngram_range),
                                "vocabulary": f.vocabulary, "idf": f.idf.tolist()}
                         for name, f in (("word", self.word_features_),
                                         ("char", self.char_features_))},
        }
        return matrices, data

    @classmethod
    def from_state(cls, analyzer: Analyzer, matrices: dict[str, sparse.csr_matrix],
                   data: dict[str, Any]) -> Retriever:
        params = dict(data["params"])
        params["word_ngrams"] = tuple(params["word_ngrams"])
        params["char_ngrams"] = tuple(params["char_ngrams"])
        retriever = cls(analyzer, **params)
        for name in cls._MATRICES:
            setattr(retriever, name, matrices.get(name))
        retriever.entry_ids_ = list(data["entry_ids"])
        retriever.entry_index_ = {faq_id: i for i, faq_id in enumerate(retriever.entry_ids_)}
        retriever.row_entry_ = np.asarray(data["row_entry"], dtype=np.int64)
        retriever.segment_starts_ = np.flatnonzero(
            np.r_[True, np.diff(retriever.row_entry_) != 0])
        retriever.single_rows_ = len(retriever.row_entry_) == len(retriever.entry_ids_)
        retriever.entry_words_ = [frozenset(words) for words in data["entry_words"]]
        retriever.procedure_words_ = frozenset(data["procedure_words"])
        retriever.bm25_vocabulary_ = {str(k): int(v) for k, v in data["bm25_vocabulary"].items()}
        word, char = data["features"]["word"], data["features"]["char"]
        retriever.word_features_ = Features(word["kind"], tuple(word["ngram_range"]),
                                            word["vocabulary"], np.asarray(word["idf"]))
        retriever.char_features_ = Features(char["kind"], tuple(char["ngram_range"]),
                                            char["vocabulary"], np.asarray(char["idf"]))
        return retriever

    def search(self, text: str, k: int = 5) -> list[Match]:
        return self.search_prepared(self.analyzer.prepare(text), k)

    def search_prepared(self, prepared: str, k: int = 5) -> list[Match]:
        """`search` for text already passed through `Analyzer.prepare`."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k!r}")
        query = _strip_stop_words(prepared)
        if not query:
            return []
        scores = self.scores(query)
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        return [Match(self.entry_ids_[i], float(scores[i])) for i in top if scores[i] > 0]

    def shares_content(self, prepared: str, faq_id: str) -> bool:
        """True when the question has no content words beyond procedure names, or
        one of them (or a word of the same stem) appears in the entry's phrasings."""
        words = self.content_words(prepared)
        if not words:
            return True
        own = self.entry_words_[self.entry_index_[faq_id]]
        return any(_related(w, v) for w in words for v in own)

    def content_words(self, prepared: str) -> list[str]:
        """Words of a prepared query other than stop words, procedure names and
        words too common in patients' questions to show what is asked."""
        return [w for w in self._without_procedure_words(_strip_stop_words(prepared)).split()
                if w not in _WEAK_WORDS]

    def _without_procedure_words(self, prepared: str) -> str:
        return " ".join(w for w in prepared.split() if w not in self.procedure_words_)

    def _parts(self, query: str) -> _Parts:
        parts = self._recent
        if parts is None or parts.query != query:
            parts = _Parts(self, query)
            self._recent = parts
        return parts

    def scores(self, prepared_query: str) -> np.ndarray:
        """Score of every entry for an already prepared, stop-word-free query."""
        parts = self._parts(prepared_query)
        row_scores = (1.0 - self.char_weight) * parts.dot("word")
        row_scores += self.char_weight * parts.dot("char")
        if self.single_rows_:
            entry_scores = row_scores
        else:
            entry_scores = np.maximum.reduceat(row_scores, self.segment_starts_)
        if self.entry_weight and not self.single_rows_:
            whole = (1.0 - self.char_weight) * parts.dot("entry_word")
            whole += self.char_weight * parts.dot("entry_char")
            entry_scores = (1.0 - self.entry_weight) * entry_scores + self.entry_weight * whole
        if self.answer_matrix_ is not None and self.answer_weight:
            # In place (entry_scores is always a new array here): the same
            # products and sum as (1 - w) * scores + w * answer, fewer copies.
            entry_scores *= 1.0 - self.answer_weight
            entry_scores += self.answer_weight * parts.dot("answer")
        return entry_scores

    def components(self, prepared_query: str, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """The parts of `scores` for some entries, as features for a re-ranker.

        Word and character similarity of the best phrasing and of all
        phrasings together, and word similarity with the answer.
        """
        query = _strip_stop_words(prepared_query)
        picked = np.asarray(indices, dtype=np.int64)
        zeros = np.zeros(len(picked), dtype=np.float32)
        if not query or not len(picked):
            return {name: zeros for name in _COMPONENTS}
        parts = self._parts(query)
        word_rows = parts.dot("word")
        char_rows = parts.dot("char")
        if self.single_rows_:
            word_best, char_best = word_rows, char_rows
            whole_word, whole_char = word_rows, char_rows
        else:
            word_best = np.maximum.reduceat(word_rows, self.segment_starts_)
            char_best = np.maximum.reduceat(char_rows, self.segment_starts_)
            whole_word = parts.dot("entry_word")
            whole_char = parts.dot("entry_char")
        answer = (parts.dot("answer") if self.answer_matrix_ is not None
                  else np.zeros_like(word_best))
        return {"word_best": word_best[picked], "char_best": char_best[picked],
                "word_whole": whole_word[picked], "char_whole": whole_char[picked],
                "answer_word": answer[picked]}

    def bm25(self, prepared_query: str) -> np.ndarray:
        """Okapi BM25 of every entry for a prepared query (stop words kept)."""
        rows = [self.bm25_vocabulary_[w] for w in TOKEN.findall(prepared_query)
                if w in self.bm25_vocabulary_]
        if not rows:
            return np.zeros(len(self.entry_ids_), dtype=np.float32)
        counts = np.bincount(rows, minlength=self.bm25_matrix_.shape[0]).astype(np.float32)
        picked = np.flatnonzero(counts)
        product = product_of(self.bm25_matrix_, picked, counts[picked])
        if product is None:
            return np.asarray(self.bm25_matrix_[picked].T @ counts[picked]).ravel()
        return product

    def index_of(self, faq_id: str) -> int:
        return self.entry_index_[faq_id]

    def words_of(self, faq_id: str) -> frozenset[str]:
        """The entry's own words, procedure names left out."""
        return self.entry_words_[self.entry_index_[faq_id]]


_COMPONENTS = ("word_best", "char_best", "word_whole", "char_whole", "answer_word")


def _bm25(documents: list[str], k1: float = 1.5, b: float = 0.75
          ) -> tuple[sparse.csr_matrix, dict[str, int]]:
    """Term-by-entry BM25 weights (rank_bm25's Okapi formula, its idf floor
    included), so a query scores every entry with one sparse product."""
    vocabulary: dict[str, int] = {}
    columns, rows, counts = [], [], []
    lengths = []
    for doc_index, doc in enumerate(documents):
        words = TOKEN.findall(doc)
        lengths.append(len(words))
        tf: dict[int, int] = {}
        for word in words:
            term = vocabulary.setdefault(word, len(vocabulary))
            tf[term] = tf.get(term, 0) + 1
        for term, count in tf.items():
            rows.append(term)
            columns.append(doc_index)
            counts.append(count)
    n_docs = len(documents)
    tf_matrix = sparse.csr_matrix((np.asarray(counts, dtype=np.float64), (rows, columns)),
                                  shape=(len(vocabulary), n_docs))
    doc_freq = np.diff(tf_matrix.indptr)
    idf = np.log((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
    floor = 0.25 * idf.mean() if len(idf) else 0.0
    idf[idf < 0] = floor
    length = np.asarray(lengths, dtype=np.float64)
    norm = k1 * (1 - b + b * length / (length.mean() or 1.0))
    coo = tf_matrix.tocoo()
    weights = idf[coo.row] * coo.data * (k1 + 1) / (coo.data + norm[coo.col])
    matrix = sparse.csr_matrix((weights.astype(np.float32), (coo.row, coo.col)),
                               shape=tf_matrix.shape)
    return matrix, vocabulary


def _related(a: str, b: str) -> bool:
    """Same word, or plausibly the same stem ("drive", "driving")."""
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) >= 4 and longer.startswith(shorter):
        return True
    return len(os.path.commonprefix((a, b))) >= 5


_PART_MATRICES = {"word": "word_matrix_", "char": "char_matrix_",
                  "entry_word": "entry_word_matrix_", "entry_char": "entry_char_matrix_",
                  "answer": "answer_matrix_"}


class _Parts:
    """One query's vectors and, as they are asked for, its similarity with
    each matrix's rows; shared by `scores` and `components`."""

    __slots__ = ("query", "_retriever", "_word", "_char", "_dots")

    def __init__(self, retriever: Retriever, query: str) -> None:
        self.query = query
        self._retriever = retriever
        self._word = QueryVector.of(retriever.word_features_, query)
        self._char = QueryVector.of(retriever.char_features_, query)
        self._dots: dict[str, np.ndarray] = {}

    def dot(self, name: str) -> np.ndarray:
        found = self._dots.get(name)
        if found is None:
            matrix = getattr(self._retriever, _PART_MATRICES[name])
            vector = self._char if name.endswith("char") else self._word
            if vector is self._char and matrix.shape[1] >= PRUNE_FROM_ROWS:
                vector = without_common(vector, matrix)
            found = dot(vector, matrix)
            self._dots[name] = found
        return found


# From this many rows (a large imported corpus; the bundled one has about
# 4,000) a query's character n-grams found in more than COMMON_CHAR_SHARE of
# the rows are left out of the product. They carry the lowest idf, so little
# of any score, but nine tenths of the stored values a query reads at 47,000
# entries (" th", "ing", "tio"). The rest keep their weights (the query
# vector is normalised before), so a score is the full one minus those
# n-grams' small part. Word n-grams and smaller corpora are scored in full.
