"""The DICOM reader against files pydicom writes and hand-cut broken ones; PHI findings; de-identification."""

from __future__ import annotations

import io
import logging
import warnings

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from shared.formats import dicom
from shared.formats.samples import dicom as samples

KEY = b"k" * 32
PHI_VALUES = ("Doe^Jane", "MRN-000123", "General Hospital", "Smith^John", "Doe Jane")


def instance(n: int = 1, **kwargs: object) -> bytes:
    inst = samples.study("Doe^Jane", "MRN-000123", series=1, per_series=max(n, 1))[n - 1]
    return samples.write_instance(inst, **kwargs)  # type: ignore[arg-type]


def plain_pydicom(*, syntax: str = ExplicitVRLittleEndian, pixels: bool = True) -> bytes:
    """A minimal file written by pydicom directly, not by our sample writer."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = "1.2.3.4.1"
    ds.Modality = "MR"
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated = 8
    ds.PixelRepresentation = 0
    if pixels:
        ds.PixelData = b"\x01\x02\x03\x04"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_header_fields_and_pixels_never_read() -> None:
    data = instance(rows=256, columns=256)
    _, header = dicom.read_header(io.BytesIO(data))
    assert (header.modality, header.rows, header.columns) == ("CT", 256, 256)
    assert (header.bits_allocated, header.bits_stored, header.pixel_representation) == (16, 12, 1)
    assert (header.rescale_slope, header.rescale_intercept) == (1.0, -1024.0)
    assert header.transfer_syntax == "Explicit VR Little Endian"
    assert header.pixel_data_length == 256 * 256 * 2
    assert header.bytes_read < 2000 < len(data) / 50
    assert header.flags == ()


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_files_pydicom_writes_directly(syntax: str) -> None:
    _, header = dicom.read_header(io.BytesIO(plain_pydicom(syntax=syntax)))
    assert header.sop_instance_uid == "1.2.3.4.5"
    assert header.transfer_syntax_uid == syntax
    assert header.pixel_data_length == 4


def test_no_preamble_is_refused_unless_lenient() -> None:
    data = instance(preamble=False)
    with pytest.raises(dicom.DicomNoPreambleError, match="no 128-byte preamble") as caught:
        dicom.read_header(io.BytesIO(data))
    assert caught.value.details["offset"] == 0
    _, header = dicom.read_header(io.BytesIO(data), lenient=True)
    assert header.flags == ("no_preamble",)
    assert header.modality == "CT"


def test_bad_magic() -> None:
    data = bytearray(instance())
    data[128:132] = b"DICX"
    with pytest.raises(dicom.DicomMagicError, match="not b'DICM'"):
        dicom.read_header(io.BytesIO(bytes(data)))
    with pytest.raises(dicom.DicomMagicError):
        dicom.read_header(io.BytesIO(b"\x89PNG\r\n" + b"\0" * 300), lenient=True)


def test_truncated_pixel_data_names_the_offset() -> None:
    data = instance()
    with pytest.raises(dicom.DicomTruncatedError, match="declares 8192 bytes") as caught:
        dicom.read_header(io.BytesIO(data[:-100]))
    assert caught.value.details["remaining"] == 8192 - 100


@pytest.mark.parametrize("cut", [100, 200, 400, 700])
def test_truncated_in_the_header(cut: int) -> None:
    with pytest.raises(dicom.DicomError):
        dicom.read_header(io.BytesIO(instance()[:cut]))


def test_missing_transfer_syntax_and_required_attributes() -> None:
    ds = pydicom.dcmread(io.BytesIO(plain_pydicom()))
    del ds.Modality
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    with pytest.raises(dicom.DicomHeaderError, match="lacks Modality"):
        dicom.read_header(io.BytesIO(out.getvalue()))


def test_phi_findings_list_tags_never_values() -> None:
    ds, _ = dicom.read_header(io.BytesIO(instance()))
    findings = dicom.phi_findings(ds)
    keywords = {f["keyword"] for f in findings}
    assert {"PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "(private)"} <= keywords
    text = repr(findings)
    assert not any(value in text for value in PHI_VALUES)
    assert dicom.free_text(ds)["ImageComments"].startswith("Patient Doe Jane")


def test_deidentify_follows_the_profile_and_remaps_uids_consistently_in_a_study() -> None:
    insts = samples.study("Doe^Jane", "MRN-000123", series=2, per_series=2)
    first = samples.write_instance(insts[0])
    second = samples.write_instance(insts[3], referenced_sop=insts[0].sop_uid)
    a = pydicom.dcmread(io.BytesIO(first))
    b = pydicom.dcmread(io.BytesIO(second))
    dicom.deidentify(a, KEY)
    counts = dicom.deidentify(b, KEY)
    assert counts["private"] == 2 and counts["U"] >= 4
    assert a.StudyInstanceUID == b.StudyInstanceUID != insts[0].study_uid
    assert a.FrameOfReferenceUID == b.FrameOfReferenceUID
    assert a.SeriesInstanceUID != b.SeriesInstanceUID
    assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
    assert a.PatientID == b.PatientID and a.PatientID.startswith("DEID-")
    assert a.PatientIdentityRemoved == "YES"
    for gone in ("InstitutionName", "PatientAge", "ImageComments", "StudyDescription"):
        assert gone not in a
    assert a.StudyDate == "" and a.AccessionNumber == ""
    out = io.BytesIO()
    a.save_as(out, enforce_file_format=True)
    assert not any(v.encode() in out.getvalue() for v in PHI_VALUES)
    assert a.PixelData  # the image itself is kept
    # Another key gives other UIDs: without the key the mapping cannot be redone.
    c = pydicom.dcmread(io.BytesIO(first))
    dicom.deidentify(c, b"other" * 8)
    assert c.StudyInstanceUID != a.StudyInstanceUID


def test_nothing_is_logged_or_warned(caplog: pytest.LogCaptureFixture) -> None:
    # A person name too long for its VR makes pydicom warn, quoting it, unless it is kept quiet.
    inst = samples.study("Doe^Jane" + "^X" * 40, "MRN-000123", series=1, per_series=1)[0]
    data = samples.write_instance(inst)
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds, _ = dicom.read_header(io.BytesIO(data))
        dicom.phi_findings(ds)
        dicom.deidentify(ds, KEY)
        with pytest.raises(dicom.DicomError):
            dicom.read_header(io.BytesIO(data[:700]))
    said = caplog.text + " ".join(str(w.message) for w in caught)
    assert not any(value in said for value in PHI_VALUES)
