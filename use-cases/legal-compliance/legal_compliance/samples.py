"""UC1's sample volume: files on a file share and the ACLs the ONTAP stand-in answers for them.

:data:`SAMPLES` is a small file server (shares ``finance``, ``hr``, ``legal``, ``projects``,
``public`` and one file at the volume root) whose ACLs, owners, protected DACLs and ages cover
every policy rule, each sample naming the rules it must break (``expected``), plus the failure
path: ``finance/vanished.xlsx`` is on the access point but ONTAP answers 404 for it (deleted
between the listing and the ACL read), so it must be a FAILED result while the run goes on.
A name with a space, ``#`` and parentheses checks the key-to-path encoding.

:func:`ontap_seed` is the stand-in's declarative seed (``scripts/localcloud/ontap.py``);
:func:`body` the file's bytes. Ages are days before the run; the demo sets each object's
last-modified time from them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

SVM = "svm-legal"
VOLUME = "fileshare"
JUNCTION = "/fileshare"
RETENTION_DAYS = 3650
SENSITIVE_PREFIXES = "hr/,legal/privileged/"
ADMINS = {"user": "BUILTIN\\Administrators", "rights": "full_control", "inherited": True}
ORPHAN_1 = "S-1-5-21-3623811015-3361044348-30300820-1107"
ORPHAN_2 = "S-1-5-21-3623811015-3361044348-30300820-1203"
MISSING_IN_ONTAP = "finance/vanished.xlsx"
LATE_ARRIVAL = "projects/apollo/late-arrival.md"


@dataclass(frozen=True)
class Sample:
    """One file on the volume, its security descriptor and the rules it must break."""

    key: str
    owner: str
    acls: tuple[dict[str, Any], ...]
    protected: bool = False
    age_days: int = 30
    expected: frozenset[str] = field(default_factory=frozenset)
    in_ontap: bool = True

    def descriptor(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "group": "CORP\\Domain Users",
            "protected": self.protected,
            "acls": [dict(ace) for ace in self.acls],
        }


def _share(group: str, rights: str = "modify") -> dict[str, Any]:
    return {"user": f"CORP\\{group}", "rights": rights, "inherited": True}


def _s(key: str, owner: str, *acls: dict[str, Any], expected: tuple[str, ...] = (), **kw: Any) -> Sample:
    return Sample(key, owner, (ADMINS, *acls), expected=frozenset(expected), **kw)


SAMPLES: tuple[Sample, ...] = (
    _s("README.txt", "BUILTIN\\Administrators", {"user": "Everyone", "rights": "read", "inherited": True}),
    _s("finance/budget-2026.xlsx", "CORP\\cfo", _share("Finance")),
    _s(
        "finance/payroll/salaries-2026.csv",
        "CORP\\payroll",
        {"user": "Everyone", "rights": "full_control"},
        _share("Finance"),
        expected=("broad_group_write",),
    ),
    _s(
        "finance/archive/ledger-2012.pdf",
        "CORP\\cfo",
        _share("Finance", "read"),
        age_days=5100,
        expected=("retention_expired",),
    ),
    _s(
        "finance/archive/ledger-2015.pdf",
        "CORP\\cfo",
        _share("Finance", "read"),
        age_days=4000,
        expected=("retention_expired",),
    ),
    _s(
        "finance/reports/q3.pdf",
        "CORP\\controller",
        _share("Finance"),
        {"user": ORPHAN_1, "rights": "read"},
        expected=("orphaned_sid",),
    ),
    _s("finance/vanished.xlsx", "CORP\\cfo", _share("Finance"), in_ontap=False),
    _s(
        "hr/reviews/alice-2025.docx",
        "CORP\\hr-lead",
        _share("HR"),
        {"user": "NT AUTHORITY\\Authenticated Users", "rights": "read", "inherited": True},
        expected=("sensitive_broad_read",),
    ),
    _s("hr/reviews/bob-2025.docx", "CORP\\hr-lead", _share("HR")),
    _s(
        "hr/contracts/carol.pdf",
        "CORP\\hr-lead",
        {"user": "Everyone", "rights": "read"},
        {"user": "CORP\\HR", "rights": "modify"},
        protected=True,
        expected=("sensitive_broad_read", "inheritance_broken"),
    ),
    _s("hr/handbook.pdf", "CORP\\hr-lead", _share("HR"), {"user": "CORP\\Domain Users", "rights": "read"}),
    _s(
        "legal/privileged/memo-merger.docx",
        "CORP\\gc",
        {"user": "Everyone", "rights": "modify"},
        _share("Legal"),
        expected=("broad_group_write", "sensitive_broad_read"),
    ),
    _s(
        "legal/privileged/case-4411.pdf",
        ORPHAN_2,
        {"user": "CORP\\Legal", "rights": "modify"},
        protected=True,
        expected=("inheritance_broken", "orphaned_sid"),
    ),
    _s("legal/contracts/nda-acme.pdf", "CORP\\gc", _share("Legal")),
    _s(
        "legal/contracts/msa 2009 #1 (signed).pdf",
        "CORP\\gc",
        _share("Legal"),
        age_days=6200,
        expected=("retention_expired",),
    ),
    _s(
        "projects/apollo/design.md",
        "CORP\\dev-lead",
        {"user": "NT AUTHORITY\\Authenticated Users", "rights": "modify"},
        _share("Engineering"),
        expected=("broad_group_write",),
    ),
    _s("projects/apollo/notes.txt", "CORP\\dev-lead", _share("Engineering")),
    _s(
        "projects/zeus/spec.md",
        "CORP\\pm",
        {"user": "CORP\\Zeus", "rights": "modify"},
        protected=True,
        expected=("inheritance_broken",),
    ),
    _s(
        "projects/zeus/old-team.txt",
        "CORP\\pm",
        _share("Engineering"),
        {"user": ORPHAN_2, "rights": "modify"},
        expected=("orphaned_sid",),
    ),
    _s("public/welcome.txt", "CORP\\it", {"user": "Everyone", "rights": "read", "inherited": True}),
    _s("public/logo.png", "CORP\\it", _share("Marketing")),
)

# Not on the volume at first: the demo adds it for the "credentials refused" run.
LATE = _s(LATE_ARRIVAL, "CORP\\dev-lead", _share("Engineering"))


def expected_findings(samples: tuple[Sample, ...] = SAMPLES) -> dict[str, set[str]]:
    """Rule -> the keys that must break it."""
    found: dict[str, set[str]] = {}
    for sample in samples:
        for rule in sample.expected:
            found.setdefault(rule, set()).add(sample.key)
    return found


def ontap_seed(password: str = "local-ontap-password") -> dict[str, Any]:
    """The ONTAP stand-in's seed: one SVM, one volume, the samples' descriptors (404 for the vanished one)."""
    files = {s.key: s.descriptor() for s in (*SAMPLES, LATE) if s.in_ontap}
    return {
        "credentials": {"username": "fsxadmin", "password": password},
        "svms": [
            {
                "name": SVM,
                "volumes": [
                    {
                        "name": VOLUME,
                        "junction_path": JUNCTION,
                        "root": {
                            "owner": "BUILTIN\\Administrators",
                            "acls": [{"user": "BUILTIN\\Administrators", "rights": "full_control"}],
                        },
                        "files": files,
                    }
                ],
            }
        ],
    }


def body(sample: Sample) -> bytes:
    """A few hundred bytes of text that differ per file."""
    digest = hashlib.sha256(sample.key.encode()).hexdigest()
    return (f"{sample.key}\nowner: {sample.owner}\n" + digest * 4 + "\n").encode()
