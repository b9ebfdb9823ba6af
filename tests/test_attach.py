"""A model the user loaded themselves, attached: the same capture as through `load`."""

from __future__ import annotations

import copy
import warnings

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


@pytest.fixture
def lora_model(tiny_model_dirs):
    """The tiny Qwen2-VL with LoRA adapters on q and k (non-zero, so they change the attention), as peft wraps it."""
    from peft import LoraConfig, get_peft_model

    base = AutoModelForImageTextToText.from_pretrained(tiny_model_dirs["qwen2_vl"]).eval()
    torch.manual_seed(1)
    config = LoraConfig(r=4, target_modules=["q_proj", "k_proj"], init_lora_weights=False)
    return get_peft_model(base, config).eval()


def test_a_peft_model_with_adapters_captures_its_own_attention(tiny_model_dirs, lora_model):
    processor = AutoProcessor.from_pretrained(tiny_model_dirs["qwen2_vl"])
    attached = qvl_widget.attach(lora_model, processor, source="tiny + LoRA")
    assert attached.family.name == "qwen2_vl"
    image = noise_image(100, 60)
    result = attached.capture(image, PROMPT)
    with lora_model.disable_adapter():
        without = attached.capture(image, PROMPT)
    assert np.abs(result.attention - without.attention).max() > 1e-3  # the adapters are in the maps
    merged = qvl_widget.attach(copy.deepcopy(lora_model).merge_and_unload(), processor)
    np.testing.assert_allclose(result.attention, merged.capture(image, PROMPT).attention, atol=1e-6)
    report = attached.verify(image, PROMPT, verbose=False)  # rows equal eager, logits unchanged
    assert report.passed and report.logits_identical
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answered = attached.capture(image, PROMPT, answer=True, max_new_tokens=3)
    assert [token.part for token in answered.tokens].count("answer") == 3
    assert not [warning for warning in caught if "past_key_values" in str(warning.message)]  # the current name
    # The adapters are still there and active: capture changed nothing.
    assert lora_model.active_adapters == ["default"] and not lora_model.training
    assert text_implementation(lora_model) == "sdpa"


def text_implementation(model) -> str:
    return model.config.get_text_config()._attn_implementation


def test_a_users_own_attention_function_is_kept_and_wrapped(tiny_model_dirs, tiny_models):
    """A model running the user's registered attention function: capture wraps that function (it still runs)
    and switches the model back to it afterwards."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    calls = []

    def my_attention(module, *args, **kwargs):
        calls.append(module.layer_idx)
        return ALL_ATTENTION_FUNCTIONS["sdpa"](module, *args, **kwargs)

    AttentionInterface.register("my_attention", my_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register("my_attention", ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    folder = tiny_model_dirs["qwen3_vl"]
    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    model.set_attn_implementation({"text_config": "my_attention"})
    attached = qvl_widget.attach(model, AutoProcessor.from_pretrained(folder))
    image = noise_image(100, 60)
    result = attached.capture(image, PROMPT)
    assert calls == [0, 1, 2]  # the user's function ran, once per layer
    np.testing.assert_array_equal(result.attention, tiny_models["qwen3_vl"].capture(image, PROMPT).attention)
    assert text_implementation(model) == "my_attention"


def test_a_model_with_replaced_modules_captures_what_it_computes(tiny_model_dirs):
    """A user's own module in place of one of the model's (here: the last layer's query projection, scaled):
    the maps are those of the model as it is now, not as it was loaded."""
    folder = tiny_model_dirs["qwen2_vl"]
    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    image = noise_image(100, 60)
    before = qvl_widget.attach(model, processor).capture(image, PROMPT)

    class Sharper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Linear) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, hidden: torch.Tensor) -> torch.Tensor:
            return 4 * self.inner(hidden)

    attention = model.model.language_model.layers[-1].self_attn
    attention.q_proj = Sharper(attention.q_proj)
    attached = qvl_widget.attach(model, processor)
    after = attached.capture(image, PROMPT)
    np.testing.assert_array_equal(after.attention[:-1], before.attention[:-1])  # earlier layers: as they were
    assert np.abs(after.attention[-1] - before.attention[-1]).max() > 1e-3
    assert attached.verify(image, PROMPT, verbose=False).passed
