"""The model's answer: generated as the model generates it, or given (teacher-forced), with its tokens' rows.

Generation runs `model.generate` inside `capturing`: the capture hook returns exactly what the model's own
attention (sdpa, flash, ...) returns, so the answer is the one `generate` gives without qvl_widget (a test compares
the token ids), and on the side it keeps each step's row as the step runs: the prompt's rows in the prefill, then
one row per generated token. A replay of prompt + answer would give the same rows (causal masking: row t sees
what step t saw) but costs a second prefill, which measured 1.14-1.61x a plain `generate` of 16-64 tokens on the
CPU benchmark; the rows taken during generation cost only the hook. The last answer token, which `generate`
never feeds back, gets its own row from one more step on generation's cache.

A given answer is appended to the prompt and captured in one forward pass (rows and probabilities alike).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from transformers.generation.streamers import BaseStreamer

from ._arguments import check_encodable, checked_count, described, shown
from ._capture import CaptureRequest, capturing
from ._inputs import spans_of_what_tokens_carry
from ._result import GENERATED_PARTS, THINKING_MARKERS, Part, QueryToken

# `generate` arguments that are not generation settings, refused by name: qvl_widget sets or needs these itself.
_REFUSED_GENERATE_OPTIONS = {
    "return_dict_in_generate": "capture returns an AttentionResult",
    "attn_implementation": "set the attention implementation when loading the model",
    "max_new_tokens": "pass max_new_tokens= to capture",
    "assistant_model": "assisted generation feeds several tokens per step; capture needs one per step",
    "custom_generate": "it replaces transformers' generate, whose steps capture follows",
    "past_key_values": "capture runs the whole prompt itself",
    "cache": "capture runs the whole prompt itself",
}
# Generation settings, decided from the config generate would build (the model's, a passed generation_config,
# the keywords over them): the values that change nothing, and why others are refused.
_CONFIG_RULES: dict[str, tuple[tuple[Any, ...], str]] = {
    "output_attentions": ((None, False), "attention comes from the capture, on the model's own fast attention"),
    "output_hidden_states": ((None, False), "capture returns attention only"),
    "output_scores": ((None, False), "capture keeps the answer tokens' probabilities itself"),
    "output_logits": ((None, False), "capture keeps the answer tokens' probabilities itself"),
    "num_return_sequences": ((None, 1), "capture explains one answer"),
    "num_beams": ((None, 1), "beam search reorders its cache between steps; capture explains greedy or sampled ones"),
    "use_cache": ((None, True), "capture feeds the last answer token back on generation's cache"),
    "cache_implementation": ((None, "dynamic"), "capture needs the default (dynamic) cache, whose keys start at 0"),
    "prefill_chunk_size": ((None,), "a prompt prefilled in chunks is not one pass; capture needs its rows in one"),
    "guidance_scale": ((None, 1), "classifier-free guidance runs a second, unconditional batch beside the answer"),
    "prompt_lookup_num_tokens": ((None,), "prompt lookup feeds several tokens per step; capture needs one per step"),
    "assistant_early_exit": ((None,), "assisted generation feeds several tokens per step; capture needs one per step"),
}
_FOLLOWED_MODES = ("greedy_search", "sample")  # one token per step, on one dynamic cache


@dataclass(frozen=True)
class Answer:
    """An answer's token ids and each token's probability at the step that chose it."""

    ids: torch.Tensor  # [n] long, on the CPU
    probabilities: np.ndarray  # [n] float


def checked_answer(answer: object) -> bool | str | None:
    """`answer=`: None (no answer), True (the model answers) or a non-empty text (a given answer)."""
    if answer is None or answer is True or answer is False:
        return None if answer is False else answer
    if isinstance(answer, str):
        if not answer.strip():
            raise ValueError("answer is empty: pass answer=True to let the model answer, or some text to teacher-force")
        check_encodable(answer, "the answer text")
        return answer
    raise TypeError(
        f"answer must be True (the model answers), a text (a given answer to teacher-force) or None, not "
        f"{described(answer)}"
    )


def checked_max_new_tokens(value: object) -> int:
    return checked_count(value, "max_new_tokens", "the answer's most tokens")


def checked_generate_kwargs(generate_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """`generate_kwargs=` (sampling options for `model.generate`), refusing the arguments that would change the
    capture; the settings are checked against the model's own (`check_generation_config`)."""
    from transformers import GenerationConfig

    if generate_kwargs is None:
        return {}
    if not isinstance(generate_kwargs, Mapping):
        raise TypeError(f"generate_kwargs must be a dict of model.generate options, not {described(generate_kwargs)}")
    for name, value in generate_kwargs.items():
        if not isinstance(name, str):
            raise TypeError(f"generate_kwargs' keys are option names (text), not {described(name)}")
        if name in _REFUSED_GENERATE_OPTIONS and value is not None:
            raise ValueError(f"generate_kwargs may not set {name!r}: {_REFUSED_GENERATE_OPTIONS[name]}")
    passed = generate_kwargs.get("generation_config")
    if passed is not None and not isinstance(passed, GenerationConfig):
        raise TypeError(
            f"generate_kwargs' generation_config must be a transformers GenerationConfig, not {described(passed)}"
        )
    streamer = generate_kwargs.get("streamer")
    if streamer is not None and not (
        callable(getattr(streamer, "put", None)) and callable(getattr(streamer, "end", None))
    ):
        raise TypeError(
            f"generate_kwargs' streamer must be a transformers streamer (with put and end), not {described(streamer)}"
        )
    return dict(generate_kwargs)


def generation_config_of(model: Any, generate_kwargs: dict[str, Any]) -> tuple[Any, set[str]]:
    """The generation config `model.generate(**generate_kwargs)` runs with (the model's own, a passed
    generation_config's set values over it, the keywords over both), and the settings the user chose."""
    from transformers import GenerationConfig

    own = getattr(model, "generation_config", None)
    config = copy.deepcopy(own) if isinstance(own, GenerationConfig) else GenerationConfig()
    chosen: set[str] = set()
    passed = generate_kwargs.get("generation_config")
    if passed is not None:
        values = {name: value for name, value in passed.to_diff_dict().items() if name != "transformers_version"}
        config.update(**values)
        chosen |= set(values)
    keywords = {name: value for name, value in generate_kwargs.items() if name not in ("generation_config", "streamer")}
    chosen |= set(keywords) - set(config.update(**keywords))  # update returns what is not a setting
    return config, chosen


def check_generation_config(model: Any, generate_kwargs: dict[str, Any]) -> None:
    """The generation config generate would run with (`generation_config_of`) must be one capture can follow:
    greedy or sampled, one token per step, on a dynamic cache, with no outputs capture makes itself. A one-line
    ValueError names the setting and where it came from (generate_kwargs, or the model's own config)."""
    try:
        config, chosen = generation_config_of(model, generate_kwargs)
    except (TypeError, ValueError) as error:  # generate's own check of the values (a temperature <= 0)
        raise _refused_by_generate(generate_kwargs, error) from error
    for name, (harmless, reason) in _CONFIG_RULES.items():
        value = getattr(config, name, None)
        if value not in harmless:
            raise _refused_setting(name, value, harmless, reason, name in chosen)
    mode = str(getattr(config.get_generation_mode(), "value", config.get_generation_mode()))
    if mode not in _FOLLOWED_MODES:
        where = "generate_kwargs ask for" if chosen else "this model's generation config asks for"
        raise ValueError(
            f"{where} {mode.replace('_', ' ')}, which capture cannot follow (it explains greedy or sampled answers, "
            "one token per step): leave those settings out, or pass e.g. generate_kwargs={'do_sample': True}"
        )


def _refused_setting(name: str, value: Any, harmless: tuple[Any, ...], reason: str, chosen: bool) -> ValueError:
    if chosen:
        return ValueError(
            f"generate_kwargs may not set {name!r} to {shown(value)} (here or in its "
            f"generation_config): {reason}; leave it out"
        )
    return ValueError(
        f"this model's generation config sets {name}={value!r}: {reason}; pass generate_kwargs={{{name!r}: "
        f"{harmless[-1]!r}}}"
    )


def _refused_by_generate(generate_kwargs: Mapping[str, Any], error: Exception) -> Exception:
    """generate's own refusal of its options (a typo, a temperature <= 0), as one line of the same class."""
    reason = " ".join(str(error).split()) or type(error).__name__
    return type(error)(f"model.generate refused generate_kwargs={shown(dict(generate_kwargs))}: {reason}")


def given_answer_ids(tokenizer: Any, text: str, allowed: Sequence[str] = ()) -> torch.Tensor:
    """The token ids of a given answer text (no special tokens added); placeholder tokens are refused (but the
    `allowed` ones: the thinking's markers, where the model thinks)."""
    for token in list(tokenizer.all_special_tokens) + list(tokenizer.get_added_vocab()):
        if token and token in text and token not in allowed:
            raise ValueError(f"the answer text contains the special token {token!r}; pass the answer's words only")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"the answer text {text!r} has no tokens; pass some words")
    return torch.tensor(ids, dtype=torch.long)


def with_answer(model_inputs: dict[str, Any], answer_ids: torch.Tensor) -> dict[str, Any]:
    """The processor's inputs with `answer_ids` appended: ids, attention mask and (where the processor makes
    them) token types, text for the answer."""
    extended = dict(model_inputs)
    answer = answer_ids.view(1, -1).to(model_inputs["input_ids"].device)
    extended["input_ids"] = torch.cat([model_inputs["input_ids"], answer], dim=1)
    if "attention_mask" in model_inputs:
        mask = model_inputs["attention_mask"]
        extended["attention_mask"] = torch.cat([mask, torch.ones_like(answer, dtype=mask.dtype)], dim=1)
    if "mm_token_type_ids" in model_inputs:
        types = model_inputs["mm_token_type_ids"]
        extended["mm_token_type_ids"] = torch.cat([types, torch.zeros_like(answer, dtype=types.dtype)], dim=1)
    return extended


def capture_given_answer(
    model: Any, inputs: dict[str, Any], answer_ids: torch.Tensor, request: CaptureRequest
) -> Answer:
    """One capturing forward pass over prompt + answer; each answer token's probability from the logits of the
    position before it (teacher forcing)."""
    count = answer_ids.numel()
    with capturing(model, request), torch.inference_mode():
        # The logits of the positions before each answer token, and no more of [sequence, vocabulary].
        logits = model(**with_answer(inputs, answer_ids), use_cache=False, logits_to_keep=count + 1).logits
    probabilities = _probabilities(logits[0, :count], answer_ids)
    return Answer(answer_ids.cpu(), probabilities)


def generate_answer(
    model: Any,
    inputs: dict[str, Any],
    request: CaptureRequest,
    max_new_tokens: int,
    generate_kwargs: dict[str, Any],
) -> Answer:
    """`model.generate` (greedy unless `generate_kwargs` say otherwise) with the capture on, then one more step
    that feeds the last token back for its own row. `request` must keep the positions of every possible answer
    token (up to `max_new_tokens`)."""
    check_generation_config(model, generate_kwargs)
    prompt_length = inputs["input_ids"].shape[1]
    options = {"do_sample": False, **generate_kwargs}
    recorder = AnswerRecorder(max_new_tokens, forward_to=options.pop("streamer", None))
    with capturing(model, request), torch.inference_mode():
        with recorder.reading(model):
            try:
                output = model.generate(
                    **inputs, **options, streamer=recorder, max_new_tokens=max_new_tokens, return_dict_in_generate=True
                )
            except (TypeError, ValueError) as error:
                if recorder.probabilities:  # not the options: generation had begun
                    raise
                # generate checks its options before the first token (a typo, a temperature <= 0): one line.
                raise _refused_by_generate(generate_kwargs, error) from error
        ids = output.sequences[0, prompt_length:]
        _feed_back(model, ids[-1:], getattr(output, "cache", None) or output.past_key_values)
    if len(recorder.probabilities) != ids.numel():
        raise RuntimeError(f"generate chose {ids.numel()} tokens but handed over {len(recorder.probabilities)}")
    return Answer(ids.cpu(), np.array(recorder.probabilities, dtype=np.float64))


def _feed_back(model: Any, last: torch.Tensor, cache: Any) -> None:
    """One decoding step on generation's cache for the last answer token (as `generate` would take it next)."""
    # transformers renamed past_key_values to cache; a wrapper (peft's PeftModel) passes either to the model inside.
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    cache_argument = "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"
    model(input_ids=last.view(1, 1), **{cache_argument: cache}, use_cache=True, logits_to_keep=1)


def _probabilities(logits: torch.Tensor, ids: torch.Tensor) -> np.ndarray:
    """`[n]`: softmax(logits[j])[ids[j]] in fp32: the model's own probability, before any sampling processor."""
    probabilities = torch.softmax(logits.float(), dim=-1)
    return probabilities.gather(1, ids.view(-1, 1).to(probabilities.device)).view(-1).cpu().numpy()


def check_given_thinking(text: str, markers: tuple[int, int] | None, opens_thinking: bool) -> None:
    """A one-line ValueError where a given answer's `<think>` / `</think>` do not make one thinking block at its
    start: the prompt's open block closed once in the text, or a block the text opens and closes itself. Without
    the markers as tokens (a model that does not think) they are plain text."""
    if markers is None:
        return
    start, end = THINKING_MARKERS
    opened, closed = text.count(start), text.count(end)
    if closed > 1 or opened > 1:
        raise ValueError(
            f"the answer text has {max(opened, closed)} {start if opened > 1 else end!r}: a given answer holds one "
            f"thinking block, at its start ('{start}...{end}' or, where the chat template opened it, '...{end}')"
        )
    if opens_thinking:
        if opened:
            raise ValueError(
                f"the answer text contains {start!r}, but the chat template already opened the thinking (the prompt "
                f"ends in {start!r}): start the text with the thinking itself, then {end!r} and the answer"
            )
        if not closed:
            raise ValueError(
                f"this model's chat template opens a thinking block (the prompt ends in {start!r}), so a given answer "
                f"starts inside it: include the thinking and {end!r} in the text (e.g. answer='The cat is on the "
                f"left.{end}\\n\\nA red cat.'), or pass thinking=False for an answer without thinking"
            )
    elif (opened or closed) and not (text.startswith(start) and closed):
        raise ValueError(
            f"the answer text has {start if opened else end!r} but not a whole thinking block at its start: a given "
            f"answer may begin with '{start}...{end}' (both markers), its answer after {end!r}"
        )


def answer_parts(
    ids: Sequence[int], pieces: Sequence[str], markers: tuple[int, int] | None, opens_thinking: bool
) -> tuple[list[Part], list[bool]]:
    """Each token of the model's answer: its part ("thinking" or "answer"), and whether it is the thinking's
    markup rather than text.

    The thinking runs from the answer's start, where the prompt opened it (`opens_thinking`) or the first token is
    `<think>`, up to and including the first `</think>`; where generation stopped before that, every token is
    thinking. The rest is the answer. Markup: the markers, and the whitespace-only tokens at the edges of the
    thinking and at the start of the answer after it (the line breaks around the markers, as in the template's
    `<think>\\n`; Qwen's own parsing strips them too)."""
    parts: list[Part] = ["answer"] * len(ids)
    markup = [markers is not None and token in markers for token in ids]
    if markers is None or not (opens_thinking or (ids and ids[0] == markers[0])):
        return parts, markup
    close = next((index for index, token in enumerate(ids) if token == markers[1]), None)
    stop = len(ids) if close is None else close + 1
    parts[:stop] = ["thinking"] * stop
    thought = [index for index in range(stop) if not markup[index]]
    after = list(range(stop, len(ids))) if close is not None else []
    for run in (thought, thought[::-1], after):
        for index in run:
            if pieces[index].strip() or markup[index]:
                break
            markup[index] = True
    return parts, markup


def answer_tokens(
    tokenizer: Any,
    answer: Answer,
    special_ids: set[int],
    given: str | None = None,
    markers: tuple[int, int] | None = None,
    opens_thinking: bool = False,
) -> tuple[dict[Part, str], tuple[QueryToken, ...]]:
    """The text of each part the model wrote ("answer" always, "thinking" where it thought: `answer_parts`) and one
    `QueryToken` per token, with offsets into its part's text.

    A given answer keeps its text as written, each part's text a slice of it, each token's offsets from the
    tokenizer (special tokens, such as an unknown word's, flagged as in the prompt). A generated part's text is
    its decoded tokens, special tokens and markup left out; offsets come from decoding growing prefixes, so a
    character split over several byte-level tokens (CJK, Arabic, emoji) belongs to each token that carries a byte
    of it, as the tokenizer's offsets of the same text given as an answer say."""
    ids = answer.ids.tolist()
    build: Callable[[Answer, list[int], Part, list[bool], set[int]], tuple[str, list[QueryToken]]]
    if given is not None:
        encoded = tokenizer(given, add_special_tokens=False, return_offsets_mapping=True)
        spans = spans_of_what_tokens_carry(tokenizer, given, ids, [tuple(span) for span in encoded["offset_mapping"]])
        pieces = [given[start:end] for start, end in spans]
        build = functools.partial(_given_part, tokenizer, given, spans)
    else:
        pieces = [tokenizer.decode([token_id]) for token_id in ids]
        build = functools.partial(_generated_part, tokenizer)
    parts, markup = answer_parts(ids, pieces, markers, opens_thinking)
    texts: dict[Part, str] = {}
    tokens: list[QueryToken] = []
    for part in GENERATED_PARTS:
        indices = [index for index, of in enumerate(parts) if of == part]
        if part == "answer" or indices:
            texts[part], part_tokens = build(answer, indices, part, markup, special_ids)
            tokens += part_tokens
    return texts, tuple(tokens)


def _generated_part(
    tokenizer: Any, answer: Answer, indices: list[int], part: Part, markup: list[bool], special_ids: set[int]
) -> tuple[str, list[QueryToken]]:
    ids = answer.ids.tolist()
    written = {index for index in indices if not markup[index] and ids[index] not in special_ids}
    text = tokenizer.decode([ids[index] for index in sorted(written)], skip_special_tokens=True)
    tokens: list[QueryToken] = []
    kept: list[int] = []
    begun: list[int] = []  # tokens holding the first bytes of a character that a later token completes
    end = 0
    for index in indices:
        token_id, probability = ids[index], float(answer.probabilities[index])
        if index not in written:
            piece = tokenizer.decode([token_id]) if markup[index] else tokenizer.convert_ids_to_tokens(token_id)
            tokens.append(QueryToken(piece or "", None, None, special=True, part=part, probability=probability))
            continue
        kept.append(token_id)
        prefix = tokenizer.decode(kept, skip_special_tokens=True)
        if prefix.endswith("\ufffd") and not text.startswith(prefix):  # a character's first bytes only
            begun.append(len(tokens))
            tokens.append(QueryToken("", end, end, special=False, part=part, probability=probability))
            continue
        start, end = end, len(prefix) if text.startswith(prefix) else end
        for position in begun:  # they carry bytes of the characters this token completes
            tokens[position] = replace(tokens[position], text=text[start:end], start=start, end=end)
        begun = []
        tokens.append(QueryToken(text[start:end], start, end, special=False, part=part, probability=probability))
    return text, tokens


def _given_part(
    tokenizer: Any,
    given: str,
    spans: list[tuple[int, int]],
    answer: Answer,
    indices: list[int],
    part: Part,
    markup: list[bool],
    special_ids: set[int],
) -> tuple[str, list[QueryToken]]:
    """A part of a given answer: from its first token that is not markup (the whole text, as written, where the
    answer is all of it) to, for the answer, the text's end, for the thinking, its last such token."""
    if not indices:
        return "", []
    words = [index for index in indices if not markup[index]]
    low = 0 if indices[0] == 0 and part == "answer" else spans[words[0]][0] if words else spans[indices[-1]][1]
    high = len(given) if part == "answer" else spans[words[-1]][1] if words else low
    tokens = []
    for index in indices:
        token_id, (start, end), probability = answer.ids[index].item(), spans[index], float(answer.probabilities[index])
        if token_id in special_ids or markup[index] or end <= start:
            shown = given[start:end] or (tokenizer.convert_ids_to_tokens(token_id) or "")
            tokens.append(QueryToken(shown, None, None, special=True, part=part, probability=probability))
        else:
            shown = given[start:end]
            tokens.append(QueryToken(shown, start - low, end - low, special=False, part=part, probability=probability))
    return given[low:high], tokens


class AnswerRecorder(BaseStreamer):
    """The `generate` streamer of a captured answer: it keeps each generated token's probability and shows the
    tokens so far (a notebook progress bar, or a line on a terminal's stderr) once generation has taken two
    seconds; a streamer of the user's gets everything too.

    Probabilities without keeping every step's logits (vocabulary x steps floats): while `reading(model)`, a hook
    on the output head keeps the latest step's log-probabilities, and `put` (generate hands over each token as
    soon as it is chosen) reads the chosen token's from them. Raw logits: before any sampling option."""

    def __init__(self, total: int, forward_to: BaseStreamer | None = None) -> None:
        self.total = total
        self.forward_to = forward_to
        self.probabilities: list[float] = []
        self._log_probabilities: torch.Tensor | None = None
        self._prompt_seen = False
        self._bar: Any = None

    @contextlib.contextmanager
    def reading(self, model: Any) -> Iterator[None]:
        def keep(module: Any, args: Any, logits: torch.Tensor) -> None:
            self._log_probabilities = torch.log_softmax(logits[0, -1].float(), dim=-1)

        handle = model.get_output_embeddings().register_forward_hook(keep)
        try:
            yield
        finally:
            handle.remove()

    def put(self, value: torch.Tensor) -> None:
        if self.forward_to is not None:
            self.forward_to.put(value)
        if not self._prompt_seen:  # generate first hands over the prompt
            self._prompt_seen = True
            return
        if self._log_probabilities is None:
            raise RuntimeError("the answer's probabilities were not seen: the model's output head did not run")
        self.probabilities.append(float(self._log_probabilities[int(value.view(-1)[0])].exp()))
        if self._bar is None:
            from tqdm.auto import tqdm  # huggingface_hub's dependency: always there with transformers

            self._bar = tqdm(total=self.total, desc="qvl_widget: generating the answer", unit="token", delay=2.0)
        self._bar.update(value.numel())

    def end(self) -> None:
        if self.forward_to is not None:
            self.forward_to.end()
        if self._bar is not None:
            self._bar.close()
