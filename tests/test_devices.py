"""Models across devices, as users run models larger than one GPU: accelerate's `device_map`.

On this CPU machine part of each tiny model is offloaded to disk (its weights stay on the meta device and
accelerate's hooks bring them in for each forward pass): capture, answers and verify must work as on a model in
one piece, and give the same numbers. With a GPU, the decoder's layers are split between the GPU and the CPU and
each layer's rows are computed on its own device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_capture import PROMPT, noise_image

import qvl_widget
from qvl_widget._families import attention_layers


def split_map(model_folder, first: str, rest: str) -> dict[str, str]:
    """A device map: the vision tower, the embeddings and the first half of the decoder layers on `first` (with
    an attention layer among them in Qwen3.5 too), the other layers on `rest`, the final norm and head on `first`."""
    from transformers import AutoConfig

    layers = AutoConfig.from_pretrained(model_folder).get_text_config().num_hidden_layers
    device_map = {
        "model.visual": first,
        "model.language_model.embed_tokens": first,
        "model.language_model.rotary_emb": first,
        "model.language_model.norm": first,
        "lm_head": first,
    }
    device_map.update(
        {f"model.language_model.layers.{index}": first if index == 0 else rest for index in range(layers)}
    )
    return device_map


@pytest.fixture
def offloaded(tiny_model_dirs, family, tmp_path) -> qvl_widget.LoadedModel:
    folder = tiny_model_dirs[family]
    return qvl_widget.load(folder, device="cpu", device_map=split_map(folder, "cpu", "disk"), offload_folder=tmp_path)


def test_a_model_offloaded_to_disk_captures_as_one_in_memory(offloaded, tiny):
    assert {parameter.device.type for parameter in offloaded.model.parameters()} == {"cpu", "meta"}  # offloaded
    image = noise_image(100, 60)
    result = offloaded.capture(image, PROMPT)
    expected = tiny.capture(image, PROMPT)
    assert result.layer_ids == expected.layer_ids == attention_layers(tiny.model.config.get_text_config())
    np.testing.assert_array_equal(result.attention, expected.attention)
    np.testing.assert_array_equal(result.image_mass, expected.image_mass)
    answered = offloaded.capture(image, PROMPT, answer=True, max_new_tokens=3)
    reference = tiny.capture(image, PROMPT, answer=True, max_new_tokens=3)
    assert answered.answer == reference.answer
    np.testing.assert_array_equal(answered.attention, reference.attention)
    report = offloaded.verify(image, PROMPT, verbose=False)
    assert report.passed and report.logits_identical


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (run on the GPU machine)")
def test_layers_split_between_gpu_and_cpu_each_compute_their_own_rows(tiny_model_dirs, family, tiny, monkeypatch):
    import qvl_widget._capture as capture_module

    folder = tiny_model_dirs[family]
    split = qvl_widget.load(folder, device="cuda", dtype="float32", device_map=split_map(folder, "cuda:0", "cpu"))
    devices = []
    original = capture_module._rows_and_masses
    monkeypatch.setattr(
        capture_module,
        "_rows_and_masses",
        lambda request, query, *args: devices.append(query.device.type) or original(request, query, *args),
    )
    image = noise_image(100, 60)
    result = split.capture(image, PROMPT)
    assert set(devices) == {"cuda", "cpu"}  # each layer's rows where its layer ran
    np.testing.assert_allclose(result.attention, tiny.capture(image, PROMPT).attention, atol=1e-5)
    assert split.verify(image, PROMPT, verbose=False).passed
