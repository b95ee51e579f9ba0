"""The candidates for a message: TF-IDF's best, lifted for the procedure in
context, with BM25's best three added, described by the ranker's features
and scored by it."""

from __future__ import annotations

import numpy as np

from .domain import Match
from .index import Index
from .policy import rerank
from .ranker import CANDIDATES, Context, RankerModel


def shortlist(index: Index, prepared: str, context: Context,
              context_boost: float) -> tuple[np.ndarray, list[Match]]:
    """Feature rows and the candidates they describe: TF-IDF's best, lifted
    for the procedure in context, with BM25's best three added."""
    entries, retriever = index.entries, index.retriever
    procedure = context.named[0] if context.named else context.remembered
    # A wide net, so the procedure under discussion can lift its own entries.
    raw = retriever.search_prepared(prepared, k=50)
    raw_scores = {m.faq_id: m.score for m in raw}
    boosted = rerank(raw, entries, procedure, context_boost,
                     named=bool(context.named))[:CANDIDATES]
    bm25 = retriever.bm25(prepared)
    seen = {m.faq_id for m in boosted}
    extra = [Match(retriever.entry_ids_[i], raw_scores.get(retriever.entry_ids_[i], 0.0))
             for i in np.argsort(-bm25, kind="stable")[:3]
             if bm25[i] > 0 and retriever.entry_ids_[i] not in seen]
    if extra:
        boosted = boosted[:CANDIDATES - len(extra)] + extra
    if not boosted:
        return np.zeros((0, 0)), []
    rows = index.featurizer.features(prepared, boosted, raw_scores, context, bm25)
    return rows, boosted


def scored_candidates(index: Index, ranker: RankerModel, text: str, context: Context,
                      context_boost: float) -> list[Match]:
    """The shortlist, each candidate scored with the probability that it is
    the one that answers the message, most likely first."""
    rows, boosted = shortlist(index, index.analyzer.prepare(text), context, context_boost)
    if not boosted:
        return []
    probabilities = ranker.probabilities(rows)
    scored = [Match(m.faq_id, float(p)) for m, p in zip(boosted, probabilities, strict=True)]
    return sorted(scored, key=lambda m: (-m.score, m.faq_id))
