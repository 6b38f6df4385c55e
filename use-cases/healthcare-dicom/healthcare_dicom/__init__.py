"""The healthcare-dicom (UC5) domain: DICOM header metadata, PHI findings and de-identified copies.

Plain functions with no handler code, imported by the functions in ``use-cases/healthcare-dicom/functions``
and packaged into their zips at the root, as ``healthcare_dicom``. The format itself is read in
``shared.formats.dicom``. ``demo`` drives the use case on the embedded local cloud
(``make demo UC=healthcare-dicom``) and is never packaged.
"""
