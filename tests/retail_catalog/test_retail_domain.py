"""The retail domain: result keys, quality rules, Rekognition tagging, Bedrock metadata, process_image."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from retail_catalog import (
    ImageRejectedError,
    QualityRules,
    TransientServiceError,
    check_quality,
    generate_metadata,
    process_image,
    tag_image,
)
from retail_catalog.images import (
    MEMORY_ENV,
    REKOGNITION_MAX_BYTES,
    DecodeBudgetError,
    decode_pixel_budget,
    prepare_for_rekognition,
    read_header,
)
from retail_catalog.metadata import SYSTEM_PROMPT, build_prompt, parse_metadata
from retail_catalog.tagging import Label
from shared.errors import AccessDeniedError, ConfigError
from shared.formats.samples.images import DEFAULT_SPECS, SampleSpec, digest, render, sample_set
from shared.polling.keys import BY_HASH_PREFIX, BY_KEY_PREFIX, etag_token, output_key
from shared.s3ap import S3AccessPoint


def client_error(code: str, operation: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


# -- result keys ------------------------------------------------------------------------------------


def test_same_name_in_different_folders_gets_different_result_keys() -> None:
    a = output_key("products/shoes/sneaker-001.jpg", "abc")
    b = output_key("products/bags/sneaker-001.jpg", "abc")
    assert a != b
    assert a == f"{BY_KEY_PREFIX}products/shoes/sneaker-001.jpg/abc.json"


def test_a_new_version_gets_a_new_result_key() -> None:
    assert output_key("a/b.jpg", "v1") != output_key("a/b.jpg", "v2")


def test_unsafe_etags_are_hashed_into_a_path_safe_token() -> None:
    token = etag_token('"abc/def"')
    assert "/" not in token and token.startswith("h-")
    assert etag_token("") == "no-etag"
    assert etag_token('"d41d8cd98f00b204e9800998ecf8427e-3"') == "d41d8cd98f00b204e9800998ecf8427e-3"


def test_keys_too_long_for_the_readable_layout_are_hashed_and_stay_within_limits() -> None:
    key = "deep/" * 200 + "x.jpg"
    result = output_key(key, "e")
    assert result.startswith(BY_HASH_PREFIX)
    assert len(result.encode()) <= 1024
    assert result != output_key(key + "x", "e")


def test_unsafe_source_keys_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        output_key("a/../b.jpg", "e")


_segment = st.text(alphabet="ab-._/ 0", min_size=1, max_size=12).filter(
    lambda s: ".." not in s.split("/") and not s.startswith("/")
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_segment, st.sampled_from(["e1", "e2", "", '"x/y"'])), min_size=2, max_size=8, unique=True
    )
)
def test_output_keys_are_one_to_one(pairs: list[tuple[str, str]]) -> None:
    pairs = [(k, e) for k, e in pairs if ".." not in k.replace("\\", "/").split("/")]
    distinct_inputs = {(k, etag_token(e)) for k, e in pairs}
    assert len({output_key(k, e) for k, e in pairs}) == len(distinct_inputs)


# -- sample images and quality -----------------------------------------------------------------------


def test_sample_set_is_deterministic() -> None:
    assert digest(sample_set()) == digest(sample_set())


def test_sample_set_covers_formats_and_defects() -> None:
    formats = {spec.format for spec in DEFAULT_SPECS}
    defects = {spec.defect for spec in DEFAULT_SPECS}
    assert formats == {"JPEG", "PNG", "WEBP"}
    assert {"truncated", "too_small", "odd_aspect", "not_image", None} <= defects
    stems = [spec.key.rsplit("/", 1)[-1] for spec in DEFAULT_SPECS]
    assert len(stems) > len(set(stems)), "the set must contain a name repeated in two folders"


@pytest.mark.parametrize("spec", DEFAULT_SPECS, ids=lambda s: s.key)
def test_quality_check_finds_exactly_the_planted_defects(spec: SampleSpec) -> None:
    report = check_quality(render(spec))
    assert sorted(i["code"] for i in report.issues) == sorted(spec.expected_issues)
    assert report.passed is (spec.defect is None)
    if spec.defect not in {"not_image"}:
        assert (report.width, report.height) == (spec.width, spec.height)
        assert report.format == spec.format


def test_quality_reports_dimensions_aspect_and_size_from_the_header() -> None:
    data = render(SampleSpec("x/y.png", 1600, 800, 3))
    report = check_quality(data)
    assert (report.format, report.width, report.height, report.aspect_ratio) == ("PNG", 1600, 800, 2.0)
    assert report.size_bytes == len(data)


def test_quality_rules_are_configurable() -> None:
    data = render(SampleSpec("x/y.jpg", 600, 600, 3))
    strict = QualityRules(min_width=1000, min_height=1000, max_bytes=100)
    codes = {i["code"] for i in check_quality(data, strict).issues}
    assert codes == {"too_small", "file_too_large"}


def test_a_format_outside_the_catalog_set_is_reported() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 600), (1, 2, 3)).save(buffer, format="GIF")
    report = check_quality(buffer.getvalue())
    assert [i["code"] for i in report.issues] == ["unreadable"]
    with pytest.raises(ImageRejectedError, match="unsupported image format GIF"):
        read_header(buffer.getvalue())


def test_tiny_files_are_flagged_by_size() -> None:
    data = render(SampleSpec("x/y.png", 500, 500, 0))
    codes = {i["code"] for i in check_quality(data, QualityRules(min_bytes=len(data) + 1)).issues}
    assert "file_too_small" in codes


# -- Rekognition ------------------------------------------------------------------------------------


def test_webp_is_converted_to_jpeg_for_rekognition(sample: Any) -> None:
    webp = sample("shirt-004.webp").data
    payload, header = prepare_for_rekognition(webp)
    assert header.format == "WEBP"
    assert payload[:3] == b"\xff\xd8\xff"


def test_jpeg_under_the_limit_is_sent_unchanged(sample: Any) -> None:
    jpeg = sample("shoes/sneaker-001.jpg").data
    payload, _ = prepare_for_rekognition(jpeg)
    assert payload is jpeg


def test_oversized_images_are_shrunk_under_the_rekognition_limit() -> None:
    rng = random.Random(7)
    noisy = Image.frombytes("RGB", (1800, 1800), rng.randbytes(1800 * 1800 * 3))
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    assert len(buffer.getvalue()) > REKOGNITION_MAX_BYTES
    payload, header = prepare_for_rekognition(buffer.getvalue())
    assert len(payload) <= REKOGNITION_MAX_BYTES
    assert header.width == 1800
    assert Image.open(io.BytesIO(payload)).format == "JPEG"


def _sixteen_bit_gradient_png(width: int, height: int) -> bytes:
    """A real 16-bit greyscale PNG whose columns run from 0 to 65535, stored uncompressed."""
    row = b"".join(round(x * 65535 / (width - 1)).to_bytes(2, "little") for x in range(width))
    image = Image.frombytes("I;16", (width, height), row * height)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def test_sixteen_bit_png_is_scaled_to_eight_bits_not_clipped() -> None:
    # Uncompressed and over 5 MB, so it must be re-encoded for Rekognition.
    data = _sixteen_bit_gradient_png(2048, 1300)
    assert len(data) > REKOGNITION_MAX_BYTES
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    payload, header = prepare_for_rekognition(data)
    assert header.mode == "I;16"
    converted = Image.open(io.BytesIO(payload)).convert("L")
    width = converted.size[0]
    middle = converted.size[1] // 2
    # Each column keeps its place on the scale: 0 at the left, 255 at the right, half-way between.
    for x in (0, width // 4, width // 2, 3 * width // 4, width - 1):
        expected = x * 255 / (width - 1)
        assert abs(converted.getpixel((x, middle)) - expected) <= 3, x
    bright = sum(converted.histogram()[254:]) / (converted.size[0] * converted.size[1])
    assert bright < 0.02


@pytest.mark.parametrize(
    ("key", "fmt", "issues"),
    [
        ("a/photo.png", "JPEG", ["extension_mismatch"]),
        ("a/photo.JPG", "PNG", ["extension_mismatch"]),
        ("a/photo.webp", "PNG", ["extension_mismatch"]),
        ("a/photo.jpeg", "JPEG", []),
        ("a/photo.JPG", "JPEG", []),
        ("a/photo.WebP", "WEBP", []),
        ("a/no-extension", "PNG", []),
    ],
)
def test_content_that_does_not_match_the_extension_is_reported(key: str, fmt: str, issues: list[str]) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((600, 600), 40).convert("RGB").save(buffer, format=fmt)
    report = check_quality(buffer.getvalue(), key=key)
    assert [i["code"] for i in report.issues] == issues
    assert report.passed is not issues
    if issues:
        suffix = key.rsplit(".", 1)[-1]
        assert f".{suffix}" in report.issues[0]["message"] and fmt in report.issues[0]["message"]


def test_tag_image_sends_bytes_and_filters_by_threshold(stubbed_rekognition: Any, sample: Any) -> None:
    client, stubber = stubbed_rekognition
    data = sample("tote-003.png").data
    stubber.add_response(
        "detect_labels",
        {"Labels": [{"Name": "Bag", "Confidence": 91.5, "Parents": [{"Name": "Accessories"}]},
                    {"Name": "Handbag", "Confidence": 95.0}, {"Name": "Noise", "Confidence": 60.0}]},
        {"Image": {"Bytes": data}, "MaxLabels": 25, "MinConfidence": 70.0},
    )  # fmt: skip
    result = tag_image(data, confidence_threshold=70, rekognition=client)
    stubber.assert_no_pending_responses()
    assert [label.name for label in result.labels] == ["Handbag", "Bag"]
    assert result.labels[1].parents == ("Accessories",)
    assert result.to_dict()["format"] == "PNG"


@pytest.mark.parametrize("code", ["InvalidImageFormatException", "ImageTooLargeException"])
def test_rekognition_refusing_one_image_is_a_per_file_failure(
    stubbed_rekognition: Any, sample: Any, code: str
) -> None:
    client, stubber = stubbed_rekognition
    stubber.add_client_error("detect_labels", service_error_code=code)
    with pytest.raises(ImageRejectedError, match=code):
        tag_image(sample("tote-003.png").data, confidence_threshold=50, rekognition=client)


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_rekognition_throttling_is_transient(stubbed_rekognition: Any, sample: Any, code: str) -> None:
    client, stubber = stubbed_rekognition
    stubber.add_client_error("detect_labels", service_error_code=code)
    with pytest.raises(TransientServiceError):
        tag_image(sample("tote-003.png").data, confidence_threshold=50, rekognition=client)


def test_rekognition_access_denied_propagates(stubbed_rekognition: Any, sample: Any) -> None:
    client, stubber = stubbed_rekognition
    stubber.add_client_error("detect_labels", service_error_code="AccessDeniedException")
    with pytest.raises(ClientError):
        tag_image(sample("tote-003.png").data, confidence_threshold=50, rekognition=client)


def test_threshold_must_be_a_percentage(sample: Any, rekognition: Any) -> None:
    with pytest.raises(ValueError, match="percentage"):
        tag_image(sample("tote-003.png").data, confidence_threshold=170, rekognition=rekognition)


def test_a_file_that_is_not_an_image_is_rejected_before_any_call(sample: Any, rekognition: Any) -> None:
    with pytest.raises(ImageRejectedError):
        tag_image(sample("readme-011").data, confidence_threshold=50, rekognition=rekognition)
    assert rekognition.requests == []


# -- Bedrock -----------------------------------------------------------------------------------------


LABELS = [Label("Shoe", 97.3, ("Footwear",)), Label("Sneaker", 88.0)]


def test_generate_metadata_calls_converse_with_the_model_id(stubbed_bedrock: Any) -> None:
    client, stubber = stubbed_bedrock
    answer = {"title": "Sneaker", "description": "Red sneaker.", "category": "Shoes",
              "keywords": ["shoe", "red"], "attributes": {"color": "red"}}  # fmt: skip
    stubber.add_response(
        "converse",
        {
            "output": {
                "message": {"role": "assistant", "content": [{"text": "Here: " + json.dumps(answer)}]}
            },
            "stopReason": "end_turn",
            "usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 30},
            "metrics": {"latencyMs": 5},
        },
        {
            "modelId": "amazon.nova-lite-v1:0",
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": stubber_any(),
            "inferenceConfig": {"maxTokens": 600, "temperature": 0.0},
        },
    )
    metadata = generate_metadata(
        "products/shoes/s.jpg", LABELS, model_id="amazon.nova-lite-v1:0", bedrock=client
    )
    stubber.assert_no_pending_responses()
    assert metadata.title == "Sneaker"
    assert metadata.keywords == ("shoe", "red")
    assert metadata.attributes == {"color": "red"}
    assert metadata.to_dict()["usage"] == {"input_tokens": 10, "output_tokens": 20}


def stubber_any() -> Any:
    from botocore.stub import ANY

    return ANY


def test_prompt_carries_folders_file_name_and_labels() -> None:
    prompt = build_prompt("products/shoes/sneaker-001.jpg", LABELS)
    assert "products / shoes" in prompt and "sneaker-001.jpg" in prompt
    assert "- Shoe (97%)" in prompt


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("no json here", "no JSON object"),
        ('{"title": "x", "description": "y"', "no JSON object"),
        ('{"title": "", "description": "y", "category": "c"}', "title"),
        ('{"title": "t", "description": "d", "category": "c", "keywords": "a,b"}', "keywords"),
        ('{"title": "t", "description": "d", "category": "c", "attributes": [1]}', "attributes"),
    ],
)
def test_unusable_model_answers_are_per_file_failures(text: str, match: str) -> None:
    with pytest.raises(ImageRejectedError, match=match):
        parse_metadata(text)


def test_answers_are_normalized_and_capped() -> None:
    text = json.dumps({"title": "T" * 500, "description": " d ", "category": "c",
                       "keywords": ["a", "a", " ", "b"] + [f"k{i}" for i in range(40)],
                       "attributes": {"size": 42, "": "x"}})  # fmt: skip
    metadata = parse_metadata(text)
    assert len(metadata.title) == 150 and metadata.description == "d"
    assert metadata.keywords[:2] == ("a", "b") and len(metadata.keywords) == 15
    assert metadata.attributes == {"size": "42"}


@pytest.mark.parametrize("stop", ["max_tokens", "content_filtered"])
def test_a_cut_or_filtered_answer_is_a_per_file_failure(make_bedrock: Any, stop: str) -> None:
    with pytest.raises(ImageRejectedError, match=stop):
        generate_metadata("a.jpg", LABELS, model_id="m", bedrock=make_bedrock(stop_reason=stop))


def test_bedrock_throttling_is_transient(make_bedrock: Any) -> None:
    fake = make_bedrock(error=client_error("ThrottlingException", "Converse"))
    with pytest.raises(TransientServiceError):
        generate_metadata("a.jpg", LABELS, model_id="m", bedrock=fake)


def test_a_wrong_model_id_is_a_deployment_error_not_a_file_failure(make_bedrock: Any) -> None:
    fake = make_bedrock(error=client_error("ResourceNotFoundException", "Converse"))
    with pytest.raises(ClientError):
        generate_metadata("a.jpg", LABELS, model_id="m", bedrock=fake)


# -- process_image (the contract the stream consumer calls) ------------------------------------------


def _process(buckets: dict[str, Any], key: str, etag: str, rekognition: Any, bedrock: Any) -> dict[str, Any]:
    source = S3AccessPoint(buckets["source"], buckets["client"])
    return process_image(
        source,
        key,
        etag,
        output_bucket=buckets["output"],
        model_id="amazon.nova-lite-v1:0",
        confidence_threshold=70.0,
        rekognition=rekognition,
        bedrock=bedrock,
    )


def _document(buckets: dict[str, Any], key: str) -> dict[str, Any]:
    body = buckets["client"].get_object(Bucket=buckets["output"], Key=key)["Body"].read()
    return dict(json.loads(body))


def test_process_image_tags_describes_checks_and_writes_the_result(
    buckets: dict[str, Any], rekognition: Any, bedrock: Any
) -> None:
    key = "products/shoes/sneaker-001.jpg"
    result = _process(buckets, key, buckets["etags"][key], rekognition, bedrock)
    assert result["status"] == "SUCCEEDED"
    assert result["output_key"] == output_key(key, buckets["etags"][key])
    document = _document(buckets, result["output_key"])
    assert document["source"] == {"key": key, "etag": buckets["etags"][key], "access_point": "fsxn-volume"}
    assert [label["name"] for label in document["tagging"]["labels"]] == ["Shoe", "Sneaker"]
    assert document["metadata"]["title"] == "Red running sneaker"
    assert document["quality"]["passed"] is True
    assert (document["quality"]["width"], document["quality"]["height"]) == (1200, 1200)
    # The order is tag, then metadata: the prompt carries the labels Rekognition returned.
    assert "Shoe" in bedrock.requests[0]["messages"][0]["content"][0]["text"]


def test_same_stem_files_in_two_folders_keep_separate_results(
    buckets: dict[str, Any], rekognition: Any, bedrock: Any
) -> None:
    keys = ["products/shoes/sneaker-001.jpg", "products/bags/sneaker-001.jpg"]
    outputs = [_process(buckets, k, buckets["etags"][k], rekognition, bedrock)["output_key"] for k in keys]
    assert outputs[0] != outputs[1]
    assert [_document(buckets, o)["source"]["key"] for o in outputs] == keys


def test_quality_defects_are_results_not_failures(
    buckets: dict[str, Any], rekognition: Any, bedrock: Any
) -> None:
    key = "products/toys/robot-009.png"
    result = _process(buckets, key, buckets["etags"][key], rekognition, bedrock)
    assert result["status"] == "SUCCEEDED" and result["quality_passed"] is False
    assert [i["code"] for i in _document(buckets, result["output_key"])["quality"]["issues"]] == ["too_small"]


def test_a_file_that_is_not_an_image_fails_with_a_reason_and_a_failed_document(
    buckets: dict[str, Any], rekognition: Any, bedrock: Any
) -> None:
    key = "incoming/unsorted/readme-011.jpg"
    result = _process(buckets, key, buckets["etags"][key], rekognition, bedrock)
    assert result["status"] == "FAILED" and "not a readable image" in result["reason"]
    document = _document(buckets, result["output_key"])
    assert document["status"] == "FAILED" and document["reason"] == result["reason"]
    assert rekognition.requests == [] and bedrock.requests == []


def test_a_file_changed_since_listing_is_not_processed_under_the_old_version(
    buckets: dict[str, Any], rekognition: Any, bedrock: Any
) -> None:
    key = "products/shoes/sneaker-001.jpg"
    result = _process(buckets, key, "0" * 32, rekognition, bedrock)
    assert result["status"] == "FAILED" and "changed after it was listed" in result["reason"]
    assert rekognition.requests == []


def test_a_vanished_file_fails_with_a_reason(buckets: dict[str, Any], rekognition: Any, bedrock: Any) -> None:
    result = _process(buckets, "products/gone.jpg", "", rekognition, bedrock)
    assert result["status"] == "FAILED" and "no longer exists" in result["reason"]


def test_an_unsafe_key_fails_without_touching_storage(rekognition: Any, bedrock: Any) -> None:
    source = S3AccessPoint("fsxn-volume", client=object())
    result = process_image(
        source, "../etc/passwd", "e", output_bucket="out-bucket", model_id="m", confidence_threshold=50,
        rekognition=rekognition, bedrock=bedrock,
    )  # fmt: skip
    assert result["status"] == "FAILED" and result["output_key"] is None


def test_transient_errors_raise_and_write_nothing(
    buckets: dict[str, Any], make_rekognition: Any, bedrock: Any
) -> None:
    key = "products/shoes/sneaker-001.jpg"
    throttled = make_rekognition(error=client_error("ThrottlingException", "DetectLabels"))
    with pytest.raises(TransientServiceError):
        _process(buckets, key, buckets["etags"][key], throttled, bedrock)
    listed = buckets["client"].list_objects_v2(Bucket=buckets["output"])
    assert listed.get("KeyCount", 0) == 0


def test_access_denied_on_the_volume_propagates(
    buckets: dict[str, Any], rekognition: Any, bedrock: Any
) -> None:
    class Denied:
        def get_object(self, **kwargs: Any) -> Any:
            raise client_error("AccessDenied", "GetObject")

    source = S3AccessPoint("fsxn-volume", Denied())
    with pytest.raises(AccessDeniedError, match="file-system identity"):
        process_image(
            source, "a/b.jpg", "e", output_bucket="catalog-output", model_id="m", confidence_threshold=50,
            s3_client=buckets["client"], rekognition=rekognition, bedrock=bedrock,
        )  # fmt: skip


def test_files_over_the_read_limit_are_refused_before_their_body_is_read(buckets: dict[str, Any]) -> None:
    from retail_catalog import read_image
    from shared.errors import ObjectTooLargeError

    key = "products/shoes/boot-002.jpg"
    source = S3AccessPoint(buckets["source"], buckets["client"])
    with pytest.raises(ObjectTooLargeError):
        source.get_bytes(key, max_bytes=100)
    with pytest.raises(ImageRejectedError, match="more than the 100"):
        read_image(source, key, buckets["etags"][key], max_bytes=100)
    assert len(read_image(source, key, buckets["etags"][key])) > 100


def test_generated_specs_can_be_sized_to_pass_the_quality_check() -> None:
    from shared.formats.samples.images import generated_specs

    small, large = next(generated_specs(1)), next(generated_specs(1, width=640, height=600))
    assert {i["code"] for i in check_quality(render(small)).issues} == {"too_small"}
    assert check_quality(render(large)).passed
    assert [s.key for s in generated_specs(4, prefix="x/", folders=2)] == [
        "x/dept-000/item-0000000.jpg", "x/dept-001/item-0000001.png",
        "x/dept-000/item-0000002.webp", "x/dept-001/item-0000003.jpg",
    ]  # fmt: skip


# -- Decode budget ----------------------------------------------------------------------------------


def _uniform_webp(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A real lossless WebP of one colour, a few dozen bytes at any size.

    Every prefix code of the VP8L bitstream is a "simple code" with a single symbol, so each pixel
    costs zero bits: the file stays tiny while a decoder must still fill width x height pixels, like
    the 173 KiB 10000x10000 catalog WebP that needs about 1.5 GiB to decode.
    """
    bits: list[int] = []

    def put(value: int, count: int) -> None:
        bits.extend((value >> i) & 1 for i in range(count))

    put(width - 1, 14)
    put(height - 1, 14)
    put(0, 4)  # no alpha, version 0
    put(0, 3)  # no transform, no colour cache, no meta prefix codes
    for symbol in (rgb[1], rgb[0], rgb[2], 255, 0):  # green, red, blue, alpha, distance
        put(0b101, 3)  # a simple code of one 8-bit symbol
        put(symbol, 8)
    payload = bytearray(b"\x2f")
    payload += bytes(sum(bit << j for j, bit in enumerate(bits[i : i + 8])) for i in range(0, len(bits), 8))
    if len(payload) % 2:
        payload.append(0)
    chunk = b"VP8L" + len(payload).to_bytes(4, "little") + bytes(payload)
    return b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"WEBP" + chunk


def test_the_generated_webp_is_a_real_image() -> None:
    image = Image.open(io.BytesIO(_uniform_webp(64, 48)))
    image.load()
    assert (image.format, image.size, image.getpixel((10, 20))) == ("WEBP", (64, 48), (200, 30, 60))


@pytest.mark.parametrize(
    ("memory", "budget"), [(None, 20_000_000), ("1024", 20_000_000), ("3008", 58_750_000)]
)
def test_the_pixel_budget_follows_the_function_memory(
    monkeypatch: pytest.MonkeyPatch, memory: str | None, budget: int
) -> None:
    if memory is None:
        monkeypatch.delenv(MEMORY_ENV, raising=False)
    else:
        monkeypatch.setenv(MEMORY_ENV, memory)
    assert decode_pixel_budget() == budget


def test_a_non_numeric_memory_size_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(ConfigError, match="AWS_LAMBDA_FUNCTION_MEMORY_SIZE='lots'"):
        decode_pixel_budget()


def test_a_webp_too_large_to_decode_is_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "1024")
    data = _uniform_webp(10_000, 10_000)
    assert len(data) < 100
    expected = r"10000x10000 needs 100000000 decoded pixels .* 20000000"
    with pytest.raises(DecodeBudgetError, match=expected) as caught:
        prepare_for_rekognition(data)
    assert isinstance(caught.value, ImageRejectedError)
    assert caught.value.details["budget_pixels"] == 20_000_000
    report = check_quality(data, QualityRules(min_bytes=0))
    assert [i["code"] for i in report.issues] == ["not_decoded"]
    assert "above this function's budget" in report.issues[0]["message"]


def test_more_memory_lets_the_same_webp_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_ENV, "512")
    data = _uniform_webp(3500, 3500)  # 12.25 M pixels: above 512 MiB's 10 M, below 1 GiB's 20 M
    with pytest.raises(DecodeBudgetError):
        prepare_for_rekognition(data)
    monkeypatch.setenv(MEMORY_ENV, "1024")
    payload, header = prepare_for_rekognition(data)
    assert (header.width, header.height) == (3500, 3500)
    assert Image.open(io.BytesIO(payload)).format == "JPEG"


def test_a_large_jpeg_is_decoded_in_draft_mode_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # 6000x6000 is 36 M pixels, above a 1 GiB budget; draft mode decodes it at 1/8 for the
    # integrity check and at 1/2 (3000x3000) for tagging, so both succeed.
    monkeypatch.setenv(MEMORY_ENV, "1024")
    buffer = io.BytesIO()
    Image.new("L", (6000, 6000), 90).save(buffer, format="JPEG", quality=100)
    data = buffer.getvalue()
    assert check_quality(data).issues == []
    truncated = data[: len(data) // 2]
    assert [i["code"] for i in check_quality(truncated).issues] == ["corrupt"]
