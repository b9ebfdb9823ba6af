"""A model the user loaded themselves, attached: the same capture as through `load`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_capture import PROMPT, noise_image
from transformers import AutoModelForImageTextToText, AutoProcessor

import qvl_widget


def test_an_attached_model_captures_as_a_loaded_one(tiny_model_dirs, tiny_models):
    folder = tiny_model_dirs["qwen2_5_vl"]
    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    attached = qvl_widget.attach(model, AutoProcessor.from_pretrained(folder), source="my tiny model")
    assert attached.family.name == "qwen2_5_vl" and attached.source == "my tiny model"
    image = noise_image(100, 60)
    before = model.config.get_text_config()._attn_implementation
    result = attached.capture(image, PROMPT)
    np.testing.assert_array_equal(result.attention, tiny_models["qwen2_5_vl"].capture(image, PROMPT).attention)
    assert model.config.get_text_config()._attn_implementation == before  # switched back after the capture
    assert result.model == "my tiny model"


def test_attach_refuses_what_it_cannot_use(tiny_model_dirs):
    folder = tiny_model_dirs["qwen2_vl"]
    model = AutoModelForImageTextToText.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    with pytest.raises(ValueError, match=r"training mode \(dropout on\): call model.eval\(\) first"):
        qvl_widget.attach(model.train(), processor)
    with pytest.raises(TypeError, match="attach needs a transformers model"):
        qvl_widget.attach(torch.nn.Linear(2, 2), processor)
    with pytest.raises(TypeError, match="attach needs the model's processor"):
        qvl_widget.attach(model.eval(), processor.tokenizer)
