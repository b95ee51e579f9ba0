"""The OpenAPI 3 description of the public API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from ..domain import PROCEDURES, REPLY_TYPES, TOPICS

_ERROR = {"$ref": "#/components/schemas/Error"}
_NULLABLE_STRING = {"type": "string", "nullable": True}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", **_json(_ERROR)} for c in codes}


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "faqbot patient FAQ API", "version": "1.0.0",
             "description": "Answers patient questions about interventional procedures."},
    "paths": {
        "/api/v1/messages": {"post": {
            "summary": "Send a patient message; get the bot's reply.",
            "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/Message"})},
            "responses": {"200": {"description": "the reply",
                                  **_json({"$ref": "#/components/schemas/Reply"})},
                          **_errors(400, 413, 415, 429)},
        }},
        "/api/v1/feedback": {"post": {
            "summary": "Thumbs up or down on an answer; thumbs down opens a staff ticket.",
            "requestBody": {"required": True, **_json({
                "type": "object", "required": ["session_id", "helpful"],
                "properties": {"session_id": {"type": "string", "minLength": 1,
                                              "maxLength": 128},
                               "faq_id": {"type": "string", "maxLength": 128},
                               "helpful": {"type": "boolean"},
                               "comment": {"type": "string", "maxLength": 1000}}})},
            "responses": {"200": {"description": "stored", **_json({
                "type": "object", "required": ["ok", "ticket_id"],
                "properties": {"ok": {"type": "boolean"}, "ticket_id": _NULLABLE_STRING}})},
                **_errors(400, 413, 415, 429)},
        }},
        "/api/v1/callbacks": {"post": {
            "summary": "Ask a nurse to call the patient back.",
            "description": ("Needs the session's token in X-Session-Token (as for staff "
                            "replies) and consent: true. The name, phone and best time are "
                            "encrypted at rest (callback_key), shown only on the ticket to "
                            "signed-in staff, never logged, and erased when the ticket "
                            "closes. Goes on the session's open ticket, or a new handoff "
                            "ticket. 403 when the server has no callback_key (call-backs off)."),
            "parameters": [{"name": "X-Session-Token", "in": "header", "required": True,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, **_json({
                "type": "object",
                "required": ["session_id", "name", "phone", "consent"],
                "properties": {"session_id": {"type": "string", "minLength": 1,
                                              "maxLength": 128},
                               "name": {"type": "string", "minLength": 1, "maxLength": 100},
                               "phone": {"type": "string", "maxLength": 30,
                                         "description": "7 to 15 digits"},
                               "best_time": {"type": "string", "maxLength": 100},
                               "consent": {"type": "boolean", "enum": [True]}}})},
            "responses": {"200": {"description": "stored on a ticket", **_json({
                "type": "object", "required": ["ok", "ticket_id"],
                "properties": {"ok": {"type": "boolean"}, "ticket_id": {"type": "string"}}})},
                **_errors(400, 401, 403, 413, 415, 429)},
        }},
        "/api/v1/sessions/{session_id}/messages": {"get": {
            "summary": "Staff replies for a conversation, newer than `after`.",
            "parameters": [
                {"name": "session_id", "in": "path", "required": True,
                 "schema": {"type": "string"}},
                {"name": "after", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0}}],
            "responses": {"200": {"description": "messages", **_json({
                "type": "object", "required": ["messages"],
                "properties": {"messages": {"type": "array", "items": {
                    "type": "object", "required": ["id", "text"],
                    "properties": {"id": {"type": "integer"}, "text": {"type": "string"},
                                   "ticket_id": {"type": "string"},
                                   "created_at": {"type": "string"}}}}}})},
                **_errors(400)},
        }},
        "/api/v1/starters": {"get": {
            "summary": "Three to five questions from the corpus to offer on an empty chat.",
            "description": ("The questions of one procedure (one per topic: overview, "
                            "preparation, procedure, recovery, warning signs), or the general "
                            "questions patients ask most when no procedure is given or the "
                            "slug is unknown. With language=es, the Spanish twins' questions. "
                            "Taken from the corpus only, never from patients' messages."),
            "parameters": [
                {"name": "procedure", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": list(PROCEDURES)}},
                {"name": "language", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["en", "es"], "default": "en"}}],
            "responses": {"200": {"description": "starter questions", **_json({
                "type": "object", "required": ["procedure", "language", "questions"],
                "properties": {
                    "procedure": {"type": "string", "enum": list(PROCEDURES),
                                  "description": "the procedure the questions are about"},
                    "language": {"type": "string", "enum": ["en", "es"]},
                    "questions": {"type": "array", "maxItems": 6,
                                  "items": {"$ref": "#/components/schemas/Suggestion"}}}})},
                **_errors(400)},
        }},
        "/webhooks/rest/webhook": {"post": {
            "summary": "Rasa REST channel.",
            "requestBody": {"required": True, **_json({
                "type": "object", "required": ["message"],
                "properties": {"sender": {"type": "string", "minLength": 1, "maxLength": 128},
                               "message": {"type": "string", "minLength": 1,
                                           "maxLength": 1000}}})},
            "responses": {"200": {"description": "bot messages", **_json({
                "type": "array", "items": {
                    "type": "object", "required": ["recipient_id", "text"],
                    "properties": {"recipient_id": {"type": "string"}, "text": {"type": "string"},
                                   "buttons": {"type": "array", "items": {
                                       "type": "object", "required": ["title", "payload"],
                                       "properties": {"title": {"type": "string"},
                                                      "payload": {"type": "string"}}}},
                                   "custom": {"type": "object"}}}})},
                **_errors(400, 401, 413, 415, 429)},
        }},
        "/webhooks/rest/": {"get": {"summary": "Rasa channel status.", "responses": {
            "200": {"description": "ok", **_json({
                "type": "object", "required": ["status"],
                "properties": {"status": {"type": "string"}}})}}}},
        "/readyz": {"get": {"summary": "Readiness: the index is loaded and the store and "
                            "Redis answer; 503 (with the failing check) when not.",
                            "responses": {
            "200": {"description": "ready", **_json({
                "type": "object", "required": ["status", "version", "checks"],
                "properties": {"status": {"type": "string"}, "version": {"type": "string"},
                               "checks": {"type": "object"},
                               "spooled_tickets": {"type": "integer"}}})},
            "503": {"description": "a dependency does not answer"}}}},
        "/healthz": {"get": {"summary": "Liveness: the process serves requests.", "responses": {
            "200": {"description": "ready", **_json({"type": "object", "required": ["status"],
                                                     "properties": {"status": {"type": "string"},
                                                                    "entries": {"type": "integer"},
                                                                    "corpus_version": {
                                                                        "type": "string"}}})}}}},
    },
    "components": {"schemas": {
        "Message": {"type": "object", "required": ["text"], "properties": {
            "session_id": {"type": "string", "minLength": 1, "maxLength": 128},
            "text": {"type": "string", "minLength": 1, "maxLength": 1000}}},
        "Suggestion": {"type": "object", "required": ["faq_id", "question"], "properties": {
            "faq_id": {"type": "string"}, "question": {"type": "string"}}},
        "Source": {"type": "object", "required": ["name", "url"], "properties": {
            "name": {"type": "string"}, "url": {"type": "string"}}},
        "Reply": {"type": "object",
                  "required": ["session_id", "type", "text", "faq_id", "procedure", "topic",
                               "confidence", "suggestions", "ticket_id", "session_token",
                               "language"],
                  "properties": {
                      "session_id": {"type": "string"},
                      "type": {"type": "string", "enum": list(REPLY_TYPES)},
                      "text": {"type": "string"},
                      "faq_id": _NULLABLE_STRING,
                      "procedure": {"type": "string", "nullable": True,
                                    "enum": [*PROCEDURES, None]},
                      "topic": {"type": "string", "nullable": True, "enum": [*TOPICS, None]},
                      "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                      "suggestions": {"type": "array",
                                      "items": {"$ref": "#/components/schemas/Suggestion"}},
                      "ticket_id": _NULLABLE_STRING,
                      "session_token": {"type": "string"},
                      "language": {"type": "string", "enum": ["en", "es"]},
                      "corpus_version": _NULLABLE_STRING,
                      "reason": _NULLABLE_STRING,
                      "disclaimer": _NULLABLE_STRING,
                      "sources": {"type": "array",
                                  "items": {"$ref": "#/components/schemas/Source"}}}},
        "Error": {"type": "object", "required": ["error", "status"], "properties": {
            "error": {"type": "string"}, "status": {"type": "integer"}}},
    }},
}
