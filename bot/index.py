"""One language's searchable corpus: the corpus and everything built from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .analysis import Analyzer
from .corpus import Corpus
from .domain import FaqEntry
from .index_cache import load_or_build
from .ranker import Featurizer, TopicCues
from .retriever import Retriever


@dataclass(frozen=True)
class Index:
    """One language's corpus with everything built from it, swapped in whole."""

    corpus: Corpus
    analyzer: Analyzer
    retriever: Retriever
    featurizer: Featurizer

    @property
    def entries(self) -> dict[str, FaqEntry]:
        return self.corpus.by_id


def build_index(corpus: Corpus, cache: Path | None, cues: TopicCues) -> Index:
    """Build (or load from the cache) the index of one corpus."""
    analyzer, retriever = load_or_build(corpus, cache)
    return Index(corpus, analyzer, retriever, Featurizer(corpus.entries, retriever, cues))
