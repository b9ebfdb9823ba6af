"""The demo model says what it knows: words outside its vocabulary get a warning that names them."""

from __future__ import annotations

import warnings

import pytest

import qvl_widget
from qvl_widget import demo
from qvl_widget.demo import DemoVocabularyWarning

SEED = 200_006


@pytest.fixture(scope="module")
def model() -> qvl_widget.LoadedModel:
    return demo.load(device="cpu")


@pytest.fixture(scope="module")
def example() -> dict:
    return demo.make_example(SEED)


def test_a_prompt_with_unknown_words_warns_naming_them_and_what_it_knows(model, example):
    with pytest.warns(DemoVocabularyWarning) as record:
        result = model.capture(example["image"], "Where is the red cat's hat?")
    (warning,) = record
    message = str(warning.message)
    assert message.startswith(
        "the demo model does not know \"cat's\", 'hat' in the prompt \"Where is the red cat's hat?\" (its word-level "
        "tokenizer reads them as [unk]); it knows only the colours red, green, blue, yellow, purple, orange; "
        "the shapes circle, square, triangle, cross; the question words what, color, is, the, shape, one, where, ?"
    )
    assert "\n" not in message
    assert warning.filename == __file__  # it points at the caller's line, not the package's
    assert result.tokens  # a warning, not an error: the capture ran


def test_one_unknown_word_and_a_given_answer_with_unknown_words(model, example):
    with pytest.warns(DemoVocabularyWarning, match=r"does not know 'dog' in the prompt .* reads it as \[unk\]"):
        model.prepare(example["image"], "What color is the dog?")
    with pytest.warns(DemoVocabularyWarning, match=r"does not know 'fluffy', 'cat' in the answer 'A fluffy cat\.'"):
        model.capture(example["image"], example["prompt"], answer="A fluffy cat.")


def test_no_warning_for_what_the_demo_knows(model, example):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DemoVocabularyWarning)
        result = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=4)
        model.capture(example["image"], "WHERE is the Orange circle?", answer="top left")  # any case
    assert result.answer == example["answer"]


def test_only_the_demo_loader_checks(example):
    """The same folder loaded as any model: no vocabulary warning (other models' tokenizers have no [unk] for
    words)."""
    plain = qvl_widget.load(demo.MODEL_DIR, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DemoVocabularyWarning)
        plain.capture(example["image"], "Where is the red cat?")


def test_unknown_words(model):
    tokenizer = model.processor.tokenizer
    assert demo.unknown_words(tokenizer, "What color is the square?") == []
    assert demo.unknown_words(tokenizer, "Cat cat CAT dog") == ["Cat", "dog"]  # each once, any case
    assert demo.unknown_words(tokenizer, "red, or blue") == [",", "or"]  # punctuation it lacks too
    assert demo.unknown_words(tokenizer, "the red cat's hat") == ["cat's", "hat"]


def test_the_outline_is_make_examples():
    for seed in (0, 7, 100_001, SEED):
        example = demo.make_example(seed)
        assert demo.example_outline(seed) == (example["kind"], len(example["objects"]))
