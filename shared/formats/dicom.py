"""DICOM Part 10 on ``pydicom``: strict file-format checks, header metadata, PHI, de-identification.

``pydicom`` reads from any seekable binary file object, so a header is read through the ranged
reader with ``stop_before_pixels=True``: the pixel data (nearly all of a file) is never fetched.
Before pydicom sees the file, :func:`read_header` checks the Part 10 layout (PS3.10 section 7.1):
the 128-byte preamble, the ``DICM`` prefix, then the File Meta Information group (0002) with its
transfer syntax. A file that starts straight with a data element (no preamble, as some old
modalities and PACS exports write) is refused with :class:`DicomNoPreambleError`, unless
``lenient=True``, which reads it and flags it (``DicomHeader.flags``). Anything else is
:class:`DicomMagicError`.

pydicom reads a truncated file without complaint (the last value comes back short), so the reader
counts every short read on the way and checks the pixel data element's declared length against
the bytes that remain: a truncated file is :class:`DicomTruncatedError` with the offset.

PHI (PS3.15 Annex E, the Basic Application Level Confidentiality Profile): :data:`BASIC_PROFILE`
maps the attributes of Table E.1-1 this module acts on to their action (``X`` remove, ``Z``
empty or dummy, ``D`` dummy, ``U`` replace the UID); every private attribute is removed, as the
profile requires. :func:`phi_findings` lists the profile attributes present with a value (their
tag, keyword and action, never the value); :func:`free_text` returns the free-text values the
caller may send to Comprehend Medical; :func:`deidentify` applies the profile to a dataset, with
UIDs remapped by a keyed hash of (study, UID), so every file of a study maps the same UID to the
same new one, in any order and any invocation, and no table of UIDs is kept.

No function here logs a value of the dataset, and pydicom is kept quiet: its validation messages
quote values (an invalid person name, a cut UID), so its logger is silenced, its value validation
switched off and its warnings suppressed around every call (:func:`quiet`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import struct
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from shared.errors import PatternError

if TYPE_CHECKING:  # only the Protocol: importing segy would load numpy, which this reader never needs
    from shared.formats.segy import BinaryReader

logger = logging.getLogger(__name__)

PREAMBLE = 128
PREFIX = b"DICM"
PIXEL_DATA = 0x7FE00010
UNDEFINED_LENGTH = 0xFFFFFFFF
UID_ROOT = "2.25."  # UUID-derived UIDs (PS3.5 B.2): no registered root needed
DEIDENTIFICATION_METHOD = "PS3.15 E.1 Basic Profile; UIDs remapped by keyed hash"  # LO: 64 chars at most
REQUIRED_META = ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID", "TransferSyntaxUID")
REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality")

# PS3.15 Table E.1-1, Basic Profile column, for the attributes this module acts on.
BASIC_PROFILE: dict[str, str] = {
    # Patient
    "PatientName": "Z",
    "PatientID": "Z",
    "IssuerOfPatientID": "X",
    "PatientBirthDate": "Z",
    "PatientBirthTime": "X",
    "PatientSex": "Z",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "PatientBirthName": "X",
    "PatientAge": "X",
    "PatientSize": "X",
    "PatientWeight": "X",
    "PatientAddress": "X",
    "PatientMotherBirthName": "X",
    "PatientTelephoneNumbers": "X",
    "MilitaryRank": "X",
    "BranchOfService": "X",
    "MedicalRecordLocator": "X",
    "EthnicGroup": "X",
    "Occupation": "X",
    "AdditionalPatientHistory": "X",
    "PatientComments": "X",
    "PatientReligiousPreference": "X",
    "ReferencedPatientSequence": "X",
    # Study, visit, request
    "AccessionNumber": "Z",
    "StudyID": "Z",
    "StudyDate": "Z",
    "StudyTime": "Z",
    "SeriesDate": "X",
    "SeriesTime": "X",
    "AcquisitionDate": "X",
    "AcquisitionTime": "X",
    "AcquisitionDateTime": "X",
    "ContentDate": "Z",
    "ContentTime": "Z",
    "StudyDescription": "X",
    "SeriesDescription": "X",
    "ImageComments": "X",
    "FrameComments": "X",
    "AdmittingDiagnosesDescription": "X",
    "DerivationDescription": "X",
    "RequestedProcedureDescription": "X",
    "ScheduledProcedureStepDescription": "X",
    "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepID": "X",
    "PerformedProcedureStepStartDate": "X",
    "PerformedProcedureStepStartTime": "X",
    "ReasonForTheRequestedProcedure": "X",
    "RequestAttributesSequence": "X",
    "ReferencedStudySequence": "X",
    "ReferencedPerformedProcedureStepSequence": "X",
    "ProtocolName": "X",
    # People and places
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X",
    "ReferringPhysicianIdentificationSequence": "X",
    "PhysiciansOfRecord": "X",
    "PerformingPhysicianName": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "OperatorsName": "X",
    "RequestingPhysician": "X",
    "ContentCreatorName": "Z",
    "InstitutionName": "X",
    "InstitutionAddress": "X",
    "InstitutionalDepartmentName": "X",
    "InstitutionCodeSequence": "X",
    "StationName": "X",
    "DeviceSerialNumber": "X",
    # UIDs
    "StudyInstanceUID": "U",
    "SeriesInstanceUID": "U",
    "SOPInstanceUID": "U",
    "FrameOfReferenceUID": "U",
    "SynchronizationFrameOfReferenceUID": "U",
    "ReferencedSOPInstanceUID": "U",
    "ReferencedFrameOfReferenceUID": "U",
    "InstanceCreatorUID": "U",
    "IrradiationEventUID": "U",
    "ConcatenationUID": "U",
    "DimensionOrganizationUID": "U",
    "StorageMediaFileSetUID": "U",
}
# Free text that may hold PHI in prose; checked with Comprehend Medical DetectPHI when allowed.
FREE_TEXT = (
    "StudyDescription",
    "SeriesDescription",
    "ImageComments",
    "AdditionalPatientHistory",
    "PatientComments",
    "RequestedProcedureDescription",
    "PerformedProcedureStepDescription",
    "AdmittingDiagnosesDescription",
    "DerivationDescription",
    "ReasonForTheRequestedProcedure",
    "ProtocolName",
)
# Z attributes given a keyed dummy instead of an empty value, so a patient's studies stay linked.
PSEUDONYMS = ("PatientID", "PatientName")


class DicomError(PatternError, ValueError):
    """The file is not a readable DICOM Part 10 file; ``details`` names the offset or attribute."""


class DicomMagicError(DicomError):
    """Bytes 128-131 are not ``DICM`` and the file does not start with a data element either."""


class DicomNoPreambleError(DicomError):
    """The file starts with a data element: no preamble and ``DICM`` prefix (read only when lenient)."""


class DicomTruncatedError(DicomError):
    """The file ends inside an element or before the pixel data it declares."""


class DicomHeaderError(DicomError):
    """A required file meta or dataset attribute is missing, or the transfer syntax is unknown."""


@dataclass(frozen=True)
class DicomHeader:
    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str
    modality: str
    transfer_syntax_uid: str
    transfer_syntax: str
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    bits_stored: int | None
    pixel_representation: int | None
    rescale_slope: float | None
    rescale_intercept: float | None
    number_of_frames: int | None
    pixel_data_offset: int | None
    pixel_data_length: int | None
    burned_in_annotation: str
    flags: tuple[str, ...] = ()
    bytes_read: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"flags": list(self.flags)}


@dataclass
class _Counting:
    """Counts bytes read and remembers the first short read (pydicom does not check them)."""

    file: BinaryReader
    size: int
    bytes_read: int = 0
    short_read_at: int | None = None
    _pos: int = field(default=0)

    def read(self, size: int = -1, /) -> bytes:
        data = self.file.read(size) or b""
        self.bytes_read += len(data)
        if size is not None and size > 0 and 0 < len(data) < size and self.short_read_at is None:
            self.short_read_at = self._pos + len(data)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0, /) -> int:
        self._pos = self.file.seek(offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos


def _size(fileobj: BinaryReader) -> int:
    size = fileobj.seek(0, 2)
    fileobj.seek(0)
    return size


def check_part10(first: bytes, size: int) -> bool:
    """True for a Part 10 file (preamble + DICM); False for one that starts with a data element.

    Anything else raises: :class:`DicomTruncatedError` (shorter than a preamble and prefix, with
    no data element at the start) or :class:`DicomMagicError`.
    """
    if first[PREAMBLE : PREAMBLE + 4] == PREFIX:
        return True
    group = struct.unpack_from("<H", first, 0)[0] if len(first) >= 2 else None
    if group in (0x0002, 0x0008) and len(first) >= 8:
        return False
    if size < PREAMBLE + 4:
        raise DicomTruncatedError(
            f"file is {size} bytes, shorter than the 128-byte preamble and DICM prefix", offset=size
        )
    raise DicomMagicError(
        f"bytes 128-131 are {first[PREAMBLE : PREAMBLE + 4]!r}, not b'DICM', and the file does not start "
        "with a DICOM data element",
        offset=PREAMBLE,
    )


def _optional(ds: Any, keyword: str, kind: type) -> Any:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def _pixel_header(
    reader: _Counting, size: int, little: bool, explicit: bool
) -> tuple[int | None, int | None]:
    """(offset, declared length) of the pixel data element where pydicom stopped, or (None, None)."""
    position = reader.tell()
    head = reader.read(12)
    if len(head) < 8:
        return None, None
    order = "<" if little else ">"
    group, element = struct.unpack_from(order + "HH", head, 0)
    if (group << 16 | element) != PIXEL_DATA:
        return None, None
    if explicit:
        length = struct.unpack_from(order + "I", head, 8)[0] if len(head) == 12 else None
        start = position + 12
    else:
        length = struct.unpack_from(order + "I", head, 4)[0]
        start = position + 8
    if length is None:
        raise DicomTruncatedError(
            f"file ends inside the pixel data element header at offset {position}", offset=position
        )
    if length != UNDEFINED_LENGTH and start + length > size:
        raise DicomTruncatedError(
            f"pixel data at offset {position} declares {length} bytes, {size - start} remain: "
            "the file is truncated",
            offset=position,
            declared=length,
            remaining=size - start,
        )
    return position, length


def read_header(fileobj: BinaryReader, *, lenient: bool = False) -> tuple[Any, DicomHeader]:
    """Check the Part 10 layout, read the dataset up to the pixel data, return (dataset, header).

    The dataset is pydicom's (without pixel data); the header holds what the use cases report.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import UID

    size = _size(fileobj)
    reader = _Counting(fileobj, size)
    first = reader.read(PREAMBLE + 4)
    flags: list[str] = []
    if not check_part10(first, size):
        if not lenient:
            raise DicomNoPreambleError(
                "no 128-byte preamble and DICM prefix: the file starts with a data element "
                f"(group {struct.unpack_from('<H', first, 0)[0]:04x}); set the lenient option to read it",
                offset=0,
            )
        flags.append("no_preamble")
    reader.seek(0)
    try:
        with quiet():
            ds = pydicom.dcmread(reader, stop_before_pixels=True, force=lenient)
    except InvalidDicomError as error:
        raise DicomHeaderError(f"not a DICOM file: {error}", offset=reader.tell()) from error
    except (EOFError, struct.error, ValueError, OverflowError, KeyError, IndexError) as error:
        raise DicomTruncatedError(
            f"unreadable element near offset {reader.tell()}: {type(error).__name__}: {error}",
            offset=reader.tell(),
        ) from error
    if reader.short_read_at is not None:
        raise DicomTruncatedError(
            f"file ends inside an element at offset {reader.short_read_at}", offset=reader.short_read_at
        )
    meta: Any = getattr(ds, "file_meta", None) or {}
    missing_meta = [k for k in REQUIRED_META if not meta.get(k)]
    if missing_meta:
        if not lenient or "no_preamble" not in flags or "TransferSyntaxUID" in missing_meta:
            raise DicomHeaderError(
                f"file meta information (group 0002) lacks {', '.join(missing_meta)}", missing=missing_meta
            )
        flags.append("incomplete_file_meta")
    syntax = UID(str(meta.TransferSyntaxUID))
    if not syntax.is_transfer_syntax:
        raise DicomHeaderError(
            f"transfer syntax {syntax} is not a known DICOM transfer syntax", uid=str(syntax)
        )
    missing = [k for k in REQUIRED if not ds.get(k)]
    if missing:
        raise DicomHeaderError(f"dataset lacks {', '.join(missing)}", missing=missing)
    if meta.get("MediaStorageSOPInstanceUID") and str(meta.MediaStorageSOPInstanceUID) != str(
        ds.SOPInstanceUID
    ):
        flags.append("meta_sop_instance_mismatch")
    offset, length = _pixel_header(reader, size, syntax.is_little_endian, not syntax.is_implicit_VR)
    if offset is None and ds.get("Rows") and reader.tell() >= size:
        raise DicomTruncatedError(
            f"the dataset has image attributes but the file ends at byte {size} before any pixel data",
            offset=size,
        )
    header = DicomHeader(
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=str(ds.SOPClassUID),
        study_instance_uid=str(ds.StudyInstanceUID),
        series_instance_uid=str(ds.SeriesInstanceUID),
        modality=str(ds.Modality),
        transfer_syntax_uid=str(syntax),
        transfer_syntax=syntax.name,
        rows=_optional(ds, "Rows", int),
        columns=_optional(ds, "Columns", int),
        bits_allocated=_optional(ds, "BitsAllocated", int),
        bits_stored=_optional(ds, "BitsStored", int),
        pixel_representation=_optional(ds, "PixelRepresentation", int),
        rescale_slope=_optional(ds, "RescaleSlope", float),
        rescale_intercept=_optional(ds, "RescaleIntercept", float),
        number_of_frames=_optional(ds, "NumberOfFrames", int),
        pixel_data_offset=offset,
        pixel_data_length=length,
        burned_in_annotation=str(ds.get("BurnedInAnnotation") or ""),
        flags=tuple(flags),
        bytes_read=reader.bytes_read,
    )
    return ds, header


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No pydicom log record or warning, which could quote a value, while the block runs."""
    import pydicom.config

    logging.getLogger("pydicom").setLevel(logging.CRITICAL + 1)
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- PHI ----------------------------------------------------------------------------------------


def _walk(ds: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, element) of every element, sequences included, depth first."""
    for element in ds:
        where = f"{path}{element.keyword or str(element.tag)}"
        yield where, element
        if element.VR == "SQ" and element.value:
            for index, item in enumerate(element.value):
                yield from _walk(item, f"{where}[{index}].")


def phi_findings(ds: Any) -> list[dict[str, str]]:
    """The profile attributes present with a value, and the private ones: tag, keyword, action, path.

    Values are never included.
    """
    found: list[dict[str, str]] = []
    for path, element in _walk(ds):
        keyword = element.keyword
        if element.tag.is_private:
            found.append({"tag": str(element.tag), "keyword": "(private)", "action": "X", "path": path})
        elif keyword in BASIC_PROFILE and element.value not in (None, "", b"", []):
            found.append(
                {"tag": str(element.tag), "keyword": keyword, "action": BASIC_PROFILE[keyword], "path": path}
            )
    return found


def free_text(ds: Any) -> dict[str, str]:
    """The free-text attributes of the top-level dataset that hold text (keyword -> value)."""
    texts = {}
    for keyword in FREE_TEXT:
        value = ds.get(keyword)
        if value not in (None, ""):
            texts[keyword] = str(value)
    return texts


def remap_uid(key: bytes, study_uid: str, uid: str) -> str:
    """The de-identified UID of ``uid`` within ``study_uid``: ``2.25.<decimal of a keyed hash>``.

    The same (study, UID) gives the same UID under the same key, so the files of a study keep
    their references to each other; the study UID itself is remapped with itself as the study.
    """
    digest = hmac.new(key, f"{study_uid}\x00{uid}".encode(), hashlib.sha256).digest()
    return UID_ROOT + str(int.from_bytes(digest[:16], "big"))


def pseudonym(key: bytes, value: str, prefix: str) -> str:
    digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    return f"{prefix}{digest[:16].upper()}"


def deidentify(ds: Any, key: bytes) -> dict[str, int]:
    """Apply the Basic Profile to ``ds`` in place (file meta included); return counts per action.

    ``key`` is the stack's secret: without it the new UIDs and pseudonyms cannot be linked back.
    """
    study = str(ds.StudyInstanceUID)
    counts = {"X": 0, "Z": 0, "D": 0, "U": 0, "private": 0}

    def visit(dataset: Any) -> None:
        dataset.remove_private_tags()
        for element in list(dataset):
            if element.VR == "SQ" and element.keyword not in BASIC_PROFILE:
                for item in element.value or []:
                    visit(item)
                continue
            action = BASIC_PROFILE.get(element.keyword)
            if action is None:
                continue
            if action == "X":
                del dataset[element.tag]
            elif action == "U":
                if element.VM > 1:
                    element.value = [remap_uid(key, study, str(v)) for v in element.value]
                else:
                    element.value = remap_uid(key, study, str(element.value))
            elif element.keyword == "PatientID":
                element.value = pseudonym(key, str(element.value), "DEID-")
                action = "D"
            elif element.keyword == "PatientName":
                element.value = "DEIDENTIFIED^" + pseudonym(key, str(dataset.get("PatientID", "")), "")
                action = "D"
            else:
                element.value = ""
            counts[action] += 1

    private_before = sum(1 for _, e in _walk(ds) if e.tag.is_private)
    with quiet():
        visit(ds)
    counts["private"] = private_before
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPInstanceUID"):
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    return counts
