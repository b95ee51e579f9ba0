"""The built index on disk, keyed by a hash of everything it was built from.

Building the index means reading every phrasing and answer and fitting two
vectorizers: about half a second for the bundled corpus and ten seconds for
a 47,000-entry one. A server that starts again with the same corpus, lexicon
and index settings loads the saved arrays instead, without importing
scikit-learn. Any change to the corpus (staff teaching included) or to
`synonyms.yaml` gives a new key, so a stale index is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

from scipy import sparse

from .analysis import Analyzer
from .corpus import Corpus
from .retriever import Retriever

FORMAT = 2  # 2: BM25 weights beside the TF-IDF matrices
KEEP = 5
log = logging.getLogger("faqbot.index")


def cache_key(corpus: Corpus, params: dict[str, object]) -> str:
    lexicon = corpus.lexicon
    digest = hashlib.sha256()
    digest.update(json.dumps({
        "format": FORMAT,
        "entries": [(e.id, e.question, e.alternates, e.answer) for e in corpus.entries],
        "replace": sorted(lexicon.replace.mapping.items()),
        "procedures": sorted((k, list(v)) for k, v in lexicon.procedure_terms.items()),
        "params": params,
    }, sort_keys=True, default=list).encode())
    return digest.hexdigest()[:24]


def load_or_build(corpus: Corpus, directory: Path | None) -> tuple[Analyzer, Retriever]:
    """The analyzer and fitted retriever for `corpus`, from `directory` when saved there."""
    if directory is None:
        return _build(corpus)
    key = cache_key(corpus, Retriever(Analyzer(corpus.lexicon, ())).params())
    loaded = _load(directory / key, corpus)
    if loaded is not None:
        return loaded
    analyzer, retriever = _build(corpus)
    try:
        _save(directory, key, analyzer, retriever)
    except OSError as exc:  # a read-only disk must not stop the server
        log.warning("could not save the index cache in %s: %s", directory, exc)
    return analyzer, retriever


def _build(corpus: Corpus) -> tuple[Analyzer, Retriever]:
    analyzer = Analyzer(
        corpus.lexicon, [text for e in corpus.entries for text in (*e.phrasings(), e.answer)])
    return analyzer, Retriever(analyzer).fit(corpus.entries)


def _load(path: Path, corpus: Corpus) -> tuple[Analyzer, Retriever] | None:
    try:
        data = json.loads((path / "index.json").read_text(encoding="utf-8"))
        matrices = {name: sparse.load_npz(path / f"{name}.npz").tocsr()
                    for name in data["matrices"]}
        analyzer = Analyzer.from_counts(corpus.lexicon, Counter(data["vocabulary"]))
        retriever = Retriever.from_state(analyzer, matrices, data["retriever"])
    except (OSError, ValueError, KeyError) as exc:
        if path.exists():
            log.warning("ignoring an unreadable index cache %s: %s", path, exc)
        return None
    if retriever.entry_ids_ != [e.id for e in corpus.entries]:
        return None
    os.utime(path)  # recently used caches are the ones kept
    return analyzer, retriever


def _save(directory: Path, key: str, analyzer: Analyzer, retriever: Retriever) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{key}.{os.getpid()}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    matrices, state = retriever.to_state()
    for name, matrix in matrices.items():
        sparse.save_npz(temporary / f"{name}.npz", matrix, compressed=False)
    (temporary / "index.json").write_text(json.dumps({
        "matrices": sorted(matrices),
        "vocabulary": dict(analyzer.speller.vocabulary),
        "retriever": state,
    }), encoding="utf-8")
    try:
        os.replace(temporary, directory / key)
    except OSError:  # another process saved the same index first
        shutil.rmtree(temporary, ignore_errors=True)
    _prune(directory)


def _prune(directory: Path) -> None:
    saved = sorted((p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for old in saved[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
