"""The autonomous-driving (UC9) domain: point-cloud quality rules, reference segmentation, run layout.

Plain functions with no handler code, imported by the functions in ``autonomous-driving/functions``
and packaged into their zips at the root, as ``autonomous_driving``. ``demo`` drives the use case on
the embedded local cloud (``make demo UC=autonomous-driving``) and is never packaged.
"""
