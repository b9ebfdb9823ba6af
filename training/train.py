"""Train the demo model from scratch on synthetic scenes, within a wall-clock budget.

    python -m training.train --device cuda --out qvl_widget/demo/model --minutes 6 --seed 0  # from the repository root

Scenes are sampled and rendered on the device as tensors, patchified exactly like the Qwen2-VL image processor,
and fed through a batched forward pass of the real `Qwen2VLForConditionalGeneration` (same weights and arithmetic
as its own forward: checked against `model(**processor(...))` before training starts). The loss is next-token
cross-entropy on the answer tokens (and the closing <|im_end|>) only; attention is never supervised.

Task mixes (`--tasks`): "questions" (the default; `--kinds`, default color,shape: today's shipped model, same
batches and vocabulary as before) and "demo2" (issue DEMO2: named words with a reason to look): descriptions
("Describe the shapes." -> "square blue top left circle orange center ...", loss on every description token) in a
`--describe-share` of each batch, the rest color / shape / where questions ("Where is the red circle?" ->
"top left"); its vocabulary adds "describe" and "shapes", and its recipe is chosen among the named phrase's own maps.
The prepared GPU run of demo2 (train into a new folder, then the gate on the 500 test scenes, PASS/FAIL; about
8 minutes of an H100/H200):

    bash training/demo2_gpu.sh --minutes 8   # what it runs: python -m training.train --device cuda --tasks demo2
                                             #   --config deep --seed 0 --minutes 6.5 --out $OUT/demo2-model, then
                                             #   benchmarks/demo_gate.py --kinds color shape where --gate demo2

Budget: `--minutes` counts from the start of `main` (default 6; a run with `--max-steps` and no `--minutes` has no
wall-clock budget, so it does the same work on any machine, and its schedule follows the steps). Training stops
`--reserve` seconds before the end, then the script evaluates on the validation split, saves the model folder
(weights, config, processor) and chooses the pointing recipe on the validation seeds
(`qvl_widget.demo.VALIDATION_SEEDS`) through `qvl_widget.load` + `capture`, storing it in `qvl_demo.json` beside the
weights. A checkpoint (weights + processor, and `training-state.pt`: the optimizer, the step, the time trained, the
sampler and the curriculum) is written every `--checkpoint-seconds`, so a killed run still leaves a loadable folder
and `--resume` continues it where the checkpoint was taken, on the same schedule and budget (the state file is
removed when a run completes, so a finished folder stays small). Reproducible from `--seed` up to the number of
steps the budget allows and GPU nondeterminism; the step count and wall time go into `qvl_demo.json`.

Warm start on the CPU (issue DEMO2): `--init qvl_widget/demo/model --tasks demo2` starts from the shipped weights;
its vocabulary grows by the description words (new rows drawn as a fresh model's are, every other word keeps its
id and row). `--bf16` runs the forward and backward under bfloat16 autocast on the CPU too.

    python -m training.train --device cpu --init qvl_widget/demo/model --tasks demo2 --minutes 150 \\
        --checkpoint-seconds 600 --out demo2-cpu/model     # later, after a stop:
    python -m training.train --resume --out demo2-cpu/model
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from qvl_widget.demo._pointing import METADATA_FILE, VALIDATION_SEEDS, choose_recipe
from qvl_widget.demo._scenes import KINDS, QUESTION_KINDS, render, sample_scenes, scene_example

from ._fast import FastForward, answer_loss, check_fast_forward
from ._model import build_config, build_processor, vocabulary_for
from ._tensors import build_batch

# Model widths: "demo" is the default size and "deep" has six text layers (both fit the 10 MB budget in fp32);
# "small" and "tiny" are for CPU experiments and smoke tests.
CONFIGS = {
    "demo": {},
    "deep": dict(text=dict(num_hidden_layers=6)),
    "small": dict(
        text=dict(hidden_size=64, intermediate_size=192, num_hidden_layers=3, mrope_section=[2, 3, 3]),
        vision=dict(depth=3, embed_dim=64),
    ),
    "tiny": dict(
        text=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            mrope_section=[2, 3, 3],
        ),
        vision=dict(depth=1, embed_dim=32, num_heads=2),
    ),
}
# Curriculum phases: (min objects, max objects, latest start as a fraction of the training time). A phase starts
# when the training accuracy of the previous one reaches ADVANCE_ACCURACY, or at its latest start.
CURRICULUM = ((1, 1, 0.0), (1, 2, 0.12), (1, 3, 0.24), (2, 4, 0.36))
ADVANCE_ACCURACY = 0.9
# Task mixes (--tasks). "questions": the question kinds of --kinds, equally often (today's model: color,shape).
# "demo2": descriptions ("Describe the shapes." -> "square blue top left circle orange center ...", loss on every
# description token: each shape word is followed by its colour and region, so the named words have a reason to
# look at their object) in a share --describe-share of each batch, the rest color / shape / where questions
# equally often ("Where is the red circle?" -> "top left"). The gate's kinds are the question kinds.
TASKS = ("questions", "demo2")
DEMO2_KINDS = ("color", "shape", "where")
# What --resume needs beyond the weights; beside them in the model folder until the run completes.
STATE_FILE = "training-state.pt"
# The options a resumed run may set; every other one is the saved run's.
RESUME_OPTIONS = ("out", "device", "resume", "checkpoint_seconds", "log_every")


_LOG_START = time.monotonic()  # log lines carry the seconds since the module loaded


def log(message: str) -> None:
    print(f"[{time.monotonic() - _LOG_START:7.1f}s] {message}", flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="model folder to write (created; files in it are replaced)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--minutes", type=float, default=None, help="wall-clock budget of the run (default 6; none with --max-steps)"
    )
    parser.add_argument("--reserve", type=float, default=None, help="seconds kept for the final evaluation")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", default=None, help="start from the weights (and config) of this model folder")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200, help="linear warmup steps")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--kinds", default=None, help=f"question kinds, from {','.join(QUESTION_KINDS)}")
    parser.add_argument("--tasks", choices=TASKS, default="questions", help="task mix (see TASKS)")
    parser.add_argument("--describe-share", type=float, default=0.25, help="--tasks demo2: share of descriptions")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="demo")
    parser.add_argument("--no-curriculum", action="store_true", help="2 to 4 objects from the first step")
    parser.add_argument("--sync-every", type=int, default=25, help="steps between reads of the training accuracy")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--checkpoint-seconds", type=float, default=60.0)
    parser.add_argument("--val-size", type=int, default=1024, help="validation scenes for the periodic accuracy")
    parser.add_argument("--pointing-examples", type=int, default=len(VALIDATION_SEEDS))
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast on the CPU too (always on CUDA)")
    parser.add_argument("--resume", action="store_true", help=f"continue the run in --out from its {STATE_FILE}")
    arguments = parser.parse_args(argv)
    if arguments.resume:
        return resumed_arguments(parser, arguments)
    if arguments.kinds is None:
        arguments.kinds = ",".join(DEMO2_KINDS) if arguments.tasks == "demo2" else "color,shape"
    arguments.kinds = tuple(kind.strip() for kind in arguments.kinds.split(",") if kind.strip())
    unknown = set(arguments.kinds) - set(QUESTION_KINDS)
    if unknown or not arguments.kinds:
        parser.error(f"--kinds must be a comma-separated subset of {','.join(QUESTION_KINDS)}")
    # What batches are sampled from: the question kinds (equally often), with descriptions for demo2.
    arguments.sample_kinds, arguments.weights = arguments.kinds, None
    if arguments.tasks == "demo2":
        if not 0.0 < arguments.describe_share < 1.0:
            parser.error("--describe-share must lie between 0 and 1")
        share = (1.0 - arguments.describe_share) / len(arguments.kinds)
        arguments.sample_kinds = ("describe", *arguments.kinds)
        arguments.weights = (arguments.describe_share, *(share for _ in arguments.kinds))
    if arguments.minutes is None and arguments.max_steps is None:
        arguments.minutes = 6.0
    if arguments.reserve is None:
        arguments.reserve = 45.0 if arguments.device.startswith("cuda") else 120.0
    return arguments


def resumed_arguments(parser: argparse.ArgumentParser, given: argparse.Namespace) -> argparse.Namespace:
    """The saved run's options, with the few a resumed run may change taken from `given`."""
    changed = [
        name for name, value in vars(given).items() if name not in RESUME_OPTIONS and value != parser.get_default(name)
    ]
    if changed:
        flags = ", ".join("--" + name.replace("_", "-") for name in changed)
        parser.error(f"--resume continues the saved run with its own options: drop {flags}")
    state_path = Path(given.out) / STATE_FILE
    if not state_path.is_file():
        parser.error(f"--resume: {state_path} not found; start the run without --resume (or give its --out)")
    saved = torch.load(state_path, map_location="cpu", weights_only=True)["arguments"]
    # The options a resumed run may change: the saved run's unless given again.
    keep = {name: getattr(given, name) for name in RESUME_OPTIONS if getattr(given, name) != parser.get_default(name)}
    return argparse.Namespace(
        **{
            **saved,
            "resume": True,
            **keep,
            "sample_kinds": tuple(saved["sample_kinds"]),
            "kinds": tuple(saved["kinds"]),
        }
    )


def task_mix(args: argparse.Namespace) -> dict[str, float]:
    """The share of each prompt kind in the batches."""
    weights = args.weights or [1.0] * len(args.sample_kinds)
    return {kind: weight / sum(weights) for kind, weight in zip(args.sample_kinds, weights, strict=True)}


class Curriculum:
    """From one object per scene to 2-4: the next phase when the current one is learned, or when it is due."""

    def __init__(self, enabled: bool) -> None:
        self.phase = 0 if enabled else len(CURRICULUM) - 1

    def objects(self) -> tuple[int, int]:
        return CURRICULUM[self.phase][:2]

    def update(self, progress: float, accuracy: float | None) -> bool:
        """Move on (by at most one phase per call); True when the phase changed."""
        if self.phase + 1 >= len(CURRICULUM):
            return False
        learned = accuracy is not None and accuracy >= ADVANCE_ACCURACY
        if learned or progress >= CURRICULUM[self.phase + 1][2]:
            self.phase += 1
            return True
        return False


def learning_rate(peak: float, step: int, warmup: int, progress: float) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to 5% of `peak` over the training time."""
    return peak * min(1.0, (step + 1) / warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def optimizer_for(model: torch.nn.Module, lr: float, weight_decay: float, device: torch.device):
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if parameter.ndim < 2 or "norm" in name or "embed_tokens" in name else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-8, fused=device.type == "cuda")


def autocast(device: torch.device, bf16: bool = False):
    """bfloat16 autocast on CUDA always, on the CPU with `bf16` (--bf16); plain float32 otherwise."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


@torch.no_grad()
def evaluate(
    fast: FastForward,
    scenes,
    images,
    device: torch.device,
    kinds: tuple[str, ...],
    chunk: int = 256,
    bf16: bool = False,
) -> dict[str, float]:
    """Teacher-forced exact-match accuracy (= greedy decoding gives the answer) on a fixed validation batch."""
    was_training = fast.model.training
    fast.model.eval()
    correct, losses = [], []
    for start in range(0, images.shape[0], chunk):
        part = slice(start, start + chunk)
        sub_scenes = type(scenes)(**{name: value[part] for name, value in vars(scenes).items()})
        batch = build_batch(sub_scenes, images[part], kinds)
        with autocast(device, bf16):
            loss, right = answer_loss(fast.logits(batch), batch)
        correct.append(right)
        losses.append(loss * right.numel())
    fast.model.train(was_training)
    correct = torch.cat(correct)
    summary = {"accuracy": correct.float().mean().item(), "loss": (sum(losses) / correct.numel()).item()}
    for index, kind in enumerate(KINDS):
        chosen = scenes.kind == index
        if bool(chosen.any()):
            summary[f"accuracy_{kind}"] = correct[chosen].float().mean().item()
    return summary


def save_weights(model: torch.nn.Module, out: Path, state: dict | None = None) -> None:
    """Write weights + config (and the resume `state`) into `out`, replacing the old files only once the new ones
    are complete; the state goes last, so it never names a step the weights have not reached."""
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        model.save_pretrained(staging)
        if state is not None:
            torch.save(state, staging / STATE_FILE)
        for path in sorted(staging.iterdir(), key=lambda path: path.name == STATE_FILE):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def grow_vocabulary(model: torch.nn.Module, folder: str, vocabulary: tuple[str, ...]) -> None:
    """Give a warm-started model rows for the words its folder's tokenizer lacks. They are appended to the
    vocabulary, so every word it knows keeps its id and its trained rows."""
    known = json.loads((Path(folder) / "tokenizer.json").read_text())["model"]["vocab"]
    words = tuple(sorted(known, key=known.get))
    if vocabulary[: len(words)] != words:
        raise SystemExit(f"--init {folder}: its words are not the first words of this task mix's vocabulary")
    if len(vocabulary) > len(words):
        # Fresh rows as a new model draws them (transformers' default, the old rows' mean and covariance, gives
        # every new word the same row here).
        model.resize_token_embeddings(len(vocabulary), mean_resizing=False)
        log(f"vocabulary grown from {len(words)} to {len(vocabulary)} words: {', '.join(vocabulary[len(words) :])}")


def write_json_atomic(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(temporary, path)


def self_check(model, processor, kinds, device: torch.device) -> float:
    """The batched training forward equals the model's own forward on processor inputs (fp32, on `device`)."""
    generator = torch.Generator().manual_seed(12345)
    count = 4 if "describe" not in kinds else 8
    scenes = sample_scenes(count, generator, 1, 4, kinds)
    if "describe" in kinds:  # every kind, descriptions included (the kind does not change the picture)
        scenes.kind = torch.tensor([KINDS.index(kinds[index % len(kinds)]) for index in range(count)])
    images = render(scenes, generator)
    examples = [scene_example(scenes, images, index) for index in range(count)]
    batch = build_batch(scenes, images, kinds).to(device)
    model.eval()
    try:
        return check_fast_forward(model, processor, examples, batch, tolerance=1e-3 if device.type == "cuda" else 1e-4)
    finally:
        model.train()


def main(argv: Sequence[str] | None = None) -> int:
    from transformers import Qwen2VLForConditionalGeneration

    import qvl_widget
    from qvl_widget.demo._evaluate import answer_accuracy, capture_all, examples_for

    started = time.monotonic()
    args = parse_args(argv)
    deadline = None if args.minutes is None else started + args.minutes * 60
    device = torch.device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / METADATA_FILE).unlink(missing_ok=True)  # a recipe from an earlier run would not fit these weights
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    import transformers

    log(
        f"device {device} ({device_name}), torch {torch.__version__}, transformers {transformers.__version__}, "
        f"threads {torch.get_num_threads()}"
    )

    torch.manual_seed(args.seed)
    vocabulary = vocabulary_for(args.sample_kinds)
    processor = build_processor(vocabulary=vocabulary)
    processor.save_pretrained(out)
    config = build_config(vocabulary, **CONFIGS[args.config])
    state = torch.load(out / STATE_FILE, map_location="cpu", weights_only=True) if args.resume else None
    # from_pretrained below: the saved key layout differs from the module tree
    if state is not None:
        model = Qwen2VLForConditionalGeneration.from_pretrained(out, dtype=torch.float32).to(device)
        log(f"resuming {out} at step {state['step']} ({state['train_seconds']:.0f} s trained)")
    elif args.init is None:
        model = Qwen2VLForConditionalGeneration(config).to(device)
    else:
        model = Qwen2VLForConditionalGeneration.from_pretrained(args.init, dtype=torch.float32).to(device)
        grow_vocabulary(model, args.init, vocabulary)
        log(f"initialised from {args.init} (its config; --config ignored)")
    parameters = sum(parameter.numel() for parameter in model.parameters())
    shape = args.config if args.init is None else f"from {args.init}"
    log(f"config {shape}: {parameters / 1e6:.2f}M parameters ({parameters * 4 / 1e6:.1f} MB in fp32)")
    difference = self_check(model, processor, args.sample_kinds, device)
    log(f"self-check: batched forward == model(**processor(...)) to {difference:.1e}")
    if state is None:
        save_weights(model, out)
    torch.set_float32_matmul_precision("high")  # after the fp32 self-check: TF32 for what autocast leaves in fp32

    fast = FastForward(model)
    optimizer = optimizer_for(model, args.lr, args.weight_decay, device)
    generator = torch.Generator(device).manual_seed(args.seed)
    validation_generator = torch.Generator(device).manual_seed(args.seed + 1_000_003)
    validation_scenes = sample_scenes(
        args.val_size, validation_generator, 2, 4, args.sample_kinds, weights=args.weights
    )
    validation_images = render(validation_scenes, validation_generator)

    train_start = time.monotonic()
    # The training time of the whole run (all its resumed parts): --minutes from the first start, less --reserve.
    budget = None if deadline is None else deadline - args.reserve - train_start
    if budget is not None and budget <= 0:
        raise SystemExit(f"no time left to train: raise --minutes or lower --reserve ({args.reserve:.0f} s)")
    step, trained_before, history, runs = 0, 0.0, [], []
    curriculum = Curriculum(not args.no_curriculum)
    if state is not None:
        budget, step, trained_before = state["budget"], state["step"], state["train_seconds"]
        history, runs, curriculum.phase = state["history"], state["runs"], state["curriculum_phase"]
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
    runs.append({"command": "python -m training.train " + " ".join(sys.argv[1:] if argv is None else argv)})
    mix = task_mix(args)
    length = f"{args.max_steps} steps" if budget is None else f"{budget - trained_before:.0f} s"
    log(f"training for {length} (batch {args.batch}, peak lr {args.lr}, tasks {mix}, bf16 {args.bf16})")
    last_log_step, last_log_time, last_checkpoint = step, train_start, train_start
    loss_sum = torch.zeros((), device=device)
    correct_sum = torch.zeros((), device=device)
    window_correct = torch.zeros((), device=device)

    def resume_state() -> dict:
        trained = trained_before + time.monotonic() - train_start
        return {
            "arguments": {**vars(args), "resume": False},
            "step": step,
            "train_seconds": trained,
            "budget": budget,
            "curriculum_phase": curriculum.phase,
            "generator": generator.get_state(),
            "optimizer": optimizer.state_dict(),
            "history": history,
            "runs": [*runs[:-1], {**runs[-1], "last_step": step}],
        }

    model.train()
    while True:
        now = time.monotonic()
        progress = training_progress(step, args.max_steps, trained_before + now - train_start, budget)
        if progress >= 1.0:
            break
        lr = learning_rate(args.lr, step, args.warmup, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if step % args.sync_every == 0 and step > 0:
            accuracy = window_correct.item() / args.sync_every  # one sync every few steps
            window_correct.zero_()
            if curriculum.update(progress, accuracy):
                log(f"curriculum: {curriculum.objects()[0]}-{curriculum.objects()[1]} objects from step {step}")
        low, high = curriculum.objects()
        scenes = sample_scenes(args.batch, generator, low, high, args.sample_kinds, weights=args.weights)
        batch = build_batch(scenes, render(scenes, generator), args.sample_kinds)
        with autocast(device, args.bf16):
            loss, correct = answer_loss(fast.logits(batch), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss_sum += loss.detach()
        correct_sum += correct.float().mean()
        window_correct += correct.float().mean()
        step += 1
        if step % args.log_every == 0:
            count = step - last_log_step
            mean_loss, accuracy = loss_sum.item() / count, correct_sum.item() / count  # syncs
            now = time.monotonic()
            rate = count / (now - last_log_time)
            log(
                f"step {step:6d}  {rate:6.1f} steps/s  loss {mean_loss:.4f}  train acc {accuracy:.3f}  "
                f"lr {lr:.2e}  objects {low}-{high}"
            )
            seconds = round(trained_before + now - train_start, 1)
            history.append({"step": step, "seconds": seconds, "loss": mean_loss, "acc": accuracy})
            loss_sum.zero_()
            correct_sum.zero_()
            last_log_step, last_log_time = step, now
            if now - last_checkpoint >= args.checkpoint_seconds:
                metrics = evaluate(
                    fast, validation_scenes, validation_images, device, args.sample_kinds, bf16=args.bf16
                )
                history[-1]["validation"] = metrics
                save_weights(model, out, resume_state())
                last_checkpoint = time.monotonic()
                log(f"checkpoint at step {step}: validation {_format(metrics)}")
                last_log_time += last_checkpoint - now  # do not count evaluation in steps/s
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    final_state = resume_state()  # a resume after a crash below goes straight to the evaluation
    train_seconds = final_state["train_seconds"]
    log(f"training done: {step} steps in {train_seconds:.1f} s ({step / max(train_seconds, 1e-9):.2f} steps/s)")

    model.eval()
    torch.set_float32_matmul_precision("highest")  # the public path below runs in plain fp32, as users run it
    metrics = evaluate(fast, validation_scenes, validation_images, device, args.sample_kinds)
    save_weights(model, out, final_state)
    log(f"saved {out}: validation (batched, {args.val_size} scenes) {_format(metrics)}")

    # Pointing recipe: chosen on the validation seeds through the public path (processor + capture).
    loaded = qvl_widget.load(out, device=device, dtype=torch.float32)
    examples = examples_for(VALIDATION_SEEDS[: args.pointing_examples], args.kinds)
    results = capture_all(loaded, examples)
    # demo2: the gate reads the named phrase's own map (mean of its tokens) at one recommended layer, so the search
    # is over its single layers and heads only.
    demo2 = args.tasks == "demo2"
    recipe, rate, table = choose_recipe(results, examples, queries=("phrase",) if demo2 else None, all_layers=not demo2)
    log(f"pointing recipe on {len(examples)} validation seeds: {recipe.describe()} -> {rate:.3f}")
    for description, candidate_rate in table[:5]:
        log(f"    {candidate_rate:.3f}  {description}")
    greedy = answer_accuracy(loaded, examples)
    log(f"greedy answer accuracy on the same validation seeds (processor + generate): {greedy:.3f}")
    metadata = {
        "kinds": list(args.kinds),
        **({} if args.tasks == "questions" else {"tasks": args.tasks, "task_mix": mix}),
        "pointing": {
            "recipe": recipe.to_json(),
            "validation_rate": rate,
            "validation_seeds": [VALIDATION_SEEDS.start, VALIDATION_SEEDS.start + len(examples)],
            "top_candidates": [{"recipe": description, "rate": value} for description, value in table[:10]],
        },
        "validation": {"greedy_accuracy": greedy, "batched": metrics},
        "training": {
            "command": runs[0]["command"],
            **({"resumed_by": [run["command"] for run in runs[1:]]} if len(runs) > 1 else {}),
            "seed": args.seed,
            "config": args.config if args.init is None else f"init from {args.init}",
            "parameters": parameters,
            "weights_dtype": "float32",
            "autocast": "bfloat16" if args.bf16 or device.type == "cuda" else None,
            "batch": args.batch,
            "peak_lr": args.lr,
            "steps": step,
            "train_seconds": round(train_seconds, 1),
            "wall_seconds": round(time.monotonic() - started, 1),
            "device": device_name,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "history": history,
            "runs": [*runs[:-1], {**runs[-1], "last_step": step}],
        },
    }
    write_json_atomic(out / METADATA_FILE, metadata)
    (out / STATE_FILE).unlink()  # the run is complete: nothing to resume, and the folder stays small
    log(f"wrote {out / METADATA_FILE}; total wall time {time.monotonic() - started:.0f} s")
    return 0


def training_progress(step: int, max_steps: int | None, seconds: float, budget_seconds: float | None) -> float:
    """How far the run is, from 0 to 1: the larger of its share of the steps and of the time budget (either may be
    absent). The learning-rate schedule and the curriculum follow it."""
    shares = [step / max_steps if max_steps is not None else 0.0]
    if budget_seconds is not None:
        shares.append(seconds / budget_seconds)
    return max(shares)


def _format(metrics: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.3f}" for name, value in metrics.items())


if __name__ == "__main__":
    sys.exit(main())
