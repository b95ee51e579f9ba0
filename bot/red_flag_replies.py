"""What the patient reads when triage raises a red flag, in their language.

Emergency: call the emergency number now (with first aid for bleeding at the
puncture site and the 988 Lifeline for self-harm). Urgent: call the care
team now, the on-call line out of hours, emergency care if no one answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .texts import SPANISH
from .triage import RedFlag


class Numbers(Protocol):
    @property
    def emergency_number(self) -> str: ...

    @property
    def on_call_number(self) -> str: ...


def red_flag_text(flag: RedFlag, numbers: Numbers) -> str:
    number = numbers.emergency_number
    if flag.tier == "urgent":
        on_call = (f" Out of hours, call the on-call team at {numbers.on_call_number}."
                   if numbers.on_call_number else
                   " Out of hours, use the after-hours number on your discharge papers.")
        return (f"Please call your care team now about {flag.reason}: this needs a person "
                f"today, not a chat answer.{on_call} If you cannot reach anyone, go to "
                f"urgent or emergency care. If you feel very unwell, call {number}. This "
                "chat is not watched in real time.")
    text = (f"This may be an emergency. Call {number} now, or ask someone to call "
            f"for you. You mentioned {flag.reason}. Don't wait for a reply here: this "
            "chat is not watched in real time.")
    if flag.category == "bleeding":
        text += (" If the bleeding is where the catheter went in, lie down and press "
                 "firmly on the spot while you wait for help.")
    if flag.self_harm:
        text += (" You can also call or text 988, the Suicide and Crisis Lifeline, any "
                 "time. You are not alone, and help is there right now.")
    return text


def spanish_red_flag_text(flag: RedFlag, numbers: Numbers,
                          reasons: Mapping[str, str]) -> str:
    """`reasons`: each category's reason in Spanish, from the Spanish rules."""
    number = numbers.emergency_number
    reason = reasons.get(flag.category, flag.reason)
    if flag.tier == "urgent":
        on_call = (SPANISH["on_call"].format(number=numbers.on_call_number)
                   if numbers.on_call_number else SPANISH["on_call_unknown"])
        return SPANISH["urgent"].format(reason=reason, on_call=on_call,
                                        emergency_number=number)
    text = SPANISH["emergency"].format(reason=reason, emergency_number=number)
    if flag.category == "bleeding":
        text += SPANISH["bleeding"]
    if flag.self_harm:
        text += SPANISH["crisis"]
    return text
