"""The model's context: every input's token count, known from the processor's output before the model runs, against
the positions the model was trained for (`max_position_embeddings` of its text config).

A sequence past it is refused in one line before anything large is allocated: the forward would either fail deep
inside the model (an allocator error after seconds or minutes) or give attention the model was never trained to
give."""

from __future__ import annotations

from typing import Any, Literal

AnswerKind = Literal["given", "generated"]


def model_context(config: Any) -> int | None:
    """The most tokens the model takes (its text config's `max_position_embeddings`), or None where it names none."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    value = getattr(text_config, "max_position_embeddings", None)
    return value if type(value) is int and value > 0 else None


def check_within_context(
    context: int | None, prompt_tokens: int, answer_tokens: int = 0, answer: AnswerKind | None = None, what: str = ""
) -> None:
    """Refuse, in one line, a prompt (`what`: which one) and answer longer than the model's context."""
    total = prompt_tokens + answer_tokens
    if context is None or total <= context:
        return
    prompt = what or "the prompt with its images and videos"
    if answer == "generated" and prompt_tokens < context:
        raise ValueError(
            f"{prompt} ({prompt_tokens:,} tokens) and max_new_tokens={answer_tokens:,} go past the model's context "
            f"of {context:,} tokens: pass max_new_tokens={context - prompt_tokens:,} or fewer"
        )
    if answer == "given" and prompt_tokens < context:
        raise ValueError(
            f"{prompt} ({prompt_tokens:,} tokens) and the given answer ({answer_tokens:,} tokens) go past the "
            f"model's context of {context:,} tokens: give a shorter answer (at most {context - prompt_tokens:,} tokens)"
        )
    raise ValueError(
        f"{prompt} makes {prompt_tokens:,} tokens, past the model's context of {context:,} tokens: use fewer "
        "frames or pixels (Video(max_frames=..., max_pixels=...); max_pixels=... for images), or a shorter text"
    )
