"""The model's answer: the same answer as `generate`, and the rows that produced it, equal to eager generation's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import at_once
from test_capture import PROMPT, eager_attention, noise_image

import qvl_widget
from qvl_widget import AttentionResult
from qvl_widget._memory import CaptureTooLargeError

NEW_TOKENS = 5


@pytest.fixture(params=[1, 2], ids=["one image", "two images"])
def images(request: pytest.FixtureRequest) -> list:
    return [noise_image(100, 60, seed=1), noise_image(70, 90, seed=2)][: request.param]


@pytest.fixture(scope="module")
def eager_models(tiny_model_dirs) -> dict[str, qvl_widget.LoadedModel]:
    """The tiny models again, with eager attention in the text decoder (the reference)."""
    return {
        family: qvl_widget.load(path, device="cpu", attn_implementation={"text_config": "eager"})
        for family, path in tiny_model_dirs.items()
    }


def eager_generation(model: qvl_widget.LoadedModel, prepared, **options):
    """Eager `generate` with the KV cache, its per-step attentions and scores."""
    with torch.no_grad():
        return model.model.generate(
            **prepared.model_inputs,
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            return_dict_in_generate=True,
            output_attentions=True,
            output_scores=True,
            **options,
        )


def row_of(result: AttentionResult, position: int) -> int:
    return int(np.flatnonzero(result.query_positions == position)[0])


def test_the_answer_is_the_one_generate_gives(tiny, images):
    prepared = tiny.prepare(images, PROMPT, **at_once(tiny))
    with torch.no_grad():
        plain = tiny.model.generate(**prepared.model_inputs, max_new_tokens=NEW_TOKENS, do_sample=False)
    result = tiny.capture(images, PROMPT, answer=True, max_new_tokens=NEW_TOKENS, **at_once(tiny))
    prompt_length = prepared.model_inputs["input_ids"].shape[1]
    generated = plain[0, prompt_length:].tolist()
    assert [token.part for token in result.tokens[-len(generated) :]] == ["answer"] * len(generated)
    assert len(result.tokens) == len(prepared.tokens) + len(generated)
    assert result.answer == tiny.processor.tokenizer.decode(generated, skip_special_tokens=True)
    np.testing.assert_array_equal(result.query_positions[-len(generated) :], prompt_length + np.arange(len(generated)))


def test_each_step_row_equals_eager_generation_with_the_kv_cache(tiny, eager_models, family, images):
    """Generation's step j attends from position S + j - 1 (the prefill's last row for j = 0): the row that chose
    answer token j. The captured rows equal eager generate's, every layer and head; so do the probabilities."""
    eager = eager_models[family]
    prepared = tiny.prepare(images, PROMPT)
    keep_going = {"min_new_tokens": NEW_TOKENS}  # all steps, whatever the random model says
    reference = eager_generation(eager, prepared, **keep_going)
    result = tiny.capture(images, PROMPT, answer=True, max_new_tokens=NEW_TOKENS, generate_kwargs=keep_going)
    prompt_length = prepared.model_inputs["input_ids"].shape[1]
    columns = prepared.image_positions
    assert result.num_queries == len(prepared.query_positions) + NEW_TOKENS
    for step, attentions in enumerate(reference.attentions):
        position = prompt_length + step - 1
        steps_row = torch.stack([layer[0, :, -1] for layer in attentions]).numpy()  # [layers, heads, keys]
        captured = result.attention[:, :, row_of(result, position)]
        np.testing.assert_allclose(captured, steps_row[:, :, columns], rtol=0, atol=1e-5)
        answer_token = result.tokens[len(prepared.tokens) + step]
        expected = torch.softmax(reference.scores[step][0].float(), dim=-1)[
            reference.sequences[0, prompt_length + step]
        ]
        assert answer_token.probability == pytest.approx(float(expected), abs=1e-6)
    # The last answer token's own row (generate never feeds it back) equals eager's over prompt + answer.
    full = dict(prepared.model_inputs, input_ids=reference.sequences)
    full["attention_mask"] = torch.ones_like(reference.sequences)
    if "mm_token_type_ids" in full:
        full["mm_token_type_ids"] = torch.cat(
            [full["mm_token_type_ids"], full["mm_token_type_ids"].new_zeros(1, NEW_TOKENS)], dim=1
        )
    last = prompt_length + NEW_TOKENS - 1
    whole = eager_attention(eager.model, full)
    np.testing.assert_allclose(result.attention[:, :, -1], whole[:, :, last][:, :, columns], rtol=0, atol=1e-5)


def test_a_given_answer_is_teacher_forced(tiny, eager_models, family):
    image = noise_image(100, 60)
    result = tiny.capture(image, PROMPT, answer="A red cat, on the left.", **at_once(tiny))
    assert result.answer == "A red cat, on the left."
    answer = [token for token in result.tokens if token.part == "answer"]
    assert "".join(token.text for token in answer) == result.answer
    assert all(result.answer[token.start : token.end] == token.text for token in answer)
    prepared = tiny.prepare(image, PROMPT, **at_once(tiny))
    ids = torch.tensor([tiny.processor.tokenizer(result.answer, add_special_tokens=False)["input_ids"]])
    full = dict(prepared.model_inputs, input_ids=torch.cat([prepared.model_inputs["input_ids"], ids], dim=1))
    full["attention_mask"] = torch.ones_like(full["input_ids"])
    if "mm_token_type_ids" in full:
        full["mm_token_type_ids"] = torch.cat([full["mm_token_type_ids"], torch.zeros_like(ids)], dim=1)
    whole = eager_attention(eager_models[family].model, full)
    reference = whole[:, :, result.query_positions][:, :, :, prepared.image_positions]
    np.testing.assert_allclose(result.attention, reference, rtol=0, atol=1e-5)
    with torch.no_grad():
        logits = eager_models[family].model(**full).logits[0].float()
    start = prepared.model_inputs["input_ids"].shape[1]
    for offset, token in enumerate(answer):
        expected = torch.softmax(logits[start + offset - 1], dim=-1)[ids[0, offset]]
        assert token.probability == pytest.approx(float(expected), abs=1e-6)


def test_plain_forward_logits_are_unchanged_after_answering(qwen2):
    prepared = qwen2.prepare(noise_image(100, 60), PROMPT)
    with torch.no_grad():
        before = qwen2.model(**prepared.model_inputs).logits
    qwen2.capture(noise_image(100, 60), PROMPT, answer=True, max_new_tokens=3)
    with torch.no_grad():
        after = qwen2.model(**prepared.model_inputs).logits
    assert torch.equal(before, after)


def test_producing_maps_are_the_rows_of_the_positions_before(qwen2):
    result = qwen2.capture(noise_image(100, 60), PROMPT, answer="a red cat")
    first_answer = next(index for index, token in enumerate(result.tokens) if token.part == "answer")
    before = row_of(result, int(result.query_positions[first_answer]) - 1)
    np.testing.assert_array_equal(
        result.grid(token=first_answer, producing=True, layer=1), result.grid(token=before, layer=1)
    )
    assert result.producing_rows([first_answer, first_answer + 1]) == [before, first_answer]
    maps = result.maps(layer=0, producing=True)
    assert np.isnan(maps[0]).all()  # the first token after the image: nothing before it was captured
    np.testing.assert_array_equal(maps[first_answer], result.maps(layer=0)[before])
    with pytest.raises(ValueError, match=r"token 0 \('<\|vision_end\|>'\) has no producing map"):
        result.grid(token=0, producing=True)


def test_producing_rows_are_those_of_the_position_before_across_an_image_between_rows(qwen2):
    """Text, an image, more text, then an answer: the rows skip the second image's positions. The token right
    after that image has no producing row (the position before it is an image column), though the row before
    it is captured; every other token's producing row is the row of the position before it."""
    first, second = noise_image(100, 60, seed=1), noise_image(70, 90, seed=2)
    content = [{"type": "image", "image": first}, {"type": "text", "text": "Here a cat, "}]
    content += [{"type": "image", "image": second}, {"type": "text", "text": " and there?"}]
    result = qwen2.capture(messages=[{"role": "user", "content": content}], answer="a red cat")
    positions = result.query_positions.tolist()
    expected = [positions.index(position - 1) if position - 1 in positions else None for position in positions]
    second_image = result.image_positions[result.images[1].columns]
    after = next(index for index, position in enumerate(positions) if position == second_image[-1] + 1)
    assert [index for index, row in enumerate(expected) if row is None] == [0, after]  # the data has such a gap
    assert after > 0 and positions[after] - positions[after - 1] == len(second_image) + 1
    for index, row in enumerate(expected):
        assert result.has_producing_row(index) == (row is not None), index
        if row is None:
            with pytest.raises(ValueError, match=rf"^token {index} \(.*\) has no producing map"):
                result.producing_rows([index])
        else:
            assert result.producing_rows([index]) == [row], index
    own, producing = result.maps(layer=1, head=0), result.maps(layer=1, head=0, producing=True)
    for index, row in enumerate(expected):
        if row is None:
            assert np.isnan(producing[index]).all(), index
        else:
            np.testing.assert_array_equal(producing[index], own[row], err_msg=str(index))
    for view in (
        lambda: result.grid(token=after, producing=True, image=1),
        lambda: result.head_summary(token=[after], producing=True),
    ):
        with pytest.raises(ValueError, match=rf"^token {after} .* has no producing map"):
            view()
    answer = [index for index, token in enumerate(result.tokens) if token.part == "answer"]
    np.testing.assert_array_equal(
        result.grid(token=answer, producing=True, image=1), result.grid(token=[index - 1 for index in answer], image=1)
    )


def test_producing_maps_look_the_rows_up_once_not_once_per_token(qwen2, monkeypatch):
    """maps(producing=True) finds every token's producing row in one pass: once per token, it took seconds for a
    thinking model's thousands of tokens (and grows with their square)."""
    result = qwen2.capture(noise_image(100, 60), PROMPT, answer="a red cat")
    found = []
    rows_before = AttentionResult._rows_before
    monkeypatch.setattr(AttentionResult, "_rows_before", lambda self: found.append(self) or rows_before(self))
    producing = result.maps(layer=0, producing=True)
    assert len(found) == 1
    np.testing.assert_array_equal(producing[1:], result.maps(layer=0)[:-1])  # one image: every row's is the one before


def test_phrases_find_words_of_the_answer(qwen2):
    result = qwen2.capture(noise_image(100, 60), PROMPT, answer="It is a red dog.")
    found = result.token_indices("dog")
    assert [result.tokens[index].part for index in found] == ["answer"] * len(found)
    assert "".join(result.tokens[index].text for index in found).strip() == "dog"
    both = result.token_indices("red")
    assert {result.tokens[index].part for index in both} == {"prompt", "answer"}
    with pytest.raises(ValueError, match=r"not in the prompt .* or the answer 'It is a red dog\.'"):
        result.token_indices("zebra")


def test_a_subset_of_layers_keeps_their_rows(qwen2):
    image = noise_image(100, 60)
    full = qwen2.capture(image, PROMPT, answer="a cat")
    subset = qwen2.capture(image, PROMPT, answer="a cat", layers=[-1, 0], storage="float16")
    assert subset.layer_ids == (0, 2) and full.layer_ids == (0, 1, 2)
    assert subset.attention.dtype == np.float16
    np.testing.assert_allclose(subset.attention, full.attention[[0, 2]], rtol=0, atol=1e-3)


def test_an_answer_survives_save_and_load(qwen2, tmp_path):
    result = qwen2.capture(noise_image(100, 60), PROMPT, answer=True, max_new_tokens=3, layers=[1, 2])
    loaded = AttentionResult.load(result.save(tmp_path / "answer.npz"))
    assert loaded.answer == result.answer and loaded.tokens == result.tokens and loaded.layer_ids == (1, 2)
    np.testing.assert_array_equal(loaded.attention, result.attention)


def test_a_result_too_large_for_this_machine_is_refused_before_running(qwen2, monkeypatch):
    monkeypatch.setattr("qvl_widget._memory.available_bytes", lambda: 10_000)
    monkeypatch.setattr(qwen2.model, "forward", lambda *a, **k: pytest.fail("the model ran"))
    with pytest.raises(CaptureTooLargeError, match=r"would take [0-9.]+ KiB \(3 layers x 4 heads x \d+ tokens") as info:
        qwen2.capture(noise_image(100, 60), PROMPT, answer=True, max_new_tokens=500)
    message = str(info.value)
    assert "\n" not in message
    for advice in ("layers=[-4, -3, -2, -1]", "storage='float16'", "max_new_tokens=", "max_pixels="):
        assert advice in message


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"answer": ""}, ValueError, "answer is empty"),
        ({"answer": 3}, TypeError, "answer must be True .* not int"),
        ({"answer": True, "max_new_tokens": 0}, ValueError, "max_new_tokens must be a whole number >= 1"),
        ({"answer": True, "max_new_tokens": 2.5}, ValueError, "max_new_tokens must be a whole number"),
        ({"answer": True, "max_new_tokens": -3}, ValueError, "max_new_tokens must be a whole number >= 1"),
        (
            {"answer": True, "generate_kwargs": {"output_attentions": True}},
            ValueError,
            "may not set 'output_attentions'",
        ),
        (
            {"answer": True, "generate_kwargs": {"return_dict_in_generate": True}},
            ValueError,
            "may not set 'return_dict_in_generate'",
        ),
        ({"answer": True, "generate_kwargs": {"attn_implementation": "eager"}}, ValueError, "'attn_implementation'"),
        ({"answer": True, "generate_kwargs": {"num_beams": 3}}, ValueError, "beam search"),
        ({"answer": True, "generate_kwargs": "greedy"}, TypeError, "generate_kwargs must be a dict"),
        (
            {"answer": "a cat <|image_pad|>"},
            ValueError,
            "the answer text contains the special token '<\\|image_pad\\|>'",
        ),
        ({"answer": "a cat <|video_pad|>"}, ValueError, "special token '<\\|video_pad\\|>'"),
        ({"layers": [7]}, IndexError, "layer 7 is out of range"),
        ({"layers": "last"}, TypeError, "layers must be a list of layer indices"),
    ],
)
def test_bad_answer_options_get_one_line(qwen2, options, error, message):
    with pytest.raises(error, match=message) as info:
        qwen2.capture(noise_image(64, 64), PROMPT, **options)
    assert "\n" not in str(info.value)


def test_a_streamer_of_ones_own_still_sees_every_token(qwen2):
    from transformers.generation.streamers import BaseStreamer

    class Collect(BaseStreamer):
        def __init__(self) -> None:
            self.seen: list[list[int]] = []
            self.ended = False

        def put(self, value) -> None:
            self.seen.append(value.view(-1).tolist())

        def end(self) -> None:
            self.ended = True

    streamer = Collect()
    options = {"streamer": streamer, "min_new_tokens": 3}
    result = qwen2.capture(noise_image(100, 60), PROMPT, answer=True, max_new_tokens=3, generate_kwargs=options)
    answer_ids = [token for step in streamer.seen[1:] for token in step]  # the first hand-over is the prompt
    assert len(answer_ids) == 3 and streamer.ended
    assert all(token.probability is not None and 0 < token.probability <= 1 for token in result.tokens[-3:])


def test_the_recorder_reads_each_chosen_tokens_probability_and_counts_progress():
    from qvl_widget._answer import AnswerRecorder

    recorder = AnswerRecorder(total=4)
    recorder.put(torch.tensor([[5, 6, 7]]))  # generate hands over the prompt first
    assert recorder.probabilities == []
    for token, logits in ((2, [0.0, 0.0, 2.0]), (0, [1.0, 1.0, 1.0])):
        recorder._log_probabilities = torch.log_softmax(torch.tensor(logits), dim=-1)  # as the output head's hook
        recorder.put(torch.tensor([token]))
    recorder.end()
    expected = [np.exp(2.0) / (np.exp(2.0) + 2), 1 / 3]
    np.testing.assert_allclose(recorder.probabilities, expected, rtol=1e-6)
    assert recorder._bar.n == 2  # tokens so far, shown once generation takes long


def test_a_generation_config_asking_for_beam_search_is_refused_with_the_override(qwen2, monkeypatch):
    monkeypatch.setattr(qwen2.model.generation_config, "num_beams", 4)
    with pytest.raises(ValueError, match=r"generation config sets num_beams=4: .*generate_kwargs=\{'num_beams': 1\}"):
        qwen2.capture(noise_image(64, 64), PROMPT, answer=True, max_new_tokens=2)
    result = qwen2.capture(noise_image(64, 64), PROMPT, answer=True, max_new_tokens=2, generate_kwargs={"num_beams": 1})
    prepared = qwen2.prepare(noise_image(64, 64), PROMPT)
    with torch.no_grad():
        greedy = qwen2.model.generate(**prepared.model_inputs, max_new_tokens=2, do_sample=False, num_beams=1)
    generated = greedy[0, prepared.model_inputs["input_ids"].shape[1] :].tolist()
    assert result.answer == qwen2.processor.tokenizer.decode(generated, skip_special_tokens=True)
    assert sum(token.part == "answer" for token in result.tokens) == len(generated)


def test_sampling_options_reach_generate(qwen2):
    """generate_kwargs that sample (do_sample=True, a temperature) are generate's own: with the same seed the
    captured answer is the one generate samples, not the greedy one."""
    image = noise_image(64, 64)
    sampling = {"do_sample": True, "temperature": 5.0, "top_k": 0, "min_new_tokens": NEW_TOKENS}
    prepared = qwen2.prepare(image, PROMPT)
    prompt_length = prepared.model_inputs["input_ids"].shape[1]
    with torch.no_grad():
        greedy = qwen2.model.generate(**prepared.model_inputs, max_new_tokens=NEW_TOKENS, do_sample=False)
        torch.manual_seed(7)
        sampled = qwen2.model.generate(**prepared.model_inputs, max_new_tokens=NEW_TOKENS, **sampling)
    sampled_ids = sampled[0, prompt_length:].tolist()
    assert sampled_ids != greedy[0, prompt_length:].tolist()  # this seed and temperature sample another answer
    torch.manual_seed(7)
    result = qwen2.capture(image, PROMPT, answer=True, max_new_tokens=NEW_TOKENS, generate_kwargs=sampling)
    assert result.answer == qwen2.processor.tokenizer.decode(sampled_ids, skip_special_tokens=True)
    assert sum(token.part == "answer" for token in result.tokens) == len(sampled_ids) == NEW_TOKENS
