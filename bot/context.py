"""What the conversation adds to a message: the procedure named or
remembered, and a follow-up ("and for a kyphoplasty?", "does it hurt?")
read as the question it stands for."""

from __future__ import annotations

from collections.abc import Sequence

from .domain import SessionState
from .index import Index
from .ranker import Context


def in_context(text: str, prepared: str, named: Sequence[str], state: SessionState,
               index: Index) -> tuple[str, Context]:
    """The question as the conversation means it, and what it says of the procedure."""
    analyzer, retriever = index.analyzer, index.retriever
    if named and state.last_query and _asks_again_for(prepared, retriever.content_words(
            prepared)) and named[0] != state.procedure:
        # "and for a kyphoplasty?": the earlier question, about the newly
        # named procedure; the old procedure's name is left behind.
        earlier = analyzer.prepare(state.last_query)
        kept = " ".join(w for w in earlier.split() if w not in retriever.procedure_words_)
        return f"{kept} {prepared}", Context(named=tuple(named))
    if named:
        return text, Context(named=tuple(named))
    if state.procedure:
        # "does it hurt?", "and driving?": about the procedure under discussion.
        terms = analyzer.lexicon.procedure_terms.get(state.procedure, ())
        query = f"{text} {terms[0]}" if terms else text
        return query, Context(remembered=state.procedure)
    return text, Context()


_FOLLOW_UP_OPENINGS = ("and ", "what about ", "how about ", "same for ", "same with ",
                       "for ", "what if it is ", "and what about ",
                       "y ", "y para ", "y en ", "y con ", "que tal ", "y si ", "para ")
# Spanish function words, which the English stop-word list does not know.
_SPANISH_FUNCTION = frozenset(
    "y o de la el los las un una unos unas para por con en del al que mi su es si".split())


def _asks_again_for(prepared: str, content: list[str]) -> bool:
    """"and for a kyphoplasty?", "what about after an embolization": the last
    question again, for another procedure."""
    content = [w for w in content if w not in _SPANISH_FUNCTION]
    if not content:
        return True
    return len(content) <= 1 and prepared.startswith(_FOLLOW_UP_OPENINGS)
