"""The UC13 template: the papers table is its schema, IAM is scoped, Index reads only the run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from education_research.contract import INDEX, STEPS
from education_research.dataset import PAPERS
from scripts import cfn_template
from shared.analytics import glue_table_differences

ROOT = Path(__file__).resolve().parents[2]
UC = ROOT / "use-cases" / "education-research"
T = cfn_template.load(UC / "template.yaml")
RESOURCES: dict[str, Any] = T["Resources"]


def test_papers_table_is_the_dataset_schema() -> None:
    assert glue_table_differences(RESOURCES["PapersTable"], PAPERS) == []


def test_the_comprehend_caller_has_reserved_concurrency_and_only_the_detect_calls_it_makes() -> None:
    paper = RESOURCES["PaperFunction"]["Properties"]
    assert paper["ReservedConcurrentExecutions"] == {"Ref": "AiConcurrency"}
    policy = RESOURCES["PaperComprehendPolicy"]
    assert policy["Condition"] == "ComprehendEnabled"
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["comprehend:DetectDominantLanguage", "comprehend:DetectKeyPhrases"]


def test_no_function_may_write_to_the_access_point() -> None:
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            text = json.dumps(statement["Resource"])
            if "accesspoint" in text:
                assert all(a in {"s3:ListBucket", "s3:GetObject"} for a in actions), name


def test_index_state_passes_what_discover_set() -> None:
    text = (UC / "statemachine" / "pipeline.asl.json").read_text()
    definition = json.loads(re.sub(r"\$\{[A-Za-z]+\}", "1", text))
    index = definition["States"]["Index"]
    assert set(index["Parameters"]) == {f"{k}.$" for k in INDEX.requires}
    assert index["Parameters"]["chunks_key.$"] == "$.discovery.chunks_key"
    assert {"Discover", "LoadChunk", "RecordFailure", "Paper", "Index"} <= set(STEPS)
