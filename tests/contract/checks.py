"""The checks every use case must pass, as plain functions that return what is wrong.

Each check takes what it inspects (source text, a template, an event) rather than a use case, so
the contract tests run it over the catalog and the breakage tests run it over a deliberately broken
copy, proving that it can fail.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from scripts import catalog

logger = logging.getLogger(__name__)

# Calls that reach AWS or build a client: never at import time (clients are made on first use).
_IMPORT_TIME_CALLS = {"client", "resource", "aws_client", "Session"}


def python_files(uc: catalog.UseCase) -> list[Path]:
    """The use case's own Python: its functions and its package (demo driver included)."""
    roots = [uc.functions_dir, uc.package_dir]
    return sorted(
        path
        for root in roots
        if root.is_dir()
        for path in root.rglob("*.py")
        if "__pycache__" not in path.parts
    )


def function_folders(uc: catalog.UseCase) -> list[Path]:
    if not uc.functions_dir.is_dir():
        return []
    return sorted(p for p in uc.functions_dir.iterdir() if (p / "handler.py").is_file())


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_module_logger(node: ast.stmt) -> bool:
    """``logger = logging.getLogger(__name__)``, exactly."""
    if not (isinstance(node, ast.Assign) and [_name(t) for t in node.targets] == ["logger"]):
        return False
    call = node.value
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "getLogger"
        and [_name(a) for a in call.args] == ["__name__"]
    )


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def module_problems(where: str, source: str) -> list[str]:
    """The project's module conventions: docstring, postponed annotations, one module logger."""
    tree = ast.parse(source)
    problems = []
    if not ast.get_docstring(tree):
        problems.append(f"{where}: no module docstring")
    code = [node for node in tree.body if not _is_docstring(node)]
    future = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in code
    )
    if code and not future:
        problems.append(f"{where}: no `from __future__ import annotations`")
    loggers = sum(_is_module_logger(node) for node in code)
    defines = any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for node in code)
    if defines and loggers != 1:
        problems.append(f"{where}: {loggers} `logger = logging.getLogger(__name__)` lines, want one")
    return problems


def _top_level_calls(tree: ast.Module) -> Iterator[ast.Call]:
    """Calls that run at import: in module-level statements, not inside a def or a class body's defs."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # Decorators and default values run at import; bodies do not.
            parts: list[ast.AST] = list(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                parts += list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]
            for part in parts:
                yield from (n for n in ast.walk(part) if isinstance(n, ast.Call))
            continue
        yield from (n for n in ast.walk(node) if isinstance(n, ast.Call))


def handler_problems(where: str, source: str) -> list[str]:
    """A Lambda entry point: ``handler(event, context)``, traced, and no AWS client built at import."""
    tree = ast.parse(source)
    problems = []
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
    if len(found) != 1:
        return [f"{where}: no top-level `def handler(event, context)`"]
    handler = found[0]
    arguments = [a.arg for a in handler.args.posonlyargs + handler.args.args]
    if len(arguments) != 2 or handler.args.vararg or handler.args.kwonlyargs:
        problems.append(f"{where}: handler takes {arguments}, want exactly (event, context)")
    decorators = {
        d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else ""
        for d in handler.decorator_list
    }
    if "trace_lambda_handler" not in decorators:
        problems.append(f"{where}: handler is not wrapped in @trace_lambda_handler (logs, metrics, traces)")
    for call in _top_level_calls(tree):
        name = call.func.attr if isinstance(call.func, ast.Attribute) else _name(call.func)
        if name in _IMPORT_TIME_CALLS:
            problems.append(f"{where}:{call.lineno}: builds an AWS client at import time ({name})")
    return problems


# --------------------------------------------------------------------------------------------------
# Sample events


def event_files(uc: catalog.UseCase, function: str) -> list[Path]:
    """``events/<fn>.json`` and its variants ``events/<fn>_<case>.json``."""
    folder = uc.path / "events"
    return sorted([*folder.glob(f"{function}.json"), *folder.glob(f"{function}_*.json")])


def declared_contracts(module: Any) -> list[Any]:
    """The input contracts a handler module uses: objects with ``requires`` and ``check_input``."""
    found = []
    for value in vars(module).values():
        if callable(getattr(value, "check_input", None)) and isinstance(
            getattr(value, "requires", None), tuple
        ):
            found.append(value)
    return found


def event_problems(where: str, text: str, contracts: Iterable[Any] = ()) -> list[str]:
    """The sample parses as a JSON object, its Kinesis records decode, and it meets a declared contract."""
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"{where}: not JSON ({error})"]
    if not isinstance(event, dict):
        return [f"{where}: a Lambda event sample must be a JSON object, not {type(event).__name__}"]
    problems = []
    for index, record in enumerate(event.get("Records", [])):
        data = record.get("kinesis", {}).get("data") if isinstance(record, Mapping) else None
        if data is None:
            continue
        try:
            json.loads(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError) as error:
            problems.append(f"{where}: Records[{index}].kinesis.data is not base64 JSON ({error})")
    contracts = list(contracts)
    if contracts:
        failures = []
        for contract in contracts:
            try:
                contract.check_input(event)
            except Exception as error:  # noqa: BLE001 - each contract's own error names what is missing
                failures.append(f"{getattr(contract, 'name', contract)}: {error}")
            else:
                return problems
        problems.append(f"{where}: meets none of its handler's input contracts ({'; '.join(failures)})")
    return problems


# --------------------------------------------------------------------------------------------------
# Function resources of a template


def function_problems(uc: catalog.UseCase, template: Mapping[str, Any]) -> list[str]:
    """Every function: packaged from its folder, python3.12 on arm64, the shared layer, traced by
    switch, JSON logs at ``LogLevel`` into its own encrypted log group, its own role, the standard
    environment, and a sample event."""
    resources = template["Resources"]
    problems = []
    roles: dict[str, str] = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        handler = str(props.get("Handler", ""))
        folder = handler.removeprefix("functions/").removesuffix("/handler.handler")
        checks = {
            "Handler": (handler == f"functions/{folder}/handler.handler", handler),
            "handler.py": ((uc.functions_dir / folder / "handler.py").is_file(), folder),
            "Code": (
                props.get("Code")
                == {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": f"functions/{folder}.zip"},
                props.get("Code"),
            ),
            "Runtime": (props.get("Runtime") == "python3.12", props.get("Runtime")),
            "Architectures": (props.get("Architectures") == ["arm64"], props.get("Architectures")),
            "Layers": (props.get("Layers") == [{"Ref": "DependenciesLayer"}], props.get("Layers")),
            "TracingConfig": (
                props.get("TracingConfig")
                == {"Mode": {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}},
                props.get("TracingConfig"),
            ),
            "sample event": (bool(event_files(uc, folder)), f"events/{folder}.json"),
        }
        variables = props.get("Environment", {}).get("Variables", {})
        checks["USE_CASE"] = (variables.get("USE_CASE") == uc.name, variables.get("USE_CASE"))
        checks["ENVIRONMENT"] = (variables.get("ENVIRONMENT") == {"Ref": "Environment"}, None)
        checks["ENABLE_XRAY"] = (variables.get("ENABLE_XRAY") == {"Ref": "EnableXRayTracing"}, None)
        logging_config = props.get("LoggingConfig", {})
        checks["LogFormat"] = (logging_config.get("LogFormat") == "JSON", logging_config.get("LogFormat"))
        checks["ApplicationLogLevel"] = (
            logging_config.get("ApplicationLogLevel") == {"Ref": "LogLevel"},
            None,
        )
        group_ref = logging_config.get("LogGroup", {})
        group = (
            resources.get(group_ref.get("Ref", ""), {}).get("Properties", {})
            if isinstance(group_ref, dict)
            else {}
        )
        suffix = str(props.get("FunctionName", {}).get("Fn::Sub", "")).removeprefix("${AWS::StackName}-")
        checks["LogGroupName"] = (
            group.get("LogGroupName") == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{suffix}"},
            group.get("LogGroupName"),
        )
        checks["RetentionInDays"] = (group.get("RetentionInDays") == {"Ref": "LogRetentionDays"}, None)
        checks["KmsKeyId"] = (group.get("KmsKeyId") == {"Fn::GetAtt": ["EncryptionKey", "Arn"]}, None)
        problems += [f"{name}: {what} is wrong ({seen!r})" for what, (ok, seen) in checks.items() if not ok]
        role = props.get("Role", {})
        role_name = role.get("Fn::GetAtt", [""])[0] if isinstance(role, dict) else ""
        if role_name in roles:
            problems.append(f"{name}: shares its role {role_name} with {roles[role_name]}")
        roles[role_name] = name
    if not roles:
        problems.append(f"{uc.name}: the template has no function")
    return problems
