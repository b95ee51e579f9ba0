"""Which language a patient writes in: English or Spanish, per message and per session.

lingua (restricted to the two languages, offline) judges sentences well but
short messages poorly ("stent" looks Spanish, "si" is a coin toss), so a
message first passes word rules: words that only one language uses decide
it. A session keeps its language unless a message is clearly the other one,
so "ok" or a procedure name never flips a Spanish conversation to English.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .normalise import normalise

LANGUAGES = ("en", "es")

# Words (accents folded) that only Spanish messages use, and only English ones.
_SPANISH = frozenset("""
hola gracias buenos buenas dias tardes noches adios por favor si que como cuando donde
cuanto cuantos cuanta porque puedo puede pueden debo debe tengo tiene tienen estoy esta
estan soy es son mi mis su sus el la los las del al un una unos unas y o pero con sin para
despues antes durante ahora hoy manana ayer semana semanas dias horas mes meses ano anos
dolor duele pecho sangre sangrado fiebre respirar manejar comer beber banarme banar
bano trabajo trabajar caminar dormir cirugia procedimiento medico doctora doctor enfermera
esposo esposa mama papa hijo hija abuela abuelo hermano hermana pierna brazo cabeza
espalda estomago barriga herida puntos necesito quiero ayuda hablar persona alguien
ningun nada todo muy mucho poco tambien todavia ya usted ustedes nosotros ellos ella
""".split())
_ENGLISH = frozenset("""
hi hello thanks thank you please yes the a an and or but with without for after before
during now today tomorrow yesterday week weeks days hours month months year years pain
hurts chest blood bleeding fever breathe drive eat drink shower work walk sleep surgery
procedure doctor nurse husband wife mom dad son daughter leg arm head back stomach wound
need want help talk person someone what when where how much many why can could should
will would do does did is are was were my your his her our their i me we they it this
that there here not no very just still already see bye goodbye good great cool morning
night evening thx ty lol yeah yep nope sure got get go going have has had
""".split())
# Shared with Spanish or too short to count: "no", "a", "me", "son", "mi".
_AMBIGUOUS = frozenset({"no", "a", "me", "son", "mi", "ok", "okay", "stent", "de", "ya", "bye"})


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(
        Language.ENGLISH, Language.SPANISH).with_preloaded_language_models().build()


def warm() -> None:
    """Load lingua's models now rather than on a patient's first message."""
    _detector().compute_language_confidence_values("warm up")


def detect(text: str, session_language: str | None = None) -> str:
    """The language of this message, given the session's language so far."""
    if any(ch in text for ch in "¿¡ñÑ"):
        return "es"
    words = [w for w in normalise(text).split() if w not in _AMBIGUOUS]
    spanish = sum(w in _SPANISH and w not in _ENGLISH for w in words)
    english = sum(w in _ENGLISH and w not in _SPANISH for w in words)
    if spanish and not english:
        return "es"
    if english and not spanish:
        return "en"
    if len(words) < 3:
        # Too short to judge: stay in the conversation's language.
        return session_language or ("es" if spanish > english else "en")
    confidences = {c.language.name: c.value
                   for c in _detector().compute_language_confidence_values(text)}
    guess = "es" if confidences.get("SPANISH", 0.0) > confidences.get("ENGLISH", 0.0) else "en"
    if session_language and guess != session_language and max(confidences.values()) < 0.9:
        return session_language  # not clearly the other language
    return guess
