"""The media-vfx (UC4) domain: frame headers and pixels, sequences, reports, proxies and re-renders.

Plain functions with no handler code, imported by the functions in ``use-cases/media-vfx/functions``
and packaged into their zips at the root, as ``media_vfx``: ``sequences`` (grouping, padding, gaps,
duplicates, robust outliers), ``frames`` (one frame's header, pixel check and thumbnail),
``report`` (sequence reports, proxy, contact sheet, render request, recheck), ``render`` (the Open
Job Description template and the Deadline Cloud job loop) and ``contract``. ``demo`` drives the use
case on the embedded local cloud (``make demo UC=media-vfx``) and is never packaged.
"""
