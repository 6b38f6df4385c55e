"""The policy rules: one Athena query each, over the run's partition of the UC1 datasets.

Every rule query selects the same columns (``rule, severity, path, share, owner, principal,
detail, last_modified``), one row per file that breaks the rule, so its rows become ``findings``
records as they are. Each query filters on ``dt`` (the run's date: Athena reads one partition)
and on ``run_id``. The SQL is plain Trino that DuckDB answers the same way on the embedded cloud
(``||`` rather than ``concat``, ``CASE`` rather than ``if``, ``starts_with``, ``date_diff``);
``tests/legal_compliance/test_rules.py`` runs every query on the local engine.

Rules (:data:`RULES`):

* ``broad_group_write`` (high): an allow ACE for Everyone or Authenticated Users that grants
  write, modify or full control;
* ``orphaned_sid`` (medium): an ACE or the owner is a domain SID ONTAP cannot resolve (an
  account that was deleted);
* ``inheritance_broken`` (medium): the file's DACL is protected (``SE_DACL_PROTECTED``), so it no
  longer inherits from its folder below the share root;
* ``retention_expired`` (medium): last modified more than ``RETENTION_DAYS`` before the run;
* ``sensitive_broad_read`` (high): a file under one of ``SENSITIVE_PREFIXES`` that Everyone or
  Authenticated Users may read.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from shared.config import CommonConfig, env

logger = logging.getLogger(__name__)

_PREFIX = re.compile(r"^[^'\x00-\x1f]{1,512}$")


def parse_prefixes(raw: str) -> tuple[str, ...]:
    """``"hr/, legal/privileged/"`` -> ``("hr/", "legal/privileged/")``; quotes and controls refused."""
    values = tuple(p.strip().lstrip("/") for p in raw.split(",") if p.strip())
    for value in values:
        if not _PREFIX.match(value):
            raise ValueError(f"sensitive prefix {value!r} has a quote or a control character")
    return values


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyConfig(CommonConfig):
    retention_days: int = env("RETENTION_DAYS", 2555)  # seven years
    sensitive_prefixes: tuple[str, ...] = env(
        "SENSITIVE_PREFIXES", ("hr/", "legal/privileged/"), parse=parse_prefixes
    )


@dataclasses.dataclass(frozen=True)
class RunScope:
    """The partition and run a query reads, and the policy's parameters."""

    run_id: str
    dt: str  # YYYY-MM-DD
    now: datetime
    retention_days: int
    sensitive_prefixes: tuple[str, ...]

    @property
    def cutoff(self) -> str:
        return (self.now - timedelta(days=self.retention_days)).strftime("%Y-%m-%d %H:%M:%S")


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _where(scope: RunScope, alias: str) -> str:
    return f"{alias}.dt = {literal(scope.dt)} AND {alias}.run_id = {literal(scope.run_id)}"


def broad_group_write(scope: RunScope) -> str:
    return f"""
SELECT 'broad_group_write' AS rule, 'high' AS severity, a.path, a.share, a.owner,
       min(a.principal) AS principal,
       min(a.principal) || ' may write (' || CAST(count(*) AS varchar) || ' ACE(s), '
         || CASE WHEN bool_or(a.full_control) THEN 'full control' ELSE 'write' END || ')' AS detail,
       CAST(NULL AS timestamp) AS last_modified
FROM acl_entries a
WHERE {_where(scope, "a")} AND a.access = 'access_allow' AND a.broad_group IS NOT NULL
  AND (a.grants_write OR a.full_control)
GROUP BY a.path, a.share, a.owner
"""


def orphaned_sid(scope: RunScope) -> str:
    return f"""
SELECT 'orphaned_sid' AS rule, 'medium' AS severity, path, share, owner, min(principal) AS principal,
       CAST(count(*) AS varchar) || ' unresolved SID(s), e.g. ' || min(principal) AS detail,
       CAST(NULL AS timestamp) AS last_modified
FROM (
  SELECT a.path, a.share, a.owner, a.principal FROM acl_entries a
  WHERE {_where(scope, "a")} AND a.unresolved_sid
  UNION ALL
  SELECT f.path, f.share, f.owner, f.owner AS principal FROM files f
  WHERE {_where(scope, "f")} AND f.owner_unresolved
) s
GROUP BY path, share, owner
"""


def inheritance_broken(scope: RunScope) -> str:
    return f"""
SELECT 'inheritance_broken' AS rule, 'medium' AS severity, f.path, f.share, f.owner,
       CAST(NULL AS varchar) AS principal,
       'DACL protected (control flags ' || CAST(f.control_flags AS varchar) || '), '
         || CAST(f.ace_count AS varchar) || ' explicit ACE(s)' AS detail,
       CAST(NULL AS timestamp) AS last_modified
FROM files f
WHERE {_where(scope, "f")} AND f.status = 'SUCCEEDED' AND f.dacl_protected AND f.share <> '/'
"""


def retention_expired(scope: RunScope) -> str:
    cutoff = f"TIMESTAMP {literal(scope.cutoff)}"
    now = f"TIMESTAMP {literal(scope.now.strftime('%Y-%m-%d %H:%M:%S'))}"
    return f"""
SELECT 'retention_expired' AS rule, 'medium' AS severity, f.path, f.share, f.owner,
       CAST(NULL AS varchar) AS principal,
       'last modified ' || CAST(CAST(f.last_modified AS date) AS varchar) || ', '
         || CAST(date_diff('day', f.last_modified, {now}) AS varchar) || ' days before the run (limit '
         || CAST({scope.retention_days} AS varchar) || ')' AS detail,
       f.last_modified
FROM files f
WHERE {_where(scope, "f")} AND f.last_modified < {cutoff}
"""


def sensitive_broad_read(scope: RunScope) -> str:
    if not scope.sensitive_prefixes:
        return """
SELECT 'sensitive_broad_read' AS rule, 'high' AS severity, CAST(NULL AS varchar) AS path,
       CAST(NULL AS varchar) AS share, CAST(NULL AS varchar) AS owner, CAST(NULL AS varchar) AS principal,
       CAST(NULL AS varchar) AS detail, CAST(NULL AS timestamp) AS last_modified
WHERE false
"""
    under = " OR ".join(f"starts_with(a.path, {literal(p)})" for p in scope.sensitive_prefixes)
    return f"""
SELECT 'sensitive_broad_read' AS rule, 'high' AS severity, a.path, a.share, a.owner,
       min(a.principal) AS principal,
       'sensitive path readable by ' || min(a.principal) AS detail,
       CAST(NULL AS timestamp) AS last_modified
FROM acl_entries a
WHERE {_where(scope, "a")} AND a.access = 'access_allow' AND a.broad_group IS NOT NULL
  AND (a.grants_read OR a.full_control) AND ({under})
GROUP BY a.path, a.share, a.owner
"""


RULES: dict[str, Callable[[RunScope], str]] = {
    "broad_group_write": broad_group_write,
    "orphaned_sid": orphaned_sid,
    "inheritance_broken": inheritance_broken,
    "retention_expired": retention_expired,
    "sensitive_broad_read": sensitive_broad_read,
}
SEVERITY = {
    "broad_group_write": "high",
    "orphaned_sid": "medium",
    "inheritance_broken": "medium",
    "retention_expired": "medium",
    "sensitive_broad_read": "high",
}


def summary_by_share_and_owner(scope: RunScope) -> str:
    """Findings of the run per share and owner, one column per rule."""
    columns = ",\n       ".join(
        f"sum(CASE WHEN rule = {literal(rule)} THEN 1 ELSE 0 END) AS {rule}" for rule in RULES
    )
    return f"""
SELECT share, coalesce(owner, '(unknown)') AS owner, count(DISTINCT path) AS files, count(*) AS findings,
       {columns}
FROM findings f
WHERE {_where(scope, "f")}
GROUP BY share, coalesce(owner, '(unknown)')
ORDER BY findings DESC, share, owner
"""


def files_by_share(scope: RunScope) -> str:
    """Files of the run per share: how many were audited, failed or left for the next run."""
    return f"""
SELECT share, count(*) AS files,
       sum(CASE WHEN status = 'SUCCEEDED' THEN 1 ELSE 0 END) AS audited,
       sum(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed,
       sum(CASE WHEN status = 'PENDING' THEN 1 ELSE 0 END) AS pending,
       sum(size) AS bytes
FROM files f
WHERE {_where(scope, "f")}
GROUP BY share
ORDER BY share
"""
