"""UC11 retail-catalog end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import pytest

from retail_catalog import demo as driver
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not catalog.find("retail-catalog").exists, reason="retail-catalog is not built yet"),
]

FILES = 16


def _run(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo("retail-catalog", FILES, out=lambda line: None, build_root=build, pip=local_layer_pip)


def _every_flow_succeeds(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "stream producer",
        "stream consumer",
        "polling state machine",
    ]


def _every_seeded_file_is_streamed_and_the_late_files_are_polled(summary: Summary) -> None:
    late = driver.late_count(FILES)
    assert summary.files_seeded == FILES
    assert summary.events_streamed == FILES
    assert summary.extra["stream records delivered"] == FILES
    assert summary.extra["stream batches"] == -(-FILES // 10)
    assert summary.files_detected == FILES + late
    assert summary.extra["polling listed / to process"] == f"{FILES + late} / {late}"


def _functions_ran_once_per_batch_or_file(summary: Summary) -> None:
    late = driver.late_count(FILES)
    assert summary.items_per_state == {
        "StreamProducer": 2,
        "StreamConsumer": -(-FILES // 10),
        "Discovery": 1 + 1,  # Discover, then one LoadChunk for the late files
        "ImageTagging": late,
        "CatalogMetadata": late,
        "QualityCheck": late,
    }


def _the_file_that_is_not_an_image_is_dead_lettered(summary: Summary) -> None:
    not_images = [s.key for s in driver.sample_specs(FILES) if s.defect == "not_image"]
    assert summary.dlq_entries == len(not_images) == 1
    assert summary.extra[f"dead letter {not_images[0]}"].startswith("not a readable image")


def _every_file_has_a_result_document_from_its_path(summary: Summary) -> None:
    # Read back from the output bucket by the driver: after the stream consumer ran, every seeded
    # file (the one that is not an image included: its document records the failure); after the
    # polling run, every late file, none of which the stream had seen.
    assert summary.extra["streaming: seeded files without a result"] == []
    assert summary.extra["polling: late files without a result"] == []
    assert summary.extra["polling: late files the stream processed"] == []
    results = [key for key in summary.output_keys if key.startswith("results/by-key/")]
    processed = {key.split("/", 2)[2].rsplit("/", 1)[0] for key in results}
    seeded = {spec.key for spec in driver.sample_specs(FILES)}
    late = {spec.key for spec in driver.late_specs(FILES)}
    assert len(late) == driver.late_count(FILES)
    assert all(key.startswith(driver.LATE_PREFIX) for key in late)
    assert processed == seeded | late
    assert len(results) == FILES + len(late)  # one version each, so one document each


def _quality_figures_match_the_deliberate_defects(summary: Summary) -> None:
    specs = [*driver.sample_specs(FILES), *driver.late_specs(FILES)]
    bad_quality = {s.key: s.expected_issues for s in specs if s.defect and s.defect != "not_image"}
    unreadable = [s.key for s in specs if s.defect == "not_image"]
    assert len(bad_quality) == 3 and len(unreadable) == 1  # truncated, too small, odd aspect ratio
    assert summary.extra["quality passed"] == len(specs) - len(bad_quality) - len(unreadable)
    assert summary.extra["quality passed"] == FILES + driver.late_count(FILES) - 4
    assert summary.extra["quality failed"] == len(bad_quality)
    assert summary.extra["processing failed"] == len(unreadable)
    for key, codes in bad_quality.items():
        reasons = summary.extra[f"quality failed {key}"]
        assert [part.split(":", 1)[0] for part in reasons.split("; ")] == list(codes), reasons
    assert summary.extra[f"processing failed {unreadable[0]}"].startswith("not a readable image")


def _metrics_were_extracted_from_every_invocation(summary: Summary) -> None:
    invocations = sum(summary.items_per_state.values())
    # trace_lambda_handler emits five metrics per invocation; the consumer adds RecordsDeadLettered
    # per batch, and the one polling run's discovery adds FilesListed, FilesSkipped, FilesDeferred
    # and DeletionsReconciled.
    polling_runs = 1
    assert (
        summary.metrics_emitted
        == 5 * invocations + summary.items_per_state["StreamConsumer"] + 4 * polling_runs
    )


def test_invoke_of_an_unknown_function_fails_plainly() -> None:
    from scripts.localcloud.__main__ import main

    assert main(["invoke", "retail-catalog", "no_such_function"]) == 2


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    # One demo run checked from several sides; a single test keeps parallel workers from each
    # running the whole demo.
    summary = _run(tmp_path_factory)
    _every_flow_succeeds(summary)
    _every_seeded_file_is_streamed_and_the_late_files_are_polled(summary)
    _functions_ran_once_per_batch_or_file(summary)
    _the_file_that_is_not_an_image_is_dead_lettered(summary)
    _every_file_has_a_result_document_from_its_path(summary)
    _quality_figures_match_the_deliberate_defects(summary)
    _metrics_were_extracted_from_every_invocation(summary)
