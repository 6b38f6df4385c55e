"""Read, write and evaluate CloudFormation templates, without AWS.

PyYAML knows no short-form intrinsics (``!Sub``, ``!If`` ...), so :func:`loads` turns them into
their long form, which CloudFormation accepts just the same; :func:`dump` writes a template back as
YAML. The packager, the deploy tool, the local cloud and the observability checks all read
templates through here.

:func:`expand` applies the ``AWS::LanguageExtensions`` transform the way CloudFormation documents it
(``Fn::ForEach`` loops, ``Fn::FindInMap`` with ``DefaultValue``, ``Fn::Length``,
``Fn::ToJsonString``), so the linters, the local cloud (moto runs no transforms) and every check see
the same resources AWS creates. :func:`load` returns that expanded form unless asked for the raw file.

:class:`Evaluation` evaluates the intrinsic functions the project's templates use for one set of
parameter values: Ref, Fn::Sub, Fn::Join, Fn::If, Fn::Select, Fn::Split, Fn::GetAtt,
Fn::Equals/And/Or/Not, Condition and AWS::NoValue. Anything else raises, so an unsupported construct
is noticed rather than guessed. What Ref and GetAtt of a resource and the pseudo parameters resolve
to comes from a :class:`Stack` the caller supplies: :class:`FakeStack` gives the made-up but
well-formed names and ARNs the observability checks compare (see :func:`evaluate`);
:class:`DeployedStack` gives a deployed stack's physical ids and attributes (the local cloud).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

logger = logging.getLogger(__name__)

REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"


class TemplateError(ValueError):
    """The template is unreadable, inconsistent, or uses a construct the evaluator does not know."""


class _NoValue:
    """``AWS::NoValue``: the property or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

# --------------------------------------------------------------------------------------------------
# Reading and writing

# libyaml's parser and emitter when PyYAML was built with it: a large template loads several times
# faster. Both produce the same values and the same text as the pure-Python classes.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """A safe loader that turns CloudFormation short-form tags into long-form mappings."""


def _construct_intrinsic(loader: Any, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in {"Ref", "Condition"}:
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _construct_intrinsic)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Block style, keys in insertion order, multi-line strings as literal blocks, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: Any, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    node: yaml.ScalarNode = dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)
    return node


_Dumper.add_representer(str, _str_representer)


def loads(text: str) -> dict[str, Any]:
    """Parse template text, YAML with short-form tags or JSON, into plain dicts and lists."""
    document: Any = None
    if text.lstrip().startswith("{"):
        # JSON first: PyYAML rejects valid JSON indented with tabs.
        try:
            document = json.loads(text)
        except ValueError:
            document = None
    if document is None:
        try:
            document = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as error:
            raise TemplateError(f"not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise TemplateError("a template is a mapping")
    return document


def load(path: str | Path, *, raw: bool = False) -> dict[str, Any]:
    """Load a template file (see :func:`loads`) as CloudFormation runs it, or as written if ``raw``.

    The effective form is :func:`inline_includes`, then :func:`expand`, then
    :func:`inline_definitions`, each from the file's folder.
    """
    template = loads(Path(path).read_text(encoding="utf-8"))
    if raw:
        return template
    folder = Path(path).parent
    return inline_definitions(expand(inline_includes(template, folder)), folder)


# --------------------------------------------------------------------------------------------------
# AWS::Include

INCLUDE = "AWS::Include"
_TRANSFORM = "Fn::Transform"


def include_location(node: Any) -> str | None:
    """The ``Location`` of a ``Fn::Transform`` value that calls ``AWS::Include``, else None."""
    if not isinstance(node, dict) or node.get("Name") != INCLUDE:
        return None
    location = (node.get("Parameters") or {}).get("Location")
    return location if isinstance(location, str) else None


def include_snippet(path: Path) -> Any:
    """Read one snippet file: YAML or JSON, as :func:`loads` reads a template, but any value.

    Parsed once per file version (a template includes the same snippets many times); the caller
    gets its own copy.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(f"AWS::Include snippet {path} cannot be read: {error}") from error
    return json.loads(_parsed_snippet(str(path), text))


@functools.lru_cache(maxsize=256)
def _parsed_snippet(path: str, text: str) -> str:
    try:
        return json.dumps(yaml.load(text, Loader=_Loader))
    except yaml.YAMLError as error:
        raise TemplateError(f"AWS::Include snippet {path} is not valid YAML: {error}") from error


def inline_includes(
    template: Mapping[str, Any], folder: Path, *, resolve: Callable[[str], Path] | None = None
) -> dict[str, Any]:
    """The template with every ``Fn::Transform`` of ``AWS::Include`` replaced by its snippet; a new dict.

    CloudFormation runs macros from the most deeply nested outward, so an ``Fn::Transform`` inside a
    section is done before the template's ``Transform`` (``AWS::LanguageExtensions``): a snippet may
    use ``Fn::ForEach``, ``Fn::FindInMap`` with ``DefaultValue``, and the loop identifier of a loop
    it sits in. The snippet takes the place of the ``Fn::Transform`` key: alone in its mapping, the
    mapping becomes the snippet; beside other keys, the snippet's keys join them (a key both define
    is an error, as is a snippet that includes another). A source template names the snippet by a
    path relative to ``folder``; ``resolve`` maps any other Location (a packaged ``s3://`` URI) to
    the local file it was uploaded from.
    """

    def snippet_of(where: str, spec: Any) -> Any:
        location = include_location(spec)
        if location is None:
            raise TemplateError(f"{where}: only Fn::Transform of {INCLUDE} with a Location is supported")
        if resolve is not None and "://" in location:
            path = resolve(location)
        elif "://" in location:
            raise TemplateError(f"{where}: {location} is not a local snippet and no resolver was given")
        else:
            path = (folder / location).resolve()
        snippet = include_snippet(path)
        if _find_transform(snippet):
            raise TemplateError(f"{where}: snippet {location} uses {_TRANSFORM} (includes do not nest)")
        return snippet

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, list):
            return [walk(item, f"{where}[{i}]") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if _TRANSFORM not in node:
            return {key: walk(value, f"{where}.{key}") for key, value in node.items()}
        snippet = snippet_of(where, node[_TRANSFORM])
        if len(node) == 1:
            return snippet
        if not isinstance(snippet, dict):
            raise TemplateError(f"{where}: a snippet beside other keys must be a mapping")
        clash = sorted(set(snippet) & set(node))
        if clash:
            raise TemplateError(f"{where}: the included snippet and the template both define {clash}")
        out: dict[str, Any] = {}
        for key, value in node.items():  # the snippet's keys take the place of the Fn::Transform key
            if key == _TRANSFORM:
                out.update(snippet)
            else:
                out[key] = walk(value, f"{where}.{key}")
        return out

    result = walk(dict(template), "template")
    if not isinstance(result, dict):
        raise TemplateError("a template is a mapping")
    return result


def include_locations(template: Mapping[str, Any]) -> list[str]:
    """Every ``AWS::Include`` Location in ``template``, in document order (repeats kept once)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                location = include_location(value) if key == _TRANSFORM else None
                if location is not None and location not in found:
                    found.append(location)
                walk(value)

    walk(template)
    return found


def _find_transform(node: Any) -> bool:
    if isinstance(node, list):
        return any(_find_transform(item) for item in node)
    if isinstance(node, dict):
        return _TRANSFORM in node or any(_find_transform(v) for v in node.values())
    return False


def drop_unused_mappings(template: dict[str, Any]) -> dict[str, Any]:
    """Remove the Mappings nothing reads any more (the loops used them up); in place, returned.

    The template means the same; cfn-lint (which moto's ValidateTemplate runs) would otherwise
    report each such table as unused.
    """
    text = json.dumps({k: v for k, v in template.items() if k != "Mappings"})
    mappings = template.get("Mappings") or {}
    for name in list(mappings):
        if f'"Fn::FindInMap": ["{name}"' not in text:
            del mappings[name]
    if "Mappings" in template and not mappings:
        del template["Mappings"]
    return template


def inline_definitions(template: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Put each state machine definition file named by ``DefinitionS3Location`` into the template.

    A ``DefinitionS3Location`` whose ``Key`` is a file under ``folder`` (``statemachine/x.asl.json``,
    before the packager points it at the uploaded copy) becomes a ``DefinitionString``: ``Fn::Sub``
    of the file with the ``DefinitionSubstitutions``, which is what Step Functions does with the
    pair. moto keeps only a ``DefinitionString``, and the linters can check it only in the template.
    Changes ``template`` in place and returns it.
    """
    for logical, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource.get("Properties") or {}
        location = properties.get("DefinitionS3Location")
        key = location.get("Key") if isinstance(location, dict) else None
        if not isinstance(key, str) or not (folder / key).is_file():
            continue
        text = (folder / key).read_text(encoding="utf-8")
        substitutions = properties.pop("DefinitionSubstitutions", None) or {}
        missing = sorted({m for m in _SUB_VAR.findall(text) if not m.startswith("!")} - set(substitutions))
        if missing:
            raise TemplateError(
                f"{logical}: {key} uses ${{{', '.join(missing)}}} without a DefinitionSubstitution"
            )
        del properties["DefinitionS3Location"]
        properties["DefinitionString"] = _sub_of(text, substitutions)
    return template


def _sub_of(text: str, substitutions: Mapping[str, Any]) -> Any:
    """``Fn::Sub`` of ``text`` that puts each substitution in place, in its simplest form.

    A Ref or GetAtt becomes ``${Name}`` / ``${Resource.Attribute}`` in the string itself (moto's
    list form of Fn::Sub reads ``$$`` as an escaped ``$``, which ASL context paths use). Any other
    function (``Fn::FindInMap``, ``Fn::If``...) is joined in between the pieces of text for the same
    reason, so the list form is never needed.
    """
    simple: dict[str, str] = {}
    for name, value in substitutions.items():
        if isinstance(value, dict) and set(value) == {"Ref"} and isinstance(value["Ref"], str):
            simple[name] = "${" + value["Ref"] + "}"
        elif (
            isinstance(value, dict) and set(value) == {"Fn::GetAtt"} and isinstance(value["Fn::GetAtt"], list)
        ):
            simple[name] = "${" + ".".join(str(part) for part in value["Fn::GetAtt"]) + "}"
        elif isinstance(value, str | int | float | bool) and not isinstance(value, bool):
            simple[name] = str(value)
    rest = {name: value for name, value in substitutions.items() if name not in simple}
    body = _SUB_VAR.sub(lambda m: simple.get(m.group(1), m.group(0)), text)
    if not rest:
        return _sub_piece(body)
    parts: list[Any] = []
    position = 0
    for match in _SUB_VAR.finditer(body):
        if match.group(1) in rest:
            parts += [_sub_piece(body[position : match.start()]), rest[match.group(1)]]
            position = match.end()
    parts.append(_sub_piece(body[position:]))
    return {"Fn::Join": ["", [part for part in parts if part != ""]]}


def _sub_piece(text: str) -> Any:
    return {"Fn::Sub": text} if _SUB_VAR.search(text) else text


def dump(template: Mapping[str, Any]) -> str:
    """A template as YAML (long-form intrinsics) that :func:`loads` reads back unchanged."""
    return str(yaml.dump(template, Dumper=_Dumper, sort_keys=False, width=100_000, allow_unicode=True))


# --------------------------------------------------------------------------------------------------
# AWS::LanguageExtensions

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
_FOR_EACH = "Fn::ForEach::"
_IDENTIFIER = re.compile(r"^[A-Za-z0-9]+$")
_LOOP_SECTIONS = ("Conditions", "Resources", "Outputs")


def transforms(template: Mapping[str, Any]) -> list[str]:
    """The transforms a template declares, in order."""
    declared = template.get("Transform")
    if declared is None:
        return []
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TemplateError(f"Transform must be a name or a list of names, got {declared!r}")
    return list(names)


def expand(template: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The template as CloudFormation sees it after ``AWS::LanguageExtensions``; a new dict.

    A template without the transform comes back as a copy, unchanged; one that uses ``Fn::ForEach``
    without declaring the transform is an error, as on AWS. ``parameters`` (else the declared
    defaults) give the value of a ``CommaDelimitedList`` parameter a loop iterates over.
    Function calls that stay unresolved until deploy time (``Fn::FindInMap`` over ``Ref``) are
    left for CloudFormation; anything the transform would reject raises :class:`TemplateError`.
    """
    copied: dict[str, Any] = json.loads(json.dumps(template))
    names = transforms(copied)
    if LANGUAGE_EXTENSIONS not in names:
        for section in _LOOP_SECTIONS:
            where = _find_for_each(copied.get(section), section)
            if where:
                raise TemplateError(f"{where} uses Fn::ForEach without Transform: {LANGUAGE_EXTENSIONS}")
        return copied
    rest = [n for n in names if n != LANGUAGE_EXTENSIONS]
    if rest:
        copied["Transform"] = rest[0] if len(rest) == 1 else rest
    else:
        del copied["Transform"]
    names_seen: list[str] = []
    for section in _LOOP_SECTIONS:
        _loop_names(copied.get(section), names_seen)
    repeated = sorted({n for n in names_seen if names_seen.count(n) > 1})
    if repeated:
        raise TemplateError(f"Fn::ForEach loop name(s) used more than once: {repeated}")
    expander = _Expander(copied, dict(parameters or {}))
    for section in _LOOP_SECTIONS:
        if section in copied:
            if not isinstance(copied[section], dict):
                raise TemplateError(f"{section} must be a mapping")
            copied[section] = expander.mapping(copied[section], section, {})
    for section in _LOOP_SECTIONS:
        if section in copied:
            copied[section] = expander.functions(copied[section], section)
    return copied


def _find_for_each(node: Any, path: str) -> str | None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(_FOR_EACH):
                return f"{path}.{key}"
            found = _find_for_each(value, f"{path}.{key}")
            if found:
                return found
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found = _find_for_each(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _loop_names(node: Any, names: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(_FOR_EACH):
                names.append(key[len(_FOR_EACH) :])
            _loop_names(value, names)
    elif isinstance(node, list):
        for item in node:
            _loop_names(item, names)


def _substitute(node: Any, identifier: str, value: str) -> Any:
    """Put one loop value where the transform does: keys, ``Fn::Sub`` strings, ``Ref: identifier``.

    A ``Fn::Sub`` left with no variable becomes the plain string, which is how ``Ref`` and
    ``Fn::GetAtt`` name a generated resource: ``Ref: !Sub "${Fn}Function"``.
    """
    if isinstance(node, list):
        return [_substitute(item, identifier, value) for item in node]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": identifier}:
        return value
    if len(node) == 1 and "Fn::Sub" in node:
        arg = node["Fn::Sub"]
        if isinstance(arg, str):
            text = _replace_identifier(arg, identifier, value)
            return {"Fn::Sub": text} if _SUB_VAR.search(text) else text
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            rest = [_substitute(item, identifier, value) for item in arg[1:]]
            return {"Fn::Sub": [_replace_identifier(arg[0], identifier, value), *rest]}
    return {
        (_replace_identifier(k, identifier, value) if isinstance(k, str) else k): _substitute(
            v, identifier, value
        )
        for k, v in node.items()
    }


def _replace_identifier(text: str, identifier: str, value: str) -> str:
    alphanumeric = re.sub(r"[^A-Za-z0-9]", "", value)
    return text.replace("${" + identifier + "}", value).replace("&{" + identifier + "}", alphanumeric)


class _Expander:
    """One expansion: the template (for Mappings and Parameters) and the loop names already used."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        self.parameters = parameters

    def mapping(self, node: dict[str, Any], path: str, scope: dict[str, str]) -> dict[str, Any]:
        """``node`` with every ``Fn::ForEach::`` key replaced by the entries it produces."""
        out: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(_FOR_EACH):
                produced = self.loop(key, value, path, scope)
            else:
                produced = {key: self.value(value, f"{path}.{key}", scope)}
            for new_key, new_value in produced.items():
                if new_key in out:
                    raise TemplateError(f"{path}: Fn::ForEach produces {new_key!r}, which already exists")
                out[new_key] = new_value
        return out

    def value(self, node: Any, path: str, scope: dict[str, str]) -> Any:
        if isinstance(node, dict):
            return self.mapping(node, path, scope)
        if isinstance(node, list):
            return [self.value(item, f"{path}[{i}]", scope) for i, item in enumerate(node)]
        return node

    def loop(self, key: str, spec: Any, path: str, scope: dict[str, str]) -> dict[str, Any]:
        name = key[len(_FOR_EACH) :]
        where = f"{path}.{key}"
        if not _IDENTIFIER.match(name):
            raise TemplateError(f"{where}: the loop name must be alphanumeric")
        if not isinstance(spec, list) or len(spec) != 3:
            raise TemplateError(f"{where}: expected [Identifier, Collection, {{OutputKey: OutputValue}}]")
        identifier, collection, body = spec
        if not isinstance(identifier, str) or not _IDENTIFIER.match(identifier):
            raise TemplateError(f"{where}: the identifier must be an alphanumeric string, got {identifier!r}")
        if identifier in scope:
            raise TemplateError(f"{where}: identifier {identifier!r} is already used by an enclosing loop")
        if not isinstance(body, dict) or not body:
            raise TemplateError(f"{where}: the third element must be a non-empty mapping")
        for output_key in body:
            if output_key.startswith(_FOR_EACH):
                continue
            if "${" + identifier + "}" not in output_key and "&{" + identifier + "}" not in output_key:
                raise TemplateError(
                    f"{where}: output key {output_key!r} must contain ${{{identifier}}} or &{{{identifier}}}"
                )
        out: dict[str, Any] = {}
        for item in self.collection(collection, where):
            produced = self.mapping(_substitute(body, identifier, item), where, {**scope, identifier: item})
            for new_key, new_value in produced.items():
                if new_key in out:
                    raise TemplateError(f"{where}: two iterations produce {new_key!r}")
                out[new_key] = new_value
        return out

    def collection(self, node: Any, where: str) -> list[str]:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            node = self.parameter_list(str(node["Ref"]), where)
        elif isinstance(node, dict) and set(node) == {"Fn::FindInMap"}:
            node = self.find_in_map(node["Fn::FindInMap"], where)
        if not isinstance(node, list):
            raise TemplateError(f"{where}: the collection must be a list of strings, got {node!r}")
        for item in node:
            if not isinstance(item, str):
                raise TemplateError(f"{where}: collection item {item!r} is not a string")
        return list(node)

    def parameter_list(self, name: str, where: str) -> list[str]:
        spec = (self.template.get("Parameters") or {}).get(name)
        if not isinstance(spec, dict) or spec.get("Type") != "CommaDelimitedList":
            raise TemplateError(
                f"{where}: a collection Ref must name a CommaDelimitedList parameter, not {name!r}"
            )
        value = self.parameters.get(name, spec.get("Default"))
        if value is None:
            raise TemplateError(f"{where}: parameter {name} has no value and no default")
        return [part.strip() for part in str(value).split(",")] if isinstance(value, str) else list(value)

    # -- Fn::FindInMap, Fn::Length, Fn::ToJsonString ---------------------------------------------

    def functions(self, node: Any, path: str) -> Any:
        if isinstance(node, list):
            return [self.functions(item, f"{path}[{i}]") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::FindInMap":
                return self.find_in_map(self.functions(arg, path), path)
            if key == "Fn::Length":
                items = self.functions(arg, path)
                if not isinstance(items, list):
                    raise TemplateError(f"{path}: Fn::Length needs a list it can count, got {items!r}")
                return len(items)
            if key == "Fn::Sub" and isinstance(arg, list) and len(arg) == 2:
                return _fold_sub(self.functions(arg[0], path), self.functions(arg[1], path))
            if key == "Fn::ToJsonString":
                document = self.functions(arg, path)
                if _has_intrinsic(document):
                    raise TemplateError(f"{path}: Fn::ToJsonString of a value known only at deploy time")
                return json.dumps(document, separators=(",", ":"))
        return {k: self.functions(v, f"{path}.{k}") for k, v in node.items()}

    def find_in_map(self, arg: Any, path: str) -> Any:
        if not isinstance(arg, list) or len(arg) not in (3, 4):
            raise TemplateError(
                f"{path}: Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey(, options)]"
            )
        default: Any = None
        has_default = False
        if len(arg) == 4:
            options = arg[3]
            if not isinstance(options, dict) or set(options) != {"DefaultValue"}:
                raise TemplateError(
                    f"{path}: the fourth Fn::FindInMap argument must be {{DefaultValue: ...}}"
                )
            default, has_default = options["DefaultValue"], True
        keys = arg[:3]
        if not all(isinstance(k, str) for k in keys):
            if has_default:
                raise TemplateError(f"{path}: Fn::FindInMap with DefaultValue needs keys known before deploy")
            return {"Fn::FindInMap": arg}
        map_name, top, second = keys
        mappings = self.template.get("Mappings") or {}
        if map_name not in mappings:
            raise TemplateError(f"{path}: Fn::FindInMap names the undeclared mapping {map_name!r}")
        found = (mappings[map_name].get(top) or {}).get(second)
        if found is None:
            if has_default:
                return default
            raise TemplateError(f"{path}: mapping {map_name} has no {top}.{second} (and no DefaultValue)")
        return found


def _fold_sub(text: Any, variables: Any) -> Any:
    """``Fn::Sub [text, vars]`` with every literal variable written into the text: the same string.

    Loops fill such variables from Mappings (``{Name: !FindInMap [...]}``); folding them gives the
    plain ``!Sub "${AWS::StackName}-discovery"`` that readers of the template recognise.
    """
    if not isinstance(text, str) or not isinstance(variables, dict):
        return {"Fn::Sub": [text, variables]}
    literal = {
        k: str(v)
        for k, v in variables.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool) and "${" not in str(v)
    }
    text = _SUB_VAR.sub(lambda m: literal.get(m.group(1), m.group(0)), text)
    rest = {k: v for k, v in variables.items() if k not in literal}
    if rest:
        return {"Fn::Sub": [text, rest]}
    return {"Fn::Sub": text} if _SUB_VAR.search(text) else text


def _has_intrinsic(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_intrinsic(item) for item in node)
    if isinstance(node, dict):
        key = next(iter(node), "")
        if len(node) == 1 and (key in {"Ref", "Condition"} or key.startswith("Fn::")):
            return True
        return any(_has_intrinsic(v) for v in node.values())
    return False


# --------------------------------------------------------------------------------------------------
# Names built from the stack name

# The longest name AWS accepts for each resource type the project names after its stack.
NAME_LIMITS: dict[str, int] = {
    "AWS::Lambda::Function": 64,
    "AWS::Scheduler::Schedule": 64,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::SQS::Queue": 80,
    "AWS::Kinesis::Stream": 128,
    "AWS::DynamoDB::Table": 255,
    "AWS::CloudWatch::Alarm": 255,
    "AWS::CloudWatch::CompositeAlarm": 255,
    "AWS::Logs::LogGroup": 512,
}


def stack_name_limit(template: Mapping[str, Any]) -> tuple[int, str] | None:
    """The longest stack name every ``${AWS::StackName}…`` resource name still fits, and which one binds.

    CloudFormation cannot check this itself: a Rules assertion has no string-length function and the
    stack name is no parameter, so the deploy tool asks before it creates anything. ``template`` is
    the expanded form (:func:`load`); None when no name depends on the stack name.
    """
    tightest: tuple[int, str] | None = None
    for logical, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type", "") if isinstance(resource, dict) else ""
        key = {**_NAME_PROPERTY, "AWS::Scheduler::Schedule": "Name"}.get(kind)
        if kind not in NAME_LIMITS or key is None:
            continue
        name = (resource.get("Properties") or {}).get(key)
        text = name.get("Fn::Sub") if isinstance(name, dict) else None
        if not isinstance(text, str) or not text.startswith("${AWS::StackName}") or "${" in text[17:]:
            continue
        room = NAME_LIMITS[kind] - (len(text) - len("${AWS::StackName}"))
        if tightest is None or room < tightest[0]:
            tightest = (
                room,
                f"{logical} ({text.replace('${AWS::StackName}', '<stack>')}, at most {NAME_LIMITS[kind]})",
            )
    return tightest


# --------------------------------------------------------------------------------------------------
# What Ref and GetAtt of resources mean


class Stack(Protocol):
    """The stack a template is evaluated as: pseudo parameters, Ref and GetAtt of its resources."""

    @property
    def pseudo(self) -> Mapping[str, Any]: ...

    def ref(self, evaluation: Evaluation, logical_id: str) -> Any: ...

    def get_att(self, evaluation: Evaluation, logical_id: str, attribute: str) -> Any: ...


def pseudo_parameters(stack_name: str, stack_id: str, region: str, account_id: str) -> dict[str, str]:
    """The pseudo parameters of a stack in the ``aws`` partition (``AWS::NoValue`` is the evaluator's)."""
    return {
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": "amazonaws.com",
    }


# The property that names each resource type, for resolving Ref to a physical name.
_NAME_PROPERTY: dict[str, str] = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
}


@dataclass(frozen=True)
class FakeStack:
    """A stack that was never deployed: fixed account and region, names from the template itself.

    A resource with an explicit name property is called that; ARNs are built the way AWS builds
    them for the types the checks compare. Anything else gets a ``<ref:...>``/``<getatt:...>`` marker.
    """

    stack_name: str

    @property
    def pseudo(self) -> Mapping[str, Any]:
        stack_id = f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/id"
        return pseudo_parameters(self.stack_name, stack_id, REGION, ACCOUNT)

    def ref(self, evaluation: Evaluation, logical_id: str) -> Any:
        resources = evaluation.template.get("Resources") or {}
        if logical_id not in resources:
            raise TemplateError(f"Ref to undeclared {logical_id}")
        rtype = resources[logical_id].get("Type", "")
        physical = evaluation.physical_name(logical_id)
        if rtype == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{physical}"
        if rtype == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{physical}"
        if rtype == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
        if rtype in _NAME_PROPERTY:
            return physical
        return f"<ref:{logical_id}>"

    def get_att(self, evaluation: Evaluation, logical_id: str, attribute: str) -> Any:
        resources = evaluation.template.get("Resources") or {}
        if logical_id not in resources:
            raise TemplateError(f"GetAtt of undeclared {logical_id}")
        rtype = resources[logical_id].get("Type", "")
        physical = evaluation.physical_name(logical_id)
        if rtype == "AWS::SQS::Queue" and attribute == "QueueName":
            return physical
        if rtype == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{physical}"
        if rtype == "AWS::StepFunctions::StateMachine" and attribute in {"Arn", "Name"}:
            return str(self.ref(evaluation, logical_id)) if attribute == "Arn" else physical
        if rtype == "AWS::Kinesis::Stream" and attribute == "Arn":
            return f"arn:{PARTITION}:kinesis:{REGION}:{ACCOUNT}:stream/{physical}"
        if rtype == "AWS::SNS::Topic" and attribute == "TopicName":
            return physical
        return f"<getatt:{logical_id}.{attribute}>"


@dataclass(frozen=True)
class DeployedStack:
    """A stack that exists: Ref is the physical id CloudFormation reported, GetAtt asks ``attribute``."""

    pseudo: Mapping[str, Any]
    physical_ids: Mapping[str, Any]
    attribute: Callable[[str, str], Any]

    def ref(self, evaluation: Evaluation, logical_id: str) -> Any:
        if logical_id in self.physical_ids:
            return self.physical_ids[logical_id]
        raise TemplateError(f"cannot resolve Ref {logical_id!r}")

    def get_att(self, evaluation: Evaluation, logical_id: str, attribute: str) -> Any:
        return self.attribute(logical_id, attribute)


# --------------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class Evaluation:
    """A template evaluated as ``stack`` with parameter values (declared defaults fill the rest).

    Every condition is evaluated up front, as CloudFormation does when it creates the stack.
    """

    template: Mapping[str, Any]
    stack: Stack
    parameters: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters") or {}
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s) {sorted(unknown)}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in self.parameters:
                values[name] = str(self.parameters[name])
            elif "Default" in spec:
                values[name] = str(spec["Default"])
        self.parameters = values
        for name in self.template.get("Conditions") or {}:
            self.condition(name)

    # -- conditions ------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"undeclared condition {name}")
            self.conditions[name] = bool(self._condition_value(spec))
        return self.conditions[name]

    def _condition_value(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.value(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::And":
                return all(self._condition_value(a) for a in arg)
            if key == "Fn::Or":
                return any(self._condition_value(a) for a in arg)
            if key == "Fn::Not":
                return not self._condition_value(arg[0])
        raise TemplateError(f"unsupported condition {node!r}")

    # -- resources -------------------------------------------------------------------------------

    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources this evaluation creates: logical id -> the raw resource (type, properties)."""
        out: dict[str, dict[str, Any]] = {}
        for logical, resource in (self.template.get("Resources") or {}).items():
            cond = resource.get("Condition")
            if cond is None or self.condition(cond):
                out[logical] = resource
        return out

    def properties(self, logical: str) -> dict[str, Any]:
        resource = self.template["Resources"][logical]
        props = self.value(resource.get("Properties") or {})
        if not isinstance(props, dict):
            raise TemplateError(f"{logical}: properties are not a mapping")
        return props

    def physical_name(self, logical: str) -> str:
        """The name a resource gets: its explicit name property, else a marker for a generated name."""
        resource = self.template["Resources"][logical]
        key = _NAME_PROPERTY.get(resource.get("Type", ""))
        raw = (resource.get("Properties") or {}).get(key) if key else None
        if raw is None:
            return f"<generated:{logical}>"
        return str(self.value(raw))

    # -- values ----------------------------------------------------------------------------------

    def ref(self, name: str) -> Any:
        """Ref of a pseudo parameter, a parameter or a resource."""
        if name == "AWS::NoValue":
            return NO_VALUE
        pseudo = self.stack.pseudo
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.stack.ref(self, name)

    def value(self, node: Any) -> Any:
        """Evaluate every intrinsic function in ``node``."""
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        out = {}
        for key, item in node.items():
            evaluated = self.value(item)
            if evaluated is not NO_VALUE:
                out[key] = evaluated
        return out

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.value(when_true if self.condition(name) else when_false)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            separator, items = arg
            return str(separator).join(str(v) for v in self.value(items))
        if key == "Fn::Select":
            index, items = arg
            return self.value(items)[int(self.value(index))]
        if key == "Fn::Split":
            separator, text = arg
            return str(self.value(text)).split(separator)
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.stack.get_att(self, logical, attribute)
        if key in {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"}:
            return self._condition_value({key: arg})
        if key == "Fn::FindInMap":
            return self._find_in_map(arg)
        raise TemplateError(f"unsupported intrinsic {key}")

    def _find_in_map(self, arg: Any) -> Any:
        """A mapping value looked up by evaluated keys (``DefaultValue`` when a key is absent)."""
        name, top, second = (str(self.value(part)) for part in arg[:3])
        default = arg[3].get("DefaultValue") if len(arg) > 3 and isinstance(arg[3], dict) else None
        row = ((self.template.get("Mappings") or {}).get(name) or {}).get(top) or {}
        if second in row:
            return self.value(row[second])
        if default is not None:
            return self.value(default)
        raise TemplateError(f"Fn::FindInMap: {name}.{top}.{second} is not in the template's Mappings")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.value(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(self.stack.get_att(self, logical, attribute))
            return str(self.ref(name))

        return _SUB_VAR.sub(replace, str(text))


def evaluate(
    template: Mapping[str, Any], stack_name: str, parameters: Mapping[str, str] | None = None
) -> Evaluation:
    """Evaluate ``template`` as the never-deployed stack ``stack_name`` (see :class:`FakeStack`).

    A parameter with neither a value nor a default reads as ``<name>``.
    """
    given = dict(parameters or {})
    for name, spec in (template.get("Parameters") or {}).items():
        if name not in given and "Default" not in spec:
            given[name] = f"<{name}>"
    return Evaluation(template, FakeStack(stack_name), given)


def definition_document(
    template: Mapping[str, Any],
    logical_id: str,
    stack_name: str = "stack",
    parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A state machine's ASL as Step Functions receives it, parsed; evaluated as :func:`evaluate` does.

    ``template`` is the effective template (:func:`load`), where the definition file is inline.
    """
    evaluation = evaluate(template, stack_name, parameters)
    properties = evaluation.template["Resources"][logical_id].get("Properties") or {}
    if "DefinitionString" not in properties:
        raise TemplateError(f"{logical_id} has no DefinitionString (read the template with load)")
    text = evaluation.value(properties["DefinitionString"])
    try:
        document = json.loads(str(text))
    except ValueError as error:
        raise TemplateError(f"{logical_id}: the definition is not JSON once substituted: {error}") from error
    if not isinstance(document, dict):
        raise TemplateError(f"{logical_id}: the definition is not a JSON object")
    return document
