"""GET /api/v1/starters: the questions an empty chat offers (issue 20, item 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.corpus import load_corpus
from bot.web.starters import GENERAL, MAX_STARTERS, MIN_STARTERS
from tests.test_server import make_app, response_schema

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def english() -> Any:
    return load_corpus(CORPUS)


@pytest.fixture
async def client(aiohttp_client, tmp_path):  # type: ignore[no-untyped-def]
    app, _ = make_app(tmp_path)
    return await aiohttp_client(app)


async def get(client: Any, query: str) -> dict[str, Any]:
    res = await client.get("/api/v1/starters" + query)
    assert res.status == 200
    body = await res.json()
    jsonschema.validate(body, response_schema("/api/v1/starters", "get", "200"))
    return body


async def test_general_starters_are_the_chosen_corpus_questions(client, english) -> None:  # type: ignore[no-untyped-def]
    body = await get(client, "")
    assert body["procedure"] == "general" and body["language"] == "en"
    by_id = english.by_id
    assert [q["faq_id"] for q in body["questions"]] == list(GENERAL)
    for q in body["questions"]:
        assert q["question"] == by_id[q["faq_id"]].question


async def test_a_procedure_gets_its_own_questions_one_per_topic(client, english) -> None:  # type: ignore[no-untyped-def]
    body = await get(client, "?procedure=ivc-filter")
    assert body["procedure"] == "ivc-filter"
    assert MIN_STARTERS <= len(body["questions"]) <= MAX_STARTERS
    entries = [english.by_id[q["faq_id"]] for q in body["questions"]]
    assert {e.procedure for e in entries} == {"ivc-filter"}
    topics = [e.topic for e in entries]
    assert topics[:2] == ["overview", "preparation"] and len(set(topics)) == len(topics)


async def test_spanish_starters_are_the_twins_questions(client) -> None:  # type: ignore[no-untyped-def]
    english = await get(client, "?procedure=vertebroplasty-kyphoplasty&language=en")
    spanish = await get(client, "?procedure=vertebroplasty-kyphoplasty&language=es")
    assert spanish["language"] == "es"
    assert [q["faq_id"] for q in spanish["questions"]] == [
        q["faq_id"] for q in english["questions"]]
    es_text = " ".join(q["question"] for q in spanish["questions"])
    en_text = " ".join(q["question"] for q in english["questions"])
    assert es_text != en_text and "¿" in es_text


async def test_unknown_procedure_falls_back_to_general_and_bad_language_is_refused(
        client) -> None:  # type: ignore[no-untyped-def]
    body = await get(client, "?procedure=<script>")
    assert body["procedure"] == "general" and len(body["questions"]) >= MIN_STARTERS
    res = await client.get("/api/v1/starters?language=fr")
    assert res.status == 400
    assert "language" in (await res.json())["error"]
