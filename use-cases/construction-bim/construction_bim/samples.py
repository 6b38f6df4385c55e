# ruff: noqa: E501 (STEP statements and sample rows are kept on one line, as files write them)
"""UC10's sample volume: two revisions of an IFC model, drawings (one over Textract's 40-inch limit), a Revit file.

The IFC text is written here from the IFC4 schema (instance by instance, as exporters do); the
drawings come from the document core's writer (:mod:`shared.formats.samples.documents`). Broken:
a model cut off mid-file and an IFC that is not STEP at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

_HEADER = """ISO-10303-21;
HEADER;
FILE_DESCRIPTION(('ViewDefinition [ReferenceView_V1.2]'),'2;1');
FILE_NAME('{name}','2026-11-30T10:00:00',('BIM coordinator'),('Studio'),'sample writer','Revit 2025 IFC exporter','');
FILE_SCHEMA(('{schema}'));
ENDSEC;
DATA;
"""


@dataclass(frozen=True)
class Sample:
    key: str
    body: bytes
    expect: str  # "read", "unsupported", "failed"


def _gid(prefix: str, n: int) -> str:
    return f"{prefix}{n:0>{22 - len(prefix)}d}"


def ifc_model(*, revision: int, schema: str = "IFC4", name: str = "tower-a.ifc") -> bytes:
    """An office tower model; revision 2 renames a wall, removes a window, adds two doors."""
    lines = [
        "#1=IFCPERSON($,'Doe','Jane',$,$,$,$,$);",
        "#5=IFCOWNERHISTORY(#1,#1,$,.ADDED.,$,$,$,1700000000);",
        r"#10=IFCPROJECT('2O2Fr$t4X7Zf8NOew3FLOH',#5,'R\X2\00E9\X0\sidence Tower A','Eight storeys of offices over retail',$,$,'Design development',(#20),#30);",
        "#20=IFCGEOMETRICREPRESENTATIONCONTEXT($,'Model',3,1.E-05,#21,$);",
        "#21=IFCAXIS2PLACEMENT3D(#22,$,$);",
        "#22=IFCCARTESIANPOINT((0.,0.,0.));",
        "#30=IFCUNITASSIGNMENT((#31,#32,#33));",
        "#31=IFCSIUNIT(*,.LENGTHUNIT.,.MILLI.,.METRE.);",
        "#32=IFCSIUNIT(*,.AREAUNIT.,$,.SQUARE_METRE.);",
        "#33=IFCSIUNIT(*,.VOLUMEUNIT.,$,.CUBIC_METRE.);",
    ]
    ident = 100
    for level in range(4):
        elevation = "$" if level == 3 else f"{level * 3500}."
        name_ = "Roof" if level == 3 else f"Level {level}"
        lines.append(
            f"#{ident}=IFCBUILDINGSTOREY('{_gid('S', level)}',#5,'{name_}',$,$,$,$,$,.ELEMENT.,{elevation});"
        )
        ident += 1
    for wall in range(12):
        label = "Core wall (revised)" if revision > 1 and wall == 3 else f"Wall {wall}"
        lines.append(f"#{ident}=IFCWALL('{_gid('W', wall)}',#5,'{label}',$,$,$,$,$,.STANDARD.);")
        ident += 1
    doors = 6 if revision == 1 else 8
    door_ids = []
    for door in range(doors):
        lines.append(
            f"#{ident}=IFCDOOR('{_gid('D', door)}',#5,'Door {door}',$,$,$,$,$,2100.,900.,.DOOR.,$,$);"
        )
        door_ids.append(ident)
        ident += 1
    windows = 10 if revision == 1 else 9
    for window in range(windows):
        lines.append(
            f"#{ident}=IFCWINDOW('{_gid('N', window)}',#5,'Window {window}',$,$,$,$,$,1500.,1200.,.WINDOW.,$,$);"
        )
        ident += 1
    for space in range(5):
        lines.append(
            f"#{ident}=IFCSPACE('{_gid('P', space)}',#5,'{100 + space}',$,$,$,$,'Office',.ELEMENT.,.INTERNAL.,$);"
        )
        ident += 1
    # Fire doors: the first four doors carry a FireRating; the others' Pset_DoorCommon lacks one.
    lines += [
        "#900=IFCPROPERTYSINGLEVALUE('FireRating',$,IFCLABEL('EI 60'),$);",
        "#901=IFCPROPERTYSINGLEVALUE('IsExternal',$,IFCBOOLEAN(.F.),$);",
        f"#902=IFCPROPERTYSET('{_gid('Q', 1)}',#5,'Pset_DoorCommon',$,(#900,#901));",
        f"#903=IFCPROPERTYSET('{_gid('Q', 2)}',#5,'Pset_DoorCommon',$,(#901));",
        f"#904=IFCRELDEFINESBYPROPERTIES('{_gid('R', 1)}',#5,$,$,({','.join(f'#{d}' for d in door_ids[:4])}),#902);",
        f"#905=IFCRELDEFINESBYPROPERTIES('{_gid('R', 2)}',#5,$,$,({','.join(f'#{d}' for d in door_ids[4:])}),#903);",
    ]
    text = _HEADER.format(name=name, schema=schema) + "\n".join(lines) + "\nENDSEC;\nEND-ISO-10303-21;\n"
    return text.encode("utf-8")


def drawing(
    title: str, number: str, revision: str, *, width_in: float = 33.1, height_in: float = 23.4
) -> bytes:
    from shared.formats.samples.documents import Run, text_pdf

    runs = [
        Run(f"TITLE: {title}", 60, 60, 18),
        Run(f"DRAWING NO: {number}", 60, 100, 12),
        Run(f"REVISION: {revision}", 60, 120, 12),
        Run("SCALE: 1:100", 60, 140, 12),
        Run("General arrangement - see schedule of doors and fire ratings", 60, 200, 10),
    ]
    return text_pdf([runs], width=width_in * 72, height=height_in * 72)


# An OLE2 compound file header (what .rvt files are), followed by filler.
RVT = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504) + b"Revit" + bytes(1024)


def plan() -> list[Sample]:
    model = ifc_model(revision=1)
    return [
        Sample("tower-a/architecture.ifc", model, "read"),
        Sample(
            "tower-a/structure-ifc2x3.ifc",
            ifc_model(revision=1, schema="IFC2X3", name="structure.ifc"),
            "read",
        ),
        Sample(
            "tower-b/site-ifc4x3.ifc", ifc_model(revision=1, schema="IFC4X3_ADD2", name="site.ifc"), "read"
        ),
        Sample("tower-a/drawings/A-101.pdf", drawing("Level 1 plan", "A-101", "C"), "read"),
        Sample(
            "tower-a/drawings/A-001-site-48in.pdf",
            drawing("Site plan", "A-001", "B", width_in=48, height_in=36),
            "failed",
        ),
        Sample("tower-a/architecture.rvt", RVT, "unsupported"),
        Sample("broken/cut-off.ifc", model[: len(model) // 2], "failed"),
        Sample("broken/not-step.ifc", b"PK\x03\x04 this is a zip archive renamed to .ifc", "failed"),
    ]
