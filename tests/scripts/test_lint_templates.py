"""make lint's effective templates: one per switch combination, defaults set, definitions checked as ASL."""

from __future__ import annotations

from pathlib import Path

from scripts import catalog, cfn_template, lint_templates

ROOT = Path(__file__).resolve().parents[2]


def test_every_switch_combination_of_each_use_case_is_linted() -> None:
    labels = {
        uc.name: [c.label for c in lint_templates.combinations(cfn_template.load(uc.template, raw=True))]
        for uc in catalog.ALL
        if uc.exists and uc.number
    }
    assert len(labels["retail-catalog"]) == 8  # streaming x X-Ray x alarms
    assert len(labels["autonomous-driving"]) == 12  # SageMaker off/mock/real x X-Ray x alarms
    assert "sagemaker-real_xray-off_alarms-on" in labels["autonomous-driving"]


def test_a_combination_becomes_the_defaults_checkov_reads() -> None:
    path = ROOT / "autonomous-driving" / "template.yaml"
    real = next(
        c
        for c in lint_templates.combinations(cfn_template.load(path, raw=True))
        if c.label.startswith("sagemaker-real")
    )
    template = lint_templates.effective(path, real)
    assert template["Parameters"]["MockMode"]["Default"] == "false"
    assert template["Parameters"]["ModelImageUri"]["Default"] == lint_templates.SAMPLE_IMAGE
    # The Functions rows are spent by the loops; RunTimeouts stays for Fn::FindInMap at deploy time.
    assert "Transform" not in template and "Functions" not in template.get("Mappings", {})
    assert "DefinitionString" in template["Resources"]["StateMachine"]["Properties"]
    evaluation = cfn_template.evaluate(template, "s")
    assert "CallbackDeadLetterQueue" in evaluation.resources()


def test_the_definitions_are_valid_asl_and_a_broken_one_is_caught() -> None:
    found = list(lint_templates.definitions(catalog.templates()))
    assert len(found) == sum(1 for uc in catalog.USE_CASES if uc.number and uc.exists)  # one each
    for where, document in found:
        assert lint_templates.asl_problems(where, document) == [], where
    broken = dict(found[0][1])
    del broken["StartAt"]
    broken["States"] = {"A": {"Type": "Teleport"}}
    problems = lint_templates.asl_problems("broken", broken)
    assert problems and all(p.startswith("broken: ") for p in problems)
