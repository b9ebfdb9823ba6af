"""Mutants of issue EDGES: long prompts on the CPU (the rows from the log-sum-exp of the model's own attention)."""

from __future__ import annotations

from mutant import Mutant

LSE = "tests/test_lse_rows.py"

MUTANTS = [
    Mutant(
        "edges-lse-route-off",
        "qvl_widget/_capture.py",
        'return on_cpu and request.kernel != "fused" and kwargs.get("softcap") is None',
        "return False and on_cpu",
        "the CPU never takes the log-sum-exp route: every row is a softmax over the whole sequence again",
        (LSE,),
    ),
    Mutant(
        "edges-lse-no-causal-rule",
        "qvl_widget/_lse_rows.py",
        "        if call.is_causal and last_column > int(chunk.min()):",
        "        if False:",
        "a row keeps probabilities on image tokens after it (the causal rule left out)",
        (LSE,),
    ),
    Mutant(
        "edges-lse-mask-ignored",
        "qvl_widget/_lse_rows.py",
        "            target += call.additive_mask[..., chunk, :][..., columns].float()",
        "            pass",
        "the call's additive mask (and its biases) is left out of the rows",
        (LSE,),
    ),
    Mutant(
        "edges-lse-half-precision-kernel-sum",
        "qvl_widget/_lse_rows.py",
        "    if query.dtype != torch.float32:  # the kernel's own sum is rounded: the rows get one in float32",
        "    if False:  # the kernel's own sum is rounded: the rows get one in float32",
        "half-precision rows normalised by the kernel's rounded log-sum-exp",
        (LSE,),
    ),
    Mutant(
        "edges-lse-gqa-heads-swapped",
        "qvl_widget/_lse_rows.py",
        "repeat_interleave(heads // key.shape[1], dim=1)",
        "repeat(1, heads // key.shape[1], 1, 1)",
        "grouped-query heads matched to the wrong key heads",
        (LSE,),
    ),
    Mutant(
        "edges-lse-chunk-offset",
        "qvl_widget/_lse_rows.py",
        "        target = out[0][:, :, start : start + len(chunk)]",
        "        target = out[0][:, :, : len(chunk)]",
        "every chunk of rows written over the first",
        (LSE,),
    ),
    Mutant(
        "edges-bias-cached-per-chunk",
        "qvl_widget/_capture.py",
        "    if len(chunks) > 1:\n        shared = None",
        "    if False:\n        shared = None",
        "the full-rows path keeps a bias per chunk across layers (a mask over the whole sequence)",
        ("tests/test_lse_rows.py",),
    ),
    Mutant(
        "edges-precheck-without-working-memory",
        "qvl_widget/_memory.py",
        "    if available is not None and size + working_bytes > available:",
        "    if available is not None and size > available:",
        "the memory pre-check leaves out the rows' working memory",
        ("tests/test_lse_rows.py",),
    ),
]
