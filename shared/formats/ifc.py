"""IFC (ISO 10303-21 "STEP physical file") streaming scanner: schema, project, units, storeys, counts.

Why hand-written: ``ifcopenshell`` is about 190 MB unpacked (past Lambda's 250 MB layer limit
together with anything else) and parses the whole model into memory; what a summary needs is one
forward pass over the instance statements.

What is read
    The file in chunks through any binary file object, split into statements at ``;`` outside
    strings and comments, in bounded memory: one statement at a time (a statement longer than
    ``max_statement_bytes`` is an error). From the HEADER section, ``FILE_SCHEMA`` gives the schema,
    normalised to ``IFC2X3``, ``IFC4`` or ``IFC4X3`` (``IFC4X3_ADD2`` -> ``IFC4X3``); from the DATA
    section every instance ``#id=TYPE(...)`` is counted by type, and a few are kept:

    * ``IFCPROJECT``: Name is attribute 3 and Description attribute 4 (GlobalId, OwnerHistory,
      Name, Description, ObjectType, LongName, Phase, RepresentationContexts, UnitsInContext, the
      same in IFC2X3, IFC4 and IFC4X3);
    * ``IFCUNITASSIGNMENT`` and the ``IFCSIUNIT`` / ``IFCCONVERSIONBASEDUNIT`` it lists: the units
      by unit type (``LENGTHUNIT: MILLIMETRE``);
    * ``IFCBUILDINGSTOREY``: Name (3) and Elevation (10);
    * every rooted entity (its first attribute a 22-character GlobalId): type, name and a digest
      of its attributes with references and the owner history left out, for version diffs;
    * door property sets (``IFCPROPERTYSET``, ``IFCPROPERTYSINGLEVALUE``,
      ``IFCRELDEFINESBYPROPERTIES``) for the rule checks.

    Memory grows with the number of rooted entities (one short tuple each), never with geometry.

String escapes (ISO 10303-21, 7.3.3) are decoded: ``''``, ``\\\\``, ``\\S\\`` (ISO 8859-1 upper half),
``\\X\\hh``, ``\\X2\\hhhh...\\X0\\`` (UTF-16) and ``\\X4\\hhhhhhhh...\\X0\\`` (UTF-32); ``\\P?\\``
page switches are accepted and ignored.

Errors (:class:`IfcError`, ``details``: ``offset`` and ``record``, the entity id or section):
:class:`IfcMagicError` no ``ISO-10303-21;`` at the start; :class:`IfcTruncatedError` the file
ends inside a statement or before ``END-ISO-10303-21;``; :class:`IfcSyntaxError` a statement
that does not parse (an unterminated string, unbalanced parentheses, a bad escape).

API
    ``scan_ifc(stream, *, chunk_size=1 MiB) -> IfcSummary``; ``decode_step_string(raw) -> str``;
    ``diff_models(old, new) -> dict`` (added, removed, changed GlobalIds by type).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from shared.errors import PatternError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1 << 20
MAX_STATEMENT_BYTES = 16 << 20
MAGIC = b"ISO-10303-21;"
SCHEMAS = ("IFC2X3", "IFC4X3", "IFC4")  # IFC4X3 before IFC4: prefixes are matched in order
_INSTANCE = re.compile(r"^#(\d+)\s*=\s*([A-Za-z0-9_]+)\s*\((.*)\)\s*$", re.DOTALL)
_GLOBAL_ID = re.compile(r"^[0-9A-Za-z_$]{22}$")


class IfcError(PatternError, ValueError):
    """The bytes are not a readable IFC (STEP) file; ``details`` name where."""


class IfcMagicError(IfcError):
    """The file does not start with ``ISO-10303-21;``."""


class IfcTruncatedError(IfcError):
    """The file ends inside a statement or before ``END-ISO-10303-21;``."""


class IfcSyntaxError(IfcError):
    """A statement does not parse."""


@dataclass(frozen=True)
class Ref:
    id: int


@dataclass(frozen=True)
class Enum:
    value: str


@dataclass(frozen=True)
class Typed:
    """A typed parameter such as ``IFCLABEL('EI 30')``."""

    type: str
    value: Any


NULL = None
DERIVED = "*"

_ESCAPE = re.compile(
    r"\\X2\\([0-9A-Fa-f]*)\\X0\\|\\X4\\([0-9A-Fa-f]*)\\X0\\|\\X\\([0-9A-Fa-f]{2})|\\S\\(.)|\\P[A-I]\\|\\\\"
)


def decode_step_string(raw: str) -> str:
    """A STEP string's value (without its quotes), escapes decoded (module docstring)."""
    text = raw.replace("''", "'")

    def one(match: re.Match[str]) -> str:
        x2, x4, x1, s, whole = match.group(1), match.group(2), match.group(3), match.group(4), match.group(0)
        if x2 is not None:
            if len(x2) % 4:
                raise ValueError(f"\\X2\\ escape of {len(x2)} hex digits")
            return bytes.fromhex(x2).decode("utf-16-be")
        if x4 is not None:
            if len(x4) % 8:
                raise ValueError(f"\\X4\\ escape of {len(x4)} hex digits")
            return bytes.fromhex(x4).decode("utf-32-be")
        if x1 is not None:
            return bytes.fromhex(x1).decode("latin-1")
        if s is not None:
            return chr(ord(s) + 128)
        if whole == "\\\\":
            return "\\"
        return ""  # a code page switch

    return _ESCAPE.sub(one, text)


def _parse_params(text: str, entity: str, offset: int) -> list[Any]:
    """The parameter list of one instance, as Python values (strings decoded, refs as Ref)."""
    pos = 0
    n = len(text)

    def fail(why: str) -> IfcSyntaxError:
        return IfcSyntaxError(why, offset=offset, record=entity)

    def value() -> Any:
        nonlocal pos
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            raise fail("a parameter is missing")
        c = text[pos]
        if c == "'":
            end = pos + 1
            while True:
                end = text.find("'", end)
                if end < 0:
                    raise fail("an unterminated string")
                if end + 1 < n and text[end + 1] == "'":
                    end += 2
                    continue
                break
            raw = text[pos + 1 : end]
            pos = end + 1
            try:
                return decode_step_string(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise fail(f"a bad string escape: {exc}") from exc
        if c == "(":
            pos += 1
            items: list[Any] = []
            while True:
                while pos < n and text[pos] in " \t\r\n":
                    pos += 1
                if pos < n and text[pos] == ")":
                    pos += 1
                    return items
                items.append(value())
                while pos < n and text[pos] in " \t\r\n":
                    pos += 1
                if pos < n and text[pos] == ",":
                    pos += 1
                elif pos < n and text[pos] == ")":
                    pos += 1
                    return items
                else:
                    raise fail("unbalanced parentheses in a list")
        if c == "#":
            end = pos + 1
            while end < n and text[end].isdigit():
                end += 1
            ref = Ref(int(text[pos + 1 : end]))
            pos = end
            return ref
        if c == "$":
            pos += 1
            return NULL
        if c == "*":
            pos += 1
            return DERIVED
        if c == ".":
            end = text.find(".", pos + 1)
            if end < 0:
                raise fail("an unterminated enumeration")
            enum = Enum(text[pos + 1 : end])
            pos = end + 1
            return enum
        if c == '"':
            end = text.find('"', pos + 1)
            if end < 0:
                raise fail("an unterminated binary")
            binary = text[pos + 1 : end]
            pos = end + 1
            return binary
        if c.isalpha():
            end = pos
            while end < n and (text[end].isalnum() or text[end] == "_"):
                end += 1
            name = text[pos:end].upper()
            pos = end
            inner = value()
            if not isinstance(inner, list) or len(inner) != 1:
                raise fail(f"typed parameter {name} without one value")
            return Typed(name, inner[0])
        end = pos
        while end < n and text[end] not in ",)":
            end += 1
        token = text[pos:end].strip()
        pos = end
        try:
            return int(token)
        except ValueError:
            try:
                return float(token)
            except ValueError:
                raise fail(f"an unreadable parameter {token[:20]!r}") from None

    params = value()
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    if pos != n or not isinstance(params, list):
        raise fail("text after the parameter list")
    return params


def _statements(stream: BinaryIO, chunk_size: int, max_bytes: int) -> Iterator[tuple[int, str]]:
    """(offset, text) of each statement, split at ``;`` outside strings and comments."""
    offset = 0  # file offset of the current statement's first byte
    consumed = 0  # bytes of the file turned into text so far
    current: list[str] = []
    size = 0
    in_string = False
    in_comment = False
    pending = b""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        data = pending + chunk
        # Keep an incomplete UTF-8 sequence for the next chunk (STEP files are ASCII; be lenient).
        cut = len(data)
        while cut > 0 and cut > len(data) - 4 and data[cut - 1] & 0xC0 == 0x80:
            cut -= 1
        if cut > 0 and data[cut - 1] >= 0xC0:
            cut -= 1
        pending = data[cut:]
        text = data[:cut].decode("utf-8", errors="replace")
        start = 0
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            if in_comment:
                end = text.find("*/", i)
                if end < 0:
                    i = n
                    break
                in_comment = False
                i = end + 2
                start = i
                continue
            if in_string:
                end = text.find("'", i)
                if end < 0:
                    i = n
                    break
                in_string = False  # a doubled quote reopens the string at the next character
                i = end + 1
                continue
            if c == "'":
                in_string = True
            elif c == "/" and i + 1 < n and text[i + 1] == "*":
                current.append(text[start:i])
                in_comment = True
                i += 2
                end = text.find("*/", i)
                if end >= 0:
                    in_comment = False
                    i = end + 2
                start = i if not in_comment else n
                continue
            elif c == ";":
                current.append(text[start:i])
                statement = "".join(current).strip()
                yield offset, statement
                offset = consumed + i + 1  # characters: bytes for an ASCII file
                current = []
                size = 0
                start = i + 1
            i += 1
        if not in_comment:
            current.append(text[start:])
        size += n - start
        if size > max_bytes:
            raise IfcSyntaxError(
                f"a statement longer than {max_bytes} bytes", offset=offset, record="statement"
            )
        consumed += n
    rest = "".join(current).strip()
    if rest or in_string or in_comment:
        raise IfcTruncatedError(
            "the file ends inside a statement" + (" (in a string)" if in_string else ""),
            offset=offset,
            record="statement",
        )


@dataclass
class IfcSummary:
    schema: str
    schema_raw: str
    project_name: str | None
    project_description: str | None
    units: dict[str, str]
    storeys: list[dict[str, Any]]
    entity_counts: dict[str, int]
    entities: dict[str, tuple[str, str, str]]  # GlobalId -> (type, name, digest)
    findings: list[dict[str, Any]]
    file_name: str = ""
    authoring_application: str = ""
    instances: int = 0
    bytes_read: int = 0

    def to_dict(self, *, with_entities: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": "ifc",
            "schema": self.schema,
            "schema_raw": self.schema_raw,
            "project_name": self.project_name,
            "project_description": self.project_description,
            "units": self.units,
            "storeys": self.storeys,
            "entity_counts": dict(sorted(self.entity_counts.items())),
            "instances": self.instances,
            "rooted_entities": len(self.entities),
            "findings": self.findings,
            "file_name": self.file_name,
            "authoring_application": self.authoring_application,
            "bytes_read": self.bytes_read,
        }
        if with_entities:
            out["entities"] = {gid: list(v) for gid, v in sorted(self.entities.items())}
        return out


@dataclass
class _Collected:
    units: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (unit type, unit)
    assignment: list[int] = field(default_factory=list)
    fire_values: dict[int, Any] = field(default_factory=dict)  # IFCPROPERTYSINGLEVALUE named FireRating
    door_psets: dict[int, list[int]] = field(default_factory=dict)  # Pset_DoorCommon id -> property ids
    pset_targets: dict[int, list[int]] = field(default_factory=dict)  # pset id -> related object ids
    doors: dict[int, str] = field(default_factory=dict)  # door instance id -> GlobalId


def _unit_name(params: list[Any]) -> str:
    prefix = params[2].value if len(params) > 2 and isinstance(params[2], Enum) else ""
    name = params[3].value if len(params) > 3 and isinstance(params[3], Enum) else ""
    return f"{prefix}{name}"


def _digest(params: list[Any]) -> str:
    def canon(value: Any) -> Any:
        if isinstance(value, Ref):
            return "#"
        if isinstance(value, list):
            return [canon(v) for v in value]
        if isinstance(value, Enum):
            return f".{value.value}."
        if isinstance(value, Typed):
            return [value.type, canon(value.value)]
        return value

    material = [canon(v) for i, v in enumerate(params) if i != 1]  # not the owner history
    return hashlib.sha256(repr(material).encode()).hexdigest()[:16]


def scan_ifc(
    stream: BinaryIO, *, chunk_size: int = DEFAULT_CHUNK_SIZE, max_statement_bytes: int = MAX_STATEMENT_BYTES
) -> IfcSummary:
    """Scan a whole IFC file (module docstring)."""
    head = stream.read(len(MAGIC) + 3)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(MAGIC[: len(body)]) or len(body) < len(MAGIC):
        if not head:
            raise IfcMagicError("the file is empty", offset=0, record="ISO-10303-21")
        raise IfcMagicError(
            "not a STEP file: it does not start with ISO-10303-21;", offset=0, record="ISO-10303-21"
        )

    class _Prefixed:
        def __init__(self) -> None:
            self.first: bytes | None = head
            self.total = 0

        def read(self, n: int) -> bytes:
            if self.first is not None:
                out, self.first = self.first, None
            else:
                out = stream.read(n)
            self.total += len(out)
            return out

    source = _Prefixed()
    schema_raw = ""
    file_name = app = ""
    project: list[Any] | None = None
    storeys: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    entities: dict[str, tuple[str, str, str]] = {}
    collected = _Collected()
    section = ""
    ended = False
    instances = 0
    for offset, statement in _statements(source, chunk_size, max_statement_bytes):  # type: ignore[arg-type]
        upper = statement[:40].upper()
        if ended:
            raise IfcSyntaxError(
                "statements after END-ISO-10303-21", offset=offset, record="END-ISO-10303-21"
            )
        if upper.startswith("ISO-10303-21"):
            continue
        if upper in ("HEADER", "DATA") or upper.startswith("DATA("):
            section = "DATA" if upper.startswith("DATA") else "HEADER"
            continue
        if upper == "ENDSEC":
            section = ""
            continue
        if upper.startswith("END-ISO-10303-21"):
            ended = True
            continue
        if section == "HEADER":
            name, _, rest = statement.partition("(")
            params = _parse_params("(" + rest, name.strip(), offset) if rest else []
            key = name.strip().upper()
            if key == "FILE_SCHEMA" and params and isinstance(params[0], list) and params[0]:
                schema_raw = str(params[0][0])
            elif key == "FILE_NAME" and params:
                file_name = str(params[0] or "")
                app = str(params[5] or "") if len(params) > 5 else ""
            continue
        if section != "DATA":
            raise IfcSyntaxError(
                f"a statement outside HEADER and DATA: {statement[:30]!r}", offset=offset, record="section"
            )
        match = _INSTANCE.match(statement)
        if match is None:
            raise IfcSyntaxError(f"not an instance: {statement[:40]!r}", offset=offset, record="DATA")
        ident, kind = int(match.group(1)), match.group(2).upper()
        instances += 1
        counts[kind] = counts.get(kind, 0) + 1
        text = "(" + match.group(3) + ")"
        needed = kind in (
            "IFCPROJECT",
            "IFCBUILDINGSTOREY",
            "IFCSIUNIT",
            "IFCCONVERSIONBASEDUNIT",
            "IFCUNITASSIGNMENT",
            "IFCPROPERTYSET",
            "IFCPROPERTYSINGLEVALUE",
            "IFCRELDEFINESBYPROPERTIES",
        )
        rooted = text[1:2] == "'" and _GLOBAL_ID.match(text[2:24] or "") is not None and text[24:25] == "'"
        if not (needed or rooted):
            continue
        params = _parse_params(text, f"#{ident}={kind}", offset)
        if rooted and params and isinstance(params[0], str):
            name = params[2] if len(params) > 2 and isinstance(params[2], str) else ""
            entities[params[0]] = (kind, name, _digest(params))
            if kind in ("IFCDOOR", "IFCDOORSTANDARDCASE"):
                collected.doors[ident] = params[0]
        if kind == "IFCPROJECT":
            project = params
        elif kind == "IFCBUILDINGSTOREY":
            elevation = params[9] if len(params) > 9 else None
            storeys.append(
                {
                    "name": params[2] if len(params) > 2 else None,
                    "elevation": float(elevation) if isinstance(elevation, int | float) else None,
                    "global_id": params[0],
                }
            )
        elif kind == "IFCSIUNIT" and len(params) > 1 and isinstance(params[1], Enum):
            collected.units[ident] = (params[1].value, _unit_name(params))
        elif kind == "IFCCONVERSIONBASEDUNIT" and len(params) > 2 and isinstance(params[1], Enum):
            collected.units[ident] = (params[1].value, str(params[2]))
        elif kind == "IFCUNITASSIGNMENT" and params and isinstance(params[0], list):
            collected.assignment = [r.id for r in params[0] if isinstance(r, Ref)]
        elif kind == "IFCPROPERTYSINGLEVALUE" and params and str(params[0]).lower() == "firerating":
            value = params[2] if len(params) > 2 else None
            collected.fire_values[ident] = value.value if isinstance(value, Typed) else value
        elif kind == "IFCPROPERTYSET" and len(params) > 4 and params[2] == "Pset_DoorCommon":
            collected.door_psets[ident] = [r.id for r in params[4] if isinstance(r, Ref)]
        elif kind == "IFCRELDEFINESBYPROPERTIES" and len(params) > 5 and isinstance(params[5], Ref):
            targets = [r.id for r in params[4] if isinstance(r, Ref)] if isinstance(params[4], list) else []
            collected.pset_targets.setdefault(params[5].id, []).extend(targets)
    if not ended:
        raise IfcTruncatedError(
            "the file ends before END-ISO-10303-21;", offset=source.total, record="END-ISO-10303-21"
        )
    units = {
        collected.units[i][0]: collected.units[i][1] for i in collected.assignment if i in collected.units
    }
    return IfcSummary(
        schema=normalise_schema(schema_raw),
        schema_raw=schema_raw,
        project_name=project[2] if project and len(project) > 2 and isinstance(project[2], str) else None,
        project_description=(
            project[3] if project and len(project) > 3 and isinstance(project[3], str) else None
        ),
        units=units,
        storeys=storeys,
        entity_counts=counts,
        entities=entities,
        findings=_rules(collected, storeys, project is not None),
        file_name=file_name,
        authoring_application=app,
        instances=instances,
        bytes_read=source.total,
    )


def normalise_schema(raw: str) -> str:
    upper = raw.upper()
    for schema in SCHEMAS:
        if upper.startswith(schema):
            return schema
    return upper or "UNKNOWN"


def _rules(c: _Collected, storeys: list[dict[str, Any]], has_project: bool) -> list[dict[str, Any]]:
    """Named rule findings (``rule``, ``message``, ``count``, ``examples``)."""
    findings: list[dict[str, Any]] = []

    def add(rule: str, message: str, examples: list[Any]) -> None:
        if examples:
            findings.append(
                {"rule": rule, "message": message, "count": len(examples), "examples": examples[:20]}
            )

    if not has_project:
        add("missing_project", "the model has no IFCPROJECT", ["-"])
    # Doors whose Pset_DoorCommon declares FireRating without a value, or lacks it while other
    # doors' property sets declare one.
    door_rating: dict[int, Any] = {}
    declared = False
    for pset, props in c.door_psets.items():
        ratings = [c.fire_values[p] for p in props if p in c.fire_values]
        declared = declared or bool(ratings)
        for target in c.pset_targets.get(pset, ()):
            if target in c.doors:
                door_rating[target] = ratings[0] if ratings else None
    missing = [c.doors[d] for d in sorted(c.doors) if declared and (door_rating.get(d) in (None, ""))]
    add(
        "door_without_fire_rating",
        "door without a FireRating where the model's property sets declare one",
        missing,
    )
    add(
        "storey_without_elevation",
        "building storey without an elevation",
        [s["name"] or s["global_id"] for s in storeys if s["elevation"] is None],
    )
    return findings


def diff_models(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Added, removed and changed GlobalIds of two ``entities`` maps (GlobalId -> [type, name, digest])."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(g for g in set(old) & set(new) if list(old[g]) != list(new[g]))

    def by_type(ids: list[str], source: dict[str, Any]) -> dict[str, int]:
        out: dict[str, int] = {}
        for g in ids:
            out[source[g][0]] = out.get(source[g][0], 0) + 1
        return dict(sorted(out.items()))

    return {
        "added": len(added),
        "removed": len(removed),
        "changed": len(changed),
        "added_by_type": by_type(added, new),
        "removed_by_type": by_type(removed, old),
        "changed_by_type": by_type(changed, new),
        "examples": {"added": added[:20], "removed": removed[:20], "changed": changed[:20]},
    }
