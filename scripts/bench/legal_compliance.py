"""UC1 legal-compliance: bytes each policy query scans, with and without partition pruning.

The demo's sample volume (``legal_compliance.samples``: 21 files whose ACLs break every rule)
is turned into result documents (the stand-in's ACE shapes parsed by the ONTAP client's own
parser), copied to 960 files a day for 30 days, and written through the UC1 record
builders and the dataset writer into moto's S3. Each rule query then runs on the local Athena
(DuckDB over those files) as the Analyze step sends it (one day: ``dt = ...``) and with its ``dt``
condition removed (every day). Reported: the dataset's gzip bytes per file, each query's
DataScannedInBytes both ways and their ratio (target: the one-day query reads at most 1/30 + 2%).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scripts.bench import Report, stopwatch

logger = logging.getLogger(__name__)

REGION = "us-east-1"
DAYS = 30
COPIES = 48  # x the 20 sample files ONTAP knows = 960 files a day
FIRST_DAY = date(2026, 3, 1)


def _documents() -> list[tuple[dict[str, Any], int]]:
    """(result document, age in days) of every sample file that ONTAP knows."""
    from legal_compliance import samples
    from legal_compliance.collect import ace_dict
    from scripts.localcloud.ontap import _ace
    from shared.ontap.models import SE_DACL_PROTECTED, parse_acl

    out = []
    for sample in samples.SAMPLES:
        if not sample.in_ontap:
            continue
        acls = [ace_dict(parse_acl(_ace(spec, sample.key), sample.key)) for spec in sample.acls]
        flags = 0x8014 | (SE_DACL_PROTECTED if sample.protected else 0)
        document = {
            "status": "SUCCEEDED",
            "source": {"key": sample.key},
            "permissions": {
                "owner": sample.owner,
                "group": "CORP\\Domain Users",
                "control_flags": flags,
                "dacl_protected": sample.protected,
                "acls": acls,
            },
        }
        out.append((document, sample.age_days))
    return out


def run(report: Report) -> None:
    import boto3
    from moto import mock_aws

    from legal_compliance.records import ACL_ENTRIES, DATASET_ROOT, FILES, SCHEMAS, acl_records, file_record
    from legal_compliance.rules import RULES, RunScope
    from scripts.localcloud.athena import AthenaStandIn
    from shared.analytics import (
        AthenaRunner,
        AthenaSettings,
        DatasetWriter,
        dataset_location,
        glue_table_input,
    )

    documents = _documents()
    with mock_aws():
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            return clients.setdefault(service, session.client(service))

        standin = AthenaStandIn(client)
        standin.install()
        session = boto3.Session(region_name=REGION)
        try:
            client("s3").create_bucket(Bucket="out")
            client("glue").create_database(DatabaseInput={"Name": "legal"})
            for schema in SCHEMAS:
                table = glue_table_input(schema, dataset_location("out", DATASET_ROOT, schema))
                client("glue").create_table(DatabaseName="legal", TableInput=table)
            files = 0
            with (
                stopwatch() as elapsed,
                DatasetWriter("out", root=DATASET_ROOT, run_id="bench", client=client("s3")) as writer,
            ):
                for offset in range(DAYS):
                    day = FIRST_DAY + timedelta(days=offset)
                    now = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
                    run_id = f"run-{day.isoformat()}"
                    for copy in range(COPIES):
                        for document, age in documents:
                            key = f"c{copy:03d}/{document['source']['key']}"
                            doc = {**document, "source": {"key": key}, "processed_at": now.isoformat()}
                            line = {
                                "key": key,
                                "etag": "e",
                                "size": 400,
                                "last_modified": (now - timedelta(days=age)).isoformat(),
                            }
                            writer.write(FILES, file_record(doc, line, run_id, "SUCCEEDED"), dt=day)
                            for record in acl_records(doc, run_id):
                                writer.write(ACL_ENTRIES, record, dt=day)
                            files += 1
            seconds = elapsed()
            summary = writer.summary
            report.add("files in the datasets (30 days)", files, "files")
            records = sum(summary.records.values())
            report.add("records written per second (files + ACL entries)", records / seconds, "rec/s")
            report.add("dataset gzip bytes per file (files + acl_entries)", summary.gzip_bytes / files, "B")
            runner = AthenaRunner(
                AthenaSettings("primary", "legal", "s3://out/athena-results/"),
                client=client("athena"),
                sleep=lambda s: None,
            )
            middle = FIRST_DAY + timedelta(days=DAYS // 2)
            scope = RunScope(
                run_id=f"run-{middle.isoformat()}",
                dt=middle.isoformat(),
                now=datetime(middle.year, middle.month, middle.day, 6, tzinfo=UTC),
                retention_days=3650,
                sensitive_prefixes=("c000/hr/", "c000/legal/privileged/"),
            )
            unpruned = re.compile(r"\b(\w+)\.dt = '[0-9-]+' AND ")
            for rule, sql in RULES.items():
                pruned = runner.run(sql(scope))
                text = unpruned.sub("", sql(scope))
                full = runner.run(text)
                report.add(
                    f"{rule}: bytes scanned, run day (dt =)",
                    pruned.bytes_scanned,
                    "B",
                    baseline=full.bytes_scanned,
                    target="<= 1/30 + 2%",
                    met=pruned.bytes_scanned <= full.bytes_scanned * (1 / DAYS + 0.02),
                )
                report.add(f"{rule}: findings in the run", len(pruned.rows), "rows")
        finally:
            standin.uninstall()
