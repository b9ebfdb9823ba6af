"""Shared fixtures: tiny offline Qwen-VL models, built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

# Tests never reach the hub: a hub id must fail at once, not after network retries.
os.environ["HF_HUB_OFFLINE"] = "1"

import torch

if not torch.cuda.is_available():
    # Triton kernels then run in Triton's interpreter (test_fused_rows). It must be chosen before Triton
    # is first imported (transformers imports it).
    os.environ["TRITON_INTERPRET"] = "1"

import pytest
from browser_support import browser, offline_page, page  # noqa: F401  (fixtures for the browser tests)
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

import qvl_widget
from qvl_widget._inputs import has_thinking_switch
from qvl_widget.testing import TINY_FAMILIES, build_tiny_model

# Hypothesis (tests/test_properties.py): here random examples, failures remembered under .hypothesis/ (ignored by
# git) and replayed first; under CI the same examples on every run (derandomized, no database), so a failure
# reproduces. Each test sets its own max_examples.
settings.register_profile(
    "dev",
    deadline=None,
    database=DirectoryBasedExampleDatabase(Path(__file__).parents[1] / ".hypothesis" / "examples"),
)
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The engine's tests also run against the oldest supported transformers, which has no Qwen3.5 (5.2.0 and newer):
# there, the tests of Qwen3.5 itself are skipped (they run in the main run, against the newest transformers).
NO_QWEN3_5 = "this transformers has no Qwen3.5 (5.2.0 and newer)"

_browser_tests_passed = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _browser_tests_passed
    if report.when == "call" and report.passed and "browser" in report.keywords:
        _browser_tests_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a run in which no browser test passed is a failure, even if they were only skipped."""
    selected_browser_tests = any("browser" in item.keywords for item in session.items)
    if os.environ.get("CI") and selected_browser_tests and _browser_tests_passed == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nCI: no browser test ran; they must run under CI (install chromium, playwright, jupyterlab)")


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {family: build_tiny_model(root / family, family) for family in TINY_FAMILIES}


@pytest.fixture(scope="session")
def tiny_models(tiny_model_dirs: dict[str, Path]) -> dict[str, qvl_widget.LoadedModel]:
    return {family: qvl_widget.load(path, device="cpu") for family, path in tiny_model_dirs.items()}


@pytest.fixture(params=TINY_FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def tiny(tiny_models: dict[str, qvl_widget.LoadedModel], family: str) -> qvl_widget.LoadedModel:
    """The tiny model of the parametrised family."""
    return tiny_models[family]


@pytest.fixture
def qwen2(tiny_models: dict[str, qvl_widget.LoadedModel]) -> qvl_widget.LoadedModel:
    return tiny_models["qwen2_vl"]


@pytest.fixture
def qwen35(tiny_models: dict[str, qvl_widget.LoadedModel]) -> qvl_widget.LoadedModel:
    """The tiny Qwen3.5: its chat template makes the model think first (`<think>`), unless thinking=False."""
    if "qwen3_5" not in tiny_models:
        pytest.skip(NO_QWEN3_5)
    return tiny_models["qwen3_5"]


@pytest.fixture
def qwen35_dir(tiny_model_dirs: dict[str, Path]) -> Path:
    """The tiny Qwen3.5's folder (as `qwen35`)."""
    if "qwen3_5" not in tiny_model_dirs:
        pytest.skip(NO_QWEN3_5)
    return tiny_model_dirs["qwen3_5"]


def at_once(model: qvl_widget.LoadedModel) -> dict[str, bool]:
    """`capture` options for an answer without thinking: thinking=False where the model's template thinks first
    (tests of answers as such; tests/test_thinking.py tests the thinking)."""
    return {"thinking": False} if has_thinking_switch(model.processor.chat_template) else {}
