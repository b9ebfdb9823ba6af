"""Driving a real JupyterLab (server, kernel, front end) from Playwright, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat

JUPYTER_START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_jupyterlab(root: Path) -> Iterator[str]:
    """A JupyterLab server on a free loopback port serving `root`, without a token; yields its URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    environment = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / ".jupyter-config"), PYTHONUNBUFFERED="1")
    log = open(root / "jupyter.log", "w")  # noqa: SIM115  (closed below, after the server stops)
    server = subprocess.Popen(command, cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/status", server, root / "jupyter.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def wait_for_http(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + JUPYTER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer at {url} within {JUPYTER_START_TIMEOUT_S} s")


def write_notebook(path: Path, cells: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)
    return path


def open_notebook(page, url: str, name: str) -> None:
    """Open a notebook and wait until its kernel is idle."""
    page.goto(f"{url}/lab/tree/{name}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    wait_until_idle(page)


def wait_until_idle(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-StatusBar-TextItem, .jp-Toolbar-kernelStatus')]
               .some(node => /Idle/.test(node.textContent || node.getAttribute('title') || ''))""",
        timeout=timeout_ms,
    )


def run_cell(page, index: int, timeout_ms: int = 180_000) -> None:
    """Run one cell as a user would (select it, Shift+Enter) and wait until it has finished."""
    prompts = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt")
    before = prompts.nth(index).text_content()
    page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").nth(index).click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """([index, before]) => {
            const prompt = document.querySelectorAll('.jp-Notebook .jp-Cell .jp-InputPrompt')[index];
            const text = prompt ? prompt.textContent : '';
            return /\\[\\d+\\]/.test(text) && text !== before;
        }""",
        arg=[index, before],
        timeout=timeout_ms,
    )
