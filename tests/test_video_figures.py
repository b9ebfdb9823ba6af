"""Figures of videos: the frames figure (a panel per temporal group, one colour scale), the layers figure of one
group, the matrix's group boundaries; checked against numpy on a synthetic video result."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from browser_support import prompt_tokens
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from qvl_widget import AttentionResult, ImageGeometry, Video, figures
from qvl_widget._figures import MAX_FRAME_PANELS
from qvl_widget.figures import frames_figure, layers_figure, matrix_figure, overlay_on_image, save_figure

ROWS, COLS = 4, 6
TEXTS = ("<|vision_end|>", "Where", " is", " the", " red", " cat", "?", "<|im_end|>")


def peak_of(group: int, layer: int) -> tuple[int, int]:
    """Where group `group`'s map peaks at layer `layer`: a different cell for every group and layer."""
    return (group + layer) % ROWS, (2 * group + 3 * layer) % COLS


def video_result(
    groups: int = 3,
    *,
    image_first: bool = False,
    videos: int = 1,
    layers: int = 2,
    heads: int = 2,
    times: float = 0.5,
) -> AttentionResult:
    """A result holding `videos` videos of `groups` temporal groups each (4 x 6 tokens; group g covers frames 3g
    and 3g + 2, from 2g x `times` to (2g + 1) x `times` seconds), after a 3 x 3 image where `image_first`.

    Video v's group g peaks at `peak_of(g + v, layer)` with height 0.2 (g + 1) / (v + 1) in every head and query
    (the later groups stronger: the shared colour scale is the last group's), over an even floor."""
    images, pictures, first = [], [], 0
    if image_first:
        images.append(ImageGeometry(3, 3, (84, 84), (90, 90), 0))
        pictures.append(Image.new("RGB", (90, 90), (200, 200, 200)))
        first = 9
    for video in range(videos):
        images.append(
            ImageGeometry(
                ROWS,
                COLS,
                (COLS * 28, ROWS * 28),
                (COLS * 50, ROWS * 40),
                first + video * groups * ROWS * COLS,
                groups=groups,
                group_frames=tuple((3 * group, 3 * group + 2) for group in range(groups)),
                group_times=tuple((2 * group * times, (2 * group + 1) * times) for group in range(groups)),
            )
        )
        pictures += [
            Image.new("RGB", (COLS * 50, ROWS * 40), (40 * group % 256, 90, 60 * video)) for group in range(groups)
        ]
    columns = first + videos * groups * ROWS * COLS
    attention = np.zeros((layers, heads, len(TEXTS), columns), dtype=np.float32)
    attention[..., :first] = 0.1 / max(first, 1)
    for video, layer, group in itertools.product(range(videos), range(layers), range(groups)):
        cells = np.full((ROWS, COLS), 0.01, dtype=np.float32)
        cells[peak_of(group + video, layer)] = 0.2 * (group + 1) / (video + 1)
        attention[layer, :, :, images[-videos + video].group_columns(group)] = cells.ravel() / (groups * videos)
    tokens = prompt_tokens(TEXTS)
    return AttentionResult(
        attention=attention,
        image_mass=attention.sum(axis=-1),
        query_positions=np.arange(200, 200 + len(TEXTS)),
        image_positions=np.arange(10, 10 + columns),
        tokens=tuple(tokens),
        images=tuple(images),
        pictures=tuple(pictures),
        prompt="Where is the red cat?",
        model="synthetic",
        family="qwen2_vl",
    )


def panels(figure: Figure) -> list:
    """The frames figure's group panels, in order (each: the picture with the map over it)."""
    return [axes for axes in figure.axes if (axes.get_gid() or "").startswith("group-")]


def assert_overlay(axes, picture: Image.Image, grid: np.ndarray, vmax: float, **options) -> None:
    """A panel shows `grid` over `picture` exactly as `overlay_on_image` draws it (one rule for every overlay), on
    the scale 0..`vmax`."""
    (shown,) = axes.images
    expected = overlay_on_image(picture, grid, vmax=vmax, **options)
    np.testing.assert_array_equal(shown.get_array(), np.asarray(expected))


def error_line(kind: type[Exception], function, *args, **options) -> str:
    """The message of the `kind` error that `function(*args, **options)` raises, checked to be one line."""
    with pytest.raises(kind) as error:
        function(*args, **options)
    message = str(error.value)
    assert "\n" not in message
    return message


# ----- the synthetic video itself -------------------------------------------------------------------------


def test_the_synthetic_video_peaks_where_it_says():
    result = video_result()
    for layer in range(2):
        grid = result.grid(layer=layer)
        assert grid.shape == (3, ROWS, COLS)
        peaks = [np.unravel_index(np.argmax(grid[group]), (ROWS, COLS)) for group in range(3)]
        assert peaks == [peak_of(group, layer) for group in range(3)]
        assert len(set(peaks)) == 3


# ----- frames figure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_first", [False, True])
@pytest.mark.parametrize("layer", [0, -1])
def test_frames_figure_shows_each_groups_map_over_its_picture(image_first, layer):
    result = video_result(image_first=image_first)
    figure = frames_figure(result, layer=layer, alpha=0.4, colormap="viridis")
    grid = result.grid(layer=layer, image=1 if image_first else 0)
    shown = panels(figure)
    assert len(shown) == 3
    for group, axes in enumerate(shown):
        assert axes.get_gid() == f"group-{group}"
        # Its own group's map over its own picture, in order; one colour scale for all: 0 to the largest value of
        # any group (the last's).
        picture = result.picture(int(image_first), group)
        assert_overlay(axes, picture, grid[group], grid.max(), alpha=0.4, colormap="viridis")
        assert np.unravel_index(np.argmax(grid[group]), (ROWS, COLS)) == peak_of(group, layer % 2)
        assert axes.images[0].get_array().shape == (ROWS * 40, COLS * 50, 3)
    assert grid.max() == pytest.approx(grid[2].max()) and grid[0].max() < 0.5 * grid.max()
    (bar,) = [axes for axes in figure.axes if axes not in shown]  # one shared colour bar
    assert bar.get_ylabel().replace("\n", " ") == "share of the tokens' attention (mean)"  # the prompt's tokens
    assert bar.get_ylim() == pytest.approx((0, grid.max()))


def test_frames_figure_titles_times_frames_tokens_and_layers():
    result = video_result(image_first=True)
    figure = frames_figure(result, token=4, layer=[0, 1], head=1, reduce="max")
    titles = [axes.get_title() for axes in panels(figure)]
    assert titles == ["0.0–0.5 s\nframes 0, 2", "1.0–1.5 s\nframes 3, 5", "2.0–2.5 s\nframes 6, 8"]
    suptitle = figure.get_suptitle()
    assert suptitle.splitlines()[0] == "“Where is the red cat?”"
    assert "“red” in the prompt" in suptitle
    assert "max of layers 0, 1 · head 1 · video: 3 groups of 4×6 tokens" in suptitle
    grid = result.grid(token=4, layer=[0, 1], head=1, reduce="max", image=1)
    for group, axes in enumerate(panels(figure)):
        assert_overlay(axes, result.picture(1, group), grid[group], grid.max())
    # Close times get the decimals that tell them apart.
    close = video_result(times=0.04)
    assert [axes.get_title().splitlines()[0] for axes in panels(frames_figure(close))] == [
        "0.00–0.04 s",
        "0.08–0.12 s",
        "0.16–0.20 s",
    ]


def test_frames_figure_groups_pick_panels_and_the_scale_follows_them():
    result = video_result(groups=5)
    figure = frames_figure(result, groups=[3, 0, -1, 0])  # in time order, each once
    shown = panels(figure)
    assert [axes.get_gid() for axes in shown] == ["group-0", "group-3", "group-4"]
    grid = result.grid(layer=-1)
    assert_overlay(shown[1], result.picture(0, 3), grid[3], grid[4].max())
    assert "video: 3 of 5 groups of 4×6 tokens" in figure.get_suptitle()
    only = panels(frames_figure(result, groups=range(0, 2)))
    for group, axes in enumerate(only):
        assert_overlay(axes, result.picture(0, group), grid[group], grid[1].max())  # the scale of those shown
    assert [axes.get_gid() for axes in panels(frames_figure(result, groups=np.int64(2)))] == ["group-2"]


def test_frames_figure_wraps_many_groups_into_rows_within_a_page():
    result = video_result(groups=20, layers=1, heads=1)
    figure = frames_figure(result)
    shown = panels(figure)
    assert len(shown) == 20
    rows = sorted({round(axes.get_position().y0, 3) for axes in shown})
    assert 2 <= len(rows) <= 3
    assert figure.get_figheight() <= 7 * 9.5 / 7 + 1e-9
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    boxes = [axes.get_window_extent(renderer) for axes in shown]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    titles = [axes.title.get_window_extent(renderer) for axes in shown]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(titles, 2))
    # Past the cap: one line saying how to choose.
    many = video_result(groups=MAX_FRAME_PANELS + 6, layers=1, heads=1)
    assert error_line(ValueError, frames_figure, many) == (
        "the video has 70 groups, and a frames figure shows at most 64 (a panel each): pick some with groups=, "
        "e.g. groups=range(0, 70, 2), or make several figures"
    )
    assert len(panels(frames_figure(many, groups=range(0, 70, 2)))) == 35


def test_frames_figure_errors_are_one_line():
    result = video_result()
    assert (
        error_line(IndexError, frames_figure, result, groups=[0, 3])
        == "group 3 is out of range: there are 3 groups, use 0..2 or -3..-1"
    )
    assert (
        error_line(IndexError, frames_figure, result, video=1)
        == "video 1 is out of range: there is 1 video, use 0..0 or -1..-1"
    )
    assert error_line(ValueError, frames_figure, result, groups=[]).startswith(
        "groups is empty: pass some group indices"
    )
    assert error_line(TypeError, frames_figure, result, groups=1.5).startswith(
        "groups must be a group index like 0, a list of them or a range, not 1.5"
    )
    assert error_line(TypeError, frames_figure, result, video="first").startswith("video must be a video index like 0")
    assert error_line(ValueError, frames_figure, result, alpha=2).startswith("alpha must be between 0")
    pictures_only = video_result().__class__(
        **{
            **result.__dict__,
            "images": (ImageGeometry(ROWS, COLS * 3, (1, 1), (COLS * 150, ROWS * 40), 0),),
            "pictures": (Image.new("RGB", (COLS * 150, ROWS * 40)),),
        }
    )
    assert error_line(ValueError, frames_figure, pictures_only) == (
        "this result has no video (it holds 1 image): frames_figure shows a video's temporal groups; for an image "
        "use layers_figure(result, image=0)"
    )


def test_frames_figure_picks_a_video_among_several():
    result = video_result(image_first=True, videos=2)
    for video, image in ((0, 1), (1, 2), (-1, 2)):
        figure = frames_figure(result, layer=0, video=video)
        grid = result.grid(layer=0, image=image)
        for group, axes in enumerate(panels(figure)):
            assert_overlay(axes, result.picture(image, group), grid[group], grid.max())
        assert f"video {image} of 2: 3 groups" in figure.get_suptitle()
    assert (
        error_line(IndexError, frames_figure, result, video=2)
        == "video 2 is out of range: there are 2 videos, use 0..1 or -2..-1"
    )
    (axes,) = [axes for axes in matrix_figure(result)[0].axes if axes.images]
    assert [label.get_text() for label in axes.child_axes[0].get_xticklabels()] == [
        "image (3×3)",
        "video 1 (3 × 4×6)",
        "video 2 (3 × 4×6)",
    ]
    images = [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "image-boundary"]
    groups = [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "group-boundary"]
    assert images == [8.5, 80.5]
    assert groups == [32.5, 56.5, 104.5, 128.5]
    assert len(axes.get_xticklabels()) == 6  # every group's time, both videos


def test_frames_figure_saves_as_png_and_pdf(tmp_path):
    figure = frames_figure(video_result(image_first=True), phrase="red cat", relative=False)
    png = save_figure(figure, tmp_path / "frames.png", dpi=60)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(png) as saved:
        assert saved.width == round(figure.get_figwidth() * 60)
    pdf = save_figure(figure, tmp_path / "frames.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]


def test_frames_figure_is_public():
    assert figures.frames_figure is frames_figure


# ----- the other figures with a video ----------------------------------------------------------------------


def test_layers_figure_of_a_video_shows_one_group():
    result = video_result(image_first=True)
    figure = layers_figure(result, layers="all", image=1, group=2)
    image_axes = [axes for axes in figure.axes if axes.images]
    original = image_axes[0]
    assert original.get_title() == "video\ngroup 3 of 3\n2.0–2.5 s"
    np.testing.assert_array_equal(original.images[0].get_array(), np.asarray(result.picture(1, 2)))
    heatmaps = [axes for axes in image_axes if axes.get_title().startswith("layer")]
    for layer, axes in enumerate(heatmaps):
        np.testing.assert_array_equal(axes.images[0].get_array(), result.grid(layer=layer, image=1)[2])
    assert "video, group 3 of 3 (2.0–2.5 s, frames 6, 8)" in figure.get_suptitle()
    # The default: the first group; the image keeps its own title.
    first = layers_figure(result, layers=0, image=-1)
    heat = next(axes for axes in first.axes if axes.get_title() == "layer 0")
    np.testing.assert_array_equal(heat.images[0].get_array(), result.grid(layer=0, image=1)[0])
    assert layers_figure(result, layers=0, image=0).axes[0].get_title() == "image"
    assert (
        error_line(IndexError, layers_figure, result, image=1, group=3)
        == "group 3 is out of range: there are 3 groups, use 0..2 or -3..-1"
    )
    assert error_line(ValueError, layers_figure, result, image=0, group=1).startswith(
        "group=1 is for videos: image 0 is a picture (one group)"
    )


def test_overlay_of_a_video_grid_asks_for_one_group():
    result = video_result()
    grid = result.grid()
    assert error_line(ValueError, overlay_on_image, result.picture(0, 1), grid).startswith(
        "grid must be one [rows, cols] map, got shape (3, 4, 6): a video's grid is"
    )
    assert overlay_on_image(result.picture(0, 1), grid[1]).size == (COLS * 50, ROWS * 40)


def test_heads_figure_of_a_video():
    result = video_result(image_first=True)
    figure = figures.heads_figure(result, image=1)
    assert figure.get_suptitle().endswith("· video")


# ----- matrix figure ---------------------------------------------------------------------------------------


def test_matrix_figure_marks_the_groups_of_a_video():
    result = video_result()
    figure, matrix = matrix_figure(result, layer=0)
    np.testing.assert_array_equal(matrix, result.maps(layer=0))
    (axes,) = [axes for axes in figure.axes if axes.images]
    lines = [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "group-boundary"]
    assert lines == [24 - 0.5, 48 - 0.5]  # between groups 0|1 and 1|2
    assert not [line for line in axes.lines if line.get_gid() == "image-boundary"]
    assert list(axes.get_xticks()) == [11.5, 35.5, 59.5]  # the groups' middles
    assert [label.get_text() for label in axes.get_xticklabels()] == ["0.0–0.5 s", "1.0–1.5 s", "2.0–2.5 s"]
    assert axes.get_xlabel().startswith("video tokens (3 groups of 4 × 6")


def test_matrix_figure_marks_groups_after_an_image():
    result = video_result(image_first=True)
    figure, _ = matrix_figure(result)
    (axes,) = [axes for axes in figure.axes if axes.images]
    groups = [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "group-boundary"]
    images = [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "image-boundary"]
    assert images == [9 - 0.5] and groups == [9 + 24 - 0.5, 9 + 48 - 0.5]
    (top,) = axes.child_axes
    assert [label.get_text() for label in top.get_xticklabels()] == ["image (3×3)", "video (3 × 4×6)"]
    assert axes.get_xlabel() == "image and video tokens (ticks: the video groups' times)"


def test_matrix_figure_thins_group_labels_and_lines_where_there_is_no_room():
    result = video_result(groups=60, layers=1, heads=1)
    figure, _ = matrix_figure(result)
    (axes,) = [axes for axes in figure.axes if axes.images]
    labels = [label.get_text() for label in axes.get_xticklabels()]
    assert 3 <= len(labels) < 60 and labels[0] == "0.0 s"  # start times only, every few groups
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    boxes = [label.get_window_extent(canvas.get_renderer()) for label in axes.get_xticklabels()]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    lines = [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "group-boundary"]
    assert 0 < len(lines) <= 59 and all((x + 0.5) % 24 == 0 for x in lines)


# ----- a real capture ----------------------------------------------------------------------------------------


def test_figures_of_a_real_video_capture(tiny_models):
    """The tiny Qwen2-VL model reads an image, then 6 frames (3 temporal groups): every figure draws it."""
    frames = np.random.default_rng(0).integers(0, 256, size=(6, 64, 64, 3), dtype=np.uint8)
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(56, 70, 3), dtype=np.uint8))
    result = tiny_models["qwen2_vl"].capture([image, Video(frames)], "What happens in the clip?")
    video = result.images[1]
    assert video.kind == "video" and video.groups == 3
    figure = frames_figure(result, phrase="clip")
    grid = result.grid(phrase="clip", image=1)
    shown = panels(figure)
    assert len(shown) == 3
    for group, axes in enumerate(shown):
        assert_overlay(axes, result.picture(1, group), grid[group], grid.max())
        assert (
            axes.get_title().splitlines()[0] == f"{video.group_times[group][0]:.1f}–{video.group_times[group][1]:.1f} s"
        )
    heat = next(axes for axes in layers_figure(result, layers=-1, image=1, group=1).axes if axes.get_title())
    assert heat.get_title().startswith("video\ngroup 2 of 3\n")
    (axes,) = [axes for axes in matrix_figure(result)[0].axes if axes.images]
    lines = [line.get_xdata()[0] for line in axes.lines if line.get_gid() == "group-boundary"]
    assert lines == [video.first_column + group * video.tokens_per_group - 0.5 for group in (1, 2)]
