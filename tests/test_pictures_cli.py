"""The command line's boxes and overlay style (issue 25): `--box X0,Y0,X1,Y1[:LABEL][@IMAGE][#GROUP]` on explore
(the demo passes its named object's box; #GROUP: a video's temporal group only), `--style heat|contour` on both;
each box's share of the opening map (a group's box: of its group's) is printed and equals the direct computation; a
bad box is one argparse line, before the model loads, nothing written."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from test_cli import run_cli
from test_html import embedded_header

import qvl_widget
from qvl_widget import Box
from qvl_widget.cli import box_argument, report_box_shares

SHARE_LINE = re.compile(
    r"^box(?: “(?P<name>[^”]*)”)? \((?P<where>[^)]*)\): "
    r"(?P<inside>[\d.<]+) % inside, (?P<area>[\d.]+) % of the area: (?P<ratio>[\d.]+)× uniform$"
)


def share_lines(stdout: str) -> list[re.Match]:
    return [match for line in stdout.splitlines() if (match := SHARE_LINE.match(line))]


def assert_share(match: re.Match, share) -> None:
    """A printed line says `share` (a BoxShare) to its rounding."""
    assert abs(float(match["inside"]) - 100 * share.inside) <= 0.5
    assert abs(float(match["area"]) - 100 * share.area) <= 0.5
    assert abs(float(match["ratio"]) - share.ratio) <= 0.05 or share.ratio >= 10


def test_the_demo_outlines_the_named_object_and_prints_its_share(tmp_path, capsys):
    from picture_support import demo_capture, demo_grid

    code, stdout, stderr = run_cli(["demo", "--out", str(tmp_path), "--style", "contour"], capsys)
    assert code == 0, stderr
    example, result, view = demo_capture()  # the same scene, model and answer
    (line,) = share_lines(stdout)
    assert line["name"] == "circle" and line["where"] == "image 0 · layer 2 · mean of heads"
    assert_share(line, view["boxes"][0].share(demo_grid(result, view), example["image"].size))
    state = embedded_header(tmp_path / "attention.html")["state"]
    assert state["overlay_style"] == "contour"
    (box,) = state["boxes"]
    assert (box["name"], box["x0"], box["y1"]) == ("circle", example["bbox"][0], example["bbox"][3])


def test_explore_draws_the_boxes_given_and_prints_each_share(tiny_model_dirs, tmp_path, capsys):
    image, other = tmp_path / "scene.png", tmp_path / "other.png"
    Image.new("RGB", (120, 90), "red").save(image)
    Image.new("RGB", (64, 80), "blue").save(other)
    model = str(tiny_model_dirs["qwen2_vl"])
    arguments = [
        "explore",
        "--model",
        model,
        "--image",
        str(image),
        "--image",
        str(other),
        "--prompt",
        "Where is the red cat?",
    ]
    arguments += ["--phrase", "red cat", "--layers", "0", "-1", "--out", str(tmp_path / "out"), "--device", "cpu"]
    boxes = ["10,5,70,60:cat", "-10,20,30,200@1", "0,0,120,90"]
    code, stdout, stderr = run_cli([*arguments, *(f"--box={box}" for box in boxes)], capsys)
    assert code == 0, stderr
    result = qvl_widget.load(model, device="cpu").capture([str(image), str(other)], "Where is the red cat?")
    expected = [Box(10, 5, 70, 60, "cat"), Box(-10, 20, 30, 200, image=1), Box(0, 0, 120, 90)]
    lines = share_lines(stdout)
    assert [line["name"] for line in lines] == ["cat", None, None]
    for line, box in zip(lines, expected, strict=True):
        assert line["where"] == f"image {box.image} · layer 2 · mean of heads"
        grid = result.grid(phrase="red cat", layer=-1, image=box.image)
        assert_share(line, box.share(grid, result.images[box.image].original_size))
    assert lines[2]["inside"] == "100" and lines[2]["area"] == "100"  # the whole image
    state = embedded_header(tmp_path / "out" / "attention.html")["state"]
    assert [(box["name"], box["image"], box["x0"], box["y1"]) for box in state["boxes"]] == [
        ("cat", 0, 10.0, 60.0),
        ("box 2", 1, 0.0, 80.0),  # clipped to the image
        ("box 3", 0, 0.0, 90.0),
    ]
    assert state["overlay_style"] == "heat"


@pytest.fixture
def no_loading(monkeypatch):
    def loaded(*args, **kwargs):
        pytest.fail("the model loaded before the arguments were checked")

    monkeypatch.setattr(qvl_widget, "load", loaded)
    monkeypatch.setattr(qvl_widget.demo, "load", loaded)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ("1,2,3", "invalid box '1,2,3': use X0,Y0,X1,Y1 in pixels of the original image"),
        ("a,b,c,d:cat", "invalid box 'a,b,c,d:cat'"),
        ("50,10,20,40", "box '50,10,20,40' (50, 10, 20, 40) is inverted or empty: pass x0 < x1 and y0 < y1"),
        ("5,5,5,40", "is inverted or empty"),
        ("nan,0,50,50", "box 'nan,0,50,50''s x0 must be a finite number of pixels of the original image"),
        ("0,0,inf,50", "x1 must be a finite number"),
        ("0,0,50,50@2", "--box 0,0,50,50@2: its image 2 was not given (1 image(s) and 0 video(s)); use @0..@0"),
        ("500,10,600,40:far", "--box 500,10,600,40:far (500, 10, 600, 40) lies outside image 0, which is 120 x 90"),
        (
            "0,0,50,50:cat#1",
            "--box 0,0,50,50:cat#1: image 0 is a still image, without temporal groups; leave out #GROUP",
        ),
        ("0,0,50,50#x", "invalid box '0,0,50,50#x': use X0,Y0,X1,Y1"),
    ],
)
def test_a_bad_box_is_one_line_before_the_model_loads(box, message, tmp_path, capsys, no_loading):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    out = tmp_path / "out"
    arguments = ["explore", "--model", str(tmp_path), "--image", str(image), "--prompt", "p", "--out", str(out)]
    code, _, stderr = run_cli([*arguments, f"--box={box}"], capsys)
    assert code == 2
    assert message in stderr.strip().splitlines()[-1], stderr
    assert not out.exists()  # nothing written


def test_a_bad_style_is_one_line(tmp_path, capsys, no_loading):
    code, _, stderr = run_cli(["demo", "--out", str(tmp_path / "o"), "--style", "lines"], capsys)
    assert code == 2 and "argument --style: invalid choice: 'lines' (choose from 'heat', 'contour')" in stderr


@pytest.mark.parametrize(
    ("text", "box"),
    [
        ("10,10,50,50:cat#2", Box(10, 10, 50, 50, "cat", group=2)),
        ("10,10,50,50#-1", Box(10, 10, 50, 50, group=-1)),
        ("10,10,50,50:cat@1#3", Box(10, 10, 50, 50, "cat", image=1, group=3)),
        ("10,10,50,50:time: 1:30@1#0", Box(10, 10, 50, 50, "time: 1:30", image=1, group=0)),  # colons in the label
        ("10,10,50,50:take #2@0", Box(10, 10, 50, 50, "take #2")),  # "#2" kept in the label by an explicit @0
        ("10,10,50,50:take #2@0#1", Box(10, 10, 50, 50, "take #2", group=1)),
        ("10,10,50,50:cat@1", Box(10, 10, 50, 50, "cat", image=1)),  # no #GROUP: every group
    ],
)
def test_a_box_takes_a_videos_group_after_its_label_and_image(text, box):
    assert box_argument(text).box == box


def test_a_groups_box_share_is_printed_for_its_own_group(capsys):
    from browser_support import synthetic_video_result

    result = synthetic_video_result()  # 1200 x 800 frames, 4 groups
    boxes = [Box(780, 190, 1010, 420, "cat", group=1), Box(780, 190, 1010, 420, "cat")]
    report_box_shares(result, boxes, -1, "mean", False, {"token": [3]}, {})
    lines = share_lines(capsys.readouterr().out)
    assert [line["where"] for line in lines] == [
        "image 0 · layer 1 · mean of heads · group 2 of 4",
        "image 0 · layer 1 · mean of heads · its first group",
    ]
    grid = result.grid(token=[3], layer=-1)
    for line, group in zip(lines, (1, 0), strict=True):
        assert_share(line, boxes[0].share(grid[group], (1200, 800)))
