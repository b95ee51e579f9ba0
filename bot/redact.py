"""Removes patient identifiers from text before anything is stored or logged.

Regular expressions plus `phonenumbers` (which ships its own metadata and
works offline). Each identifier is replaced by a bracketed label such as
[PHONE], so staff still see what kind of detail the patient gave. Bare years
and clinical numbers ("100.4", "2 days", "81 mg") are kept: HIPAA's Safe
Harbor list allows years, and the numbers carry the question's meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers

_NAME = r"[A-Z][a-zA-Z'\u2019]+(?:-[A-Z][a-zA-Z'\u2019]+)?"
_FULL_NAME = rf"{_NAME}(?: {_NAME}){{0,2}}"
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_RELATIVES = (r"(?:mom|mum|mother|dad|father|husband|wife|partner|son|daughter|brother|sister|"
              r"grandma|grandmother|grandpa|grandfather|aunt|uncle|friend|patient)")
# Capitalised words that follow "I'm" without being a name.
_NOT_NAMES = {"catholic", "jewish", "muslim", "christian", "hindu", "buddhist", "sikh",
              "american", "british", "english", "irish", "scottish", "welsh", "canadian",
              "diabetic", "pregnant", "allergic", "not", "so", "very", "just", "really",
              "scared", "nervous", "worried", "here", "back", "fine", "ok", "okay", "sorry",
              "having", "going", "on", "in", "at", "a", "an", "the", "still", "due", "booked"}

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.I)),
    ("IP", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("DATE", re.compile(
        r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH}\.?(?:,? \d{{4}})?\b"
        rf"|\b{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?(?:,? \d{{4}})?\b",
        re.I)),
    ("ADDRESS", re.compile(
        r"\b\d{1,5} (?:[NSEW]\.? )?(?:[A-Z][a-z]+ ){1,3}"
        r"(?:Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
        r"Place|Pl|Terrace|Close|Crescent|Parkway|Pkwy|Highway|Hwy|Circle|Cir)\b\.?"
        r"(?:,? (?:Apt|Apartment|Unit|Suite|Flat|#) ?\w+)?")),
    # Record, account, member and other reference numbers, named or not: any
    # code with five or more digits (phone numbers are handled before this).
    ("ID", re.compile(
        r"\b(?:nhs|mrn|medical record|record|hospital|patient|member|policy|account|group|"
        r"insurance|chart|case|reference|ref|id)(?: number| no\.?| num| id| #)?(?: is)?:? "
        r"(\d{3} \d{3} \d{4})\b", re.I)),
    ("ID", re.compile(r"\b(?=[\w-]*\d{5})[A-Za-z]{0,4}-?\d[\w-]*\b")),
]

_NAME_RULES: list[re.Pattern[str]] = [
    re.compile(rf"\b(?:my name is|my name's|name is|name's|call me)\s+({_FULL_NAME})", re.I),
    re.compile(rf"\b(?:this is|it's|it is)\s+({_FULL_NAME})(?=\s+(?:calling|here|speaking)|,|$)"),
    re.compile(rf"\b(?:I'm|I am|Im)\s+({_NAME} {_NAME}(?: {_NAME})?)"),
    re.compile(rf"\b(?:I'm|I am)\s+({_NAME})(?=\s*(?:,|\.|$|and |calling|here))"),
    re.compile(rf"\b{_RELATIVES},?\s+({_NAME} {_NAME})", re.I),
    re.compile(rf"(?:thanks|thank you|regards|best wishes|best|cheers|sincerely|love|from)"
               rf"[,!.]?\s+({_FULL_NAME})\s*$", re.I),
    re.compile(rf"(?:^|\n)\s*[-\u2013\u2014~]\s*({_FULL_NAME})\s*$"),
]


def redact(text: str) -> str:
    """The text with identifiers replaced by [LABEL] markers."""
    text = _replace_phones(text)
    for label, pattern in _RULES:
        text = pattern.sub(_labeller(label), text)
    for pattern in _NAME_RULES:
        text = pattern.sub(_name_labeller, text)
    return text


def _labeller(label: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if match.lastindex:  # only the captured part is the identifier
            start, end = match.span(1)
            whole = match.group(0)
            offset = match.start(0)
            return whole[: start - offset] + f"[{label}]" + whole[end - offset:]
        return f"[{label}]"

    return replace


def _name_labeller(match: re.Match[str]) -> str:
    name = match.group(1)
    words = name.split()
    # Trailing capitalised words that are not names ("I'm Priya Patel" is a
    # name, "I'm Catholic" is not).
    if words[0].lower().strip("'") in _NOT_NAMES:
        return match.group(0)
    whole = match.group(0)
    start = match.start(1) - match.start(0)
    return whole[:start] + "[NAME]" + whole[start + len(name):]


_TEN_DIGITS = re.compile(r"(?<![\w.])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}(?![\w])")


def _replace_phones(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for region in ("US", "GB"):
        matcher = phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.POSSIBLE)
        for found in matcher:
            if sum(ch.isdigit() for ch in found.raw_string) >= 10:
                spans.append((found.start, found.end))
    # Ten-digit numbers that libphonenumber finds impossible (fictional 555 numbers).
    for match in _TEN_DIGITS.finditer(text):
        spans.append(match.span())
    for start, end in sorted(_merge(spans), reverse=True):
        text = text[:start] + "[PHONE]" + text[end:]
    return text


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
