"""Where a model comes from: a hub id or a local model folder, checked without importing torch or transformers
(so the command line can refuse a mistyped path, or a fine-tuned checkpoint saved without its processor, before
anything heavy loads)."""

from __future__ import annotations

import os
from pathlib import Path


def checked_source(model_id_or_path: str | os.PathLike) -> str:
    """The source as a string; a one-line error for a local-looking path that is not a model folder."""
    source = os.fspath(model_id_or_path)
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{source!r} is a file; pass the model folder (with config.json) or a hub id")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{source!r} has no config.json; pass a model folder saved by save_pretrained")
        return str(path)
    looks_local = isinstance(model_id_or_path, os.PathLike) or source.startswith(("/", ".", "~"))
    if looks_local or source.count("/") > 1:
        raise FileNotFoundError(
            f"model folder not found: {source!r}; check the path, or pass a hub id like 'Qwen/Qwen2-VL-2B-Instruct'"
        )
    return source


# A processor's image settings (transformers 5 writes processor_config.json, 4.x preprocessor_config.json) and its
# tokenizer: what `AutoProcessor.from_pretrained` reads from a folder.
_IMAGE_PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def checked_processor_source(processor: str | os.PathLike) -> str:
    """`load(processor=...)` as a string: a hub id, or a local folder with the processor's files (no config.json
    needed); else a one-line error."""
    source = os.fspath(processor)
    path = Path(source).expanduser()
    looks_local = isinstance(processor, os.PathLike) or source.startswith(("/", ".", "~")) or source.count("/") > 1
    if path.exists() or looks_local:
        if not path.is_dir():
            raise FileNotFoundError(
                f"processor folder not found: {source!r}; pass a folder saved by processor.save_pretrained, or a hub "
                "id like 'Qwen/Qwen2-VL-2B-Instruct'"
            )
        check_processor_files(str(path), model_folder=False)
        return str(path)
    return source


def check_processor_files(source: str, *, model_folder: bool) -> None:
    """A one-line FileNotFoundError when the local folder `source` lacks the processor's files, naming the file and
    the fix; nothing for a hub id (`from_pretrained` says what the hub lacks). `model_folder`: `source` is the model's
    own folder (else the folder passed as `processor=`)."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        return
    for needed, names in (("preprocessor_config.json", _IMAGE_PROCESSOR_FILES), ("tokenizer.json", _TOKENIZER_FILES)):
        if any((folder / name).is_file() for name in names):
            continue
        others = " or ".join(name for name in names if name != needed)
        if model_folder:
            advice = (
                "a fine-tuned checkpoint is often saved without its processor: pass processor= the hub id or folder "
                "of the model it was fine-tuned from (e.g. processor='Qwen/Qwen2-VL-2B-Instruct'), or save the "
                "processor into the folder (processor.save_pretrained(folder))"
            )
        else:
            advice = "pass as processor= a hub id or a folder saved by processor.save_pretrained"
        raise FileNotFoundError(f"{source!r} has no {needed} (nor {others}), the processor's files: {advice}")
