"""An example picture for any model: a drawn red cat beside a blue box and a green ball.

Not one of the demo model's scenes: that model knows only coloured shapes (circle, square, triangle, cross) and
their colours, not cats; its scenes are `qvl_widget.demo.make_example(seed)`."""

from __future__ import annotations

from PIL import Image, ImageDraw

EXAMPLE_PROMPT = "Where is the red cat on the image?"
EXAMPLE_PHRASE = "red cat"


def example_image(width: int = 448, height: int = 336) -> Image.Image:
    """An example picture for any model (a real Qwen-VL model, or the tiny test models): a drawn red cat in the left
    third, a blue box and a green ball on the right. Not a scene of the demo model (`qvl_widget.demo`), which
    knows only coloured shapes: its scenes are `qvl_widget.demo.make_example(seed)`."""
    image = Image.new("RGB", (width, height), (236, 230, 214))
    draw = ImageDraw.Draw(image)
    scale_x, scale_y = width / 448, height / 336

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y)

    def points(*xy: tuple[float, float]) -> list[tuple[float, float]]:
        return [(x * scale_x, y * scale_y) for x, y in xy]

    red = (200, 40, 40)
    draw.rectangle(box(0, 260, 448, 336), fill=(180, 170, 150))  # floor
    draw.ellipse(box(50, 170, 170, 270), fill=red)  # body
    draw.ellipse(box(100, 110, 170, 180), fill=red)  # head
    draw.polygon(points((104, 130), (110, 92), (128, 118)), fill=red)  # ears
    draw.polygon(points((142, 118), (162, 92), (166, 132)), fill=red)
    draw.line(points((58, 250), (24, 200), (30, 160)), fill=red, width=max(1, round(10 * scale_x)))  # tail
    draw.rectangle(box(270, 170, 370, 270), fill=(40, 80, 200))  # box
    draw.ellipse(box(385, 215, 435, 265), fill=(40, 160, 70))  # ball
    return image


def example_cat_box(width: int = 448, height: int = 336) -> tuple[float, float, float, float]:
    """The cat's bounding box `(x0, y0, x1, y1)` in the pixels of `example_image(width, height)`."""
    return (24 * width / 448, 92 * height / 336, 170 * width / 448, 270 * height / 336)
