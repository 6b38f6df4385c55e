"""ACE semantics: basic rights from advanced-rights masks, broad groups, SIDs, protected DACLs."""

from __future__ import annotations

import pytest

from shared.ontap import AUTHENTICATED_USERS, EVERYONE, broad_group, is_sid
from shared.ontap.models import BASIC_RIGHTS_MASKS, parse_acl, parse_permissions, rights_from_advanced


@pytest.mark.parametrize("name", sorted(BASIC_RIGHTS_MASKS))
def test_each_basic_mask_maps_back_to_its_right(name: str) -> None:
    mask = dict.fromkeys(BASIC_RIGHTS_MASKS[name], True)
    assert rights_from_advanced(mask) == name
    assert rights_from_advanced({**mask, "synchronize": True}) == name


def test_masks_with_extra_or_missing_rights_are_special_permissions() -> None:
    read = dict.fromkeys(BASIC_RIGHTS_MASKS["read"], True)
    assert rights_from_advanced({**read, "write_owner": True}) is None
    assert rights_from_advanced({"read_data": True}) is None
    assert rights_from_advanced({**read, "read_data": False, "read_ea": True}) is None
    assert rights_from_advanced({"full_control": True}) == "full_control"


def test_write_is_granted_by_any_right_that_changes_content_or_the_acl() -> None:
    for name in ("write_data", "append_data", "delete", "write_perm", "write_owner"):
        ace = parse_acl({"user": "u", "access": "access_allow", "advanced_rights": {name: True}}, "acls[0]")
        assert ace.grants_write, name
    reader = parse_acl({"user": "u", "access": "access_allow", "rights": "read"}, "acls[0]")
    assert not reader.grants_write and reader.grants_read


@pytest.mark.parametrize(
    ("user", "group"),
    [
        ("Everyone", EVERYONE),
        ("everyone", EVERYONE),
        ("S-1-1-0", EVERYONE),
        ("NT AUTHORITY\\Authenticated Users", AUTHENTICATED_USERS),
        ("S-1-5-11", AUTHENTICATED_USERS),
        ("CORP\\Domain Users", None),
        ("BUILTIN\\Administrators", None),
    ],
)
def test_broad_groups_by_name_and_sid(user: str, group: str | None) -> None:
    assert broad_group(user) == group


def test_sids_are_told_from_names() -> None:
    assert is_sid("S-1-5-21-3623811015-3361044348-30300820-1107")
    assert not is_sid("CORP\\S-1-5")
    assert not is_sid("S-1-")


def test_protected_dacl_comes_from_the_control_flags() -> None:
    assert parse_permissions({"control_flags": "0x9014"}, svm_uuid="u", path="/p").dacl_protected is True
    assert parse_permissions({"control_flags": "0x8014"}, svm_uuid="u", path="/p").dacl_protected is False
    assert parse_permissions({}, svm_uuid="u", path="/p").dacl_protected is None
