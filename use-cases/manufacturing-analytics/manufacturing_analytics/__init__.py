"""The manufacturing-analytics (UC3) domain: sensor logs and inspection images into quality analytics.

Plain functions with no handler code, imported by the functions in
``use-cases/manufacturing-analytics/functions`` and packaged into their zips at the root, as
``manufacturing_analytics``: ``sensors`` (CSV typing, statistics, median/MAD anomalies),
``inspection`` (image fitting, defect rules, line and shift), ``datasets`` (the record schemas
behind the Glue tables), ``queries`` (the Athena SQL), ``pipeline`` (the per-file steps) and
``report`` (the report step). ``samples`` and ``demo`` drive the embedded cloud and never ship.
"""
