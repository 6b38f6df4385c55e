"""Schema-following answers for the local Bedrock Converse stand-in (``ai_standins.converse``).

When a Converse prompt embeds a JSON Schema (the words ``JSON Schema`` followed by a JSON object
with ``properties``, as :mod:`shared.language.extraction` writes it), the stand-in answers with a
JSON object that validates against it, filled from the document text in the user message:

* a property ``invoice_number`` takes the value of a line labelled ``Invoice number:`` (the name with
  spaces, any case); an array of strings splits that value at commas and semicolons; a number or
  integer takes the first number in it;
* failing a label, ``title`` / ``name`` take the first line of the document, a ``doi`` the first
  DOI, a date (``format: date``) the first ISO date, an ``email`` the first address; other strings
  some words of the text; an ``enum`` its first value named in the text, else its first value;
* optional properties it found nothing for are left out; required ones get a value of their type;
  nullable ones (``["string", "null"]``) get null.

For tests of the caller's validation and retry, markers in the user message change the answer:
``[stand-in: invalid-json]`` always replies with broken JSON; ``[stand-in: invalid-json-once]``
does so only on the first attempt (no assistant turn yet) and answers properly on the retry;
``[stand-in: schema-violation]`` replies with valid JSON that lacks every required property.
These are stand-in rules, not a model.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

logger = logging.getLogger(__name__)

INVALID_ALWAYS = "[stand-in: invalid-json]"
INVALID_ONCE = "[stand-in: invalid-json-once]"
VIOLATION = "[stand-in: schema-violation]"

_SCHEMA_AT = re.compile(r"JSON Schema", re.IGNORECASE)
_DOCUMENT = re.compile(r"<document>\n?(.*?)\n?</document>", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+[^\s\"<>.,;)]")
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_WORDS = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)


def schema_in(prompt: str) -> dict[str, Any] | None:
    """The JSON Schema embedded after the words "JSON Schema", or None."""
    for match in _SCHEMA_AT.finditer(prompt):
        start = prompt.find("{", match.end())
        if start < 0:
            return None
        try:
            value, _ = json.JSONDecoder().raw_decode(prompt[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("properties"), dict):
            return value
    return None


def _document(user: str) -> str:
    found = _DOCUMENT.search(user)
    return found.group(1) if found else user


def _label(name: str, text: str) -> str | None:
    words = re.escape(name.replace("_", " ")).replace(r"\ ", r"[ _-]?")
    found = re.search(rf"^\s*{words}s?\s*[:=]\s*(.+?)\s*$", text, re.IGNORECASE | re.MULTILINE)
    return found.group(1) if found else None


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", "string")
    return list(kind) if isinstance(kind, list) else [str(kind)]


def _number(value: str | None, integer: bool) -> int | float | None:
    found = _NUMBER.search(re.sub(r"(?<=\d),(?=\d{3})", "", value or ""))
    if not found:
        return None
    number = float(found.group(0))
    return int(number) if integer else number


def _string(name: str, schema: dict[str, Any], text: str, labelled: str | None) -> str | None:
    lowered = name.lower()
    enum = schema.get("enum")
    if enum:
        for option in enum:
            if isinstance(option, str) and re.search(rf"\b{re.escape(option)}\b", text, re.IGNORECASE):
                return option
        return str(enum[0])
    if labelled:
        return labelled
    fmt = schema.get("format", "")
    if fmt == "date" or lowered.endswith("date"):
        found = _ISO_DATE.search(text)
        return found.group(0) if found else None
    if "doi" in lowered:
        found = _DOI.search(text)
        return found.group(0) if found else None
    if fmt == "email" or "email" in lowered:
        found = _EMAIL.search(text)
        return found.group(0) if found else None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lowered in {"title", "name"} or lowered.endswith(("_title", "_name")):
        return lines[0] if lines else None
    words = _WORDS.findall(text)
    return " ".join(words[:12]) if words else None


def _value(name: str, schema: dict[str, Any], text: str, required: bool) -> Any:
    types = _types(schema)
    labelled = _label(name, text)
    nullable = "null" in types
    kind = next((t for t in types if t != "null"), "string")
    value: Any = None
    if kind == "object":
        value = _object(schema, text)
    elif kind == "array":
        items = schema.get("items", {}) if isinstance(schema.get("items"), dict) else {}
        if labelled and _types(items)[0] in {"string", "null"}:
            value = [part.strip() for part in re.split(r"[;,]", labelled) if part.strip()]
        elif _types(items)[0] == "object":
            value = [_object(items, text)] if required or schema.get("minItems") else []
        else:
            value = []
        minimum = int(schema.get("minItems", 0))
        while len(value) < minimum:
            value.append(_value(name, items, text, True) if items else "")
    elif kind in {"number", "integer"}:
        value = _number(labelled, kind == "integer")
        if value is None and required:
            value = _number(text, kind == "integer")
            value = value if value is not None else 0
    elif kind == "boolean":
        value = bool(labelled and labelled.lower() in {"yes", "true", "y"}) if labelled or required else None
    else:
        value = _string(name, schema, text, labelled)
        if value is None and required and not nullable:
            value = name
    if value is None and not nullable and not required:
        return _MISSING
    return value


_MISSING = object()


def _object(schema: dict[str, Any], text: str) -> dict[str, Any]:
    required = set(schema.get("required", []))
    answer: dict[str, Any] = {}
    for name, sub in schema.get("properties", {}).items():
        value = _value(name, sub if isinstance(sub, dict) else {}, text, name in required)
        if value is not _MISSING:
            answer[name] = value
    return answer


def schema_reply(params: dict[str, Any], system: str, user: str) -> str | None:
    """The reply text for a prompt that embeds a JSON Schema; None when it embeds none."""
    schema = schema_in(f"{system}\n{user}")
    if schema is None:
        return None
    first_user = next(
        (
            block.get("text", "")
            for message in params.get("messages", [])
            if message.get("role") == "user"
            for block in message.get("content", [])
            if "text" in block
        ),
        user,
    )
    retried = any(message.get("role") == "assistant" for message in params.get("messages", []))
    if INVALID_ALWAYS in first_user or (INVALID_ONCE in first_user and not retried):
        return '{"stand-in": "broken JSON on purpose", '
    if VIOLATION in first_user:
        return json.dumps({"note": "required properties left out on purpose"})
    return json.dumps(_object(schema, _document(first_user)), ensure_ascii=False)
