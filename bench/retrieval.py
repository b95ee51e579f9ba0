"""Retrieval benchmark: our TF-IDF retriever against bm25s and rank_bm25.

For each corpus size (the first N lines of medquad.jsonl) and each engine, a
fresh subprocess builds the index and runs a fixed query set, so every peak
RSS figure starts from a clean interpreter:

    python bench/retrieval.py --one 10000 --engine faqbot   # one JSON object
    python bench/retrieval.py                                # every size and engine

Queries are questions drawn from the indexed entries with a fixed seed and
perturbed the way patients type: lower-cased, one word dropped and/or one typo.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path("/work/shared/data/medquad.jsonl")
SIZES = (1000, 5000, 10000, 0)  # 0: every line (47,441)
ENGINES = ("faqbot", "bm25s", "rank_bm25")
QUERIES = 300
SEED = 20240611
WARMUP = 10
K = 5
# rank_bm25 scores every document in Python for every query token: at 10k
# entries and above a query takes tens of milliseconds, so it gets fewer queries.
RANK_BM25_QUERIES = {1000: 300, 5000: 300, 10000: 150}
RANK_BM25_QUERIES_LARGE = 100


# ------------------------------------------------------------------ data


def read_lines(n: int) -> list[dict]:
    rows = []
    with DATA.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            rows.append(json.loads(line))
            if n and len(rows) >= n:
                break
    return rows


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "sub", "double"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioustnr") + word[i + 1:]


def perturb(question: str, rng: random.Random) -> str:
    words = question.lower().replace("?", " ").split()
    mode = rng.choice(("drop", "typo", "both", "lower"))
    if mode in ("drop", "both") and len(words) > 3:
        del words[rng.randrange(len(words))]
    if mode in ("typo", "both"):
        long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if long_words:
            i = rng.choice(long_words)
            words[i] = _typo(words[i], rng)
    return " ".join(words)


def read_questions(n: int) -> list[str]:
    return [row["question"] for row in read_lines(n)]


def query_set(questions: list[str], count: int = QUERIES) -> tuple[list[str], list[int], list[str]]:
    """Perturbed queries, the index of the entry each came from, and warm-up queries."""
    rng = random.Random(SEED)
    picks = rng.sample(range(len(questions)), min(count + WARMUP, len(questions)))
    # Warm-up queries are perturbed too, so one-off loads (pyspellchecker's
    # word list on the first unknown word) happen before the clock starts.
    warm = [perturb(questions[i], rng) for i in picks[:WARMUP]]
    sources = picks[WARMUP:]
    return [perturb(questions[i], rng) for i in sources], sources, warm


# --------------------------------------------------------------- engines


def _key(question: str) -> str:
    return " ".join(re.findall(r"\w+", question.lower()))


class Faqbot:
    name = "faqbot"

    def build(self, path: Path, n: int) -> dict:
        import sklearn.feature_extraction.text  # noqa: F401  (imported before timing, as

        # the baselines' libraries are: the build is measured, not the import)
        from bot.analysis import Analyzer
        from bot.corpus import load_corpus
        from bot.retriever import Retriever

        t0 = time.perf_counter()
        corpus = load_corpus(path)
        t1 = time.perf_counter()
        # What Bot.load_corpus does when no saved index matches (index_cache.py).
        analyzer = Analyzer(
            corpus.lexicon,
            [text for e in corpus.entries for text in (*e.phrasings(), e.answer)],
        )
        t2 = time.perf_counter()
        self.retriever = Retriever(analyzer).fit(corpus.entries)
        t3 = time.perf_counter()
        self.index_of = {e.id: i for i, e in enumerate(corpus.entries)}
        r = self.retriever
        # Whichever sparse matrices this version of the retriever keeps.
        nnz = sum(m.nnz for m in vars(r).values() if hasattr(m, "nnz"))
        return {"load_s": t1 - t0, "analyzer_s": t2 - t1, "fit_s": t3 - t2,
                "vocabulary_words": len(analyzer.speller.vocabulary),
                "word_features": len(r.word_vectorizer_.vocabulary_),
                "char_features": len(r.char_vectorizer_.vocabulary_), "matrix_nnz": nnz}

    def search(self, text: str) -> list[int]:
        return [self.index_of[m.faq_id] for m in self.retriever.search(text, K)]


def _doc_text(row: dict) -> str:
    # The baselines index question and answer together, one document an entry.
    return f"{row['question']} {row.get('answer') or ''}"


class Bm25s:
    name = "bm25s"

    def build(self, path: Path, n: int) -> dict:
        import bm25s

        self.bm25s = bm25s
        t0 = time.perf_counter()
        rows = read_lines(n)
        t1 = time.perf_counter()
        tokens = bm25s.tokenize([_doc_text(r) for r in rows], stopwords="en",
                                show_progress=False)
        self.model = bm25s.BM25()
        self.model.index(tokens, show_progress=False)
        t2 = time.perf_counter()
        return {"load_s": t1 - t0, "fit_s": t2 - t1, "vocabulary_words": len(tokens.vocab)}

    def search(self, text: str) -> list[int]:
        tokens = self.bm25s.tokenize(text, stopwords="en", return_ids=False,
                                     show_progress=False)
        if not tokens or not tokens[0]:
            return []
        k = min(K, self.model.scores["num_docs"])
        docs, _ = self.model.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        return [int(d) for d in docs[0]]


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


class RankBm25:
    name = "rank_bm25"

    def build(self, path: Path, n: int) -> dict:
        import numpy as np
        from rank_bm25 import BM25Okapi
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        self.np = np
        self.stop = ENGLISH_STOP_WORDS
        t0 = time.perf_counter()
        rows = read_lines(n)
        t1 = time.perf_counter()
        self.model = BM25Okapi([self.tokenize(_doc_text(r)) for r in rows])
        t2 = time.perf_counter()
        return {"load_s": t1 - t0, "fit_s": t2 - t1, "vocabulary_words": len(self.model.idf)}

    def tokenize(self, text: str) -> list[str]:
        return [w for w in _TOKEN.findall(text.lower()) if w not in self.stop]

    def search(self, text: str) -> list[int]:
        tokens = self.tokenize(text)
        if not tokens:
            return []
        scores = self.model.get_scores(tokens)
        k = min(K, scores.size)
        top = self.np.argpartition(-scores, k - 1)[:k]
        return [int(i) for i in top[self.np.argsort(-scores[top])]]


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_one(n: int, engine_name: str) -> dict:
    engine = {"faqbot": Faqbot, "bm25s": Bm25s, "rank_bm25": RankBm25}[engine_name]()
    questions = read_questions(n)
    queries, sources, warm = query_set(questions)
    if engine_name == "rank_bm25":
        limit = RANK_BM25_QUERIES.get(n, RANK_BM25_QUERIES_LARGE)
        queries, sources = queries[:limit], sources[:limit]
    keys = [_key(q) for q in questions]
    entries = len(questions)
    del questions
    with tempfile.TemporaryDirectory(prefix="faqbot-bench-") as tmp:
        # The first N lines, copied as they are: our loader reads a file.
        path = Path(tmp) / "medquad.jsonl"
        with DATA.open(encoding="utf-8") as source, path.open("w", encoding="utf-8") as out:
            written = 0
            for line in source:
                if line.strip():
                    out.write(line)
                    written += 1
                    if n and written >= n:
                        break
        gc.collect()
        # Imports first, so the memory figures are the index's and not the libraries'.
        if engine_name == "faqbot":
            import bot.engine  # noqa: F401
        elif engine_name == "bm25s":
            import bm25s  # noqa: F401
        else:
            import rank_bm25  # noqa: F401
            import sklearn.feature_extraction.text  # noqa: F401
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        info = engine.build(path, n)
        build_s = time.perf_counter() - t0
        gc.collect()
        rss_after = _rss_mib()
        peak = _peak_mib()

    for q in warm:
        engine.search(q)
    latencies: list[float] = []
    hits_id = hits_question = 0
    started = time.perf_counter()
    for q, source in zip(queries, sources, strict=True):
        t = time.perf_counter()
        found = engine.search(q)
        latencies.append((time.perf_counter() - t) * 1000)
        hits_id += source in found
        hits_question += any(keys[i] == keys[source] for i in found)
    total = time.perf_counter() - started
    return {
        "engine": engine_name, "n": entries, "build_s": build_s, **info,
        "rss_before_mib": rss_before, "rss_after_mib": rss_after,
        "retained_mib": rss_after - rss_before, "peak_rss_mib": peak,
        "peak_delta_mib": peak - rss_before,
        "queries": len(queries), "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90), "p99_ms": percentile(latencies, 99),
        "mean_ms": statistics.fmean(latencies), "max_ms": max(latencies),
        "qps": len(queries) / total,
        "recall_at_5": hits_id / len(queries),
        "question_at_5": hits_question / len(queries),
    }


def run_all(sizes=SIZES, engines=ENGINES) -> list[dict]:
    results = []
    for n in sizes:
        for engine in engines:
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--one", str(n),
                 "--engine", engine],
                capture_output=True, text=True, timeout=900,
            )
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(f"retrieval bench failed: n={n} engine={engine}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(result)
            print(f"  retrieval n={result['n']:>6} {engine:<9} build {result['build_s']:6.2f}s "
                  f"peak {result['peak_rss_mib']:6.0f} MiB p50 {result['p50_ms']:7.2f} ms "
                  f"p99 {result['p99_ms']:7.2f} ms {result['qps']:8.1f} q/s "
                  f"({time.perf_counter() - started:.0f}s)", file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, help="corpus size (0: all lines)")
    parser.add_argument("--engine", choices=ENGINES, default="faqbot")
    parser.add_argument("--sizes", help="comma-separated sizes for a full run (0: all)")
    parser.add_argument("--out", help="write the JSON list here (full run)")
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="with --one: measure the bot package found here, e.g. an "
                             "earlier commit unpacked by `git archive` (before/after runs)")
    args = parser.parse_args()
    if args.one is not None:
        sys.path.insert(0, str(args.tree))
        print(json.dumps(run_one(args.one, args.engine)))
        return
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else SIZES
    results = run_all(sizes)
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
