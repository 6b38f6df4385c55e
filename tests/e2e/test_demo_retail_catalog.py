"""UC11 retail-catalog end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import pytest

from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.demos import retail_catalog as driver
from scripts.localcloud.cloud import local_layer_pip
from scripts.samples import images

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


def _results_are_written_per_key_and_version(summary: Summary) -> None:
    results = [key for key in summary.output_keys if key.startswith("results/by-key/")]
    processed = {key.split("/", 2)[2].rsplit("/", 1)[0] for key in results}
    seeded = {spec.key for spec in driver.sample_specs(FILES)}
    assert seeded - processed <= {s.key for s in images.DEFAULT_SPECS if s.defect == "not_image"}
    assert len([key for key in processed if key.startswith(driver.LATE_PREFIX)]) == driver.late_count(FILES)


def _metrics_were_extracted_from_every_invocation(summary: Summary) -> None:
    invocations = sum(summary.items_per_state.values())
    # trace_lambda_handler emits five metrics per invocation.
    assert summary.metrics_emitted == 5 * invocations


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
    _results_are_written_per_key_and_version(summary)
    _metrics_were_extracted_from_every_invocation(summary)
