"""Thinking: a chat template that makes the model think first (`<think>...</think>`, Qwen3.5's) and its switch;
the thinking as its own part of the result, generated or given, saved and loaded; and what is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_capture import eager_attention, noise_image
from transformers import LogitsProcessor, LogitsProcessorList

from qvl_widget import AttentionResult
from qvl_widget._result import STILL_THINKING
from qvl_widget._view_state import ViewState

PROMPT = "Where is the red cat?"
THOUGHT = "Maybe red."
ANSWER = "A red cat"
IMAGE = noise_image(100, 60)


class Forced(LogitsProcessor):
    """Makes `generate` choose `ids`, one a step, as if the model wrote them. The logits the capture reads its
    probabilities from are the model's own (a logits processor acts after the output head)."""

    def __init__(self, ids: list[int], prompt_length: int) -> None:
        self.ids, self.prompt_length = ids, prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        forced = torch.full_like(scores, -torch.inf)
        forced[:, self.ids[input_ids.shape[1] - self.prompt_length]] = 0.0
        return forced


def written(model, text: str, **options) -> AttentionResult:
    """A capture in which the model generates exactly the tokens of `text` (with `answer=True`)."""
    ids = model.processor.tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt_length = model.prepare(IMAGE, PROMPT, thinking=options.get("thinking")).model_inputs["input_ids"].shape[1]
    kwargs = {"logits_processor": LogitsProcessorList([Forced(ids, prompt_length)])}
    return model.capture(IMAGE, PROMPT, answer=True, max_new_tokens=len(ids), generate_kwargs=kwargs, **options)


def model_tokens(result: AttentionResult):
    """The tokens the model wrote (or was given): those after the prompt's."""
    return [token for token in result.tokens if token.part != "prompt"]


def check_offsets(result: AttentionResult) -> None:
    """Each token with offsets is its part's text there, and each part's text is its tokens' texts in order."""
    for part in ("prompt", "thinking", "answer"):
        text = result.part_text(part)
        tokens = [token for token in result.tokens if token.part == part and token.start is not None]
        for token in tokens:
            assert text is not None and text[token.start : token.end] == token.text
        if part != "prompt" and text is not None:
            assert "".join(token.text for token in tokens) == text


# ----- the switch -------------------------------------------------------------------------------------------------


def test_the_template_thinks_by_default_and_thinking_false_writes_an_empty_block(qwen35):
    default, on, off = (qwen35.prepare(IMAGE, PROMPT, thinking=value) for value in (None, True, False))
    assert default.text.endswith("<|im_start|>assistant\n<think>\n") and default.opens_thinking
    assert on.text == default.text and on.opens_thinking
    assert off.text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") and not off.opens_thinking
    block = off.tokens[-6:]  # the empty block is the template's: prompt tokens, special, without offsets
    assert [token.text for token in block] == ["<think>", "\n", "\n", "</think>", "\n", "\n"]
    assert all(token.special and token.start is None and token.part == "prompt" for token in block)
    assert off.prompt == default.prompt == PROMPT

    result = qwen35.capture(IMAGE, PROMPT, answer=ANSWER, thinking=False)
    assert result.thinking is None and result.answer == ANSWER and not result.still_thinking
    assert {token.part for token in result.tokens} == {"prompt", "answer"}
    assert [group["name"] for group in ViewState.of(result).groups] == ["prompt", "answer"]
    check_offsets(result)


def test_messages_and_verify_take_the_switch(qwen35):
    messages = [{"role": "user", "content": [{"type": "image", "image": IMAGE}, {"type": "text", "text": PROMPT}]}]
    assert qwen35.prepare(messages=messages, thinking=False).text.endswith("<think>\n\n</think>\n\n")
    assert qwen35.prepare(messages=messages).text.endswith("<think>\n")
    report = qwen35.verify(IMAGE, PROMPT, thinking=False, verbose=False)
    assert report.passed


# ----- a given answer -----------------------------------------------------------------------------------------------


def test_a_given_answer_is_split_at_think_end(qwen35):
    prepared = qwen35.prepare(IMAGE, PROMPT)
    result = qwen35.capture(IMAGE, PROMPT, answer=f"{THOUGHT}</think>\n\n{ANSWER}")
    assert result.thinking == THOUGHT and result.answer == ANSWER and not result.still_thinking
    assert result.tokens[: len(prepared.tokens)] == prepared.tokens
    tokens = model_tokens(result)
    parts = [token.part for token in tokens]
    close = [token.text for token in tokens].index("</think>")
    assert parts == ["thinking"] * (close + 1) + ["answer"] * (len(tokens) - close - 1)
    # The marker and the line breaks after it are markup: special, no offsets; the words are their parts' text.
    assert [(token.text, token.special, token.start) for token in tokens[close : close + 3]] == [
        ("</think>", True, None),
        ("\n", True, None),
        ("\n", True, None),
    ]
    assert [token.text for token in tokens if not token.special] == [
        "M",
        "a",
        "y",
        "b",
        "e",
        " red",
        ".",
        "A",
        " red",
        " cat",
    ]
    check_offsets(result)
    assert all(0 < token.probability <= 1 for token in tokens)

    # The rows are those of one forward pass over prompt + the given text, whatever part each token is in.
    ids = qwen35.processor.tokenizer(f"{THOUGHT}</think>\n\n{ANSWER}", add_special_tokens=False)["input_ids"]
    full = dict(prepared.model_inputs)
    full["input_ids"] = torch.cat([full["input_ids"], torch.tensor([ids])], dim=1)
    full["attention_mask"] = torch.ones_like(full["input_ids"])
    full["mm_token_type_ids"] = torch.cat([full["mm_token_type_ids"], torch.zeros(1, len(ids), dtype=torch.long)], 1)
    whole = eager_attention(qwen35.model, full)
    np.testing.assert_allclose(
        result.attention, whole[:, :, result.query_positions][:, :, :, prepared.image_positions], rtol=0, atol=1e-5
    )


def test_producing_maps_and_phrases_cross_the_parts(qwen35):
    result = qwen35.capture(IMAGE, PROMPT, answer=f"{THOUGHT}</think>\n\n{ANSWER}")
    first_thought = next(index for index, token in enumerate(result.tokens) if token.part == "thinking")
    first_answer = next(index for index, token in enumerate(result.tokens) if token.part == "answer")
    # The step that chose the first thought is the prompt's last token ("\n" after "<think>"); the step that chose
    # the first answer token is the last thinking token's ("</think>").
    assert result.producing_rows([first_thought, first_answer]) == [first_thought - 1, first_answer - 1]
    assert result.tokens[first_thought - 1].part == "prompt" and result.tokens[first_answer - 1].text == "</think>"
    np.testing.assert_array_equal(
        result.grid(token=first_answer, producing=True, layer=0), result.grid(token=first_answer - 1, layer=0)
    )
    maps = result.maps(layer=-1, producing=True)
    np.testing.assert_array_equal(maps[first_thought], result.maps(layer=-1)[first_thought - 1])
    assert [result.tokens[index].part for index in result.token_indices("maybe")] == ["thinking"] * 5
    assert {result.tokens[index].part for index in result.token_indices("red")} == {"prompt", "thinking", "answer"}
    with pytest.raises(ValueError, match=r"not in the prompt .*, the thinking 'Maybe red\.' or the answer 'A red cat'"):
        result.token_indices("zebra")


# ----- the model's own thinking -----------------------------------------------------------------------------------


def test_the_models_thinking_is_split_where_it_writes_think_end(qwen35):
    text = f"{THOUGHT}\n</think>\n\n{ANSWER}"
    result = written(qwen35, text)
    assert result.thinking == THOUGHT and result.answer == ANSWER and not result.still_thinking
    tokens = model_tokens(result)
    close = [token.text for token in tokens].index("</think>")
    assert tokens[close - 1].text == "\n" and tokens[close - 1].special  # the line break before "</think>"
    assert [token.part for token in tokens] == ["thinking"] * (close + 1) + ["answer"] * (len(tokens) - close - 1)
    check_offsets(result)
    # The same text given: the same split, offsets, rows and (up to rounding) probabilities.
    given = qwen35.capture(IMAGE, PROMPT, answer=text)
    assert [token.__dict__ | {"probability": None} for token in given.tokens] == [
        token.__dict__ | {"probability": None} for token in result.tokens
    ]
    assert (given.thinking, given.answer) == (result.thinking, result.answer)
    np.testing.assert_allclose(given.attention, result.attention, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        [token.probability for token in model_tokens(given)], [token.probability for token in tokens], atol=1e-5
    )


def test_generation_that_stops_before_think_end_is_all_thinking(qwen35):
    result = written(qwen35, THOUGHT)
    assert result.still_thinking and result.answer == "" and result.thinking == THOUGHT
    assert {token.part for token in model_tokens(result)} == {"thinking"}
    assert "still thinking" in repr(result) and "thinking='Maybe red.'" in repr(result)
    groups = ViewState.of(result).groups
    assert [(group["name"], group["note"]) for group in groups] == [("prompt", ""), ("thinking", STILL_THINKING)]
    check_offsets(result)


def test_a_think_the_model_writes_at_its_answers_start_opens_thinking(qwen35):
    """Templates of Qwen3's style let the model open the thinking itself: here after the empty block of
    thinking=False, so only the model's own `<think>` opens it."""
    result = written(qwen35, f"<think>\nhmm</think>\n\n{ANSWER}", thinking=False)
    assert result.thinking == "hmm" and result.answer == ANSWER
    tokens = model_tokens(result)
    assert (tokens[0].text, tokens[0].part, tokens[0].special) == ("<think>", "thinking", True)
    given = qwen35.capture(IMAGE, PROMPT, answer=f"<think>hmm</think>{ANSWER}", thinking=False)
    assert (given.thinking, given.answer) == ("hmm", ANSWER)
    # Without a "<think>" of its own at the start, the answer is all answer.
    plain = written(qwen35, f"{ANSWER} hmm", thinking=False)
    assert plain.thinking is None and plain.answer == f"{ANSWER} hmm"


def test_a_thinking_answer_survives_save_and_load(qwen35, tmp_path):
    for result in (qwen35.capture(IMAGE, PROMPT, answer=f"{THOUGHT}</think>\n\n{ANSWER}"), written(qwen35, THOUGHT)):
        loaded = AttentionResult.load(result.save(tmp_path / "thinking.npz"))
        assert (loaded.thinking, loaded.answer, loaded.tokens) == (result.thinking, result.answer, result.tokens)
        assert loaded.still_thinking == result.still_thinking
        np.testing.assert_array_equal(loaded.attention, result.attention)


# ----- what is refused ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"thinking": "yes"}, TypeError, r"thinking must be True \(.*\), False \(.*\) or None \(.*\), not str 'yes'"),
        ({"thinking": 1}, TypeError, "thinking must be True .* not int 1"),
        (
            {"thinking": True, "chat": False},
            ValueError,
            "thinking=True is a switch of the chat template, and chat=False",
        ),
        (
            {"answer": ANSWER},
            ValueError,
            r"opens a thinking block .* include the thinking and '</think>' in the text .* or pass thinking=False",
        ),
        ({"answer": f"a</think>b</think>{ANSWER}"}, ValueError, "the answer text has 2 '</think>'"),
        ({"answer": f"<think>a</think>{ANSWER}"}, ValueError, "already opened the thinking"),
        ({"answer": f"a</think>{ANSWER}", "thinking": False}, ValueError, "has '</think>' but not a whole thinking"),
        ({"answer": "<think>a", "thinking": False}, ValueError, "has '<think>' but not a whole thinking block"),
        ({"answer": "a <|im_end|></think>b"}, ValueError, r"contains the special token '<\|im_end\|>'"),
    ],
)
def test_bad_thinking_options_get_one_line_before_the_model_runs(qwen35, monkeypatch, options, error, message):
    monkeypatch.setattr(qwen35.model, "forward", lambda *a, **k: pytest.fail("the model ran"))
    with pytest.raises(error, match=message) as info:
        qwen35.capture(IMAGE, PROMPT, **options)
    assert "\n" not in str(info.value)


def test_a_template_without_the_switch_refuses_it(qwen2):
    for value in (True, False):
        with pytest.raises(ValueError, match=rf"thinking={value}: this model's chat template has no thinking switch"):
            qwen2.capture(IMAGE, PROMPT, thinking=value)
    assert qwen2.capture(IMAGE, PROMPT, answer="a</think>", thinking=None).answer == "a</think>"  # plain text there
