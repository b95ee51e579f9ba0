"""Removes patient identifiers from text before anything is stored or logged.

Regular expressions plus `phonenumbers` (which ships its own metadata and
works offline). Each identifier is replaced by a bracketed label such as
[PHONE], so staff still see what kind of detail the patient gave. Bare years
and clinical numbers ("100.4", "2 days", "81 mg") are kept: HIPAA's Safe
Harbor list allows years, and the numbers carry the question's meaning.

Names are found by their context, never by capitals alone: introductions
("this is", "my name is", "I'm", "Name:"), sign-offs ("thanks, Jo",
"- Maria"), relatives and titles ("my husband Tom Baker", "Mrs Archer") and a
name opening a message ("Patricia Lowe - MRN ..."). A word that is ordinary
English ("my wife cant speak", "I'm Deaf", "cheers mate") is not a name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers

from .spelling import english_frequency

# A name word: letters of any script, with inner apostrophes or hyphens
# ("O'Brien", "Saint-Clair", "Nguyễn"); an initial ("J.") counts too.
_WORD = r"[^\W\d_](?:[^\W\d_]|['\u2019-](?=[^\W\d_]))*"
_NAME_WORDS = rf"{_WORD}(?:\.)?(?:[ \t]+{_WORD}\.?){{0,3}}"
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_RELATIVES = (r"(?:mom|mum|mother|dad|father|husband|hubby|wife|wifey|partner|fianc[eé]e?|"
              r"boyfriend|girlfriend|son|daughter|boy|girl|baby|brother|sister|grandma|"
              r"grandmother|grandpa|grandfather|grandad|granddad|nan|nana|gran|granny|aunt|"
              r"auntie|uncle|cousin|niece|nephew|friend|neighbou?r|stepdad|stepmom|stepmum|"
              r"mother-in-law|father-in-law|carer for|caring for|on behalf of|patient|"
              r"daughters? name is|sons? name is)")
_TITLES = r"(?:mr|mrs|ms|miss|mx|sgt|sergeant|rev|prof|dr)\.?"
# Capitalised words that are not names, though they follow a name trigger.
_NOT_NAMES = {
    "catholic", "jewish", "muslim", "christian", "hindu", "buddhist", "sikh", "american",
    "british", "english", "irish", "scottish", "welsh", "canadian", "diabetic", "pregnant",
    "allergic", "deaf", "blind", "vegan", "vegetarian", "disabled", "autistic", "dyslexic",
    "mother", "father", "mom", "mum", "dad", "patient", "nurse", "doctor", "sent",
    "anxious", "worried", "scared", "nervous", "god", "mate", "love", "wishes", "regards",
    "interventional", "radiology", "hospital", "clinic", "medicare", "medicaid", "nhs",
    "question", "questions", "advice", "liaison", "service", "services", "department",
    "type", "dear", "sir", "madam", "team", "everyone", "all", "guys", "folks", "caring",
    "sore", "nan", "gran", "hubby", "son", "daughter", "wife", "husband", "doc", "doctors",
}
# English words this frequent are ordinary words, not names: "this is going",
# "I'm scared". Common first names ("john", "will") are rarer than this.
_COMMON = 200_000
# Typed in lower case a name must be rarer still: "this is going to hurt".
_LOWER_COMMON = 20_000

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("EMAIL", re.compile(r"\b[\w.+-]+ at [\w-]+ dot (?:com|org|net|edu|gov|co dot uk|co uk)\b",
                         re.I)),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.I)),
    ("IP", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    ("SSN", re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b")),
    ("ID", re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")),  # UK NI number
    ("DATE", re.compile(
        r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH}\.?(?:,? \d{{4}})?\b"
        rf"|\b{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?(?:,? \d{{4}})?\b",
        re.I)),
    # A day and month without a year, where the words say it is a date.
    ("DATE", re.compile(
        r"\b(?:on|was|since|from|dated?|dob|born|bday|birthday|scheduled|until|till|by|"
        r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?|"
        r"sat(?:urday)?|sun(?:day)?)\s+(\d{1,2}/\d{1,2})\b", re.I)),
    ("ADDRESS", re.compile(r"\b(?:P\.? ?O\.? ?Box|(?:Rural Route|RR) \d+,? Box) \d+\b", re.I)),
    ("ADDRESS", re.compile(
        r"\b(?:(?:flat|apt|apartment|unit|suite) \w+,? )?\d{1,5}[a-z]? (?:[NSEWnsew]\.? )?"
        r"(?:(?:[A-Z][a-z]+ ){1,3}"
        r"(?:Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
        r"Place|Pl|Terrace|Close|Crescent|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Grove|Gardens|"
        r"Mews|Row|Square|Sq|Walk)"
        # Typed in lower case, only street words that are not everyday verbs.
        r"|(?:[a-z]+ ){1,3}(?:street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|hwy))\b\.?"
        r"(?: (?:NE|NW|SE|SW|ne|nw|se|sw)\b)?"
        r"(?:,? (?:apt|apartment|unit|suite|flat|#) ?\w+)?")),
    # After words that announce an address: the number and what follows, to the comma.
    ("ADDRESS", re.compile(
        r"\b(?:lives? at|living at|address is|moved to|post (?:it|them) to|send (?:it|them) "
        r"to|mail (?:it )?to|we're at|we are at|near)\s+((?:flat \w+,? )?\d{1,5}[a-z]?"
        r"(?: [A-Za-z.]+){1,4}(?:, [A-Za-z]+(?= and\b|[,.]|$))?)", re.I)),
    ("ADDRESS", re.compile(r"\b(?:flat|apt|apartment|unit) \d+[a-z]?\b", re.I)),
    ("POSTCODE", re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b")),
    # The town after a street address: "[ADDRESS], springfield and ...".
    ("PLACE", re.compile(r"(?<=\[ADDRESS\]), ([A-Za-z]+(?: [A-Za-z]+)?)"
                         r"(?= and\b|[,.]|$| [A-Z]{2}\b| \[POSTCODE\])")),
    ("POSTCODE", re.compile(r"\b(?:[A-Z]{2} )\d{5}(?:-\d{4})?\b|\b(?:zip|zip code|zipcode)"
                            r"(?: is)?:? \d{5}(?:-\d{4})?\b", re.I)),
    # Record, account, member and reference numbers after the words that name
    # them: letters and digits, in up to four groups.
    ("ID", re.compile(
        r"\b(?:nhs|mrn|medical record|record|hospital|hosp|patient|member|subscriber|policy|"
        r"account|group|insurance|chart|case|reference|ref|id|medicare|medicaid|bcbs|"
        r"national insurance)(?: number| no\.?| num| id| #)?(?: is)?:?\s*#?\s*"
        r"((?:[A-Za-z]{2,5} (?=\d))?(?=[A-Za-z0-9/-]*\d)[A-Za-z0-9][A-Za-z0-9/-]*"
        r"(?: (?=[A-Za-z0-9/-]*\d)[A-Za-z0-9][A-Za-z0-9/-]*)*)", re.I)),
    ("ID", re.compile(r"\b(?=[\w-]*\d{5})[A-Za-z]{0,4}-?\d[\w-]*\b")),
]

# A capitalised name word (ASCII lower case excluded; other scripts allowed).
_CAP = r"[^\W\d_a-z](?:[^\W\d_]|['\u2019-](?=[^\W\d_]))*"
_CAP_NAME = rf"{_CAP}\.?(?:[ \t]+{_CAP}\.?){{0,3}}"

# How a rule treats words typed in lower case:
#   "any": a rare word is a name ("this is sarah from the 10am slot");
#   "pair": two rare words, or one the dictionary has never seen ("my son jayden");
#   "none": capitalised words only.
_NAME_RULES: list[tuple[re.Pattern[str], str, bool]] = [
    # (pattern capturing the name, lower-case policy, whole capture must be a name)
    (re.compile(rf"\b(?:my name is|my name's|name is|name's|call me|i'm called|i am called|"
                rf"(?:full |patient )?name\s*[:-])\s+({_NAME_WORDS})", re.I), "any", False),
    (re.compile(rf"\b(?:this is|it's|it is|its)\s+({_NAME_WORDS})", re.I), "any", False),
    (re.compile(rf"(?:^|[,.!?]\s+|\bhi\s+|\bhello\s+|\bhey\s+)(?:i'm|i am|im)\s+"
                rf"({_NAME_WORDS})", re.I), "pair", False),
    (re.compile(rf"\b(?:patient|pt)\s*:\s*({_NAME_WORDS})", re.I), "any", False),
    # Case-insensitive triggers, case-sensitive names: re.I would make the
    # capital-letter class match lower case too.
    (re.compile(rf"\b(?i:{_RELATIVES}),?\s+\(?({_CAP_NAME})\)?"), "none", False),
    (re.compile(rf"\b{_RELATIVES},?\s+({_NAME_WORDS})", re.I), "pair", False),
    (re.compile(rf"\b{_TITLES}\s+({_CAP_NAME})"), "none", False),
    (re.compile(rf"\b(?i:hi|hiya|hello|hey|morning|good morning|afternoon|evening)[,!]?\s+"
                rf"({_CAP_NAME})(?=\s*[,!-])"), "none", True),
    (re.compile(rf"(?:^|[,.!?]\s+|\b(?:hi|hiya|hello|hey)\s+)({_NAME_WORDS}),?\s+"
                rf"(?:here|speaking|again|calling)\b", re.I), "any", False),
    (re.compile(rf"\b(?:ring|call|text|phone|contact|email)\s+({_CAP} {_CAP})\s+(?:on|at)\b"),
     "none", True),
    (re.compile(rf"\b(?:thanks|thank you|thank u|thx|ta|regards|best wishes|kind regards|"
                rf"cheers|sincerely|love|v/r|xx+|x)\b[,!.]?\s*-*\s*"
                rf"(?:{_TITLES}\s+)?({_NAME_WORDS})\s*[.!]?\s*$", re.I), "any", False),
    (re.compile(rf"(?:^|\s)(?:-+|\u2013|\u2014|~)\s*({_NAME_WORDS})\s*[.!]?\s*$"),
     "any", False),
    (re.compile(rf"(?:^|\s)(?:-+|\u2013|\u2014)\s+({_CAP} {_CAP})(?=\s*,)"), "none", True),
    # A sign-off of two capitalised words after the last sentence.
    (re.compile(rf"[.?!]\s+({_CAP} {_CAP})\s*$"), "none", True),
    # A name before an address in brackets: "Fatima (fatima@example.com)".
    (re.compile(rf"({_CAP}(?: {_CAP})?)\s*\(\[EMAIL\]\)"), "none", True),
    # A name that opens the message and is followed by a comma, dash or bracket.
    (re.compile(rf"^\s*({_CAP}(?: {_CAP}){{1,3}})\s*(?:,|-|\u2013|\()"), "none", True),
]


# Cheap necessary conditions, so most messages skip most recognisers. Each
# is implied by its rule matching: a rule whose condition fails on the text as
# it stands cannot match, and skipping it changes nothing. A replacement only
# ever inserts a "[LABEL]", which holds no digit, "@", "dot" or URL start.
_DIGIT = re.compile(r"\d")
_NEEDS: dict[str, re.Pattern[str]] = {
    "EMAIL": re.compile(r"@| dot ", re.I),
    "URL": re.compile(r"https?://|www\.", re.I),
    "PLACE": re.compile(r"\[ADDRESS\]"),
}
_RULE_NEEDS: list[re.Pattern[str]] = [_NEEDS.get(label, _DIGIT) for label, _ in _RULES]
# Phone numbers are counted only with ten digits or more (see `_replace_phones`).
_PHONE_DIGITS = 10


@lru_cache(maxsize=512)
def redact(text: str) -> str:
    """The text with identifiers replaced by [LABEL] markers.

    Remembered for recent texts: a reply redacts the message and, most of
    the time, the same text again as the query it remembers.
    """
    if sum(map(str.isdigit, text)) >= _PHONE_DIGITS:
        text = _replace_phones(text)
    for (label, pattern), needs in zip(_RULES, _RULE_NEEDS, strict=True):
        if needs.search(text):
            text = pattern.sub(_labeller(label), text)
    for pattern, lower, whole in _NAME_RULES:
        text = pattern.sub(_name_labeller(lower, whole), text)
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


def _name_labeller(lower: str, whole_name: bool) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        candidate = match.group(1)
        name = _name_part(candidate, lower)
        if not name or (whole_name and name != candidate.rstrip()):
            return match.group(0)
        whole = match.group(0)
        start = match.start(1) - match.start(0)
        return whole[:start] + "[NAME]" + whole[start + len(name):]

    return replace


def _name_part(candidate: str, lower: str) -> str:
    """The leading words of `candidate` that look like a name, or ""."""
    words = re.split(r"([ \t]+)", candidate)
    kept: list[str] = []
    for word in words:
        if not word.strip():
            if kept:
                kept.append(word)
            continue
        if not _looks_like_name(word, lower, first=not kept):
            break
        kept.append(word)
    name = "".join(kept).rstrip()
    typed_lower = [w for w in name.split() if not w[0].isupper()]
    if typed_lower and lower == "pair" and len(name.split()) < 2:
        # One lower-case word after "my son" or "I'm" is a name only if the
        # dictionary has never seen it, or it is rare and ends the clause
        # ("hi im gareth, ..."); "I'm sore" and "my wife snores" are not names.
        frequency = english_frequency(_bare(typed_lower[0]).lower())
        ends_clause = candidate[len(name):].lstrip().startswith(",") or (
            candidate.rstrip() == name)
        if frequency > 0 and not (ends_clause and frequency < 100):
            return ""
    return name


def _bare(word: str) -> str:
    word = word.rstrip(".").strip("'\u2019")
    return word[:-2] if word.lower().endswith(("'s", "\u2019s")) else word


def _looks_like_name(word: str, lower: str, *, first: bool) -> bool:
    bare = _bare(word)
    if not bare or bare.lower() in _NOT_NAMES or bare.lower() in _EVERYDAY:
        return False
    capitalised = bare[0].isupper()
    if any(part[:1].islower() for part in bare.split("-")[1:]):
        return False  # "Grace-ful", "Follow-up": a name's parts are capitalised
    if len(bare) == 1:
        return capitalised and not first  # a middle initial, "Harold J. Bennett"
    frequency = english_frequency(bare.lower())
    if capitalised:
        # "I'm Deaf", "cheers Mate": everyday words are not names, though
        # common names ("Grace", "Bill") are ordinary words too.
        return frequency < _COMMON
    return lower != "none" and frequency < _LOWER_COMMON


# Very common English words that are capitalised at the start of a phrase.
_EVERYDAY = frozenset("""
the a an and or but so my your his her our their this that these those it its is are was
were be been being have has had do does did will would can could should may might must
not no yes ok okay hi hello hey thanks thank please sorry just still also very really
going getting having taking feeling here there now then today tomorrow yesterday when
what why how who where which if as at in on of for to from with about after before
""".split())


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
