"""DICOM sample files for tests, demos and the bench, written with ``pydicom`` itself.

:func:`write_instance` writes one Part 10 file (preamble, DICM, file meta group, explicit VR little
endian) of a small synthetic image with patient, study and free-text attributes that carry
(fictitious) PHI, and optionally a private block and a referenced image. :func:`study` plans a
study of several series, each numbering its files ``IM0001.dcm`` onwards, as modalities export them.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
SOP_CLASSES = {"CT": CT_IMAGE, "MR": MR_IMAGE}


@dataclass(frozen=True)
class Instance:
    patient_name: str
    patient_id: str
    study_uid: str
    series_uid: str
    sop_uid: str
    modality: str
    series_number: int
    instance_number: int
    study_description: str = "CT CHEST WITH CONTRAST"
    comments: str = ""


def uid(seed: str) -> str:
    """A deterministic, valid UID (``2.25.`` + a decimal) for a seed string."""
    import hashlib

    return "2.25." + str(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big"))


def write_instance(
    instance: Instance,
    *,
    rows: int = 64,
    columns: int = 64,
    preamble: bool = True,
    private: bool = True,
    referenced_sop: str = "",
    frames: int = 1,
    burned_in: bool = False,
) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset()
    ds.SOPClassUID = SOP_CLASSES.get(instance.modality, CT_IMAGE)
    ds.SOPInstanceUID = instance.sop_uid
    ds.StudyInstanceUID = instance.study_uid
    ds.SeriesInstanceUID = instance.series_uid
    ds.FrameOfReferenceUID = uid(instance.study_uid + "/for")
    ds.Modality = instance.modality
    ds.PatientName = instance.patient_name
    ds.PatientID = instance.patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.PatientAge = "056Y"
    ds.AccessionNumber = "ACC" + instance.patient_id[-4:]
    ds.StudyDate = "20261130"
    ds.StudyTime = "101500"
    ds.StudyID = "S1"
    ds.ReferringPhysicianName = "Smith^John"
    ds.InstitutionName = "General Hospital"
    ds.StationName = "CT01"
    ds.StudyDescription = instance.study_description
    ds.SeriesDescription = f"Series {instance.series_number}"
    ds.SeriesNumber = instance.series_number
    ds.InstanceNumber = instance.instance_number
    if instance.comments:
        ds.ImageComments = instance.comments
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    if frames > 1:
        ds.NumberOfFrames = frames
    if referenced_sop:
        ref = Dataset()
        ref.ReferencedSOPClassUID = ds.SOPClassUID
        ref.ReferencedSOPInstanceUID = referenced_sop
        ds.ReferencedImageSequence = Sequence([ref])
    if private:
        block = ds.private_block(0x0019, "DEMO MODALITY", create=True)
        block.add_new(0x10, "LO", f"operator {instance.patient_name}")
    rng = np.random.default_rng(instance.instance_number)
    ds.PixelData = rng.integers(-1024, 3000, rows * columns * frames, dtype=np.int16).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    data = out.getvalue()
    return data if preamble else data[132:]


def study(
    patient: str, patient_id: str, series: int = 2, per_series: int = 3, modality: str = "CT"
) -> list[Instance]:
    """A study of ``series`` series with ``per_series`` instances each."""
    study_uid = uid(f"study/{patient_id}/{modality}")
    instances = []
    for s in range(1, series + 1):
        series_uid = uid(f"{study_uid}/series/{s}")
        for i in range(1, per_series + 1):
            instances.append(
                Instance(
                    patient_name=patient,
                    patient_id=patient_id,
                    study_uid=study_uid,
                    series_uid=series_uid,
                    sop_uid=uid(f"{series_uid}/{i}"),
                    modality=modality,
                    series_number=s,
                    instance_number=i,
                    comments=f"Patient {patient.replace('^', ' ')} seen at General Hospital"
                    if i == 1
                    else "",
                )
            )
    return instances
