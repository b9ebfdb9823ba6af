"""Capture is exact (equals eager attention) and faithful (the model's outputs do not change)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import qvl_widget
import qvl_widget._host_copy
from qvl_widget import _capture
from qvl_widget._capture import CaptureRequest, attention_rows, capturing
from qvl_widget._families import attention_layers
from qvl_widget._host_copy import MIN_STAGING_SLOTS, HostCopier

PROMPT = "Where is the red cat on the image?"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def text_implementation(model: torch.nn.Module) -> str:
    return model.config.get_text_config()._attn_implementation


def eager_attention(model: torch.nn.Module, inputs: dict) -> np.ndarray:
    """`[layers, heads, seq, seq]` from the eager implementation with `output_attentions=True`."""
    original = text_implementation(model)
    model.set_attn_implementation({"text_config": "eager"})
    try:
        with torch.no_grad():
            output = model(**inputs, output_attentions=True, use_cache=False)
    finally:
        model.set_attn_implementation({"text_config": original})
    return torch.stack([layer[0] for layer in output.attentions]).numpy()


def eager_slice(tiny: qvl_widget.LoadedModel, images, prompt: str) -> np.ndarray:
    prepared = tiny.prepare(images, prompt)
    full = eager_attention(tiny.model, prepared.model_inputs)
    return full[:, :, prepared.query_positions][:, :, :, prepared.image_positions]


def request_for(prepared, **options) -> CaptureRequest:
    return CaptureRequest(
        torch.as_tensor(prepared.query_positions), torch.as_tensor(prepared.image_positions), **options
    )


def benchmark_module(name: str):
    """A script of `benchmarks/` (not a package), loaded by path once: its variants are tested here, on the CPU."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_capture_equals_eager_attention(tiny):
    image = noise_image(100, 60)
    result = tiny.capture(image, PROMPT)
    reference = eager_slice(tiny, image, PROMPT)
    assert result.attention.shape == reference.shape
    assert result.attention.dtype == np.float32
    np.testing.assert_allclose(result.attention, reference, rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.image_mass, reference.sum(axis=-1), rtol=0, atol=1e-5)


def test_capture_equals_eager_with_two_images(tiny):
    images = [noise_image(100, 60, seed=1), noise_image(70, 90, seed=2)]
    result = tiny.capture(images, PROMPT)
    reference = eager_slice(tiny, images, PROMPT)
    np.testing.assert_allclose(result.attention, reference, rtol=0, atol=1e-5)
    # Rows start right after the first image and include the second image's delimiters, never its pads.
    assert result.query_positions[0] == result.image_positions[0] + result.images[0].num_tokens
    assert not set(result.query_positions) & set(result.image_positions)


def test_capture_leaves_logits_unchanged(tiny):
    prepared = tiny.prepare(noise_image(100, 60), PROMPT)
    with torch.no_grad():
        plain = tiny.model(**prepared.model_inputs).logits
        with capturing(tiny.model, request_for(prepared)) as request:
            captured = tiny.model(**prepared.model_inputs).logits
    assert torch.equal(plain, captured)
    assert request.all_layers()[0].shape[0] == len(attention_layers(tiny.model.config.get_text_config()))


def test_capture_switches_only_the_text_decoder_and_restores_it(tiny):
    model = tiny.model
    vision_before, text_before = model.config.vision_config._attn_implementation, text_implementation(model)
    prepared = tiny.prepare(noise_image(64, 64), PROMPT)
    with capturing(model, request_for(prepared)):
        assert text_implementation(model).startswith("qvl_capture__")
        assert text_implementation(model).endswith(text_before)
        assert model.config.vision_config._attn_implementation == vision_before
    assert text_implementation(model) == text_before
    assert model.config.vision_config._attn_implementation == vision_before


def test_capture_is_inert_after_an_error(qwen2):
    prepared = qwen2.prepare(noise_image(64, 64), PROMPT)
    with pytest.raises(RuntimeError, match="boom"), capturing(qwen2.model, request_for(prepared)):
        raise RuntimeError("boom")
    assert text_implementation(qwen2.model) == "sdpa"
    request = request_for(prepared)
    with torch.no_grad():
        qwen2.model(**prepared.model_inputs)
    with pytest.raises(RuntimeError, match="capture expected"):
        request.all_layers()  # nothing was kept outside the block


def test_later_plain_forward_is_unaffected(qwen2):
    prepared = qwen2.prepare(noise_image(100, 60), PROMPT)
    with torch.no_grad():
        before = qwen2.model(**prepared.model_inputs).logits
    qwen2.capture(noise_image(100, 60), PROMPT)
    with torch.no_grad():
        after = qwen2.model(**prepared.model_inputs).logits
    assert torch.equal(before, after)


def test_left_padded_input_is_masked_like_eager(tiny):
    """Padding makes the mask a bool tensor: capture must apply it exactly as eager does."""
    prepared = tiny.prepare(noise_image(100, 60), PROMPT)
    padding = 5
    inputs = dict(prepared.model_inputs)
    pad_id = tiny.processor.tokenizer.pad_token_id

    def left_pad(tensor: torch.Tensor, value: int) -> torch.Tensor:
        return torch.cat([torch.full((1, padding), value, dtype=tensor.dtype), tensor], dim=1)

    inputs["input_ids"] = left_pad(inputs["input_ids"], pad_id)
    inputs["attention_mask"] = left_pad(inputs["attention_mask"], 0)
    if "mm_token_type_ids" in inputs:  # processors return it by default since transformers 5.3
        inputs["mm_token_type_ids"] = left_pad(inputs["mm_token_type_ids"], 0)
    request = CaptureRequest(
        torch.as_tensor(prepared.query_positions + padding), torch.as_tensor(prepared.image_positions + padding)
    )
    with torch.no_grad(), capturing(tiny.model, request):
        tiny.model(**inputs)
    captured = request.all_layers()[0][:, 0].numpy()
    full = eager_attention(tiny.model, inputs)
    reference = full[:, :, prepared.query_positions + padding][:, :, :, prepared.image_positions + padding]
    np.testing.assert_allclose(captured, reference, rtol=0, atol=1e-5)


def test_small_chunks_give_the_same_rows(qwen2):
    image = noise_image(100, 60)
    whole = qwen2.capture(image, PROMPT)
    one_row_at_a_time = qwen2.capture(image, PROMPT, chunk_bytes=1)
    np.testing.assert_allclose(one_row_at_a_time.attention, whole.attention, rtol=0, atol=1e-7)


def test_float16_storage(qwen2):
    image = noise_image(100, 60)
    exact = qwen2.capture(image, PROMPT)
    half = qwen2.capture(image, PROMPT, storage="float16")
    assert half.attention.dtype == np.float16
    np.testing.assert_allclose(half.attention.astype(np.float32), exact.attention, rtol=1e-3, atol=1e-4)


# ----- the row computation against a brute-force reference, for every mask form ----------------------------


def brute_force_probabilities(query, key, allowed, scaling, additive=None):
    """Eager attention: repeat grouped heads, full logits, mask, softmax."""
    groups = query.shape[1] // key.shape[1]
    keys = key.repeat_interleave(groups, dim=1)
    logits = query @ keys.transpose(-1, -2) * scaling
    if additive is not None:
        logits = logits + additive
    logits = logits.masked_fill(~allowed, float("-inf"))
    return torch.softmax(logits, dim=-1).nan_to_num(0.0)


@pytest.fixture
def qk():
    generator = torch.Generator().manual_seed(0)
    batch, heads, kv_heads, key_length, query_length, dim = 2, 6, 2, 23, 9, 8
    query = torch.randn(batch, heads, query_length, dim, generator=generator)
    key = torch.randn(batch, kv_heads, key_length, dim, generator=generator)
    return query, key


def causal(query_length: int, key_length: int) -> torch.Tensor:
    offset = key_length - query_length
    return torch.arange(key_length)[None, :] <= torch.arange(query_length)[:, None] + offset


ROWS = torch.tensor([0, 3, 4, 8])
COLUMNS = torch.tensor([2, 3, 5, 7, 11])


def rows_of(query, key, mask, **options):
    offset = key.shape[2] - query.shape[2]
    return attention_rows(query, key, mask, rows=ROWS, columns=COLUMNS, query_offset=offset, scaling=0.3, **options)


def expected(probabilities):
    kept = probabilities[:, :, ROWS][..., COLUMNS]
    return kept, kept.sum(-1)


def test_rows_without_mask_apply_the_causal_rule_bottom_right(qk):
    query, key = qk
    attention, mass = rows_of(query, key, None)
    reference = brute_force_probabilities(query, key, causal(query.shape[2], key.shape[2]), 0.3)
    torch.testing.assert_close(attention, expected(reference)[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(mass, expected(reference)[1], rtol=0, atol=1e-6)


def test_rows_with_a_bool_mask(qk):
    query, key = qk
    allowed = causal(query.shape[2], key.shape[2])[None, None].repeat(2, 1, 1, 1)
    allowed[1, :, :, :4] = False  # the second sequence is left-padded by 4
    attention, _ = rows_of(query, key, allowed)
    reference = brute_force_probabilities(query, key, allowed, 0.3)
    torch.testing.assert_close(attention, expected(reference)[0], rtol=0, atol=1e-6)
    assert attention[1, ..., 0].abs().max() == 0  # column 2 is padding in the second sequence


def test_rows_with_an_additive_mask(qk):
    query, key = qk
    allowed = causal(query.shape[2], key.shape[2])[None, None].expand(2, 1, -1, -1)
    additive = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
    additive[0, :, :, 5] += -2.0  # a soft bias, not just a hard mask
    attention, _ = rows_of(query, key, additive)
    reference = brute_force_probabilities(query, key, allowed, 0.3, additive=additive.clamp(min=-1e4))
    torch.testing.assert_close(attention, expected(reference)[0], rtol=0, atol=1e-6)


def test_rows_with_a_flash_style_padding_mask(qk):
    query, key = qk
    padding = torch.ones(2, key.shape[2], dtype=torch.int32)
    padding[0, :3] = 0
    attention, _ = rows_of(query, key, padding)
    allowed = causal(query.shape[2], key.shape[2])[None, None] & padding.bool()[:, None, None, :]
    reference = brute_force_probabilities(query, key, allowed, 0.3)
    torch.testing.assert_close(attention, expected(reference)[0], rtol=0, atol=1e-6)


def test_rows_with_a_sliding_window(qk):
    query, key = qk
    attention, _ = rows_of(query, key, None, sliding_window=6)
    offset = key.shape[2] - query.shape[2]
    query_positions = torch.arange(query.shape[2])[:, None] + offset
    window = torch.arange(key.shape[2])[None, :] > query_positions - 6
    reference = brute_force_probabilities(query, key, causal(query.shape[2], key.shape[2]) & window, 0.3)
    torch.testing.assert_close(attention, expected(reference)[0], rtol=0, atol=1e-6)


def test_rows_in_chunks_match_rows_at_once(qk):
    query, key = qk
    at_once, _ = rows_of(query, key, None)
    chunked, _ = rows_of(query, key, None, chunk_bytes=1)
    torch.testing.assert_close(chunked, at_once, rtol=0, atol=1e-7)


def test_causal_bias_is_made_once_and_reused(qk):
    query, key = qk
    shared = {}
    first, _ = rows_of(query, key, None, shared=shared)
    assert len(shared) == 1
    again, _ = rows_of(query, key, None, shared=shared)
    assert len(shared) == 1
    torch.testing.assert_close(again, first, rtol=0, atol=0)


# ----- host copies ------------------------------------------------------------------------------------------


def test_staged_host_copies_land_intact():
    """The staging path (pinned buffers + a worker thread), forced on the CPU: every tensor arrives intact and
    split into its destinations, also when more are in flight than there are staging buffers and when a later
    one is larger."""
    generator = torch.Generator().manual_seed(1)
    tensors = [torch.randn(2, 3, 5 + index % 4, 7, generator=generator).half() for index in range(20)]
    tensors.append(torch.randn(4, 4, 40, 9, generator=generator).half())  # larger than the staging buffers
    copier = HostCopier(staged=True)
    copies = []
    for tensor in tensors:
        head, tail = (
            torch.empty(tensor[:1].shape, dtype=torch.float16),
            torch.empty(tensor[1:].shape, dtype=torch.float16),
        )
        copier.copy(tensor, [head, tail])
        copies.append((head, tail))
    copier.finish()
    for tensor, (head, tail) in zip(tensors, copies, strict=True):
        torch.testing.assert_close(torch.cat([head, tail]), tensor, rtol=0, atol=0)


def test_host_copies_must_fill_their_destinations_exactly():
    with pytest.raises(ValueError, match="exactly"):
        HostCopier().copy(torch.ones(6), [torch.empty(2), torch.empty(3)])


def test_two_captures_at_once_do_not_share_staging_buffers():
    first, second = HostCopier(staged=True), HostCopier(staged=True)
    a, b = torch.empty(3, 3), torch.empty(3, 3)
    first.copy(torch.full((3, 3), 1.0), [a])
    second.copy(torch.full((3, 3), 2.0), [b])
    first_buffers, second_buffers = set(map(id, first._buffers)), set(map(id, second._buffers))
    first.finish()
    second.finish()
    assert a.eq(1).all() and b.eq(2).all()
    assert first_buffers and second_buffers and not first_buffers & second_buffers


def test_staging_buffers_are_kept_for_the_next_capture():
    first = HostCopier(staged=True)
    first.copy(torch.ones(40), [torch.empty(40)])
    kept = set(map(id, first._buffers))
    first.finish()
    second = HostCopier(staged=True)
    second.copy(torch.ones(30), [torch.empty(30)])  # smaller: fits the kept buffer
    assert set(map(id, second._buffers)) & kept
    second.finish()


def test_capture_through_the_staging_path_equals_the_direct_copies(tiny, monkeypatch):
    """The GPU's copy path (staging buffers + worker thread) in a real capture, forced on the CPU: inside
    inference mode, as `capture` runs the model, and outside it, the rows land exactly as direct copies do."""
    # The copier's path, as on a GPU: on the CPU the rows otherwise come from sdpa's log-sum-exp, with no copies.
    monkeypatch.setattr(_capture, "_log_sum_exp_route", lambda *arguments: False)
    prepared = tiny.prepare(noise_image(100, 60), PROMPT)
    request = request_for(prepared, copier=HostCopier(staged=True))
    with capturing(tiny.model, request), torch.inference_mode():
        tiny.model(**prepared.model_inputs, use_cache=False)
    attention, mass = request.all_layers()
    direct = tiny.capture_prepared(prepared)
    np.testing.assert_array_equal(attention[:, 0].numpy(), direct.attention)
    np.testing.assert_array_equal(mass[:, 0].numpy(), direct.image_mass)
    # The staging buffers are kept for later captures, also ones run outside inference mode.
    again = request_for(prepared, copier=HostCopier(staged=True))
    with capturing(tiny.model, again), torch.no_grad():
        tiny.model(**prepared.model_inputs, use_cache=False)
    np.testing.assert_array_equal(again.all_layers()[0].numpy(), attention.numpy())


def test_a_failing_host_copy_is_raised_not_hung(monkeypatch):
    """When the worker fails, its staging buffer still comes back: more copies than buffers must not wait
    forever, and `finish()` raises the worker's error."""
    monkeypatch.setattr(qvl_widget._host_copy, "STAGING_BYTES", 0)  # MIN_STAGING_SLOTS buffers at most
    monkeypatch.setattr(qvl_widget._host_copy, "_staging", {})  # none kept from earlier tests
    copier = HostCopier(staged=True)
    outcome: list[BaseException] = []

    def copy_more_than_there_are_buffers() -> None:
        try:
            for _ in range(3 * MIN_STAGING_SLOTS):
                # Every row of the destination is one memory location: the worker's copy refuses to write it.
                copier.copy(torch.ones(16), [torch.empty(4).expand(4, 4)])
            copier.finish()
        except RuntimeError as error:
            outcome.append(error)

    thread = threading.Thread(target=copy_more_than_there_are_buffers, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the copier hung after a failed copy"
    assert len(outcome) == 1 and "single memory location" in str(outcome[0])


def test_the_worker_lands_in_batches_and_when_a_buffer_is_wanted(monkeypatch):
    """Below a batch's worth the worker waits (no landing until `finish`); when every staging buffer is in
    use, the main thread wakes it rather than waiting forever."""
    monkeypatch.setattr(qvl_widget._host_copy, "LANDING_BATCH_BYTES", 2**40)
    copier = HostCopier(staged=True)
    first = torch.zeros(8)
    copier.copy(torch.ones(8), [first])
    assert first.eq(0).all()  # queued, not landed: the worker sleeps until there is a batch
    copier.finish()
    assert first.eq(1).all()

    monkeypatch.setattr(qvl_widget._host_copy, "STAGING_BYTES", 0)  # MIN_STAGING_SLOTS buffers at most
    monkeypatch.setattr(qvl_widget._host_copy, "_staging", {})  # none kept from earlier tests
    copier = HostCopier(staged=True)
    landed = [torch.zeros(8) for _ in range(5 * MIN_STAGING_SLOTS)]

    def copy_all() -> None:
        for value, destination in enumerate(landed):
            copier.copy(torch.full((8,), float(value)), [destination])
        copier.finish()

    thread = threading.Thread(target=copy_all, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the main thread waited for a buffer the worker was never asked to free"
    assert all(destination.eq(value).all() for value, destination in enumerate(landed))


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "direct"])
def test_written_host_copies_land_intact(staged):
    """The variants' `copy_written`: what the writer puts into the buffer it is given lands split into the
    destinations."""
    copy_written = benchmark_module("host_path_variants").copy_written
    copier = HostCopier(staged=staged)
    copies = []
    for value in range(3 * MIN_STAGING_SLOTS):
        head, tail = torch.empty(2, 3), torch.empty(5)
        rows = torch.arange(11.0) + value
        copy_written(copier, lambda buffer, rows=rows: buffer.copy_(rows), [head, tail], torch.device("cpu"))
        copies.append((head, tail))
    copier.finish()
    for value, (head, tail) in enumerate(copies):
        torch.testing.assert_close(torch.cat([head.view(-1), tail]), torch.arange(11.0) + value, rtol=0, atol=0)


def test_a_failing_writer_gives_its_staging_buffer_back(monkeypatch):
    """A writer's error reaches the caller at once, and its staging buffer is free again: later copies still land
    (with more of them than there are buffers: a lost buffer would hang them)."""
    copy_written = benchmark_module("host_path_variants").copy_written
    monkeypatch.setattr(qvl_widget._host_copy, "STAGING_BYTES", 0)  # MIN_STAGING_SLOTS buffers at most
    monkeypatch.setattr(qvl_widget._host_copy, "_staging", {})  # none kept from earlier tests
    copier = HostCopier(staged=True)
    landed = [torch.zeros(8) for _ in range(2 * MIN_STAGING_SLOTS)]
    outcome: list[BaseException] = []

    def fail(buffer: torch.Tensor) -> None:
        raise RuntimeError("no host pointers")

    def fail_then_copy() -> None:
        for _ in range(2 * MIN_STAGING_SLOTS):
            try:
                copy_written(copier, fail, [torch.empty(8)], torch.device("cpu"))
            except RuntimeError as error:
                outcome.append(error)
        for value, destination in enumerate(landed):
            copier.copy(torch.full((8,), float(value)), [destination])
        copier.finish()

    thread = threading.Thread(target=fail_then_copy, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "a failed writer kept its staging buffer"
    assert len(outcome) == 2 * MIN_STAGING_SLOTS
    assert all(destination.eq(value).all() for value, destination in enumerate(landed))


def test_copies_on_the_compute_stream_equal_the_default_copies(qwen2, monkeypatch):
    """The benchmark's variant "copies on the compute stream" (`benchmarks/host_path_variants.py`), through the
    staging path forced on the CPU: the same rows, every layer through it."""
    variants = benchmark_module("host_path_variants")
    # The copier's path, as on a GPU: on the CPU the rows otherwise come from sdpa's log-sum-exp, with no copies.
    monkeypatch.setattr(_capture, "_log_sum_exp_route", lambda *arguments: False)
    prepared = qwen2.prepare(noise_image(100, 60), PROMPT)
    expected = qwen2.capture_prepared(prepared)
    written = []
    copy_written = variants.copy_written
    monkeypatch.setattr(variants, "copy_written", lambda *arguments: written.append(1) or copy_written(*arguments))
    request = request_for(prepared, copier=HostCopier(staged=True))
    with variants.VARIANTS["copies on the compute stream"](), capturing(qwen2.model, request), torch.inference_mode():
        qwen2.model(**prepared.model_inputs, use_cache=False)
    assert len(written) == len(attention_layers(qwen2.model.config.get_text_config()))
    attention, mass = request.all_layers()
    np.testing.assert_array_equal(attention[:, 0].numpy(), expected.attention)
    np.testing.assert_array_equal(mass[:, 0].numpy(), expected.image_mass)


# ----- several inputs in one forward pass ------------------------------------------------------------------------


def test_a_batch_gives_each_input_its_own_capture(tiny):
    """Prompts of different lengths (padded on the right) and different images of one size, two images each: every
    result is the one its input's own capture gives, sink scores and tokens included."""
    prompts = [PROMPT, "Describe the two pictures, the left one first, in a few words.", "Which is brighter?"]
    prepared = [
        tiny.prepare([noise_image(100, 60, seed=number), noise_image(70, 90, seed=10 + number)], prompt)
        for number, prompt in enumerate(prompts)
    ]
    assert len({len(one.query_positions) for one in prepared}) == 3
    batch = tiny.capture_batch(prepared, layers=[0, -1])
    for one, result in zip(prepared, batch, strict=True):
        alone = tiny.capture_prepared(one, layers=[0, -1])
        assert [token.text for token in result.tokens] == [token.text for token in alone.tokens]
        np.testing.assert_array_equal(result.query_positions, alone.query_positions)
        np.testing.assert_allclose(result.attention, alone.attention, rtol=0, atol=1e-6)
        np.testing.assert_allclose(result.image_mass, alone.image_mass, rtol=0, atol=1e-6)
        np.testing.assert_allclose(result.sink_scores, alone.sink_scores, rtol=1e-6)
        assert result.prompt == one.prompt and result.layer_ids == alone.layer_ids
    rows = min(len(one.query_positions) for one in prepared)  # the inputs' own maps differ: none is another's
    assert not np.allclose(batch[0].attention[:, :, :rows], batch[2].attention[:, :, :rows])


def test_a_batch_without_sink_scores_and_a_batch_of_one(qwen2):
    prepared = qwen2.prepare(noise_image(100, 60), PROMPT)
    (result,) = qwen2.capture_batch([prepared], sink_scores=False)
    assert result.sink_scores is None
    np.testing.assert_allclose(result.attention, qwen2.capture_prepared(prepared).attention, rtol=0, atol=1e-6)


def test_inputs_with_images_at_other_positions_are_refused_as_a_batch(qwen2):
    small, large = qwen2.prepare(noise_image(100, 60), PROMPT), qwen2.prepare(noise_image(200, 120), PROMPT)
    with pytest.raises(ValueError, match="same token positions"):
        qwen2.capture_batch([small, large])
    with pytest.raises(ValueError, match="at least one"):
        qwen2.capture_batch([])
    for wrong in (small, [small, "a prompt"], 3):
        with pytest.raises(TypeError, match=r"capture_batch takes a list of inputs made by model.prepare\(...\), not"):
            qwen2.capture_batch(wrong)
