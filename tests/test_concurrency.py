"""One capture per model at a time, said plainly; two models capture side by side in two threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from test_capture import PROMPT, noise_image, request_for

from qvl_widget._capture import capturing


def test_a_second_capture_on_a_busy_model_gets_a_clear_error_every_time(qwen2):
    prepared = qwen2.prepare(noise_image(64, 64), PROMPT)
    inside, leave = threading.Event(), threading.Event()

    def hold_a_capture() -> None:
        with capturing(qwen2.model, request_for(prepared)):
            inside.set()
            leave.wait(timeout=60)

    holder = threading.Thread(target=hold_a_capture, daemon=True)
    holder.start()
    assert inside.wait(timeout=60)
    try:
        for _ in range(5):  # every time, not most times
            with pytest.raises(RuntimeError, match="another capture is running on this model") as info:
                qwen2.capture(noise_image(64, 64), PROMPT)
            assert "load a second model for a second thread" in str(info.value) and "\n" not in str(info.value)
        with pytest.raises(RuntimeError, match="another capture is running on this model"):
            qwen2.capture(noise_image(64, 64), PROMPT, answer=True, max_new_tokens=2)
    finally:
        leave.set()
        holder.join(timeout=60)
    assert qwen2.model.config.get_text_config()._attn_implementation == "sdpa"
    assert qwen2.capture(noise_image(64, 64), PROMPT).num_layers == 3  # free again


def test_two_models_capture_side_by_side_in_two_threads(tiny_models):
    images = {family: noise_image(90, 70, seed=index) for index, family in enumerate(tiny_models)}
    alone = {family: model.capture(images[family], PROMPT).attention for family, model in tiny_models.items()}
    together: dict[str, list[np.ndarray]] = {family: [] for family in tiny_models}
    errors: list[BaseException] = []
    start = threading.Barrier(len(tiny_models))

    def capture_repeatedly(family: str) -> None:
        try:
            start.wait(timeout=60)
            for _ in range(3):
                together[family].append(tiny_models[family].capture(images[family], PROMPT).attention)
        except BaseException as error:  # handed to the main thread, which fails the test with it
            errors.append(error)

    threads = [threading.Thread(target=capture_repeatedly, args=(family,)) for family in tiny_models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for family, results in together.items():
        assert len(results) == 3
        for attention in results:
            np.testing.assert_array_equal(attention, alone[family])
    for model in tiny_models.values():
        assert model.model.config.get_text_config()._attn_implementation == "sdpa"
    assert torch.is_grad_enabled()
