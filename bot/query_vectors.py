"""A query as a sparse vector, and its products with the index's matrices.

Queries are vectorised without scikit-learn (its analyzers re-implemented;
tests check them equal) and multiplied with scipy's compiled kernels,
skipping its per-call checks; at 47k rows the commonest character n-grams
are left out of the product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

# The compiled kernels behind scipy's own row selection and sparse-vector
# product, called directly: for a one-line query scipy's per-call checks and
# object building cost more than the arithmetic. Same kernels, same order of
# additions, so the scores are bit-for-bit those of `matrix[rows].T @ values`.
from scipy.sparse import _sparsetools

TOKEN = re.compile(r"(?u)\b\w+\b")
_SPACES = re.compile(r"\s\s+")


@dataclass(frozen=True)
class Features:
    """A fitted vectorizer's vocabulary and idf, with its analyzer re-implemented
    (scikit-learn's word and char_wb n-grams, checked equal in the tests), so
    queries are vectorised without scikit-learn."""

    kind: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: np.ndarray

    @classmethod
    def of(cls, vectorizer: Any, kind: str, ngram_range: tuple[int, int]) -> Features:
        return cls(kind, tuple(ngram_range),  # type: ignore[arg-type]
                   {str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
                   np.asarray(vectorizer.idf_, dtype=np.float64))

    def analyze(self, text: str) -> list[str]:
        low, high = self.ngram_range
        if self.kind == "word":
            tokens = TOKEN.findall(text)
            grams = list(tokens) if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
            return grams
        grams = []
        for word in _SPACES.sub(" ", text).split():
            padded = f" {word} "
            for n in range(low, high + 1):
                offset = 0
                grams.append(padded[offset:offset + n])
                while offset + n < len(padded):
                    offset += 1
                    grams.append(padded[offset:offset + n])
                if offset == 0:  # a short word counts once
                    break
        return grams


class QueryVector:
    """A query's TF-IDF weights, computed as `TfidfVectorizer.transform` does
    (sublinear tf, idf, L2 norm) without its per-call input validation, which
    costs more than the arithmetic for a one-line query."""

    __slots__ = ("indices", "values")

    def __init__(self, indices: np.ndarray, values: np.ndarray) -> None:
        self.indices = indices
        self.values = values

    @classmethod
    def of(cls, features: Features, text: str) -> QueryVector:
        vocabulary = features.vocabulary
        counts: dict[int, int] = {}
        for feature in features.analyze(text):
            column = vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
        indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf)) * features.idf[indices]
        values /= np.linalg.norm(values)
        return cls(indices, values.astype(np.float32))


PRUNE_FROM_ROWS = 20_000
COMMON_CHAR_SHARE = 0.02


def without_common(vector: QueryVector, matrix_t: sparse.csr_matrix) -> QueryVector:
    lengths = matrix_t.indptr[vector.indices + 1] - matrix_t.indptr[vector.indices]
    kept = lengths <= COMMON_CHAR_SHARE * matrix_t.shape[1]
    if kept.all():
        return vector
    return QueryVector(vector.indices[kept], vector.values[kept])



_GATHER_LIMIT = 20_000


def dot(query: QueryVector, matrix_t: sparse.csr_matrix) -> np.ndarray:
    """Similarity of the query with every column of a (features x rows) matrix.

    Gathers the stored values of the query's feature rows (scipy's compiled
    row selection) and sums them per column with `bincount`: the same sum as
    `matrix_t[indices].T @ values`, without scipy's per-call index checks.
    """
    columns = matrix_t.shape[1]
    if query.indices.size == 0:
        return np.zeros(columns)
    gathered = _gather(matrix_t, query.indices)
    if gathered is None:  # index arrays of mixed types: scipy's own path
        return _dot_scipy(query, matrix_t)
    indptr, indices, data = gathered
    total = int(indptr[-1])
    if total == 0:
        return np.zeros(columns)
    if total > _GATHER_LIMIT:
        # Long posting lists (character n-grams): scipy's compiled product,
        # the one `matrix_t[indices].T @ values` runs, with its float32 sums.
        product = _matvec(columns, indptr, indices, data, query.values)
        return product if product is not None else _dot_scipy(query, matrix_t)
    weights = data * np.repeat(query.values, np.diff(indptr))
    return np.bincount(indices, weights=weights, minlength=columns)


def _dot_scipy(query: QueryVector, matrix_t: sparse.csr_matrix) -> np.ndarray:
    return np.asarray(matrix_t[query.indices].T @ query.values).ravel()


def _gather(matrix_t: sparse.csr_matrix, rows: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The CSR arrays of `matrix_t[rows]` (rows in the order given)."""
    indptr = matrix_t.indptr
    if matrix_t.indices.dtype != indptr.dtype:
        return None
    rows = rows.astype(indptr.dtype, copy=False)
    sub_indptr = np.zeros(len(rows) + 1, dtype=indptr.dtype)
    np.cumsum(indptr[rows + 1] - indptr[rows], out=sub_indptr[1:])
    total = int(sub_indptr[-1])
    indices = np.empty(total, dtype=indptr.dtype)
    data = np.empty(total, dtype=matrix_t.data.dtype)
    _sparsetools.csr_row_index(len(rows), rows, indptr, matrix_t.indices, matrix_t.data,
                               indices, data)
    return sub_indptr, indices, data


def _matvec(columns: int, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
            values: np.ndarray) -> np.ndarray | None:
    """`(rows x columns CSR).T @ values`, as scipy computes it (csc_matvec)."""
    if data.dtype != values.dtype:
        return None
    result = np.zeros(columns, dtype=data.dtype)
    _sparsetools.csc_matvec(columns, len(indptr) - 1, indptr, indices, data, values, result)
    return result


def product_of(matrix_t: sparse.csr_matrix, rows: np.ndarray, values: np.ndarray
             ) -> np.ndarray | None:
    """`matrix_t[rows].T @ values` through the compiled kernels, or None
    when the arrays' types need scipy's own conversions."""
    gathered = _gather(matrix_t, rows)
    if gathered is None:
        return None
    return _matvec(matrix_t.shape[1], *gathered, values)
