"""LAS well-log writer for demos and the bench, through ``lasio`` itself (LAS 2.0, wrapped or not).

A synthetic log: gamma ray, bulk density, neutron porosity, sonic and resistivity over a depth
range, with null runs written as the file's NULL value and a few spikes the anomaly detection
should find.
"""

from __future__ import annotations

import io
import logging

import numpy as np

logger = logging.getLogger(__name__)

CURVES = (
    ("GR", "API", "Gamma ray", 75.0, 15.0),
    ("RHOB", "G/CC", "Bulk density", 2.45, 0.08),
    ("NPHI", "V/V", "Neutron porosity", 0.22, 0.04),
    ("DT", "US/F", "Sonic transit time", 85.0, 6.0),
    ("RT", "OHMM", "Deep resistivity", 12.0, 3.0),
    ("CALI", "IN", "Caliper", 8.5, 0.2),
    ("SP", "MV", "Spontaneous potential", -35.0, 8.0),
    ("PEF", "B/E", "Photoelectric factor", 3.1, 0.3),
)


def write_las(
    *,
    well: str = "DEMO-1",
    start: float = 1500.0,
    rows: int = 400,
    step: float = 0.5,
    wrap: bool = False,
    null_value: float = -999.25,
    null_rows: tuple[int, int] = (50, 60),
    spikes: tuple[int, ...] = (120, 250),
    crs: bool = True,
    headers: bool = True,
    curves: int = len(CURVES),
    seed: int = 5,
) -> str:
    """The text of one LAS 2.0 file. ``crs=False`` leaves out the datum and location; ``headers=False``
    leaves the company, field and UWI empty (compliance findings)."""
    import lasio

    rng = np.random.default_rng(seed)
    las = lasio.LASFile()
    las.well["NULL"].value = null_value
    las.well["WELL"].value = well
    if headers:
        las.well["COMP"].value = "DEMO ENERGY"
        las.well["FLD"].value = "NORTH BLOCK"
        las.well["LOC"].value = "SLOT 4"
        las.well["CTRY"].value = "NO"
        las.well["SRVC"].value = "DEMO LOGGING"
        las.well["DATE"].value = "2026-11-30"
        las.well["UWI"].value = f"NO-{abs(hash(well)) % 10**8:08d}"
    if crs:
        las.well.append(lasio.HeaderItem("GDAT", "", "WGS84", "Geodetic datum"))
        las.well.append(lasio.HeaderItem("HZCS", "", "EPSG:32631", "Horizontal coordinate system"))
        las.well.append(lasio.HeaderItem("XCOORD", "M", "431250.0", "X coordinate"))
        las.well.append(lasio.HeaderItem("YCOORD", "M", "6521375.0", "Y coordinate"))
    depth = start + np.arange(rows) * step
    las.append_curve("DEPT", depth, unit="M", descr="Measured depth")
    for mnemonic, unit, descr, mean, sd in CURVES[:curves]:
        values = mean + sd * rng.standard_normal(rows)
        values[null_rows[0] : null_rows[1]] = np.nan  # written as the NULL value
        for row in spikes:
            if row < rows:
                values[row] = mean + 25 * sd
        las.append_curve(mnemonic, values, unit=unit, descr=descr)
    out = io.StringIO()
    las.write(out, version=2.0, wrap=wrap, fmt="%.4f")
    return out.getvalue()
