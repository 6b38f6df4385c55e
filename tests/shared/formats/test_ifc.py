# ruff: noqa: E501 (STEP statements are kept on one line, as files write them)
"""The IFC (STEP) scanner against files written by hand from ISO 10303-21 and the IFC schemas."""

from __future__ import annotations

import io

import pytest

from shared.formats.ifc import (
    IfcError,
    IfcMagicError,
    IfcSyntaxError,
    IfcTruncatedError,
    decode_step_string,
    diff_models,
    scan_ifc,
)

HEADER = """ISO-10303-21;
HEADER;
FILE_DESCRIPTION(('ViewDefinition [ReferenceView_V1.2]'),'2;1');
FILE_NAME('office.ifc','2026-11-30T10:00:00',('Architect'),('Studio; Ltd'),'IfcOpenShell','Revit 2025','');
FILE_SCHEMA(('{schema}'));
ENDSEC;
DATA;
"""
FOOTER = "ENDSEC;\nEND-ISO-10303-21;\n"

# IFCPROJECT: GlobalId, OwnerHistory, Name, Description, ObjectType, LongName, Phase, Contexts, Units.
BODY = r"""#1=IFCPERSON($,'Doe','Jane',$,$,$,$,$);
#5=IFCOWNERHISTORY(#1,#1,$,.ADDED.,$,$,$,1700000000);
#10=IFCPROJECT('2O2Fr$t4X7Zf8NOew3FLOH',#5,'Caf\X2\00E9\X0\ Tower','Office; 12 floors /* not a comment */',$,'Long name','Design',(#20),#30);
#20=IFCGEOMETRICREPRESENTATIONCONTEXT($,'Model',3,1.E-05,#21,$);
#21=IFCAXIS2PLACEMENT3D(#22,$,$);
#22=IFCCARTESIANPOINT((0.,0.,0.));
/* a comment; with a semicolon */
#30=IFCUNITASSIGNMENT((#31,#32,#33));
#31=IFCSIUNIT(*,.LENGTHUNIT.,.MILLI.,.METRE.);
#32=IFCSIUNIT(*,.AREAUNIT.,$,.SQUARE_METRE.);
#33=IFCCONVERSIONBASEDUNIT(#34,.PLANEANGLEUNIT.,'DEGREE',#35);
#34=IFCDIMENSIONALEXPONENTS(0,0,0,0,0,0,0);
#35=IFCMEASUREWITHUNIT(IFCPLANEANGLEMEASURE(0.0174532925199433),#36);
#36=IFCSIUNIT(*,.PLANEANGLEUNIT.,$,.RADIAN.);
#40=IFCBUILDINGSTOREY('0fAlY9gUz2Cg3Vt0CtvYq_',#5,'Level 1',$,$,$,$,$,.ELEMENT.,0.);
#41=IFCBUILDINGSTOREY('1fAlY9gUz2Cg3Vt0CtvYq_',#5,'Level 2',$,$,$,$,$,.ELEMENT.,3500.);
#42=IFCBUILDINGSTOREY('2fAlY9gUz2Cg3Vt0CtvYq_',#5,'Roof',$,$,$,$,$,.ELEMENT.,$);
#50=IFCWALL('3cUkl32yn9qRSPvBJVyWw5',#5,'Wall A',$,$,$,$,'tag',.STANDARD.);
#51=IFCWALL('3cUkl32yn9qRSPvBJVyWw6',#5,'Wall B',$,$,$,$,'tag',.STANDARD.);
#52=IFCWALL('3cUkl32yn9qRSPvBJVyWw7',#5,'Wall ''C''',$,$,$,$,'tag',.STANDARD.);
#60=IFCDOOR('1hOSvn6df7F8_7GcBWlRGQ',#5,'Door 1',$,$,$,$,$,2100.,900.,.DOOR.,$,$);
#61=IFCDOOR('1hOSvn6df7F8_7GcBWlRGR',#5,'Door 2',$,$,$,$,$,2100.,900.,.DOOR.,$,$);
#62=IFCDOOR('1hOSvn6df7F8_7GcBWlRGS',#5,'Door 3',$,$,$,$,$,2100.,900.,.DOOR.,$,$);
#70=IFCWINDOW('2hOSvn6df7F8_7GcBWlRGQ',#5,'Window 1',$,$,$,$,$,1200.,1000.,.WINDOW.,$,$);
#80=IFCSPACE('3hOSvn6df7F8_7GcBWlRGQ',#5,'101',$,$,$,$,'Office',.ELEMENT.,.INTERNAL.,$);
#90=IFCPROPERTYSINGLEVALUE('FireRating',$,IFCLABEL('EI 30'),$);
#91=IFCPROPERTYSINGLEVALUE('IsExternal',$,IFCBOOLEAN(.F.),$);
#92=IFCPROPERTYSET('0PsetDoorCommonAAAAAAA',#5,'Pset_DoorCommon',$,(#90,#91));
#93=IFCPROPERTYSET('0PsetDoorCommonBBBBBBB',#5,'Pset_DoorCommon',$,(#91));
#94=IFCRELDEFINESBYPROPERTIES('0RelDefinesAAAAAAAAAAA',#5,$,$,(#60),#92);
#95=IFCRELDEFINESBYPROPERTIES('0RelDefinesBBBBBBBBBBB',#5,$,$,(#61,#62),#93);
"""


def ifc(schema: str = "IFC4", body: str = BODY) -> bytes:
    return (HEADER.format(schema=schema) + body + FOOTER).encode()


def scan(data: bytes, **kwargs: int) -> object:
    return scan_ifc(io.BytesIO(data), **kwargs)


def test_project_units_storeys_and_counts() -> None:
    s = scan_ifc(io.BytesIO(ifc()), chunk_size=64)  # tiny chunks: statements span reads
    assert s.schema == "IFC4" and s.schema_raw == "IFC4"
    assert s.project_name == "Café Tower"  # attribute 3, with its \X2\ escape decoded
    assert s.project_description == "Office; 12 floors /* not a comment */"  # attribute 4
    assert s.units == {"LENGTHUNIT": "MILLIMETRE", "AREAUNIT": "SQUARE_METRE", "PLANEANGLEUNIT": "DEGREE"}
    assert [(x["name"], x["elevation"]) for x in s.storeys] == [
        ("Level 1", 0.0),
        ("Level 2", 3500.0),
        ("Roof", None),
    ]
    assert s.entity_counts["IFCWALL"] == 3 and s.entity_counts["IFCDOOR"] == 3
    assert s.entity_counts["IFCWINDOW"] == 1 and s.entity_counts["IFCSPACE"] == 1
    assert s.entities["3cUkl32yn9qRSPvBJVyWw7"][:2] == ("IFCWALL", "Wall 'C'")
    assert s.file_name == "office.ifc" and s.authoring_application == "Revit 2025"
    assert s.instances == BODY.count("\n#") + 1


def test_rules_are_named_findings() -> None:
    s = scan_ifc(io.BytesIO(ifc()))
    rules = {f["rule"]: f for f in s.findings}
    # Door 1 has EI 30; doors 2 and 3 share a Pset_DoorCommon without FireRating.
    assert rules["door_without_fire_rating"]["examples"] == [
        "1hOSvn6df7F8_7GcBWlRGR",
        "1hOSvn6df7F8_7GcBWlRGS",
    ]
    assert rules["storey_without_elevation"]["examples"] == ["Roof"]


def test_no_fire_rating_rule_when_no_property_set_declares_one() -> None:
    body = BODY.replace(
        "#92=IFCPROPERTYSET('0PsetDoorCommonAAAAAAA',#5,'Pset_DoorCommon',$,(#90,#91));",
        "#92=IFCPROPERTYSET('0PsetDoorCommonAAAAAAA',#5,'Pset_DoorCommon',$,(#91));",
    )
    s = scan_ifc(io.BytesIO(ifc(body=body)))
    assert "door_without_fire_rating" not in {f["rule"] for f in s.findings}


@pytest.mark.parametrize(
    ("raw", "schema"),
    [("IFC2X3", "IFC2X3"), ("IFC4", "IFC4"), ("IFC4X3_ADD2", "IFC4X3"), ("IFC4X3", "IFC4X3")],
)
def test_schema_is_normalised(raw: str, schema: str) -> None:
    assert scan_ifc(io.BytesIO(ifc(raw))).schema == schema


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("It''s", "It's"),
        ("\\X2\\00E9\\X0\\t\\X2\\00E9\\X0\\", "été"),
        ("\\X2\\D83DDE00\\X0\\", "\U0001f600"),  # a surrogate pair
        ("\\X4\\0001F600\\X0\\", "\U0001f600"),
        (r"\X\E9", "é"),
        (r"\S\i", "é"),  # 'i' + 128
        (r"a\\b", "a\\b"),
        (r"\PA\plain", "plain"),
    ],
)
def test_step_string_escapes(raw: str, text: str) -> None:
    assert decode_step_string(raw) == text


def test_version_diff_by_global_id() -> None:
    old = scan_ifc(io.BytesIO(ifc())).to_dict(with_entities=True)["entities"]
    body = (
        BODY.replace("'Wall B'", "'Wall B renamed'")
        .replace("#51=IFCWALL", "#51=IFCWALL")
        .replace(
            "#70=IFCWINDOW('2hOSvn6df7F8_7GcBWlRGQ',#5,'Window 1',$,$,$,$,$,1200.,1000.,.WINDOW.,$,$);\n", ""
        )
        .replace(
            "#5=IFCOWNERHISTORY(#1,#1,$,.ADDED.,$,$,$,1700000000);",
            "#5=IFCOWNERHISTORY(#1,#1,$,.MODIFIED.,$,$,$,1800000000);\n#99=IFCWALL('3cUkl32yn9qRSPvBJVyWw8',#5,'Wall D',$,$,$,$,'tag',.STANDARD.);",
        )
    )
    # Renumbering references must not count as a change: move Door 1's owner history to a new id.
    body = body.replace(
        "#60=IFCDOOR('1hOSvn6df7F8_7GcBWlRGQ',#5,", "#60=IFCDOOR('1hOSvn6df7F8_7GcBWlRGQ',#1,"
    )
    new = scan_ifc(io.BytesIO(ifc(body=body))).to_dict(with_entities=True)["entities"]
    diff = diff_models(old, new)
    assert diff["added_by_type"] == {"IFCWALL": 1}
    assert diff["removed_by_type"] == {"IFCWINDOW": 1}
    assert diff["changed_by_type"] == {"IFCWALL": 1}
    assert diff["examples"]["changed"] == ["3cUkl32yn9qRSPvBJVyWw6"]


# -- broken files ----------------------------------------------------------------------------------


def test_bad_magic() -> None:
    with pytest.raises(IfcMagicError) as info:
        scan_ifc(io.BytesIO(b"\x00\x06\x00\x02\x02\x58 binary"))
    assert info.value.details["offset"] == 0


def test_truncated_before_the_end() -> None:
    data = ifc()
    with pytest.raises(IfcTruncatedError):
        scan_ifc(io.BytesIO(data[: data.index(b"#50=")]))


def test_truncated_inside_a_string() -> None:
    data = ifc()
    with pytest.raises(IfcTruncatedError, match="string"):
        scan_ifc(io.BytesIO(data[: data.index(b"Wall A") + 3]))


def test_a_statement_that_does_not_parse_names_its_entity() -> None:
    body = BODY + "#200=IFCWALL('3cUkl32yn9qRSPvBJVyWw9',#5,'x',(#1,#2);\n"
    with pytest.raises(IfcSyntaxError) as info:
        scan_ifc(io.BytesIO(ifc(body=body)))
    assert info.value.details["record"] == "#200=IFCWALL"
    assert isinstance(info.value.details["offset"], int)


def test_a_bad_escape_is_a_syntax_error() -> None:
    body = BODY.replace("'Level 1'", r"'Level \X2\00E\X0\1'")
    with pytest.raises(IfcError, match="escape"):
        scan_ifc(io.BytesIO(ifc(body=body)))


def test_an_overlong_statement_is_refused() -> None:
    body = BODY + "#300=IFCCARTESIANPOINTLIST3D((" + ",".join(["(0.,0.,0.)"] * 5000) + "));\n"
    with pytest.raises(IfcSyntaxError, match="longer than"):
        scan_ifc(io.BytesIO(ifc(body=body)), chunk_size=1024, max_statement_bytes=10_000)
