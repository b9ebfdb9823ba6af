"""Your own conversation: a system prompt, several turns, images anywhere; rendered by the model's template."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import at_once
from test_capture import PROMPT, eager_attention, noise_image

import qvl_widget

SYSTEM = "You are a careful pirate."


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def conversation(first, second, system: str | None = SYSTEM) -> list[dict]:
    """A system prompt, a question on one image, an answer, then a question around a second image."""
    head = [] if system is None else [{"role": "system", "content": system}]
    return [
        *head,
        {"role": "user", "content": [{"type": "image", "image": first}, {"type": "text", "text": "Where is the cat?"}]},
        {"role": "assistant", "content": "On the mat, matey."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And here:"},
                {"type": "image", "image": second},
                {"type": "text", "text": " what color is the cat?"},
            ],
        },
    ]


@pytest.fixture
def pictures() -> list:
    return [noise_image(100, 60, seed=1), noise_image(70, 90, seed=2)]


def templated(model: qvl_widget.LoadedModel, messages: list[dict]) -> str:
    return model.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


# ----- the text and the layout -------------------------------------------------------------------------------


def test_the_input_is_the_chat_templates_text_for_the_messages(tiny, pictures):
    messages = conversation(*pictures)
    prepared = tiny.prepare(messages=messages)
    assert prepared.text == templated(tiny, messages)
    opened = "<|im_start|>assistant\n" + ("<think>\n" if tiny.family.name == "qwen3_5" else "")
    assert prepared.text.endswith(opened)  # the assistant turn is opened (Qwen3.5's thinks first, by default)
    assert "You are a helpful assistant." not in prepared.text  # the conversation's own system turn
    expected = tiny.processor(text=[prepared.text], images=pictures, return_tensors="pt")
    assert prepared.model_inputs.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(prepared.model_inputs[name], value), name


def test_a_conversation_is_captured_exactly(tiny, pictures):
    """A system prompt, two user turns with an image each (the second between text parts) and an answer."""
    messages = conversation(*pictures)
    result = tiny.capture(messages=messages)
    prepared = tiny.prepare(messages=messages)
    full = eager_attention(tiny.model, prepared.model_inputs)
    reference = full[:, :, prepared.query_positions][:, :, :, prepared.image_positions]
    np.testing.assert_allclose(result.attention, reference, rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.image_mass, reference.sum(axis=-1), rtol=0, atol=1e-5)
    assert [image.original_size for image in result.images] == [(100, 60), (70, 90)]
    # Rows: every text token after the first image, of every later turn, up to the opened assistant turn.
    assert result.query_positions[0] == result.image_positions[0] + result.images[0].num_tokens
    assert result.query_positions[-1] == prepared.model_inputs["input_ids"].shape[1] - 1
    assert not set(result.query_positions) & set(result.image_positions)


def test_the_prompt_is_the_text_written_after_the_first_image_and_offsets_point_into_it(qwen2, pictures, tmp_path):
    result = qwen2.capture(messages=conversation(*pictures))
    assert result.prompt == "Where is the cat?\nOn the mat, matey.\nAnd here:\n what color is the cat?"
    own = [token for token in result.tokens if not token.special]
    assert all(result.prompt[token.start : token.end] == token.text for token in own)
    assert {token.part for token in result.tokens} == {"prompt"}
    # The template's tokens (turn markers, role names, the second image's delimiters) are flagged, not mapped.
    special = "".join(token.text for token in result.tokens if token.special)
    assert "<|im_start|>assistant" in special and "<|vision_start|>" in special
    assert all(token.start is None and token.end is None for token in result.tokens if token.special)
    loaded = qvl_widget.AttentionResult.load(result.save(tmp_path / "conversation.npz"))
    assert loaded.prompt == result.prompt and loaded.token_indices("matey") == result.token_indices("matey")


def assert_tokens_tile_the_prompt(result: qvl_widget.AttentionResult, prompt: str) -> None:
    """The prompt is `prompt`, and the own tokens are its characters in order: each token's text is the prompt's
    text at its offsets, and each starts where the one before it ended, from the prompt's start to its end."""
    assert result.prompt == prompt
    own = [token for token in result.tokens if not token.special]
    assert [token.text for token in own] == [prompt[token.start : token.end] for token in own]
    assert [token.start for token in own] == [0, *(token.end for token in own[:-1])]
    assert own[-1].end == len(prompt)


def found(result: qvl_widget.AttentionResult, phrase: str) -> list[tuple[int, str]]:
    """Where `phrase=` selects in the prompt: each run of consecutive selected tokens as (its start, its text)."""
    runs: list[list[int]] = []
    for index in result.token_indices(phrase):
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    spans = [(result.tokens[run[0]].start, result.tokens[run[-1]].end) for run in runs]
    return [(start, result.prompt[start:end]) for start, end in spans]


def test_texts_side_by_side_in_one_message_are_one_text(tiny):
    """Text parts that touch in the template's text are one text of the prompt: no newline between them, and a
    token across the seam ("the" + " cat") is the user's, with its offsets."""
    parts = ["Where is the", " cat? The cat", " sat."]
    content = [{"type": "image", "image": noise_image(64, 64)}, *({"type": "text", "text": text} for text in parts)]
    result = tiny.capture(messages=[{"role": "user", "content": content}])
    assert_tokens_tile_the_prompt(result, "".join(parts))
    across = [token for token in result.tokens if not token.special and token.start < 12 < token.end]
    seam = [token for token in result.tokens if not token.special and token.start < 12 <= token.end]
    assert seam and not across  # the tokenizer splits there; the next test has a token across the seam
    assert found(result, "cat") == [(12, " cat"), (21, " cat")] and found(result, "sat") == [(26, "sat")]


def test_a_token_across_two_touching_texts_is_the_users(tiny):
    parts = ["Where is the ", "cat? The cat", " sat."]
    content = [{"type": "image", "image": noise_image(64, 64)}, *({"type": "text", "text": text} for text in parts)]
    result = tiny.capture(messages=[{"role": "user", "content": content}])
    assert_tokens_tile_the_prompt(result, "".join(parts))
    (across,) = [token for token in result.tokens if not token.special and token.start < 13 < token.end]
    assert across.text == " cat" and (across.start, across.end) == (12, 16)
    assert found(result, "the cat") == [(8, " the cat"), (18, "The cat")]


def test_a_text_repeated_in_a_message_maps_to_each_of_its_places(tiny):
    """The same text twice (side by side, then after other text): each copy's tokens point at their own copy."""
    parts = ["The cat. ", "The cat. ", "A dog. ", "The cat."]
    content = [{"type": "image", "image": noise_image(64, 64)}, *({"type": "text", "text": text} for text in parts)]
    result = tiny.capture(messages=[{"role": "user", "content": content}])
    assert_tokens_tile_the_prompt(result, "The cat. The cat. A dog. The cat.")
    assert found(result, "the cat") == [(0, "The cat"), (9, "The cat"), (25, "The cat")]
    assert found(result, "dog") == [(20, "dog")]


@pytest.mark.parametrize(
    ("phrase", "words"),
    [("cat", "cat cat"), ("matey", "matey"), ("what color", "what color"), ("rhymes", "rhymes")],
    ids=["every question", "an earlier answer", "the last question", "a later system prompt"],
)
def test_phrases_find_words_of_every_turn_after_the_first_image(qwen2, pictures, phrase, words):
    messages = conversation(*pictures)
    messages.insert(3, {"role": "system", "content": "Answer in rhymes."})  # a system turn after the first image
    result = qwen2.capture(messages=messages)
    found = result.token_indices(phrase)
    assert {result.tokens[index].part for index in found} == {"prompt"}
    assert " ".join("".join(result.tokens[index].text for index in found).split()) == words
    assert result.grid(phrase=phrase).shape == (result.images[0].rows, result.images[0].cols)


def test_text_before_the_first_image_has_no_rows(qwen2, pictures):
    """The leading system prompt cannot see the image (causal attention): it is not in the prompt, as a phrase."""
    result = qwen2.capture(messages=conversation(*pictures))
    with pytest.raises(ValueError, match=r"phrase 'pirate' is not in the prompt 'Where is the cat\?") as error:
        result.token_indices("pirate")
    one_line(error)
    assert "pirate" not in "".join(token.text for token in result.tokens)


def test_system_replaces_the_templates_system_turn(qwen2):
    image = noise_image(100, 60)
    prepared = qwen2.prepare(image, PROMPT, system=SYSTEM)
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}
    assert prepared.text == templated(qwen2, [{"role": "system", "content": SYSTEM}, user])
    assert "You are a helpful assistant." not in prepared.text
    plain = qwen2.prepare(image, PROMPT)
    assert plain.text == templated(qwen2, [user])  # without system=, the template's own system turn
    assert prepared.prompt == plain.prompt == PROMPT
    assert prepared.tokens == plain.tokens  # the system prompt comes before the image: same rows
    with_system = qwen2.capture(image, PROMPT, system=SYSTEM)
    as_messages = qwen2.capture(messages=[{"role": "system", "content": SYSTEM}, user], image_or_images=image)
    np.testing.assert_array_equal(with_system.attention, as_messages.attention)
    assert with_system.tokens == as_messages.tokens and with_system.prompt == as_messages.prompt == PROMPT
    from_argument = qwen2.capture(messages=conversation(image, image, system=None), system=SYSTEM)
    np.testing.assert_array_equal(from_argument.attention, qwen2.capture(messages=conversation(image, image)).attention)


def test_placeholders_take_the_image_argument_in_order(qwen2, pictures):
    inline = qwen2.prepare(messages=conversation(*pictures))
    bare = conversation(None, None)
    for message in bare:
        for part in message["content"] if isinstance(message["content"], list) else []:
            part.pop("image", None)
    placed = qwen2.prepare(pictures, messages=bare)
    assert placed.text == inline.text and placed.tokens == inline.tokens and placed.prompt == inline.prompt
    for name, value in inline.model_inputs.items():
        assert torch.equal(placed.model_inputs[name], value), name
    assert [picture.size for picture in placed.pictures] == [(100, 60), (70, 90)]


def test_string_content_and_type_less_parts(qwen2):
    image = noise_image(64, 64)
    messages = [{"role": "user", "content": [{"image": image}, {"text": "Where is the cat?"}]}]
    typed = [
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Where is the cat?"}]}
    ]
    assert qwen2.prepare(messages=messages).text == qwen2.prepare(messages=typed).text


# ----- answers -------------------------------------------------------------------------------------------------


def test_the_model_answers_after_a_conversation(tiny, pictures):
    messages = conversation(*pictures)
    prepared = tiny.prepare(messages=messages, **at_once(tiny))
    with torch.no_grad():
        plain = tiny.model.generate(**prepared.model_inputs, max_new_tokens=4, do_sample=False)
    result = tiny.capture(messages=messages, answer=True, max_new_tokens=4, **at_once(tiny))
    generated = plain[0, prepared.model_inputs["input_ids"].shape[1] :].tolist()
    assert result.answer == tiny.processor.tokenizer.decode(generated, skip_special_tokens=True)
    assert [token.part for token in result.tokens[len(prepared.tokens) :]] == ["answer"] * len(generated)
    assert result.tokens[: len(prepared.tokens)] == prepared.tokens and result.prompt == prepared.prompt


def test_a_given_answer_after_a_conversation(qwen2, pictures):
    result = qwen2.capture(messages=conversation(*pictures), answer="It is red.")
    assert result.answer == "It is red."
    assert {result.tokens[index].part for index in result.token_indices("red")} == {"answer"}
    assert {result.tokens[index].part for index in result.token_indices("color")} == {"prompt"}


# ----- templates that change the conversation ----------------------------------------------------------------

# Like Qwen3-VL's own template: the first system message only, images in user messages only, texts trimmed.
PICKY_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] != 'system' or loop.first %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' and message['role'] == 'user' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] | trim }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture
def picky(qwen2, monkeypatch) -> qvl_widget.LoadedModel:
    monkeypatch.setattr(qwen2.processor, "chat_template", PICKY_TEMPLATE)
    return qwen2


def test_a_template_that_changes_texts_still_maps_their_tokens(picky, pictures):
    result = picky.capture(messages=conversation(*pictures))
    assert result.prompt == "Where is the cat?\nOn the mat, matey.\nAnd here:\nwhat color is the cat?"
    own = [token for token in result.tokens if not token.special]
    assert own and all(result.prompt[token.start : token.end] == token.text for token in own)
    found = result.token_indices("what color")
    assert "".join(result.tokens[index].text for index in found) == "what color"


def test_a_template_that_changes_texts_maps_a_repeated_text_to_each_copy(picky):
    """The template trims each text: the texts are then found in its text in order, each copy after the one
    before."""
    parts = ["  The cat. ", " The cat.", "A dog. ", " The cat. "]
    content = [{"type": "image", "image": noise_image(64, 64)}, *({"type": "text", "text": text} for text in parts)]
    result = picky.capture(messages=[{"role": "user", "content": content}])
    assert_tokens_tile_the_prompt(result, "The cat.The cat.A dog.The cat.")
    assert found(result, "the cat") == [(0, "The cat"), (8, "The cat"), (22, "The cat")]
    assert found(result, "dog") == [(18, "dog")]


@pytest.mark.parametrize(
    "texts",
    [[" user "], [" a ", "b"], ["Look ", " user"], [" Where is the cat? ", " assistant "]],
    ids=["a role name", "a letter of the template", "touching", "after a question"],
)
def test_a_template_that_changes_texts_does_not_take_its_own_text_for_the_users(picky, texts):
    """A trimmed text that also occurs in the template's text before it ("user" in "<|im_start|>user", "a" in
    "<|im_start|>") is the user's text where the user wrote it, after the template's text before it."""
    content = [{"type": "image", "image": noise_image(64, 64)}, *({"type": "text", "text": text} for text in texts)]
    result = picky.capture(messages=[{"role": "user", "content": content}])
    assert_tokens_tile_the_prompt(result, "".join(text.strip() for text in texts))
    prepared = picky.prepare(messages=[{"role": "user", "content": content}])
    written = prepared.text[prepared.text.index("<|vision_end|>") + len("<|vision_end|>") :]
    assert written.startswith(result.prompt + "<|im_end|>")


def test_a_template_that_leaves_out_a_message_or_an_image_is_refused(picky, pictures):
    messages = conversation(*pictures)
    messages.insert(3, {"role": "system", "content": "Answer in rhymes."})
    with pytest.raises(ValueError, match=r"leaves out message 4 \(system\) .*: remove it, or move its text") as error:
        picky.capture(messages=messages)
    one_line(error)
    messages = conversation(*pictures)
    messages[2] = {
        "role": "assistant",
        "content": [{"type": "image", "image": pictures[0]}, {"type": "text", "text": "Hm."}],
    }
    with pytest.raises(
        ValueError, match=r"shows 2 of the conversation's 3 images .*put every image in a user"
    ) as error:
        picky.capture(messages=messages)
    one_line(error)


# ----- refused ----------------------------------------------------------------------------------------------------


IMAGE = noise_image(64, 64)


def image_part(image=None) -> dict:
    return {"type": "image", "image": IMAGE if image is None else image}


def user(*parts) -> dict:
    return {"role": "user", "content": list(parts)}


ASK = {"type": "text", "text": "Where is the cat?"}


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"prompt": PROMPT, "messages": [user(image_part(), ASK)]}, ValueError, "pass either a prompt or messages="),
        (
            {"image_or_images": IMAGE},
            ValueError,
            r"no prompt given: pass a prompt, e\.g\. capture\('cat\.jpg', .*or messages=",
        ),
        ({"messages": "Where is the cat?"}, TypeError, r'messages must be a list of \{"role": \.\.\.'),
        ({"messages": []}, ValueError, "messages is empty"),
        ({"messages": [user(image_part(), ASK), "and then?"]}, TypeError, 'message 2 must be a dict with "role"'),
        ({"messages": [{"content": [image_part(), ASK]}]}, ValueError, 'message 1 has no "role"'),
        ({"messages": [{"role": "user"}]}, ValueError, 'message 1 has no "content"'),
        ({"messages": [{"role": "tool", "content": "x"}]}, ValueError, "message 1 has role 'tool'; use 'system'"),
        ({"messages": [{"role": "user", "content": 3}]}, TypeError, "message 1's content must be a string or a list"),
        ({"messages": [user(image_part(), "hi")]}, TypeError, r"message 1, part 2 must be a dict like"),
        (
            {"messages": [user(image_part(), {"type": "audio"})]},
            ValueError,
            "part 2 has type 'audio'; qvl_widget takes 'text', 'image' and 'video' parts",
        ),
        (
            {"messages": [user(image_part(), {"type": "text"})]},
            TypeError,
            'part 2 is a text part without a string "text"',
        ),
        (
            {"messages": [user({"type": "image", "url": "https://example.com/cat.jpg"}, ASK)]},
            ValueError,
            'message 1, part 1: give the image as "image": a file path',
        ),
        ({"messages": [user(image_part("missing.png"), ASK)]}, FileNotFoundError, "message 1, part 1: image file not"),
        ({"messages": [user(image_part(np.zeros((0, 4))), ASK)]}, ValueError, "message 1, part 1: the image array is"),
        ({"messages": [user(ASK)]}, ValueError, r"the conversation has no image: add one to a user message"),
        (
            {"messages": [{"role": "system", "content": "Be brief."}, user(image_part(), ASK)], "system": SYSTEM},
            ValueError,
            "pass the system prompt either as system= or as a system message in messages, not both",
        ),
        ({"messages": [user(image_part(), ASK)], "chat": False}, ValueError, "chat=False takes a raw prompt; messages"),
        (
            {"image_or_images": IMAGE, "prompt": PROMPT, "system": SYSTEM, "chat": False},
            ValueError,
            "system= is rendered by the chat template",
        ),
        ({"image_or_images": IMAGE, "prompt": PROMPT, "system": ["a"]}, TypeError, "system must be a string"),
        (
            {"messages": [user(image_part(), ASK), {"role": "assistant", "content": "A cat"}]},
            ValueError,
            r"the last message is the assistant's: end with a user message .*or pass that text as answer=",
        ),
        (
            {"messages": [user({"type": "image"}, {"type": "image"}, ASK)], "image_or_images": IMAGE},
            ValueError,
            r"the messages have 2 image placeholder\(s\) .* and 1 image\(s\) came in image_or_images",
        ),
        (
            {"messages": [user(image_part(), ASK)], "image_or_images": IMAGE},
            ValueError,
            r"the messages have 0 image placeholder\(s\)",
        ),
        (
            {"messages": [user(image_part(), {"type": "text", "text": "look <|vision_start|>"})]},
            ValueError,
            r"message 1 \(user\) contains the special token '<\|vision_start\|>'; remove it \(images go in",
        ),
        (
            {"image_or_images": IMAGE, "prompt": PROMPT, "system": "<|im_end|>"},
            ValueError,
            r"the system prompt contains the special token '<\|im_end\|>'",
        ),
        (
            {"image_or_images": [user(image_part(), ASK)]},
            TypeError,
            r"this looks like a conversation: pass it as messages=\[\.\.\.\]",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_conversations_get_one_line(qwen2, arguments, error, message):
    with pytest.raises(error, match=message) as raised:
        qwen2.prepare(**arguments)
    one_line(raised)
    with pytest.raises(error, match=message):
        qwen2.capture(**arguments)
