"""Boxes per temporal group of a video (issue 25): `Box(..., group=g)` marks group g's frame only (a moving object:
a box per group), checked with one line; the views carry the group; the widget, the still picture, the figures
and `overlay_on_image` draw and say a group's box only on that group's picture; `demo.clip_boxes` gives a clip's
moving object a box per group. The shares are checked against a direct computation: the map's cells weighted by
their overlap with the box, over the map's sum."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from browser_support import WidgetPage, synthetic_result, synthetic_video_result
from PIL import Image

from qvl_widget import Box, demo, figures
from qvl_widget._boxes import percent_words
from qvl_widget._payload import decode_maps
from qvl_widget._view_state import ViewState

FRAME = (1200, 800)  # the synthetic video's frames: 4 x 6 cells of 200 x 200 pixels
# The moving object: a box per group, none on a cell's edges, and one box on every group.
MOVING = [
    Box(130 + 240 * group, 90 + 120 * group, 390 + 240 * group, 330 + 120 * group, "cat", group=group)
    for group in range(4)
]
STILL = Box(20, 20, 150, 110, "logo")


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def direct_share(grid: np.ndarray, box: Box, size: tuple[int, int] = FRAME) -> float:
    """Each cell's value times the share of its area inside the box, over the map's sum: cell by cell."""
    rows, cols = grid.shape
    width, height = size[0] / cols, size[1] / rows
    inside = 0.0
    for row in range(rows):
        for col in range(cols):
            across = max(0.0, min(box.x1, (col + 1) * width) - max(box.x0, col * width))
            down = max(0.0, min(box.y1, (row + 1) * height) - max(box.y0, row * height))
            inside += grid[row, col] * across * down / (width * height)
    return inside / grid.sum()


def panel_share(label: str) -> float:
    """The share a panel says under it ("12 % inside · 1.3×"), as a fraction."""
    return float(label.split(" · ")[0].removesuffix(" inside").removesuffix(" %")) / 100


# ----- the Box and its checks ---------------------------------------------------------------------------------


def test_a_boxs_group_is_checked_with_one_line(tmp_path):
    with pytest.raises(TypeError) as raised:
        Box(0, 0, 5, 5, group="2")
    assert one_line(raised) == (
        "Box's group must be a temporal group of its video (an int; negative counts from the end) or None for "
        "every group, not str '2'"
    )
    for value in (1.0, True, [1]):
        with pytest.raises(TypeError, match="Box's group must be a temporal group"):
            Box(0, 0, 5, 5, group=value)
    assert Box(0, 0, 5, 5, group=np.int64(2)).group == 2 and Box(0, 0, 5, 5).group is None
    with pytest.raises(TypeError):
        Box(0, 0, 5, 5, "cat", 0, 1)  # group is a keyword: never taken for something else
    video = synthetic_video_result(image=(3, 3))  # image 0 a still picture, image 1 a video of 4 groups
    calls = {
        "widget": lambda boxes: video.widget(boxes=boxes),
        "to_html": lambda boxes: video.to_html(tmp_path / "page.html", boxes=boxes),
        "layers_figure": lambda boxes: figures.layers_figure(video, image=1, boxes=boxes),
        "frames_figure": lambda boxes: figures.frames_figure(video, boxes=boxes),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="still image") as raised:
            call([Box(5, 5, 40, 40, image=1), Box(5, 5, 40, 40, group=1)])
        assert one_line(raised) == (
            "boxes[1] has group=1, but image 0 is a still image (groups are a video's): leave group=None, or put the "
            "box on a video with image="
        ), name
        for group in (4, -5):
            with pytest.raises(IndexError) as raised:
                call([Box(5, 5, 40, 40, image=1, group=group)])
            assert one_line(raised) == (
                f"boxes[0]'s group {group} is out of range: video 1 has 4 temporal groups; use 0..3 (negative counts "
                "from the end), or group=None for every group"
            ), name
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_views_carry_each_boxs_group_and_keep_it_when_set_again():
    result = synthetic_video_result(image=(3, 3))
    boxes = [Box(*corners(box), box.label, image=1, group=box.group) for box in MOVING[:2]]
    boxes += [Box(10, 10, 60, 60, image=1, group=-1), Box(10, 10, 60, 60, image=1), Box(5, 5, 50, 50)]
    state = ViewState.of(result, boxes=boxes)
    assert [(view["image"], view["group"]) for view in state.boxes] == [(1, 0), (1, 1), (1, 3), (1, None), (0, None)]
    widget = result.widget(boxes=boxes)
    assert [view["group"] for view in widget.boxes] == [0, 1, 3, None, None]
    widget.boxes = list(widget.boxes)  # the trait's own form, checked and made again
    assert [view["group"] for view in widget.boxes] == [0, 1, 3, None, None]
    with pytest.raises(IndexError, match="group 7 is out of range"):
        widget.boxes = [{**widget.boxes[0], "group": 7}]


def corners(box: Box) -> tuple[float, float, float, float]:
    return (box.x0, box.y0, box.x1, box.y1)


# ----- the figures --------------------------------------------------------------------------------------------


def test_frames_figure_draws_each_groups_box_on_its_panel_with_the_share_of_its_map():
    result = synthetic_video_result()
    figure = figures.frames_figure(result, token=3, layer=1, boxes=MOVING)
    grid = result.grid(token=3, layer=1)
    panels = {axes.get_gid(): axes for axes in figure.axes if (axes.get_gid() or "").startswith("group-")}
    for group, box in enumerate(MOVING):
        axes = panels[f"group-{group}"]
        assert [patch.get_gid() for patch in axes.patches] == ["box"]  # its own group's box only
        (outline,) = axes.patches
        scale = axes.images[0].get_array().shape[1] / FRAME[0]  # panel pixels per frame pixel
        centre = (outline.get_x() + outline.get_width() / 2, outline.get_y() + outline.get_height() / 2)
        assert centre == pytest.approx(((box.x0 + box.x1) / 2 * scale, (box.y0 + box.y1) / 2 * scale))
        assert [text.get_text() for text in axes.texts] == ["cat"]  # each group's box named on its panel
        assert panel_share(axes.get_xlabel()) == pytest.approx(direct_share(grid[group], box), abs=0.005)
    area = percent_words(MOVING[0].share(grid[0], FRAME).area)
    assert figure.get_supxlabel().endswith(f"\n“cat”: {area} of the area")  # the same in every group: said once
    # Groups without a box of their own: the boxes of every group, and the footnote only what is on show.
    some = figures.frames_figure(result, token=3, layer=1, groups=[0, 2], boxes=[MOVING[2], STILL])
    panels = {axes.get_gid(): axes for axes in some.axes if (axes.get_gid() or "").startswith("group-")}
    assert [len(panels[name].patches) for name in ("group-0", "group-2")] == [1, 2]
    assert [text.get_text() for text in panels["group-0"].texts] == ["logo"]  # named on the first panel only
    assert [text.get_text() for text in panels["group-2"].texts] == ["cat"]
    lines = panels["group-2"].get_xlabel().splitlines()
    assert [line.split(" ")[0] for line in lines] == ["“cat”", "“logo”"]
    assert panel_share(lines[0].removeprefix("“cat” ")) == pytest.approx(direct_share(grid[2], MOVING[2]), abs=0.005)
    hidden = figures.frames_figure(result, token=3, layer=1, groups=[0, 1], boxes=[MOVING[2], STILL])
    logo = percent_words(STILL.share(grid[0], FRAME).area)
    assert "“cat”" not in hidden.get_supxlabel() and f"“logo”: {logo} of the area" in hidden.get_supxlabel()


def test_the_footnote_gives_the_range_where_a_moving_boxs_area_changes():
    result = synthetic_video_result(groups=2)
    boxes = [Box(0, 0, 600, 400, "cat", group=0), Box(0, 0, 120, 80, "cat", group=1)]
    figure = figures.frames_figure(result, boxes=boxes)
    assert "“cat”: 1 % to 25 % of the area" in figure.get_supxlabel()


def test_layers_figure_of_a_video_group_draws_that_groups_boxes_and_those_of_every_group():
    result = synthetic_video_result()
    figure = figures.layers_figure(result, token=3, layers=[0, 1], group=2, boxes=[*MOVING, STILL])
    original = next(axes for axes in figure.axes if axes.get_title().startswith("video"))
    assert [text.get_text() for text in original.texts] == ["cat", "logo"]
    areas = [percent_words(box.share(np.ones((4, 6)), FRAME).area) for box in (MOVING[2], STILL)]
    assert original.get_xlabel() == f"“cat”:\n{areas[0]} of the area\n“logo”:\n{areas[1]} of the area"
    for layer in (0, 1):
        (overlay,) = [axes for axes in figure.axes if axes.get_gid() == f"overlay-{layer}"]
        assert len(overlay.patches) == 2
        grid = result.grid(token=3, layer=layer)[2]
        cat, logo = overlay.get_xlabel().splitlines()
        assert panel_share(cat.removeprefix("“cat” ")) == pytest.approx(direct_share(grid, MOVING[2]), abs=0.005)
        assert panel_share(logo.removeprefix("“logo” ")) == pytest.approx(direct_share(grid, STILL), abs=0.005)
    last = figures.layers_figure(result, token=3, layers=[1], group=-1, boxes=MOVING)
    (overlay,) = [axes for axes in last.axes if axes.get_gid() == "overlay-1"]
    grid = result.grid(token=3, layer=1)[3]
    assert panel_share(overlay.get_xlabel()) == pytest.approx(direct_share(grid, MOVING[3]), abs=0.005)
    with pytest.raises(ValueError, match="boxes are on group") as raised:
        figures.layers_figure(result, group=2, boxes=[MOVING[0], MOVING[1]])
    assert one_line(raised).startswith("boxes are on group 0, 1 of video 0 and this figure shows group 2: pass group=")


def test_overlay_on_image_draws_the_boxes_of_the_group_its_picture_shows():
    result = synthetic_video_result()
    grid = result.grid(layer=0)
    for group in range(4):
        picture = result.picture(0, group)
        drawn = figures.overlay_on_image(picture, grid[group], boxes=[*MOVING, STILL], group=group)
        own = figures.overlay_on_image(picture, grid[group], boxes=[Box(*corners(MOVING[group]), "cat"), STILL])
        assert np.array_equal(np.asarray(drawn), np.asarray(own)), group
    with pytest.raises(ValueError, match="is on group 0") as raised:
        figures.overlay_on_image(result.picture(0, 1), grid[1], boxes=MOVING)
    assert one_line(raised).startswith("boxes[0] is on group 0 of a video: pass the group the picture shows, e.g.")
    with pytest.raises(ValueError, match="counts from the end of a video"):
        figures.overlay_on_image(result.picture(0, 3), grid[3], boxes=[Box(1, 1, 50, 50, group=-1)], group=3)
    with pytest.raises(TypeError, match="group must be the temporal group the picture shows"):
        figures.overlay_on_image(result.picture(0, 3), grid[3], group=-1)


# ----- the widget's still picture -----------------------------------------------------------------------------


def still(widget) -> np.ndarray:
    bundle = widget._repr_mimebundle_()[0]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).convert("RGB"))


def test_the_widgets_still_picture_draws_the_shown_groups_box_only():
    result = synthetic_video_result()
    for group in (1, 3):
        options = dict(token=[3], layer=0, group=group, width=300)
        moving = still(result.widget(**options, boxes=MOVING))
        assert np.array_equal(moving, still(result.widget(**options, boxes=[MOVING[group]])))
        assert not np.array_equal(moving, still(result.widget(**options, boxes=[MOVING[group - 1]])))


# ----- the demo -----------------------------------------------------------------------------------------------


def test_clip_boxes_outline_the_moving_object_in_each_group():
    clip = demo.make_clip(200_006, groups=3)
    boxes = demo.clip_boxes(clip, image=1)
    assert [box.group for box in boxes] == [0, 1, 2]
    for group, box in enumerate(boxes):
        assert corners(box) == demo.group_example(clip, group)["bbox"]
        assert (box.label, box.image) == (clip["phrase"], 1)
    assert len({corners(box) for box in boxes}) == 3  # it moves


# ----- the widget in the browser ------------------------------------------------------------------------------


def drawn_near(page, box: Box) -> bool:
    """Whether the box canvas has an outline just left of the box's left edge (halfway down it)."""
    return page.evaluate(
        """([x, y]) => {
          const canvas = document.querySelector("canvas.qvl-boxes");
          const left = Math.round(x * canvas.width) - 6;
          const data = canvas.getContext("2d").getImageData(left, Math.round(y * canvas.height), 8, 1).data;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
          return false;
        }""",
        [box.x0 / FRAME[0], (box.y0 + box.y1) / 2 / FRAME[1]],
    )


@pytest.mark.browser
def test_the_widget_outlines_a_groups_box_only_while_its_group_is_shown(page):
    result = synthetic_video_result()
    # The object seen in groups 1 and 3 only, each time around the cell token 3 looks at most (`video_peak`).
    boxes = [Box(780, 190, 1010, 420, "cat", group=1), Box(10, 10, 230, 190, "cat", group=3)]
    widget = result.widget(token=[3], boxes=boxes, smooth=False, opacity=0.0)  # no heat: what changes is the boxes
    view = WidgetPage(page, [widget])
    maps, _ = decode_maps(widget.maps_payload)  # [tokens, image tokens], as the view has them
    geometry = result.images[0]
    assert page.locator(".qvl-box-share").count() == 0  # group 0: no box of its own
    assert not any(drawn_near(page, box) for box in boxes)
    shares = []
    for group in (1, 3, 2, 1):
        view.change(page.click, f".qvl-film-cell[data-qvl-group='{group}']")
        assert widget.group == group
        on = [box for box in boxes if box.group == group]
        assert [drawn_near(page, box) for box in boxes] == [box in on for box in boxes], group
        lines = [line.text_content() for line in page.locator(".qvl-box-share").all()]
        assert len(lines) == len(on)
        for line, box in zip(lines, on, strict=True):
            grid = maps[3, geometry.group_columns(group)].reshape(geometry.rows, geometry.cols)
            share = box.share(grid, FRAME)
            assert share.inside == pytest.approx(direct_share(grid, box))
            assert abs(float(line.split(": ")[1].split(" % inside")[0]) - 100 * share.inside) <= 0.5 + 1e-6, line
            shares.append(line)
    assert shares[0] == shares[2] and shares[0] != shares[1]  # the caption follows the group shown
    with page.expect_download() as download:  # Save PNG: group 1's frame, with group 1's box only
        page.click(".qvl-save")
    saved = np.asarray(Image.open(io.BytesIO(download.value.path().read_bytes())).convert("RGB"), dtype=float)
    frame = np.asarray(result.picture(0, 1), dtype=float)
    assert [outlined(saved, frame, box) for box in boxes] == [True, False]
    assert view.blocked == []


def outlined(saved: np.ndarray, frame: np.ndarray, box: Box) -> bool:
    """Whether a saved picture differs from the bare frame just left of the box's left edge (its outline)."""
    x, y = round(box.x0), round((box.y0 + box.y1) / 2)
    return bool(np.abs(saved[y - 4 : y + 4, x - 8 : x] - frame[y - 4 : y + 4, x - 8 : x]).max() > 30)


def test_a_still_image_has_no_group_for_its_boxes_in_the_widget():
    with pytest.raises(ValueError, match="but image 0 is a still image"):
        synthetic_result().widget(boxes=[Box(1, 1, 50, 50, group=0)])
