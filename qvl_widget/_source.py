"""Where a model comes from: a hub id or a local model folder, checked without importing torch or transformers
(so the command line can refuse a mistyped path before anything heavy loads)."""

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
