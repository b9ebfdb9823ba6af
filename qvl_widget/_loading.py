"""Loading a Qwen vision-language model and its processor, and capturing attention with it."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import torch
from safetensors import SafetensorError

from ._answer import (
    Answer,
    capture_given_answer,
    check_generation_config,
    check_given_thinking,
    checked_answer,
    checked_generate_kwargs,
    checked_max_new_tokens,
    generate_answer,
    given_answer_ids,
)
from ._answer import answer_tokens as tokens_of_answer
from ._arguments import check_encodable, checked_count, checked_flag, checked_text, described, integer_index, shown
from ._batch import batched_model_inputs, batched_query_positions
from ._capture import (
    DEFAULT_CHUNK_BYTES,
    KERNELS,
    CaptureRequest,
    Kernel,
    SinkScores,
    capturing,
    check_kernel_runs_on,
    recording_sink_scores,
)
from ._choices import checked_indices
from ._context import AnswerKind, check_within_context, model_context
from ._families import Family, attention_layers, family_for_config, unknown_to_transformers
from ._inputs import MediaInput, Messages, PreparedInputs, prepare_inputs, special_token_ids, thinking_marker_ids
from ._memory import check_result_fits, rows_working_bytes
from ._result import THINKING_MARKERS, AttentionResult, Part, checked_baseline, shareable_name
from ._source import check_processor_files, checked_processor_source, checked_source
from ._verify import VerifyReport, verify_model

if TYPE_CHECKING:
    from ._study import Study

# How captured probabilities are kept: "float32" (exact) or "float16" (half the memory).
Storage: TypeAlias = Literal["float32", "float16"]
_STORAGE_DTYPES: dict[Storage, torch.dtype] = {"float32": torch.float32, "float16": torch.float16}


class LoadedModel:
    """A Qwen-VL model with its processor, ready to capture text->image attention.

    Made by `qvl_widget.load(...)`. `model` and `processor` are the plain transformers objects. `source` is what
    it was loaded from (a hub id or a local folder, as given); `name` is how results and the files made from them
    name it: the hub id, or the folder's name, never a path of this machine (default: from `source`).
    """

    def __init__(self, model: Any, processor: Any, family: Family, source: str, name: str | None = None) -> None:
        self.model = model
        self.processor = processor
        self.family = family
        self.source = source
        self.name = shareable_name(name) if name is not None else _model_name(source)

    def __repr__(self) -> str:
        text = self.model.config.get_text_config()
        mapped = len(attention_layers(text))
        layers = f"{text.num_hidden_layers}" + (f" ({mapped} attention)" if mapped < text.num_hidden_layers else "")
        return (
            f"LoadedModel({self.source!r}, family={self.family.display_name}, layers={layers}, "
            f"heads={text.num_attention_heads}, device={self.device}, dtype={self.dtype})"
        )

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def prepare(
        self,
        image_or_images: MediaInput | Sequence[MediaInput] | None = None,
        prompt: str | None = None,
        chat: bool = True,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        *,
        system: str | None = None,
        messages: Messages | None = None,
        thinking: bool | None = None,
    ) -> PreparedInputs:
        """The processor inputs for a capture and their layout, without running the model (arguments as in
        `capture`; `.text` is the model's input text, one image pad per image; `.opens_thinking`: it ends inside
        an open `<think>` block, so the model's answer starts with its thinking)."""
        return prepare_inputs(
            self.processor,
            self.model.config,
            image_or_images,
            prompt,
            chat,
            min_pixels,
            max_pixels,
            system=system,
            messages=messages,
            thinking=thinking,
        )

    def capture(
        self,
        image_or_images: MediaInput | Sequence[MediaInput] | None = None,
        prompt: str | None = None,
        *,
        messages: Messages | None = None,
        system: str | None = None,
        answer: bool | str | None = None,
        thinking: bool | None = None,
        max_new_tokens: int = 64,
        generate_kwargs: Mapping[str, Any] | None = None,
        layers: Sequence[int] | None = None,
        chat: bool = True,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        storage: Storage = "float32",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        kernel: Kernel = "auto",
        baseline: bool | str | None = None,
        sink_scores: bool = True,
    ) -> AttentionResult:
        """Run the model once and return the text->image attention of every layer and head.

        `image_or_images`: a path, a PIL image, a numpy array, or a list of them (placed before the prompt).
        `system`: a system prompt (it replaces the template's own system turn, if it has one).
        `messages` (instead of a prompt): your own conversation in the transformers/Qwen message format,
        `[{"role": "system" | "user" | "assistant", "content": "text" | [parts]}, ...]`, each part
        `{"type": "text", "text": ...}` or `{"type": "image", "image": <path | PIL image | array>}`; images go
        anywhere, in any turn, in order. A bare `{"type": "image"}` takes the next image of `image_or_images`
        (one per placeholder). The assistant turn is opened after the last message, which must not be the
        assistant's (pass that text as `answer=` instead). The text is the template's, exactly as
        `processor.apply_chat_template(messages, add_generation_prompt=True)` writes it; the query tokens are
        all text tokens after the first image, every turn's. `result.prompt` is then the text you wrote that
        follows the first image (the texts of all turns, joined by newlines): token offsets and `phrase=` refer
        to it, and text before the first image (usually the system prompt) has no rows (it cannot see the image).
        `answer`: None (the prompt only), True (the model answers: `model.generate`, greedy unless
        `generate_kwargs` say otherwise, at most `max_new_tokens` tokens; its rows are kept as it generates), or a
        text (a given answer, teacher-forced, e.g. a reference to compare with the model's own).
        `thinking`: where the chat template can make the model think before it answers (`<think>...</think>`;
        Qwen3.5's does by default), True or False turns that on or off (`enable_thinking` of the template);
        None (the default) leaves the template's own default. A thinking answer's tokens up to `</think>` are
        `part="thinking"` (`result.thinking`: their text), the rest `result.answer`. A given answer where the
        template opens the thinking must hold it: 'thinking...</think>answer' (or pass thinking=False).
        `layers`: keep these layers only (indices as everywhere, -1 the last; in Qwen3.5 they count its attention
        layers); default every layer with attention maps.
        `chat`: wrap the prompt in the model's chat template (with the assistant turn opened), as in use.
        `min_pixels` / `max_pixels`: bound the resized image's pixel count (more pixels, more image tokens).
        `storage`: "float32" (exact) or "float16" (half the memory).
        `kernel`: how the rows are computed: "auto" (the fused Triton kernel on CUDA, plain torch elsewhere),
        "fused" or "torch". `chunk_bytes`: working memory per chunk of rows (torch kernel).
        `baseline`: True (the generic prompt "Write a general description of the image.") or a prompt of your own:
        one more forward pass, of the same images with that prompt (in one user turn, `system` and `chat` as
        given), keeps its last token's row in every kept layer and head (`result.baseline_attention`), which
        `relative=True` views divide by ("MLLMs Know Where to Look", ICLR 2025).
        `sink_scores`: keep, per kept layer and image token, the largest |value| of its RMS-normalized hidden
        state entering that layer's attention (`result.sink_scores`), for `result.sinks()` and `drop_sinks=True`
        ("See What You Are Told", ICLR 2025). On by default: they cost about 1 % of a capture (`benchmarks/maps.py`)
        and layers x image tokens x 4 bytes; `sink_scores=False` leaves them out (`result.sink_scores` is None).
        A result that would not fit in the memory free is refused before the model runs, with its size.
        """
        # Every argument is checked before any image is read or the model runs.
        checked_storage(storage)
        answer = checked_answer(answer)
        max_new_tokens = checked_max_new_tokens(max_new_tokens)
        options = checked_generate_kwargs(generate_kwargs)
        if answer is True:
            check_generation_config(self.model, options)
        self.kept_layers(layers)
        chunk_bytes = checked_chunk_bytes(chunk_bytes)
        check_kernel_runs_on(checked_kernel(kernel), self.device)
        baseline_text = checked_baseline(baseline)
        sink_scores = checked_flag(sink_scores, "sink_scores")
        prepared = self.prepare(
            image_or_images, prompt, chat, min_pixels, max_pixels, system=system, messages=messages, thinking=thinking
        )
        baseline_inputs = None
        if baseline_text is not None:
            # The images and videos as read for the capture (upright RGB, the same frames): the baseline sees the
            # very same image and video tokens.
            baseline_inputs = prepare_inputs(
                self.processor,
                self.model.config,
                list(prepared.media),
                baseline_text,
                chat,
                min_pixels,
                max_pixels,
                system=system,
                thinking=thinking,
                prompt_label="the baseline prompt",  # its errors name it, not the capture's prompt
            )
        return self.capture_prepared(
            prepared,
            answer=answer,
            max_new_tokens=max_new_tokens,
            generate_kwargs=options,
            layers=layers,
            storage=storage,
            chunk_bytes=chunk_bytes,
            kernel=kernel,
            baseline=baseline_inputs,
            sink_scores=sink_scores,
        )

    def capture_prepared(
        self,
        prepared: PreparedInputs,
        *,
        answer: bool | str | None = None,
        max_new_tokens: int = 64,
        generate_kwargs: Mapping[str, Any] | None = None,
        layers: Sequence[int] | None = None,
        storage: Storage = "float32",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        kernel: Kernel = "auto",
        baseline: PreparedInputs | None = None,
        sink_scores: bool = True,
    ) -> AttentionResult:
        """`capture` for inputs made by `prepare` (the model part only); `baseline`: the baseline prompt's inputs,
        made by `prepare` with the same images. `sink_scores`: as in `capture` (on by default)."""
        answer = checked_answer(answer)
        sink_scores = checked_flag(sink_scores, "sink_scores")
        if baseline is not None and len(baseline.image_positions) != len(prepared.image_positions):
            raise ValueError(
                f"the baseline's inputs have {len(baseline.image_positions)} image tokens and the capture's "
                f"{len(prepared.image_positions)}: prepare the baseline with the same images and pixel limits"
            )
        chunk_bytes = checked_chunk_bytes(chunk_bytes)
        check_kernel_runs_on(checked_kernel(kernel), self.device)
        layer_ids = self.kept_layers(layers)
        given, answer_rows = planned_answer(
            self.processor, self.model.config, prepared, answer, max_new_tokens, baseline
        )
        prompt_length = int(prepared.model_inputs["input_ids"].shape[1])
        text_config = self.model.config.get_text_config()
        dtype = _STORAGE_DTYPES[checked_storage(storage)]
        check_result_fits(
            len(layer_ids),
            text_config.num_attention_heads,
            len(prepared.query_positions) + answer_rows + (baseline is not None),  # the baseline's row
            len(prepared.image_positions),
            dtype.itemsize,
            answering=answer is True,
            working_bytes=rows_working_bytes(
                chunk_bytes,
                text_config.num_attention_heads,
                len(prepared.query_positions) + answer_rows,
                prompt_length + answer_rows,
            ),
        )
        query_positions = np.concatenate(
            [prepared.query_positions, np.arange(prompt_length, prompt_length + answer_rows)]
        ).astype(np.int64)
        request = CaptureRequest(
            query_positions=torch.as_tensor(query_positions),
            image_positions=torch.as_tensor(prepared.image_positions),
            storage_dtype=dtype,
            chunk_bytes=chunk_bytes,
            kernel=kernel,
            layers=layer_ids,
        )
        inputs = {name: value.to(self.device) for name, value in prepared.model_inputs.items()}
        answered: Answer | None = None
        sinks = SinkScores(layer_ids, torch.as_tensor(prepared.image_positions))
        with recording_sink_scores(self.model, sinks) if sink_scores else contextlib.nullcontext():
            if answer is None:
                self._prompt_forward(request, inputs)
            elif given is not None:
                answered = capture_given_answer(self.model, inputs, given, request)
            else:
                options = checked_generate_kwargs(generate_kwargs)
                answered = generate_answer(self.model, inputs, request, checked_max_new_tokens(max_new_tokens), options)
        baseline_attention = None
        if baseline is not None:
            baseline_attention = self._baseline_rows(baseline, layer_ids, dtype, chunk_bytes, kernel)
        rows = len(prepared.query_positions) + (0 if answered is None else answered.ids.numel())
        attention, image_mass = request.all_layers(rows)
        tokens = prepared.tokens
        texts: dict[Part, str] = {}
        if answered is not None:
            tokenizer, markers = self.processor.tokenizer, thinking_marker_ids(self.processor.tokenizer)
            special_ids = special_token_ids(tokenizer, self.model.config)
            given_text = answer if isinstance(answer, str) else None
            texts, answer_tokens = tokens_of_answer(
                tokenizer, answered, special_ids, given_text, markers, prepared.opens_thinking
            )
            tokens = tokens + answer_tokens
        return self._result(
            prepared,
            attention[:, 0].numpy(),
            image_mass[:, 0].numpy(),
            query_positions[:rows],
            layer_ids,
            tokens=tokens,
            texts=texts,
            baseline_attention=baseline_attention,
            baseline_prompt=None if baseline is None else baseline.prompt,
            sink_scores=sinks.all_layers()[:, 0].numpy() if sink_scores else None,
        )

    def capture_batch(
        self,
        prepared: Sequence[PreparedInputs],
        *,
        layers: Sequence[int] | None = None,
        storage: Storage = "float32",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        kernel: Kernel = "auto",
        sink_scores: bool = True,
    ) -> list[AttentionResult]:
        """Prompt-only captures (`capture_prepared` without an answer) of several inputs in one forward pass: one
        result per input, each what its own capture gives (`model.study` runs its examples so). The inputs (made by
        `prepare`) must have their images at the same token positions (e.g. images of one size after the same
        template text); prompts may differ in length (shorter ones are padded on the right, which no real token
        sees). `layers`, `storage`, `chunk_bytes`, `kernel`, `sink_scores`: as in `capture`."""
        if not isinstance(prepared, Sequence) or not all(isinstance(one, PreparedInputs) for one in prepared):
            given = described(prepared)
            raise TypeError(f"capture_batch takes a list of inputs made by model.prepare(...), not {given}")
        if not prepared:
            raise ValueError("capture_batch needs at least one prepared input")
        sink_scores = checked_flag(sink_scores, "sink_scores")
        chunk_bytes = checked_chunk_bytes(chunk_bytes)
        check_kernel_runs_on(checked_kernel(kernel), self.device)
        layer_ids = self.kept_layers(layers)
        inputs = batched_model_inputs(prepared, self._pad_id())
        query_positions = batched_query_positions(prepared).astype(np.int64)
        text_config = self.model.config.get_text_config()
        dtype = _STORAGE_DTYPES[checked_storage(storage)]
        length, heads = int(inputs["input_ids"].shape[1]), text_config.num_attention_heads
        check_result_fits(
            len(layer_ids),
            heads,
            len(prepared) * len(query_positions),
            len(prepared[0].image_positions),
            dtype.itemsize,
            answering=False,
            working_bytes=rows_working_bytes(chunk_bytes, heads, len(prepared) * len(query_positions), length),
        )
        image_positions = torch.as_tensor(prepared[0].image_positions)
        request = CaptureRequest(
            query_positions=torch.as_tensor(query_positions),
            image_positions=image_positions,
            storage_dtype=dtype,
            chunk_bytes=chunk_bytes,
            kernel=kernel,
            layers=layer_ids,
        )
        sinks = SinkScores(layer_ids, image_positions)
        with recording_sink_scores(self.model, sinks) if sink_scores else contextlib.nullcontext():
            self._prompt_forward(request, {name: value.to(self.device) for name, value in inputs.items()})
        attention, image_mass = request.all_layers()
        every_sink = sinks.all_layers() if sink_scores else None
        results = []
        for item, one in enumerate(prepared):
            rows = len(one.query_positions)
            results.append(
                self._result(
                    one,
                    attention[:, item, :, :rows].contiguous().numpy(),  # its own memory, not a view of the batch's
                    image_mass[:, item, :, :rows].contiguous().numpy(),
                    query_positions[:rows],
                    layer_ids,
                    sink_scores=None if every_sink is None else every_sink[:, item].numpy(),
                )
            )
        return results

    def _prompt_forward(self, request: CaptureRequest, inputs: dict[str, torch.Tensor]) -> None:
        with capturing(self.model, request), torch.inference_mode():
            # Only the attention is wanted: skip the [sequence, vocabulary] logits (as generate's prefill does).
            self.model(**inputs, use_cache=False, logits_to_keep=1)

    def _pad_id(self) -> int:
        """A text token to pad batches with: the tokenizer's pad token, else its end of text."""
        tokenizer = self.processor.tokenizer
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        media_ids = (self.model.config.image_token_id, getattr(self.model.config, "video_token_id", None))
        if pad_id is None or pad_id in media_ids:
            raise ValueError("this tokenizer has no pad or end-of-text token to pad a batch with: capture one by one")
        return int(pad_id)

    def _result(
        self,
        prepared: PreparedInputs,
        attention: np.ndarray,
        image_mass: np.ndarray,
        query_positions: np.ndarray,
        layer_ids: tuple[int, ...],
        *,
        tokens: tuple | None = None,
        texts: Mapping[Part, str] | None = None,
        baseline_attention: np.ndarray | None = None,
        baseline_prompt: str | None = None,
        sink_scores: np.ndarray | None = None,
    ) -> AttentionResult:
        """One input's `AttentionResult` from its kept rows (`tokens`: the prompt's and the answer's, where it
        has one; `texts`: the answer's and the thinking's text)."""
        texts = texts or {}
        return AttentionResult(
            attention=attention,
            image_mass=image_mass,
            query_positions=query_positions,
            image_positions=prepared.image_positions.astype(np.int64),
            tokens=prepared.tokens if tokens is None else tokens,
            images=prepared.images,
            pictures=prepared.pictures,
            prompt=prepared.prompt,
            model=self.name,
            family=self.family.name,
            answer=texts.get("answer"),
            layer_ids=layer_ids,
            thinking=texts.get("thinking"),
            baseline_attention=baseline_attention,
            baseline_prompt=baseline_prompt,
            sink_scores=sink_scores,
        )

    def _baseline_rows(
        self, baseline: PreparedInputs, layer_ids: tuple[int, ...], dtype: torch.dtype, chunk_bytes: int, kernel: Kernel
    ) -> np.ndarray:
        """`[layers, heads, image tokens]`: the baseline prompt's last token's rows, from one forward pass."""
        length = int(baseline.model_inputs["input_ids"].shape[1])
        request = CaptureRequest(
            query_positions=torch.tensor([length - 1]),
            image_positions=torch.as_tensor(baseline.image_positions),
            storage_dtype=dtype,
            chunk_bytes=chunk_bytes,
            kernel=kernel,
            layers=layer_ids,
        )
        inputs = {name: value.to(self.device) for name, value in baseline.model_inputs.items()}
        with capturing(self.model, request), torch.inference_mode():
            self.model(**inputs, use_cache=False, logits_to_keep=1)
        attention, _ = request.all_layers(1)
        return attention[:, 0, :, 0].numpy()

    def kept_layers(self, layers: Sequence[int] | None) -> tuple[int, ...]:
        """The decoder layers a capture keeps: every layer with attention maps, or `layers` of them in order.

        Indices count the layers with attention maps, as everywhere in qvl_widget (-1: the last). That is every
        decoder layer, except in a hybrid decoder (Qwen3.5), whose linear-attention layers form no attention
        matrix: there index 0 is its first softmax attention layer, and results name each layer by its decoder
        index (`result.layer_ids`)."""
        text = self.model.config.get_text_config()
        available = attention_layers(text)
        if layers is None:
            return available
        if integer_index(layers) is None and (
            isinstance(layers, (str, bytes)) or not isinstance(layers, (Sequence, np.ndarray))
        ):
            raise TypeError(f"layers must be a list of layer indices, e.g. layers=[-1], not {shown(layers)}")
        try:
            positions = checked_indices(layers, len(available), "layer")
        except IndexError as error:
            if len(available) == text.num_hidden_layers:
                raise
            raise IndexError(
                f"{error} ({self.family.display_name} has {len(available)} attention layers among its "
                f"{text.num_hidden_layers}: decoder layers {_listed(available)}; indices count those)"
            ) from None
        return tuple(sorted({available[position] for position in positions}))

    def study(
        self,
        examples: Any,
        out: str | os.PathLike,
        *,
        answer: bool | None = None,
        max_new_tokens: int = 64,
        layers: Sequence[int] | None = None,
        thinking: bool | None = None,
        system: str | None = None,
        query: str = "last",
        keep: str = "summary",
        progress: bool = True,
        pointing_tolerance: float = 0,
        batch_size: int = 8,
    ) -> Study:
        """Capture and score every example of a data set into the folder `out`; return the `qvl_widget.Study`.

        `examples`: a list (or any iterable) of dicts, a `datasets.Dataset`, or a manifest's path (.jsonl, .csv or
        .parquet; image paths relative to it). Each example: `id`, `image` (a path, PIL image or array) or
        `video`, `prompt` (or `messages`), and optionally `box` (x0, y0, x1, y1 in image pixels), `phrase` and
        `answer` (a given text, teacher-forced). `answer`: None (each example's own answer, where it has one),
        True (the model answers, at most `max_new_tokens` tokens) or False (the prompt only). `layers`,
        `thinking`, `system`: as in `capture`. `query`: which rows are scored: "last" (the last prompt token: the
        step that predicts the answer), "phrase" (the example's phrase in the prompt), "answer" (each answer
        word's producing steps) or "all". Per query, layer and head (and the heads' mean, head -1):
        `image_share`, `spatial_entropy` (as `head_summary`), and with a box `in_box`, `area` and `pointing`
        (`pointing_tolerance` pixels around the box). `keep="results"` also saves each example's result.
        `batch_size`: prompt-only examples whose images take the same token positions (e.g. one image size) run
        this many to a forward pass (`capture_batch`: each result as its own capture gives it; 1: one by one).
        The same call again resumes: done examples are skipped, a changed option is refused. An example that
        fails is recorded (`study.errors()`) and the study goes on. Needs pyarrow and pandas (`pip install
        ".[study]"`).
        """
        from ._study import run_study, study_capture_options

        # The capture's own options, checked once here rather than failing every example.
        max_new_tokens = checked_max_new_tokens(max_new_tokens)
        kept = self.kept_layers(layers)
        if thinking is not None:
            checked_flag(thinking, "thinking")
        if system is not None:
            checked_text(system, "system", "a system prompt, or None")
        options = {
            "answer": answer,
            "max_new_tokens": max_new_tokens,
            "layers": None if layers is None else list(kept),
            "thinking": thinking,
            "system": system,
            "query": query,
            "keep": keep,
            "pointing_tolerance": pointing_tolerance,
        }
        capture_options = study_capture_options(self, options)
        return run_study(
            self,
            examples,
            out,
            options=options,
            capture_options=capture_options,
            progress=progress,
            batch_size=batch_size,
        )

    def verify(
        self,
        image_or_images: MediaInput | Sequence[MediaInput] | None = None,
        prompt: str | None = None,
        *,
        messages: Messages | None = None,
        system: str | None = None,
        thinking: bool | None = None,
        layers: Sequence[int] | None = None,
        chat: bool = True,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        kernel: Kernel = "auto",
        verbose: bool = True,
    ) -> VerifyReport:
        """Check capture on this model: its rows against eager attention, its logits against a run without it.

        Inputs as in `capture`. `max_pixels` defaults to 256 image tokens' worth (200,704 pixels in Qwen2/2.5-VL,
        262,144 in Qwen3-VL): eager attention keeps layers x heads x sequence^2 weights. That cost is printed
        (`verbose`) and checked first: where it would not fit in the memory free, a one-line error says how to
        shrink the input, before anything runs. Returns a `VerifyReport` (per-layer largest differences, whether
        the logits stayed bit-identical, `passed` against the model dtype's tolerance). The text attention
        implementation is restored afterwards, also after an error.
        """
        return verify_model(
            self,
            image_or_images,
            prompt,
            messages=messages,
            system=system,
            thinking=thinking,
            layers=layers,
            chat=chat,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            chunk_bytes=chunk_bytes,
            kernel=kernel,
            verbose=verbose,
        )


def checked_storage(storage: str) -> Storage:
    if not isinstance(storage, str) or storage not in _STORAGE_DTYPES:
        raise ValueError(f"storage must be one of {', '.join(_STORAGE_DTYPES)}, not {shown(storage)}")
    return storage


def checked_kernel(kernel: str) -> Kernel:
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {shown(kernel)}")
    return kernel


def checked_chunk_bytes(chunk_bytes: object) -> int:
    return checked_count(chunk_bytes, "chunk_bytes", f"working memory per chunk of rows; default {DEFAULT_CHUNK_BYTES}")


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    return {"cuda": torch.bfloat16, "mps": torch.float16}.get(device.type, torch.float32)


def load(
    model_id_or_path: str | os.PathLike,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    *,
    processor: Any = None,
    **from_pretrained_kwargs: Any,
) -> LoadedModel:
    """Load a Qwen-VL model and its processor for attention capture.

    `model_id_or_path`: a hub id (e.g. "Qwen/Qwen2-VL-2B-Instruct") or a local model folder.
    `device`: default cuda, then mps, then cpu. `dtype`: default bfloat16 on cuda, float16 on mps, float32 on cpu.
    `processor`: where the processor (image processor, tokenizer, chat template) comes from, when not from the
    model's own folder: a hub id or folder (e.g. the base model of a fine-tuned checkpoint saved without its
    processor), or a processor you loaded yourself.
    Other keyword arguments go to `from_pretrained` (e.g. `attn_implementation="flash_attention_2"`).
    Weights load from safetensors only, and remote code is not trusted unless you pass `trust_remote_code=True`.
    """
    from transformers import AutoModelForImageTextToText

    source = checked_source(_checked_model_argument(model_id_or_path))
    device = _checked_device(device) if device is not None else default_device()
    dtype = _checked_dtype(dtype) if dtype is not None else default_dtype(device)
    trust = checked_flag(from_pretrained_kwargs.pop("trust_remote_code", False), "trust_remote_code")
    _, family, loaded_processor = load_processor(source, processor, trust)  # before the weights load
    from_pretrained_kwargs.setdefault("use_safetensors", True)
    model = _load_or_explain(
        AutoModelForImageTextToText.from_pretrained,
        source,
        dtype=dtype,
        trust_remote_code=trust,
        **from_pretrained_kwargs,
    )
    if "device_map" not in from_pretrained_kwargs:
        model = model.to(device)
    model.eval()
    return LoadedModel(model, loaded_processor, family, source)


def load_processor(source: str, processor: Any = None, trust: bool = False) -> tuple[Any, Family, Any]:
    """A model's config, family and processor (`processor` as in `load`), checked to belong together: what
    `load` reads before the weights, and what the command line checks its inputs against before they load."""
    from transformers import AutoConfig

    source = checked_source(_checked_model_argument(source))
    config = _load_or_explain(AutoConfig.from_pretrained, source, trust_remote_code=trust)
    family = family_for_config(config, source)
    loaded_processor = _processor_for(source, processor, trust)
    check_processor_matches(config, loaded_processor)
    return config, family, loaded_processor


def planned_answer(
    processor: Any,
    config: Any,
    prepared: PreparedInputs,
    answer: bool | str | None,
    max_new_tokens: int,
    baseline: PreparedInputs | None = None,
) -> tuple[torch.Tensor | None, int]:
    """A capture's answer checked against the tokenizer and the model's context before anything runs: a given
    answer's token ids (its thinking block and special tokens checked), and how many answer rows the capture
    keeps; the prompt, the answer and the baseline each within the context."""
    tokenizer = processor.tokenizer
    markers = thinking_marker_ids(tokenizer)
    given = None
    if isinstance(answer, str):
        check_given_thinking(answer, markers, prepared.opens_thinking)
        given = given_answer_ids(tokenizer, answer, THINKING_MARKERS if markers is not None else ())
    if answer is True:
        max_new_tokens = checked_max_new_tokens(max_new_tokens)
    answer_rows = 0 if answer is None else given.numel() if given is not None else max_new_tokens
    # Before anything of the answer's size is allocated: counted from the processor's output, not by running.
    context = model_context(config)
    kind: AnswerKind | None = None if answer is None else "given" if given is not None else "generated"
    check_within_context(context, int(prepared.model_inputs["input_ids"].shape[1]), answer_rows, kind)
    if baseline is not None:
        length = int(baseline.model_inputs["input_ids"].shape[1])
        check_within_context(context, length, what=f"the baseline prompt {baseline.prompt!r:.60} with its images")
    return given, answer_rows


def _processor_for(source: str, processor: object, trust: bool) -> Any:
    """The processor `load` uses: from the model's source, from the source passed as `processor`, or the
    processor object itself; the folders' files checked first, so a missing one is named with its fix."""
    from transformers import AutoProcessor

    if processor is not None and not isinstance(processor, (str, os.PathLike)):
        if not hasattr(processor, "tokenizer") or not hasattr(processor, "image_processor"):
            raise TypeError(
                "processor must be a hub id like 'Qwen/Qwen2-VL-2B-Instruct', a folder, or the model's processor "
                f"(AutoProcessor.from_pretrained(...)), not {described(processor)}"
            )
        return processor
    if processor is None:
        check_processor_files(source, model_folder=True)
        return _load_or_explain(AutoProcessor.from_pretrained, source, trust_remote_code=trust)
    processor_source = checked_processor_source(_checked_model_argument(processor, "processor"))
    return _load_or_explain(AutoProcessor.from_pretrained, processor_source, trust_remote_code=trust)


def attach(model: Any, processor: Any, source: str | None = None) -> LoadedModel:
    """A model you loaded yourself (quantized, with adapters, across devices with `device_map`, ...) and its
    processor, ready to capture: the same object `load` returns. The family comes from the model's config;
    `source` names the model in results and pages (default: the config's name; a local path is named by its
    folder's name, as in `LoadedModel.name`). The model is not changed: a capture switches its text attention
    for the length of one run and switches it back."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "set_attn_implementation"):
        raise TypeError(f"attach needs a transformers model (with a config), not {type(model).__name__}")
    if not hasattr(processor, "tokenizer") or not hasattr(processor, "image_processor"):
        raise TypeError(
            f"attach needs the model's processor (AutoProcessor.from_pretrained(...)), not {type(processor).__name__}"
        )
    if model.training:
        raise ValueError("the model is in training mode (dropout on): call model.eval() first, then attach it")
    check_processor_matches(config, processor)
    if source is not None:
        checked_text(source, "source", "the model's name in results, e.g. 'Qwen/Qwen2-VL-2B-Instruct'")
    name = source if source is not None else str(getattr(config, "name_or_path", "") or type(model).__name__)
    return LoadedModel(model, processor, family_for_config(config, name), name)


def check_processor_matches(config: Any, processor: Any) -> None:
    """A one-line ValueError where `processor` cuts images differently from what the model's vision tower takes
    (another family's processor: Qwen3-VL's 16 px patches for Qwen2-VL's 14 px), which would fail deep in the
    vision tower, or silently misplace every map."""
    vision = getattr(config, "vision_config", None)
    image_processor = processor.image_processor
    for name, model_name in (("patch_size", "patch_size"), ("merge_size", "spatial_merge_size")):
        expected, given = getattr(vision, model_name, None), getattr(image_processor, name, None)
        if expected is not None and given is not None and int(expected) != int(given):
            raise ValueError(
                f"this processor's {name} is {given} but the model's vision tower takes {expected}: it is another "
                "model's processor; pass the model's own, AutoProcessor.from_pretrained(<the model's id or folder>)"
            )


def _model_name(source: str) -> str:
    """A model's name in results: a local folder's own name (also for ".", "~/model"; a link's own name, not its
    target's), else `shareable_name` (a hub id as it is)."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        return Path(os.path.abspath(folder)).name or "local model"
    return shareable_name(source)


def _checked_device(device: str | torch.device) -> torch.device:
    """`device` as a torch device this machine has, or a one-line ValueError that says what it has."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: use 'cuda', 'mps' or 'cpu', or leave it out") from None
    if resolved.type == "meta":  # shapes without weights: the model would load, then fail at its first forward
        raise ValueError(
            f"device {device!r} holds no weights (shapes only), so nothing can run on it; use 'cpu', "
            "'cuda' or 'mps', or leave it out"
        )
    present = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if not present.get(resolved.type, True):
        best = default_device().type
        raise ValueError(f"device {device!r} is not available here (torch sees none); use {best!r} or leave it out")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return resolved


def _checked_dtype(dtype: str | torch.dtype) -> torch.dtype:
    resolved = getattr(torch, dtype, None) if isinstance(dtype, str) and not dtype.startswith("_") else dtype
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"unknown dtype {shown(dtype)}: use e.g. 'bfloat16', 'float16' or 'float32'")
    if not resolved.is_floating_point:
        raise ValueError(f"dtype {shown(dtype)} is not a floating-point type: use 'bfloat16', 'float16' or 'float32'")
    return resolved


def _checked_model_argument(model_id_or_path: object, name: str = "model_id_or_path") -> str | os.PathLike:
    """`load`'s first argument (or its `processor` source) when it can name a model (a str or a path, not empty,
    with no character no name can hold); else a one-line error."""
    text = os.fspath(model_id_or_path) if isinstance(model_id_or_path, os.PathLike) else model_id_or_path
    if not isinstance(text, str):
        raise TypeError(
            f"{name} must be a hub id like 'Qwen/Qwen2-VL-2B-Instruct' or a model folder (a str or a "
            f"pathlib.Path), not {described(model_id_or_path)}"
        )
    if not text.strip():
        raise ValueError(f"{name} is empty: pass a hub id like 'Qwen/Qwen2-VL-2B-Instruct' or a model folder")
    check_encodable(text, name)
    if "\0" in text:
        raise ValueError(f"{name} {shown(text)} contains a NUL character, which no name or path may hold")
    return model_id_or_path  # type: ignore[return-value]  # a str or an os.PathLike of a str


def _load_or_explain(loader, source: str, **kwargs: Any) -> Any:
    try:
        return loader(source, **kwargs)
    except TypeError as error:
        unknown = re.search(r"unexpected keyword argument '([^']*)'", str(error))
        if unknown is None:
            raise
        raise TypeError(
            f"load got the option {unknown.group(1)!r}, which this model's from_pretrained does not take; check its "
            "spelling (load passes other keyword arguments to from_pretrained)"
        ) from error
    except ValueError as error:
        explained = unknown_to_transformers(error, source)
        if explained is None:
            raise
        raise explained from error
    except SafetensorError as error:  # not an OSError: a weights file cut short (an interrupted download)
        reason = " ".join(str(error).split())
        raise OSError(
            f"could not load {source!r}: a weights file is damaged or incomplete ({reason}); download it again "
            "(for a hub id, delete its folder in the Hugging Face cache first)"
        ) from error
    except OSError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if ".safetensors" in first_line and kwargs.get("use_safetensors"):
            advice = (
                "qvl_widget loads safetensors weights only (they cannot run code); if this model has only "
                "pytorch_model.bin files and you trust them, pass use_safetensors=False."
            )
        elif re.search(r"image processor|preprocessor_config|tokenizer", first_line, re.IGNORECASE):
            advice = (
                "Its processor is missing: pass processor= the hub id or folder of the model it was fine-tuned from "
                "(e.g. processor='Qwen/Qwen2-VL-2B-Instruct')."
            )
        else:
            advice = "Pass a local model folder, or a hub id that is cached or reachable (check the spelling)."
        raise OSError(f"could not load {source!r}: {first_line} {advice}") from error


def _listed(indices: Sequence[int]) -> str:
    return ", ".join(map(str, indices[:12])) + (f", ... {indices[-1]}" if len(indices) > 12 else "")
