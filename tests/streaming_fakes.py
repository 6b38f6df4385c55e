"""In-memory stand-ins for the AWS clients of the streaming path, for fast property and stateful tests.

moto evaluates DynamoDB expressions correctly but slowly (tens of milliseconds per conditional
update), too slow for hundreds of generated runs. :class:`FakeDynamoDB` evaluates the subset of the
expression language that ``shared.state`` uses (SET/REMOVE/ADD, if_not_exists, comparisons, IN,
AND/OR/NOT, attribute_(not_)exists) on typed items; ``tests/shared/test_state.py`` runs the same
operation sequences against it and against moto and requires identical results, so the fake
cannot drift from the real semantics unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from shared.s3ap import ObjectInfo
from shared.state import MAX_ITEM_BYTES, item_bytes
from shared.streaming.changes import ROOT_SHARD, shard_of

_TOKEN = re.compile(r"\s*(<>|<=|>=|[()=<>,+]|#\w+|:\w+|[A-Za-z_]\w*)")
_KEYWORDS = {"AND", "OR", "NOT", "IN", "SET", "REMOVE", "ADD", "DELETE"}


def client_error(code: str, operation: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, **extra}, operation)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"cannot tokenize {text[pos:]!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, names: dict[str, str], values: dict[str, Any]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.names = names
        self.values = values

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.toks[self.i]
        if expected is not None and tok.upper() != expected:
            raise ValueError(f"expected {expected}, got {tok}")
        self.i += 1
        return tok

    def name(self, tok: str) -> str:
        return self.names[tok] if tok.startswith("#") else tok

    # -- conditions: return a predicate over an item --

    def condition(self) -> Callable[[dict[str, Any]], bool]:
        left = self.conj()
        while (self.peek() or "").upper() == "OR":
            self.take()
            right, prev = self.conj(), left
            left = lambda item, a=prev, b=right: a(item) or b(item)  # noqa: E731
        return left

    def conj(self) -> Callable[[dict[str, Any]], bool]:
        left = self.neg()
        while (self.peek() or "").upper() == "AND":
            self.take()
            right, prev = self.neg(), left
            left = lambda item, a=prev, b=right: a(item) and b(item)  # noqa: E731
        return left

    def neg(self) -> Callable[[dict[str, Any]], bool]:
        if (self.peek() or "").upper() == "NOT":
            self.take()
            inner = self.neg()
            return lambda item: not inner(item)
        return self.primary()

    def operand(self) -> Callable[[dict[str, Any]], Any]:
        tok = self.take()
        if tok.startswith(":"):
            value = self.values[tok]
            return lambda item: value
        attr = self.name(tok)
        return lambda item: item.get(attr)

    def primary(self) -> Callable[[dict[str, Any]], bool]:
        tok = self.peek()
        if tok == "(":
            self.take()
            inner = self.condition()
            self.take(")")
            return inner
        if tok in ("attribute_not_exists", "attribute_exists"):
            self.take()
            self.take("(")
            attr = self.name(self.take())
            self.take(")")
            exists = tok == "attribute_exists"
            return lambda item: (attr in item) == exists
        left = self.operand()
        op = self.take()
        if op.upper() == "IN":
            self.take("(")
            options = [self.operand()]
            while self.peek() == ",":
                self.take()
                options.append(self.operand())
            self.take(")")
            return lambda item: (v := left(item)) is not None and any(v == o(item) for o in options)
        right = self.operand()
        return lambda item: _compare(left(item), op, right(item))

    # -- update expressions --

    def update(self) -> list[tuple[str, str, Any]]:
        actions: list[tuple[str, str, Any]] = []
        while self.peek() is not None:
            section = self.take().upper()
            while self.peek() is not None and self.peek().upper() not in _KEYWORDS:  # type: ignore[union-attr]
                attr = self.name(self.take())
                if section == "SET":
                    self.take("=")
                    actions.append(("SET", attr, self.value_expr()))
                elif section == "REMOVE":
                    actions.append(("REMOVE", attr, None))
                elif section == "ADD":
                    actions.append(("ADD", attr, self.values[self.take()]))
                if self.peek() == ",":
                    self.take()
        return actions

    def value_expr(self) -> Callable[[dict[str, Any]], Any]:
        first = self.term()
        if self.peek() == "+":
            self.take()
            second = self.term()
            return lambda item: {"N": _num(float(first(item)["N"]) + float(second(item)["N"]))}
        return first

    def term(self) -> Callable[[dict[str, Any]], Any]:
        if self.peek() == "if_not_exists":
            self.take()
            self.take("(")
            attr = self.name(self.take())
            self.take(",")
            fallback = self.term()
            self.take(")")
            return lambda item: item[attr] if attr in item else fallback(item)
        return self.operand()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        return False
    (lk, lv), (rk, rv) = next(iter(left.items())), next(iter(right.items()))
    if lk != rk:
        return op == "<>"
    a, b = (float(lv), float(rv)) if lk == "N" else (lv, rv)
    return {
        "=": a == b,
        "<>": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


class FakeDynamoDB:
    """A dict-backed DynamoDB client for the calls ``shared.state`` makes."""

    def __init__(self, throttle: Callable[[str], bool] | None = None) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: dict[str, int] = {}
        self.throttle = throttle

    def _enter(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        if self.throttle is not None and self.throttle(operation):
            raise client_error("ProvisionedThroughputExceededException", operation)

    def _table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.tables.setdefault(name, {})

    @staticmethod
    def _key(key: dict[str, Any]) -> str:
        ((_, typed),) = key.items()
        return str(next(iter(typed.values())))

    def update_item(self, **kw: Any) -> dict[str, Any]:
        self._enter("UpdateItem")
        table = self._table(kw["TableName"])
        pk = self._key(kw["Key"])
        names, values = kw.get("ExpressionAttributeNames", {}), kw.get("ExpressionAttributeValues", {})
        current = table.get(pk)
        item = dict(current) if current else dict(kw["Key"])
        if "ConditionExpression" in kw:
            ok = _Parser(kw["ConditionExpression"], names, values).condition()(current or {})
            if not ok:
                extra = (
                    {"Item": dict(current)}
                    if current and kw.get("ReturnValuesOnConditionCheckFailure")
                    else {}
                )
                raise client_error("ConditionalCheckFailedException", "UpdateItem", **extra)
        before = dict(item)
        for action, attr, value in _Parser(kw["UpdateExpression"], names, values).update():
            if action == "SET":
                item[attr] = value(before)
            elif action == "REMOVE":
                item.pop(attr, None)
            else:
                old = float(item[attr]["N"]) if attr in item else 0.0
                item[attr] = {"N": _num(old + float(value["N"]))}
        if item_bytes(item) > MAX_ITEM_BYTES:
            raise client_error("ValidationException", "UpdateItem")  # as DynamoDB: item too large
        table[pk] = item
        return {}

    def get_item(self, **kw: Any) -> dict[str, Any]:
        self._enter("GetItem")
        item = self._table(kw["TableName"]).get(self._key(kw["Key"]))
        return {"Item": dict(item)} if item else {}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self._enter("BatchGetItem")
        responses: dict[str, list[dict[str, Any]]] = {}
        for name, request in RequestItems.items():
            table = self._table(name)
            found = [table[self._key(k)] for k in request["Keys"] if self._key(k) in table]
            responses[name] = [dict(i) for i in found]
        return {"Responses": responses, "UnprocessedKeys": {}}

    def delete_item(self, **kw: Any) -> dict[str, Any]:
        self._enter("DeleteItem")
        table = self._table(kw["TableName"])
        pk = self._key(kw["Key"])
        current = table.get(pk)
        if "ConditionExpression" in kw:
            check = _Parser(kw["ConditionExpression"], kw.get("ExpressionAttributeNames", {}),
                            kw.get("ExpressionAttributeValues", {})).condition()  # fmt: skip
            if not check(current or {}):
                raise client_error("ConditionalCheckFailedException", "DeleteItem")
        table.pop(pk, None)
        return {}

    def get_paginator(self, operation: str) -> Any:
        assert operation == "scan"
        fake = self

        class _Scan:
            def paginate(self, **kw: Any) -> Iterator[dict[str, Any]]:
                fake._enter("Scan")
                yield {"Items": [dict(i) for i in fake._table(kw["TableName"]).values()]}

        return _Scan()


class FakeManifestS3:
    """Just enough of an S3 client for ``ManifestStore``: objects in a dict."""

    def __init__(self, fail_put: Callable[[str], None] | None = None) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.calls: dict[str, int] = {}
        self.fail_put = fail_put

    def _enter(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        self._enter("GetObject")
        if (Bucket, Key) not in self.objects:
            raise client_error("NoSuchKey", "GetObject")
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    def put_object(self, Bucket: str, Key: str, Body: Any, **_: Any) -> dict[str, Any]:  # noqa: N803
        self._enter("PutObject")
        if self.fail_put is not None:
            self.fail_put(Key)
        self.objects[(Bucket, Key)] = Body.read() if hasattr(Body, "read") else bytes(Body)
        return {"ETag": '"x"'}

    def delete_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        self._enter("DeleteObject")
        self.objects.pop((Bucket, Key), None)
        return {}

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_objects_v2"
        fake = self

        class _List:
            def paginate(self, Bucket: str, Prefix: str = "") -> Iterator[dict[str, Any]]:  # noqa: N803
                fake._enter("ListObjectsV2")
                keys = sorted(k for b, k in fake.objects if b == Bucket and k.startswith(Prefix))
                yield {"Contents": [{"Key": k} for k in keys]}

        return _List()


class FakeKinesis:
    """A stream of ``shards`` shards; ``fail`` decides which put entries fail (partial failures)."""

    def __init__(self, shards: int = 2, fail: Callable[[], bool] | None = None) -> None:
        self.shards: list[list[dict[str, Any]]] = [[] for _ in range(shards)]
        self.fail = fail
        self.calls = 0
        self._sequence = 0

    def shard_for(self, partition_key: str) -> int:
        return int(hashlib.md5(partition_key.encode()).hexdigest(), 16) % len(self.shards)

    def append(self, data: bytes, partition_key: str, *, encoded: str | None = None) -> None:
        """Add one record; ``encoded`` overrides the base64 text (to deliver a malformed payload)."""
        self._sequence += 1
        shard = self.shard_for(partition_key)
        self.shards[shard].append(
            {
                "eventID": f"shardId-{shard:012d}:{self._sequence:056d}",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/changes",
                "kinesis": {
                    "partitionKey": partition_key,
                    "sequenceNumber": f"{self._sequence:056d}",
                    "data": encoded if encoded is not None else base64.b64encode(data).decode(),
                },
            }
        )

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        results: list[dict[str, Any]] = []
        for entry in Records:
            if self.fail is not None and self.fail():
                results.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow"}
                )
                continue
            self.append(entry["Data"], entry["PartitionKey"])
            results.append({"SequenceNumber": str(self._sequence), "ShardId": "x"})
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedRecordCount": failed, "Records": results}


class DictLister:
    """A ``Lister`` over a dict of key -> ObjectInfo, with an optional failure hook per shard."""

    def __init__(self, page_size: int = 1000) -> None:
        self.objects: dict[str, ObjectInfo] = {}
        self.page_size = page_size
        self.broken: set[str] = set()

    def shards(self) -> list[str]:
        return sorted({shard_of(k) for k in self.objects})

    def pages(self, shard: str) -> Iterator[list[ObjectInfo]]:
        keys = sorted(k for k in self.objects if shard_of(k) == shard)
        if shard in self.broken:
            from shared.errors import StorageError

            yield [self.objects[k] for k in keys[: len(keys) // 2]]
            raise StorageError(f"listing {shard or ROOT_SHARD!r} failed (injected)")
        for start in range(0, len(keys), self.page_size):
            yield [self.objects[k] for k in keys[start : start + self.page_size]]
