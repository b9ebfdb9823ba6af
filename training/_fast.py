"""A batched forward pass of the demo model for training: the same weights and the same arithmetic as
`Qwen2VLForConditionalGeneration.forward`, without its per-image Python loops.

transformers runs the vision tower's SDPA attention one image at a time (a loop over `cu_seqlens`) and builds the
vision rotary positions and text M-RoPE positions per image; at batch 256 that is thousands of tiny kernel launches
per step. All demo images have the same 16 x 16 patch grid and the same token layout, so here the vision attention
runs as one `[B, heads, 256, 256]` SDPA call, the rotary tables are taken once from the model's own rotary module,
and the text positions are the fixed M-RoPE ids of `_tensors.mrope_position_ids`.

`check_fast_forward` compares this path with the model's own forward on processor inputs; training refuses to
start when they differ.
"""

from __future__ import annotations

import contextlib
import sys

import torch
from torch.nn import functional

from ._tensors import GRID, IMAGE_START, TAIL_START, Batch


class FastForward:
    """Logits of a `Qwen2VLForConditionalGeneration` for a `Batch` of demo scenes."""

    def __init__(self, model) -> None:
        self.model = model
        self.visual = model.model.visual
        self.language_model = model.model.language_model
        self.rotate = sys.modules[type(self.visual.blocks[0].attn).__module__].apply_rotary_pos_emb_vision
        self.cos, self.sin = self._rotary_tables()

    @torch.no_grad()
    def _rotary_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The (cos, sin) the model's vision tower computes for one 16 x 16 grid, as its first block receives them."""
        seen = {}

        def keep(module, args, kwargs):
            seen.update(kwargs)
            raise _CapturedError

        handle = self.visual.blocks[0].register_forward_pre_hook(keep, with_kwargs=True)
        device = self.visual.blocks[0].mlp.fc2.weight.device
        dtype = self.visual.blocks[0].mlp.fc2.weight.dtype
        patches = torch.zeros(GRID * GRID, self.visual.patch_embed.proj.weight[0].numel(), device=device, dtype=dtype)
        try:
            # The hook stops the tower at its first block on purpose: the tables are all that is wanted.
            with contextlib.suppress(_CapturedError):
                self.visual(patches, grid_thw=torch.tensor([[1, GRID, GRID]], device=device))
        finally:
            handle.remove()
        cos, sin = seen["position_embeddings"]
        return cos.float(), sin.float()

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """`[B * 256, 1176]` patches -> `[B * 64, hidden]` merged image tokens (the vision tower's output)."""
        visual = self.visual
        weight = visual.patch_embed.proj.weight
        x = functional.linear(pixel_values.to(weight.dtype), weight.flatten(1))  # the Conv3d with kernel = stride
        length = GRID * GRID
        batch = x.shape[0] // length
        for block in visual.blocks:
            attention = block.attn
            h = block.norm1(x)
            q, k, v = attention.qkv(h).reshape(batch, length, 3, attention.num_heads, -1).unbind(2)
            q, k = self.rotate(q, k, self.cos, self.sin)
            out = functional.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale=attention.scaling
            )
            x = x + attention.proj(out.transpose(1, 2).reshape(batch * length, -1))
            x = x + block.mlp(block.norm2(x))
        return visual.merger(x)

    def hidden_states(self, batch: Batch) -> torch.Tensor:
        """`[B, S, hidden]` last hidden states of the text decoder."""
        embeddings = self.language_model.embed_tokens(batch.input_ids)
        image = self.image_features(batch.pixel_values).view(batch.input_ids.shape[0], -1, embeddings.shape[-1])
        embeddings = torch.cat(
            [embeddings[:, :IMAGE_START], image.to(embeddings.dtype), embeddings[:, TAIL_START:]], dim=1
        )
        output = self.language_model(inputs_embeds=embeddings, position_ids=batch.position_ids, use_cache=False)
        return output.last_hidden_state

    def logits(self, batch: Batch) -> torch.Tensor:
        return self.model.lm_head(self.hidden_states(batch))


class _CapturedError(Exception):
    pass


def answer_loss(logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over the answer tokens (next-token prediction) and, per example, whether every answer
    token is the argmax (with teacher forcing this is exactly "greedy decoding gives the answer and stops")."""
    predicted = logits[:, :-1].float()
    wanted = batch.input_ids[:, 1:]
    targets = batch.targets[:, 1:]
    # ignore_index instead of boolean indexing: no device sync
    labels = torch.where(targets, wanted, -100)
    loss = functional.cross_entropy(predicted.flatten(0, 1), labels.flatten(), ignore_index=-100)
    correct = (predicted.argmax(-1) == wanted) | ~targets
    return loss, correct.all(dim=1)


@torch.no_grad()
def check_fast_forward(model, processor, examples: list[dict], batch: Batch, tolerance: float = 1e-4) -> float:
    """Max |fast logits - model(**processor(...)) logits| / (1 + max |logits|) over the prompt tokens of `examples`
    (rendered as `batch`).

    Also checks that the batch's input ids and pixel values equal the processor's. Raises on any mismatch.
    """
    fast = FastForward(model).logits(batch).float()
    worst = 0.0
    for index, example in enumerate(examples):
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": example["prompt"]}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=[text], images=[example["image"]], return_tensors="pt").to(batch.input_ids.device)
        length = int(batch.prompt_lengths[index])
        if not torch.equal(inputs["input_ids"][0], batch.input_ids[index, :length]):
            raise RuntimeError(f"input ids differ from the processor's for {example['prompt']!r}")
        patches = batch.pixel_values[index * GRID * GRID : (index + 1) * GRID * GRID]
        if not torch.equal(inputs["pixel_values"], patches):
            pixel_error = (inputs["pixel_values"] - patches).abs().max().item()
            if pixel_error > 1e-5:
                raise RuntimeError(f"pixel values differ from the processor's by {pixel_error:.2e}")
        reference = model(**inputs).logits[0].float()
        scale = 1.0 + reference.abs().max().item()  # relative to the logits' size (trained models: larger logits)
        worst = max(worst, (reference - fast[index, :length]).abs().max().item() / scale)
    if worst > tolerance:
        raise RuntimeError(f"the batched forward differs from the model's forward by {worst:.2e} (> {tolerance})")
    return worst
