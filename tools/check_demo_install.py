"""Fail when the demo install (`make demo`: the package and the `notebook` extra) holds a test tool.

Run by .ci/run right after `make demo` on a clean clone, before `make test` adds the test extra.
"""

from __future__ import annotations

import importlib.util
import sys

TEST_TOOLS = ("pytest", "playwright", "ruff", "mypy", "hypothesis", "marimo", "voila", "mkdocs", "peft", "accelerate")


def main() -> int:
    present = [name for name in TEST_TOOLS if importlib.util.find_spec(name) is not None]
    if present:
        print(f"the demo install holds test tools: {', '.join(present)} (make demo must install .[notebook] only)")
        return 1
    for needed in ("qvl_widget", "jupyterlab", "ipykernel", "torch", "transformers"):
        if importlib.util.find_spec(needed) is None:
            print(f"the demo install lacks {needed}")
            return 1
    print("demo install: the package and a notebook host, no test tools")
    return 0


if __name__ == "__main__":
    sys.exit(main())
