"""Drafts: what staff taught, waiting for a clinician's review.

Thin handlers over `bot.teaching`: the list, one draft with its diff and the
answers it changes (built on a copy of the corpus, in a worker thread, so no
patient waits), and the publish and reject forms. Only a user with the
clinician role who is not the draft's author may decide; the check is in the
use case, and the page only hides the forms from others.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web

from ...drafts import Draft, NotAllowed, Preview
from ..keys import STORE, TEACHING
from .guard import Staff, form_str, read_form, staff_page
from .render import render
from .signin import redirect

# What the publish form may fill in: the corpus rules a new entry must meet.
PUBLISH_FIELDS = ("answer", "source_name", "source_url", "review_by", "more_alternates")


@staff_page
async def drafts_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    teaching = request.app[TEACHING]
    pending = await asyncio.to_thread(teaching.drafts, "pending")
    decided = [d for d in await asyncio.to_thread(teaching.drafts, None)
               if d.status != "pending"][:50]
    role = await asyncio.to_thread(request.app[STORE].user_role, staff.username)
    return render(request, "drafts.html", staff=staff, current="/staff/drafts",
                  pending=pending, decided=decided, clinician=role == "clinician")


async def _draft_page(request: web.Request, staff: Staff, draft: Draft, error: str = "",
                      status: int = 200, values: dict[str, str] | None = None
                      ) -> web.Response:
    teaching = request.app[TEACHING]
    why_not = await asyncio.to_thread(teaching.may_review, draft, staff.username)
    preview = (await asyncio.to_thread(teaching.preview, draft, values)
               if draft.status == "pending" else Preview())
    filled = {k: str(draft.payload.get(k, "")) for k in PUBLISH_FIELDS} | (values or {})
    return render(request, "draft.html", status=status, staff=staff, current="/staff/drafts",
                  draft=draft, preview=preview, why_not=why_not, error=error, values=filled)


async def _draft(request: web.Request) -> Draft | None:
    return await asyncio.to_thread(request.app[TEACHING].draft, request.match_info["draft_id"])


@staff_page
async def draft_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    draft = await _draft(request)
    if draft is None:
        return render(request, "not_found.html", status=404, staff=staff)
    return await _draft_page(request, staff, draft)


def _decision(action: str):  # type: ignore[no-untyped-def]
    @staff_page
    async def handler(request: web.Request, staff: Staff) -> web.StreamResponse:
        draft = await _draft(request)
        if draft is None:
            return render(request, "not_found.html", status=404, staff=staff)
        form = await read_form(request)
        teaching = request.app[TEACHING]
        values = {k: form_str(form, k) for k in PUBLISH_FIELDS}
        try:
            if action == "publish":
                done = await asyncio.to_thread(teaching.publish, draft.id, staff.username,
                                               values)
            else:
                done = await asyncio.to_thread(teaching.reject, draft.id, staff.username,
                                               form_str(form, "reason"))
        except NotAllowed as exc:
            return await _draft_page(request, staff, draft, str(exc), 403, values)
        except ValueError as exc:
            return await _draft_page(request, staff, draft, str(exc), 400, values)
        return redirect(f"/staff/drafts/{quote(draft.id)}?notice={done.notice}")

    handler.__name__ = f"draft_{action}"
    return handler


draft_publish = _decision("publish")
draft_reject = _decision("reject")
