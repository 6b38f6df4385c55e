"""The LAS reader against files lasio writes and LAS text written by hand, broken ones included."""

from __future__ import annotations

import io

import lasio
import numpy as np
import pytest

from shared.formats import welllog

HAND_WRITTEN = """~VERSION INFORMATION
 VERS.                 1.2:   CWLS LOG ASCII STANDARD -VERSION 1.2
 WRAP.                  NO:   ONE LINE PER DEPTH STEP
~WELL INFORMATION BLOCK
 STRT.M        1670.0000:
 STOP.M        1669.0000:
 STEP.M          -0.5000:
 NULL.          -999.2500:
 COMP.   ANY OIL COMPANY INC.:
 WELL.   AAAAA_2:
~CURVE INFORMATION
 DEPT.M    :  1  DEPTH
 DT  .US/M :  2  SONIC TRANSIT TIME
 RHOB.K/M3 :  3  BULK DENSITY
~A  DEPTH     DT    RHOB
1670.000   123.450 2550.000
1669.500   -999.25 2550.000
1669.000   123.450 -999.2500
"""


def lasio_file(*, wrap: bool, rows: int = 200, null: float = -999.25) -> str:
    las = lasio.LASFile()
    las.well["NULL"].value = null
    las.well["WELL"].value = "T-1"
    depth = 1000 + np.arange(rows) * 0.25
    las.append_curve("DEPT", depth, unit="M")
    rng = np.random.default_rng(3)
    for name in ("GR", "RHOB", "NPHI", "DT", "RT", "CALI", "SP", "PEF", "ILD"):
        values = 50 + rng.standard_normal(rows)
        values[10:15] = np.nan
        values[100] = 500.0  # a spike
        las.append_curve(name, values, unit="U")
    out = io.StringIO()
    las.write(out, version=2.0, wrap=wrap)
    return out.getvalue()


def test_null_value_is_never_data() -> None:
    log = welllog.read_las(HAND_WRITTEN)
    dt, rhob = log.curves
    assert log.null_value == -999.25
    assert (dt.nulls, rhob.nulls) == (1, 1)
    assert dt.min == dt.max == 123.45
    assert rhob.min == 2550.0
    assert log.version == "1.2" and not log.wrapped
    assert (log.first_depth, log.last_depth, log.step) == (1670.0, 1669.0, -0.5)


def test_common_null_sentinels_even_when_the_header_declares_another() -> None:
    log = welllog.read_las(HAND_WRITTEN.replace("-999.2500:", "-9999.25:"))
    assert log.curves[0].min == 123.45


@pytest.mark.parametrize("wrap", [False, True])
def test_lasio_files_wrapped_or_not(wrap: bool) -> None:
    text = lasio_file(wrap=wrap)
    if wrap:
        assert "WRAP.   YES" in text
    log = welllog.read_las(text)
    assert log.wrapped is wrap
    assert log.rows == 200
    assert [c.mnemonic for c in log.curves][:2] == ["GR", "RHOB"]
    gr = log.curves[0]
    assert gr.nulls == 5
    assert gr.anomalies == 1
    assert gr.anomaly_depths == (1025.0,)
    assert gr.max == 500.0
    assert 48 < gr.median < 52  # robust: the spike does not move it


def test_robust_anomalies_ignore_nan_and_need_a_scale() -> None:
    values = np.array([1.0, 1.1, 0.9, 1.0, np.nan, 30.0])
    median, _mad, mask = welllog.robust_anomalies(values)
    assert median == 1.0
    assert mask is not None and mask.tolist() == [False, False, False, False, False, True]
    assert welllog.robust_anomalies(np.array([2.0, 2.0, 2.0, 9.0]))[2] is None


def test_read_from_a_binary_stream() -> None:
    log = welllog.read_las_bytes(io.BytesIO(lasio_file(wrap=False).encode()), max_bytes=1 << 20)
    assert log.well["WELL"] == "T-1"


def test_truncated_data_names_the_line() -> None:
    text = lasio_file(wrap=True)[:-30]
    with pytest.raises(welllog.WellLogDataError, match="truncated") as caught:
        welllog.read_las(text)
    assert caught.value.details["line"] == len(text.splitlines())


def test_missing_sections() -> None:
    text = HAND_WRITTEN[HAND_WRITTEN.index("~CURVE") :]
    with pytest.raises(welllog.WellLogHeaderError, match="no ~V, ~W section"):
        welllog.read_las(text)


def test_not_a_las_file() -> None:
    with pytest.raises(welllog.WellLogHeaderError, match="no ~ section at all"):
        welllog.read_las("just some text\n")
    with pytest.raises(welllog.WellLogHeaderError, match="NUL bytes"):
        welllog.read_las_bytes(io.BytesIO(b"\x00\x01binary"), max_bytes=100)


def test_size_limit() -> None:
    with pytest.raises(welllog.WellLogError, match="larger than 10 bytes"):
        welllog.read_las_bytes(io.BytesIO(b"x" * 11), max_bytes=10)


def test_sample_writer_round_trips() -> None:
    from shared.formats.samples.welllog import write_las

    log = welllog.read_las(write_las(wrap=True))
    assert log.wrapped
    gr = log.curves[0]
    assert gr.nulls == 10 and gr.anomalies == 2
