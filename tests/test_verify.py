"""`LoadedModel.verify`: capture against eager attention on the user's own model, and its report."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import qvl_widget
import qvl_widget._capture
import qvl_widget._memory
from qvl_widget._families import attention_layers
from qvl_widget._loading import LoadedModel
from qvl_widget._memory import binary_size
from qvl_widget._verify import (
    DEFAULT_VERIFY_IMAGE_TOKENS,
    REFERENCE_TOLERANCE,
    VerifyReport,
    eager_cost,
    tolerance_for,
)

PROMPT = "Where is the red cat on the image?"


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def text_implementation(model: torch.nn.Module) -> str:
    return model.config.get_text_config()._attn_implementation


def layer_count(loaded: LoadedModel) -> int:
    """The layers with attention maps (every layer but a hybrid decoder's linear-attention layers)."""
    return len(attention_layers(loaded.model.config.get_text_config()))


@pytest.fixture
def tiny_bf16(tiny_model_dirs, family: str) -> LoadedModel:
    return qvl_widget.load(tiny_model_dirs[family], device="cpu", dtype="bfloat16")


def test_verify_passes_in_fp32_within_1e_5(tiny, capsys):
    report = tiny.verify(noise_image(100, 60), PROMPT)
    assert report.passed, str(report)
    assert report.dtype == "float32" and report.implementation == "sdpa" and report.device == "cpu"
    assert report.layer_ids == attention_layers(tiny.model.config.get_text_config())
    for values in (report.attention_max_diff, report.mass_max_diff, report.reference_max_diff):
        assert values.shape == (layer_count(tiny),)
        assert (values < 1e-5).all()
    assert report.logits_identical and report.logits_max_diff == 0
    assert report.tolerance == tolerance_for(torch.float32)
    assert (report.largest_logit > 0).all()
    # The cost is said before the model runs, and recorded: every layer's heads x sequence^2 in the model dtype.
    text = tiny.model.config.get_text_config()
    assert report.eager_bytes == layer_count(tiny) * text.num_attention_heads * report.sequence_length**2 * 4
    assert f"eager reference {binary_size(report.eager_bytes)} (" in capsys.readouterr().err


def test_verify_passes_in_bf16_within_its_tolerance(tiny_bf16):
    report = tiny_bf16.verify(noise_image(100, 60), PROMPT, verbose=False)
    assert report.passed, str(report)
    assert report.dtype == "bfloat16"
    unit = 2.0**-8
    assert report.tolerance == tolerance_for(torch.bfloat16)
    assert report.tolerance.base == 16 * unit and report.tolerance.per_logit == 2 * unit
    assert (report.attention_max_diff <= report.eager_tolerance).all()
    assert (report.mass_max_diff <= report.eager_tolerance).all()
    # Eager rounds to bf16, capture does not: they differ, by more than fp32 would allow...
    assert report.mass_max_diff.max() > 1e-5
    # ...but capture equals eager recomputed in fp32 from the same q and k.
    assert (report.reference_max_diff <= REFERENCE_TOLERANCE).all()
    assert report.logits_identical
    assert report.eager_bytes == eager_cost(layer_count(tiny_bf16), 4, report.sequence_length, 2)


def test_attention_implementation_is_restored(qwen2):
    vision_before = qwen2.model.config.vision_config._attn_implementation
    qwen2.verify(noise_image(64, 64), PROMPT, verbose=False)
    assert text_implementation(qwen2.model) == "sdpa"
    assert qwen2.model.config.vision_config._attn_implementation == vision_before


def test_attention_implementation_is_restored_when_eager_fails(qwen2, monkeypatch):
    attention = qwen2.model.model.language_model.layers[0].self_attn
    modeling = sys.modules[type(attention).__module__]

    def broken_eager(*arguments, **options):
        raise RuntimeError("eager broke")

    monkeypatch.setattr(modeling, "eager_attention_forward", broken_eager)
    with pytest.raises(RuntimeError, match="eager broke"):
        qwen2.verify(noise_image(64, 64), PROMPT, verbose=False)
    assert text_implementation(qwen2.model) == "sdpa"
    monkeypatch.undo()
    assert qwen2.verify(noise_image(64, 64), PROMPT, verbose=False).passed  # nothing left switched on


def test_too_large_is_refused_in_one_line_before_anything_runs(qwen2, monkeypatch):
    monkeypatch.setattr(qvl_widget._memory, "available_bytes", lambda: 10_000)
    calls = []
    hook = qwen2.model.register_forward_pre_hook(lambda module, arguments: calls.append(1))
    try:
        with pytest.raises(MemoryError) as refused:
            qwen2.verify(noise_image(224, 224), PROMPT)
    finally:
        hook.remove()
    message = str(refused.value)
    assert "\n" not in message
    assert "verify's eager reference would take" in message and "max_pixels" in message
    assert calls == []
    assert text_implementation(qwen2.model) == "sdpa"


def test_the_refusal_names_a_max_pixels_that_fits(qwen2, monkeypatch):
    report = qwen2.verify(noise_image(224, 224), PROMPT, verbose=False)
    monkeypatch.setattr(qvl_widget._memory, "available_bytes", lambda: 2 * report.eager_bytes)
    with pytest.raises(MemoryError, match=r"max_pixels=(\d+)") as refused:
        qwen2.verify(noise_image(224, 224), PROMPT, verbose=False)
    suggested = int(str(refused.value).split("max_pixels=")[1].split()[0])
    smaller = qwen2.verify(noise_image(224, 224), PROMPT, max_pixels=suggested, verbose=False)
    assert smaller.passed and smaller.image_tokens < report.image_tokens


def test_perturbed_capture_rows_fail(qwen2, monkeypatch):
    """A capture whose returned rows are off by 1e-3 is reported as failed, in the attention and its share."""
    capture_prepared = LoadedModel.capture_prepared

    def off_by_a_little(self, *arguments, **options):
        result = capture_prepared(self, *arguments, **options)
        return dataclasses.replace(result, attention=result.attention + np.float32(1e-3))

    monkeypatch.setattr(LoadedModel, "capture_prepared", off_by_a_little)
    report = qwen2.verify(noise_image(100, 60), PROMPT, verbose=False)
    assert not report.passed
    np.testing.assert_allclose(report.attention_max_diff, 1e-3, rtol=1e-2)
    assert any(line.startswith("attention vs eager") for line in report.failures)
    assert "FAILED" in str(report)


@pytest.mark.parametrize("family", ["qwen2_vl"])
def test_wrong_rows_fail_against_the_fp32_reference_even_in_bf16(tiny_bf16, monkeypatch):
    """An error of 1e-3 in capture's arithmetic hides inside bf16 eager's rounding (tolerance 1/16), but not from
    the same pass's fp32 recomputation."""
    attention_rows = qvl_widget._capture.attention_rows

    def off_by_a_little(*arguments, **options):
        attention, mass = attention_rows(*arguments, **options)
        return attention + 1e-3, mass

    monkeypatch.setattr(qvl_widget._capture, "attention_rows", off_by_a_little)
    report = tiny_bf16.verify(noise_image(100, 60), PROMPT, verbose=False)
    assert (report.attention_max_diff <= report.eager_tolerance).all()
    assert (report.reference_max_diff > 5e-4).all()
    assert not report.passed
    assert any(line.startswith("fp32 reference") for line in report.failures)


def test_changed_outputs_fail(qwen2, monkeypatch):
    """If capture changed what the attention returns, the logits differ and the report fails."""
    original_function = qvl_widget._capture._original_function

    def nudged(implementation, module):
        function = original_function(implementation, module)

        def attention(*arguments, **options):
            output, weights = function(*arguments, **options)
            return output + 1e-3, weights

        return attention

    monkeypatch.setattr(qvl_widget._capture, "_original_function", nudged)
    report = qwen2.verify(noise_image(100, 60), PROMPT, verbose=False)
    assert not report.logits_identical and report.logits_max_diff > 0
    assert not report.passed
    assert any(line.startswith("logits") for line in report.failures)


def test_default_image_is_small_and_layers_choose_the_rows(qwen2):
    report = qwen2.verify(noise_image(1000, 800), PROMPT, layers=[-1], verbose=False)
    assert 64 <= report.image_tokens <= DEFAULT_VERIFY_IMAGE_TOKENS
    assert report.layer_ids == (layer_count(qwen2) - 1,)
    assert report.attention_max_diff.shape == (1,)
    smaller = qwen2.verify(noise_image(1000, 800), PROMPT, max_pixels=64 * 28 * 28, verbose=False)
    assert smaller.image_tokens <= 64


# ----- the report ------------------------------------------------------------------------------------------


def report_with(dtype: torch.dtype = torch.bfloat16, **values) -> VerifyReport:
    fields: dict = dict(
        model="m",
        family="qwen2_vl",
        dtype=str(dtype).removeprefix("torch."),
        device="cpu",
        implementation="sdpa",
        layer_ids=(0, 5),
        heads=4,
        sequence_length=100,
        image_tokens=64,
        query_rows=20,
        eager_bytes=2 * 4 * 100**2 * 2,
        attention_max_diff=[0.01, 0.02],
        mass_max_diff=[0.01, 0.01],
        reference_max_diff=[0.0, 0.0],
        largest_logit=[5.0, 40.0],
        logits_identical=True,
        logits_max_diff=0.0,
        tolerance=tolerance_for(dtype),
    )
    fields.update(values)
    return VerifyReport(**fields)


def test_tolerance_grows_with_the_largest_logit():
    unit = 2.0**-8
    report = report_with()
    np.testing.assert_allclose(report.eager_tolerance, [16 * unit, 80 * unit])
    assert report.passed
    assert not report_with(attention_max_diff=[0.07, 0.02]).passed  # layer 0: above 16 u at logit 5
    assert report_with(attention_max_diff=[0.01, 0.3]).passed  # layer 5: within 2 u per unit of logit 40
    assert not report_with(attention_max_diff=[0.01, 0.32]).passed
    fp32 = tolerance_for(torch.float32)
    assert fp32.base == 1e-5 and fp32.against_eager(50.0) == 1e-5
    assert tolerance_for(torch.float16).base == 16 * 2.0**-11


def test_a_report_fails_on_nan_and_says_why():
    report = report_with(mass_max_diff=[np.nan, 0.0], reference_max_diff=[0.0, 1e-3], logits_identical=False)
    assert not report.passed
    failures = report.failures
    assert any(line.startswith("image share vs eager: layer 0") for line in failures)
    assert any(line.startswith("fp32 reference: layer 5") for line in failures)
    assert any(line.startswith("logits") for line in failures)
    only_eager = report_with(attention_max_diff=[0.5, 0.0])
    assert "dtype='float32'" in only_eager.failures[-1]  # eager's own rounding: how to check at 1e-5


def test_the_report_is_frozen_readable_and_serializable():
    report = report_with()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.logits_identical = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        report.attention_max_diff[0] = 1.0
    with pytest.raises(ValueError, match="one value per layer"):
        report_with(attention_max_diff=[0.0])
    text = str(report)
    assert text.splitlines()[0].startswith("verify PASSED")
    assert "layer" in text and "fp32 reference" in text and "bit-identical" in text
    assert len([line for line in text.splitlines() if line.strip().startswith(("0 ", "5 "))]) == 2
    assert "passed=True" in repr(report)
    page = report._repr_html_()
    assert page.count("<table>") == 1 and page.count("<tr>") == 3
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is True and data["attention_max_diff"] == [0.01, 0.02] and data["layer_ids"] == [0, 5]


def test_verify_prints_its_report_without_transformers_warnings(qwen2):
    """Its eager pass asks for the text decoder's weights; transformers' warning that the vision tower's sdpa returns
    none is not the user's concern, and verify drops it (the warning is logged once per process: cleared here)."""
    import logging

    class Recorder(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    logger, recorder = logging.getLogger("transformers.integrations.sdpa_attention"), Recorder()
    logger.addHandler(recorder)
    try:
        logging.Logger.warning_once.cache_clear()  # type: ignore[attr-defined]  # transformers' lru_cache'd method
        qwen2.verify(qvl_widget.example_image(), "Where is the cat?")
        assert recorder.messages == []
        # Asked of sdpa outside verify, it is logged: the check above can see what it looks for.
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        logging.Logger.warning_once.cache_clear()  # type: ignore[attr-defined]
        query = torch.zeros(1, 1, 2, 4)
        sdpa_attention_forward(torch.nn.Module(), query, query, query, None, output_attentions=True)
        assert any("does not support `output_attentions=True`" in message for message in recorder.messages)
    finally:
        logger.removeHandler(recorder)
