"""The energy-seismic (UC8) domain: SEG-Y surveys, LAS well logs, compliance findings, the run report.

Plain functions with no handler code, imported by the functions in ``use-cases/energy-seismic/functions``
and packaged into their zips at the root, as ``energy_seismic``. The formats themselves are read in
``shared.formats.segy`` and ``shared.formats.welllog``. ``demo`` drives the use case on the embedded
local cloud (``make demo UC=energy-seismic``) and is never packaged.
"""
