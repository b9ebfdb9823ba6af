"""Driving real notebook hosts (JupyterLab, Jupyter Notebook 7, Voila, marimo) from Playwright, for tests and
benchmarks: each runs as a server on a free loopback port, without a token, and is stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import nbformat

SERVER_START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(
    name: str, command: Sequence[str], cwd: Path, port: int, ready_path: str, environment: dict | None = None
) -> Iterator[str]:
    """Run a web server (`command`, listening on loopback `port`) in `cwd`; yield its URL once `ready_path`
    answers. Its output goes to `cwd / f"{name}.log"`; it is stopped (then killed, if need be) afterwards."""
    log_path = cwd / f"{name.replace(' ', '-')}.log"
    log = open(log_path, "w")  # noqa: SIM115  (closed below, after the server stops)
    environment = dict(os.environ if environment is None else environment, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(list(command), cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}{ready_path}", server, log_path, name)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def wait_for_http(url: str, server: subprocess.Popen, log: Path, name: str = "the server") -> None:
    """Wait until `url` answers (any HTTP status: the server is up), failing at once if the server exits."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as answer:  # an error status is an answer too
            answer.close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{name} did not answer at {url} within {SERVER_START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def jupyter_environment(root: Path) -> dict:
    """The environment for a Jupyter server: its own config folder, so the user's settings play no part."""
    return dict(os.environ, JUPYTER_CONFIG_DIR=str(root / ".jupyter-config"))


def jupyter_server_command(app: str, root: Path, port: int) -> list[str]:
    """`jupyter <app>` (lab or notebook) serving `root` on loopback `port`, without token or password."""
    command = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


@contextlib.contextmanager
def running_jupyterlab(root: Path) -> Iterator[str]:
    """A JupyterLab server on a free loopback port serving `root`, without a token; yields its URL."""
    port = free_port()
    command = [
        *jupyter_server_command("lab", root, port),
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=",
    ]
    with running_server("jupyter lab", command, root, port, "/api/status", jupyter_environment(root)) as url:
        yield url


@contextlib.contextmanager
def running_notebook(root: Path) -> Iterator[str]:
    """A Jupyter Notebook 7 server on a free loopback port serving `root`, without a token; yields its URL."""
    port = free_port()
    command = jupyter_server_command("notebook", root, port)
    with running_server("jupyter notebook", command, root, port, "/api/status", jupyter_environment(root)) as url:
        yield url


@contextlib.contextmanager
def running_voila(root: Path, notebook: str) -> Iterator[str]:
    """Voila serving the notebook `root / notebook` as an app (it runs the notebook when the page is opened)."""
    port = free_port()
    command = [sys.executable, "-m", "voila", notebook, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    # Voila has no /api/status: unknown paths redirect to its file handler; its own script answers once it is up.
    with running_server("voila", command, root, port, "/voila/static/voila.js", jupyter_environment(root)) as url:
        yield url


@contextlib.contextmanager
def running_marimo(root: Path, app: str) -> Iterator[str]:
    """`marimo run` serving the app `root / app` (read-only app view; it runs the app when the page is opened)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "marimo",
        "run",
        app,
        "--headless",
        f"--port={port}",
        "--host=127.0.0.1",
        "--no-token",
    ]
    # Its own config folder: a user's marimo.toml plays no part.
    environment = dict(os.environ, XDG_CONFIG_HOME=str(root / ".config"))
    with running_server("marimo", command, root, port, "/health", environment) as url:
        yield url


def block_other_hosts(page, url: str) -> list[str]:
    """Abort every request that leaves the server at `url` (hosts fetch e.g. fonts from CDNs): the tests run
    offline the same way wherever they run. Returns the list the blocked URLs are recorded in."""
    blocked: list[str] = []

    def abort(route) -> None:
        blocked.append(route.request.url)
        route.abort()

    page.route(lambda address: address.startswith("http") and not address.startswith(f"{url}/"), abort)
    return blocked


def write_notebook(path: Path, cells: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)
    return path


def open_notebook(page, url: str, name: str, app: str = "lab") -> None:
    """Open a notebook in JupyterLab (`app="lab"`) or Notebook 7 (`app="notebook"`); wait until its kernel is
    idle."""
    page.goto(f"{url}/lab/tree/{name}" if app == "lab" else f"{url}/notebooks/{name}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=180_000)
    wait_until_idle(page, app=app)


def wait_until_idle(page, timeout_ms: int = 120_000, app: str = "lab") -> None:
    if app == "lab":  # the status bar's kernel status
        condition = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem, .jp-Toolbar-kernelStatus')]
            .some(node => /Idle/.test(node.textContent || node.getAttribute('title') || ''))"""
    else:
        # Notebook 7 has no status bar: the toolbar's execution indicator has the status in a tooltip. It says
        # "Idle" for a moment before there is a kernel too, while the kernel name says "No Kernel".
        condition = """() => {
            const status = document.querySelector('.jp-Notebook-ExecutionIndicator-tooltip');
            const kernel = document.querySelector('.jp-NotebookPanel-toolbar .jp-KernelName');
            const name = kernel ? kernel.textContent.trim() : '';
            return !!status && /Kernel status: Idle/.test(status.textContent) && name !== '' && name !== 'No Kernel';
        }"""
    page.wait_for_function(condition, timeout=timeout_ms)


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
