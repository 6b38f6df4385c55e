"""UC1 legal-compliance: audit file-server permissions and retention against policy.

A run lists the volume through the S3 access point (the polling skeleton: only new or changed
file versions, within a budget), asks ONTAP's REST API for each file's security descriptor
(:mod:`legal_compliance.collect`), turns the run's results into typed datasets (files and ACL
entries, :mod:`legal_compliance.records`), runs one Athena query per policy rule
(:mod:`legal_compliance.rules`), writes one finding record per file and rule and a summary by share
and owner (:mod:`legal_compliance.analyze`), and ends with the shared report step
(:mod:`legal_compliance.report`).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
