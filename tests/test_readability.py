"""`faqbot validate`'s reading-level rules, on answers of our own."""

from __future__ import annotations

from bot.domain import FaqEntry
from bot.readability import ease, grade, reading_problems

PLAIN = "You can shower the next day. Keep the spot dry for two days. Call us if it bleeds."
HARD = ("Postprocedural haemostatic complications necessitate immediate consultation with "
        "the interventional radiology department, particularly following administration "
        "of anticoagulation medications, notwithstanding previously documented "
        "contraindications.")
SIMPLE_ES = "Puede bañarse al otro día. No moje la venda por dos días. Llame si sangra."
HARD_ES = ("Las complicaciones hemostáticas posteriores al procedimiento requieren una "
           "consulta inmediata con el departamento de radiología intervencionista, "
           "particularmente después de la administración de medicamentos anticoagulantes.")


def _entry(number: int, answer: str) -> FaqEntry:
    return FaqEntry(f"e-{number}", "A question?", answer, "general", "recovery",
                    file="fixture.yaml")


def test_plain_answers_pass_and_hard_ones_are_named() -> None:
    assert grade(PLAIN) <= 6 < grade(HARD)
    problems = reading_problems([_entry(n, PLAIN) for n in range(5)] + [_entry(9, HARD)])
    assert [(p.entry, p.severity) for p in problems] == [("e-9", "error")]
    assert "reading grade" in problems[0].message


def test_a_corpus_mostly_too_hard_is_an_error() -> None:
    problems = reading_problems([_entry(1, PLAIN), _entry(2, HARD), _entry(3, HARD)])
    corpus_wide = [p for p in problems if p.entry is None]
    assert corpus_wide and corpus_wide[0].severity == "error"
    assert "33%" in corpus_wide[0].message


def test_spanish_answers_use_reading_ease() -> None:
    assert ease(SIMPLE_ES) >= 65 > ease(HARD_ES)
    problems = reading_problems([_entry(1, SIMPLE_ES)] * 4 + [_entry(2, HARD_ES)], "es")
    assert [p.entry for p in problems] == ["e-2"]
    assert "reading ease" in problems[0].message
    # English rules never read Spanish text and the other way round.
    assert reading_problems([_entry(1, SIMPLE_ES)], "es") == []


def test_validate_fails_on_an_answer_far_too_hard(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import main
    from tests.test_corpus import GOOD

    text = GOOD.format(procedure="angioplasty-stenting", id="a1")
    (tmp_path / "angioplasty-stenting.yaml").write_text(text, encoding="utf-8")
    assert main(["validate", "--corpus", str(tmp_path)]) == 0
    plain = "Most people can drive after a few days. Follow your care team's advice."
    (tmp_path / "angioplasty-stenting.yaml").write_text(text.replace(plain, HARD),
                                                         encoding="utf-8")
    assert main(["validate", "--corpus", str(tmp_path)]) == 1
    assert "[a1]: answer reading grade" in capsys.readouterr().err
