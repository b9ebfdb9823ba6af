"""Nothing private in files meant to be shared: results, `.npz` files, HTML pages and figures name the model by
its hub id or its folder's name, never by a path of the machine that wrote them (a home folder, a user name)."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from browser_support import synthetic_result
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

import qvl_widget
from qvl_widget import AttentionResult
from qvl_widget._loading import LoadedModel
from qvl_widget._result import shareable_name
from qvl_widget.figures import layers_figure, matrix_figure, save_figure
from qvl_widget.testing import build_tiny_model

PROMPT = "Where is the red cat?"
REAL_HOME = str(Path.home())  # before any test points HOME elsewhere


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A home folder with a user name in it, holding a model folder."""
    home = tmp_path_factory.mktemp("homes") / "alice-private"
    build_tiny_model(home / "models" / "my-qwen", "qwen2_vl")
    return home


@pytest.fixture(scope="module")
def loaded(home) -> qvl_widget.LoadedModel:
    return qvl_widget.load(home / "models" / "my-qwen", device="cpu")


@pytest.fixture(scope="module")
def result(loaded) -> AttentionResult:
    return loaded.capture(Image.new("RGB", (64, 48), "red"), PROMPT)


def private_strings(home: Path) -> list[str]:
    """What no shared file may contain: the model folder's path, the home folder's, the user's name."""
    strings = [str(home / "models" / "my-qwen"), str(home / "models"), str(home), "alice-private"]
    return strings + ([REAL_HOME] if len(REAL_HOME) > 1 else [])


def npz_texts(path: Path) -> tuple[str, bytes]:
    """A saved result's metadata text, and the whole file's bytes."""
    with zipfile.ZipFile(path) as archive:
        metadata = np.load(archive.open("metadata.npy"), allow_pickle=False)
    return str(metadata), path.read_bytes()


def html_texts(path: Path) -> tuple[str, bytes, dict]:
    """A page's text without its data, the data decompressed, and the data's header."""
    text = path.read_text()
    match = re.search(r'(<script type="application/octet-stream" id="qvl-data">)([^<]*)(</script>)', text)
    assert match is not None
    container = gzip.decompress(base64.b64decode(match.group(2)))
    length = int.from_bytes(container[:4], "little")
    return text.replace(match.group(2), ""), container, json.loads(container[4 : 4 + length])


def assert_nothing_private(texts: list[str], blobs: list[bytes], private: list[str]) -> None:
    for secret in private:
        for text in texts:
            assert secret not in text, secret
        for blob in blobs:
            for encoding in ("utf-8", "utf-32-le"):  # numpy keeps text as UTF-32
                assert secret.encode(encoding) not in blob, (secret, encoding)


def test_a_model_from_a_local_folder_is_named_by_the_folder(home, loaded, result, tmp_path):
    assert loaded.source == str(home / "models" / "my-qwen")  # for loading and the terminal
    assert loaded.name == result.model == "my-qwen"
    metadata, npz = npz_texts(result.save(tmp_path / "result.npz"))
    assert json.loads(metadata)["model"] == "my-qwen"
    assert AttentionResult.load(tmp_path / "result.npz").model == "my-qwen"
    page, container, header = html_texts(result.to_html(tmp_path / "page.html"))
    assert header["model"] == "my-qwen"
    assert_nothing_private([metadata, page, repr(result)], [npz, container], private_strings(home))


def test_figures_name_no_path(home, result, tmp_path):
    private = private_strings(home)
    for figure in (layers_figure(result), matrix_figure(result)[0]):
        texts = [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]
        files = [save_figure(figure, tmp_path / f"figure.{kind}").read_bytes() for kind in ("svg", "pdf", "png")]
        assert_nothing_private(texts, files, private)


def test_a_verify_report_names_no_path(home, loaded):
    report = loaded.verify(Image.new("RGB", (64, 48), "red"), PROMPT, verbose=False)
    assert report.model == "my-qwen"
    assert_nothing_private(
        [json.dumps(report.to_dict()), repr(report), report._repr_html_()], [], private_strings(home)
    )


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("Qwen/Qwen2-VL-2B-Instruct", "Qwen/Qwen2-VL-2B-Instruct"),
        ("Qwen2-VL-2B-Instruct", "Qwen2-VL-2B-Instruct"),
        ("my tiny model", "my tiny model"),
        ("/home/alice/models/qwen", "qwen"),
        ("/home/alice/models/qwen/", "qwen"),
        ("~/models/qwen", "qwen"),
        ("./qwen", "qwen"),
        ("../../alice/qwen/.", "qwen"),
        ("models/alice/qwen", "qwen"),
        ("C:\\Users\\alice\\qwen", "qwen"),
        ("C:/Users/alice/qwen", "qwen"),
        ("file:///home/alice/qwen", "qwen"),
        ("~", "local model"),
        ("~alice", "local model"),
        ("/", "local model"),
        ("C:\\", "local model"),
    ],
)
def test_shareable_names(source, name):
    assert shareable_name(source) == name


def test_local_sources_however_written_are_named_by_the_folder(home, loaded, monkeypatch):
    folder = home / "models" / "my-qwen"
    monkeypatch.setenv("HOME", str(home))

    def named(source: str) -> str:
        return LoadedModel(loaded.model, loaded.processor, loaded.family, source).name

    assert named("~/models/my-qwen") == "my-qwen"
    monkeypatch.chdir(folder)
    assert named(".") == named("./") == named("../my-qwen") == "my-qwen"
    monkeypatch.chdir(home)
    assert named("models/my-qwen") == "my-qwen"  # a relative folder that looks like a hub id is still a folder
    link = home / "linked"
    link.symlink_to(folder)
    assert named(str(link)) == "linked"  # the name given, not the link's target's
    assert LoadedModel(loaded.model, loaded.processor, loaded.family, str(folder), name="/srv/x/qwen").name == "qwen"


def test_a_hub_id_keeps_the_hub_id(loaded, tmp_path):
    hub = LoadedModel(loaded.model, loaded.processor, loaded.family, "Qwen/Qwen2-VL-2B-Instruct")
    assert hub.name == hub.source == "Qwen/Qwen2-VL-2B-Instruct"
    result = hub.capture(Image.new("RGB", (64, 48), "red"), PROMPT)
    assert result.model == "Qwen/Qwen2-VL-2B-Instruct"
    assert json.loads(npz_texts(result.save(tmp_path / "r.npz"))[0])["model"] == "Qwen/Qwen2-VL-2B-Instruct"
    assert html_texts(result.to_html(tmp_path / "r.html"))[2]["model"] == "Qwen/Qwen2-VL-2B-Instruct"


def test_an_attached_model_is_named_by_its_folder_not_its_path(home, tmp_path):
    folder = home / "models" / "my-qwen"
    model = AutoModelForImageTextToText.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    assert model.config.name_or_path == str(folder)  # what attach names it by, by default
    attached = qvl_widget.attach(model, processor)
    assert (attached.source, attached.name) == (str(folder), "my-qwen")
    result = attached.capture(Image.new("RGB", (64, 48), "red"), PROMPT)
    assert result.model == "my-qwen"
    assert qvl_widget.attach(model, processor, source="/home/alice/work/qwen-ft").name == "qwen-ft"
    assert qvl_widget.attach(model, processor, source="my fine-tune").name == "my fine-tune"
    page, container, _ = html_texts(result.to_html(tmp_path / "page.html"))
    assert_nothing_private([page], [container], private_strings(home))


def test_a_result_that_names_a_path_is_shared_by_the_folder_name(tmp_path):
    """Results built by hand, or loaded from files of earlier versions, may hold a path: files made from them
    do not."""
    result = dataclasses.replace(synthetic_result(), model="/home/alice-private/models/qwen")
    metadata, npz = npz_texts(result.save(tmp_path / "r.npz"))
    assert json.loads(metadata)["model"] == "qwen"
    page, container, header = html_texts(result.to_html(tmp_path / "r.html"))
    assert header["model"] == "qwen"
    assert_nothing_private([metadata, page], [npz, container], ["/home/alice-private", "alice-private"])
