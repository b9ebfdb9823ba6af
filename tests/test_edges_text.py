"""Issue EDGES, silent wrong results in text: control characters in every output, phrases in multi-byte and
normalised text, duplicate layer and head lists, the HTML size limit, the demo helpers' maps."""

from __future__ import annotations

import re
import unicodedata
import warnings
import xml.dom.minidom

import numpy as np
import pytest
from browser_support import WidgetPage, synthetic_answer_result
from matplotlib.figure import Figure
from matplotlib.text import Text
from test_cli import no_loading, run_cli  # noqa: F401 (no_loading: a fixture)
from test_html import embedded_header

from qvl_widget import cli
from qvl_widget._figures import figure_bytes, heads_figure, layers_figure, matrix_figure
from qvl_widget._text import visible

# Each one makes an SVG invalid XML (or a glyph no font has); tab and line breaks are whitespace and stay.
CONTROLS = ["\x1b", "\x00", "\x0b", "\x0c", "\x7f", "\x85", "\ufffe"]


def control_result():
    """A result whose prompt and answer tokens hold the control characters."""
    prompt = ("Wh\x1bere", " is\x00", " the\x0b", " red\x0c", " cat\x7f", "?\x85\ufffe", "<|im_end|>")
    return synthetic_answer_result(texts=prompt, answer_texts=("A\x1b", " red\x00", " cat\x0c"))


def drawn_texts(figure: Figure) -> list[str]:
    figure.canvas.draw()  # tick labels are made at drawing time
    return [text.get_text() for text in figure.findobj(Text)]


def all_figures(result) -> list[Figure]:
    return [layers_figure(result, token=0), heads_figure(result), matrix_figure(result)[0]]


@pytest.mark.parametrize("file_format", ["svg", "pdf", "png"])
def test_control_characters_are_drawn_as_escapes_in_every_figure_format(file_format):
    for figure in all_figures(control_result()):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # matplotlib warns of each glyph its fonts lack
            data = figure_bytes(figure, file_format)
        if file_format == "svg":
            xml.dom.minidom.parseString(data)  # raises on a character XML forbids
        texts = "".join(drawn_texts(figure))
        assert not any(control in texts for control in CONTROLS)
        assert "\\x1b" in texts or "\\x00" in texts


def test_the_escape_rule():
    assert visible("a\x1bb\x00c\x0b\x0c\x7f\x85\ufffe\uffff") == "a\\x1bb\\x00c\\x0b\\x0c\\x7f\\x85\\ufffe\\uffff"
    assert visible("tab\t line\n cr\r café 日本 😀") == "tab\t line\n cr\r café 日本 😀"


def test_titles_and_box_labels_of_your_own_are_drawn_with_escapes():
    result = control_result()
    figure = layers_figure(result, token=0, title="mine\x1b", boxes=[(0, 0, 50, 40, "cat\x00"), (60, 0, 100, 40)])
    texts = "".join(drawn_texts(figure))
    assert "mine\\x1b" in texts and "cat\\x00" in texts
    xml.dom.minidom.parseString(figure_bytes(figure, "svg"))


def test_the_command_line_prints_the_answer_with_escapes(capsys):
    cli.print_answer(control_result())
    out = capsys.readouterr().out
    assert "answer: A\\x1b red\\x00 cat\\x0c" in out and "\x1b" not in out


def test_the_html_page_holds_only_ascii_and_line_breaks_and_its_data_every_character(tmp_path):
    result = control_result()
    path = result.to_html(tmp_path / "page.html")
    page = path.read_bytes()
    assert all(byte in b"\n\t" or 0x20 <= byte < 0x7F for byte in page.split(b'<script type="module">')[0])
    # The page's data (JSON, then base64) holds the texts as they are: the view shows them, escaped, from there.
    embedded = embedded_header(path)["state"]["tokens"]
    assert [token["text"] for token in embedded] == [token.text for token in result.tokens]


@pytest.mark.browser
def test_the_page_and_the_widget_show_control_characters_as_their_escapes(offline_page, page, tmp_path):
    result = control_result()
    html, _ = offline_page
    html.goto(result.to_html(tmp_path / "page.html").as_uri())
    html.locator(".qvl-token").first.wait_for()
    WidgetPage(page, [result.widget()])
    expected = [visible(token.text) or "∅" for token in result.tokens]
    for view in (html, page):
        shown = view.evaluate("[...document.querySelectorAll('.qvl-token')].map((chip) => chip.textContent)")
        assert shown == expected
        assert "Wh\\x1bere" in shown and not any(control in "".join(shown) for control in CONTROLS)


@pytest.mark.parametrize("mib", ["1e-9", "0.0000001", "0.01"])
@pytest.mark.usefixtures("no_loading")
def test_an_html_limit_smaller_than_any_page_is_refused_before_loading(mib, tmp_path, capsys):
    code, _, stderr = run_cli(["demo", "--html-max-mib", mib, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"argument --html-max-mib: size '{mib}' is smaller than any page" in stderr
    assert "pass at least" in stderr and not (tmp_path / "o").exists()


def test_an_html_limit_of_a_page_and_more_is_taken_as_it_is():
    from qvl_widget._html import smallest_page_bytes

    mib = str(2 * smallest_page_bytes() / 2**20)
    assert cli.build_parser().parse_args(["demo", "--html-max-mib", mib]).html_max_mib == float(mib)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (np.ones((2, 2)), "must be the example's token grid, 8 x 8 numbers (its 224 x 224 picture in 28-pixel cells), "
         "not an array of shape (2, 2)"),
        (np.full((8, 8), np.nan), "the map holds 64 NaN and 0 infinite values"),
        (np.where(np.eye(8) > 0, np.inf, 0.0), "the map holds 0 NaN and 8 infinite values"),
        (np.full((8, 8), "a"), "not an array of shape (8, 8)"),
        ("map", "not str"),
    ],
)  # fmt: skip
def test_the_demo_pointing_check_refuses_a_map_that_is_not_the_examples(grid, message):
    from qvl_widget import demo

    example = demo.make_example(0)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        demo.points_at_named(grid, example)
    assert "\n" not in str(error.value)
    assert demo.points_at_named(np.ones((8, 8)), example) in (True, False)  # the right grid is still read


def test_a_layer_or_head_named_twice_counts_once_in_every_view():
    from qvl_widget._view_state import ViewState

    result = control_result()
    once = result.grid(layer=[0, 1], head=[0, 1])
    np.testing.assert_array_equal(result.grid(layer=[0, 1, 1, -1], head=[0, 0, 1, -1]), once)
    np.testing.assert_array_equal(result.grid(layer=[1, -1], head=[0, -2]), result.grid(layer=1, head=0))
    state = ViewState.of(result, layer=[0, 1, 1], head=[1, -1, 0])
    assert (state.layer, state.head) == ("mean", "mean")  # all of them, as the grid
    assert "mean of heads 0, 1" in "".join(drawn_texts(matrix_figure(result, head=[0, 1, 1, 0])[0]))


@pytest.mark.parametrize("form", ["NFC", "NFD"])
@pytest.mark.parametrize("typed", ["NFC", "NFD"])
def test_a_phrase_is_found_in_either_normal_form_and_selects_its_tokens(form, typed):
    cafe = unicodedata.normalize(form, "café")
    result = synthetic_answer_result(texts=("A", f" {cafe[:3]}", cafe[3:], " here", "<|im_end|>"))
    assert result.prompt == f"A {cafe} here"
    assert result.token_indices(unicodedata.normalize(typed, "café")) == [1, 2]
    assert result.token_indices(unicodedata.normalize(typed, "CAFÉ here")) == [1, 2, 3]
    with pytest.raises(ValueError, match="is not in the prompt"):
        result.token_indices("cafe")  # an accent is a letter: no match without it


MULTI_BYTE = "猫 مرحبا café 🐱 ok"


def test_a_generated_character_split_over_byte_tokens_belongs_to_each_of_them(tiny_models):
    """A character the tokenizer splits into byte-level tokens: every one of them carries it, in a generated
    answer as in the same text given as an answer (where the tokenizer's offsets say so), so a phrase over it
    selects the same positions, the step that began the character included."""
    import torch

    from qvl_widget._answer import Answer, answer_tokens

    tokenizer = tiny_models["qwen2_vl"].processor.tokenizer
    ids = tokenizer(MULTI_BYTE, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(MULTI_BYTE)  # some characters are split over several tokens
    answer = Answer(torch.tensor(ids), np.full(len(ids), 0.5))
    generated_text, generated = answer_tokens(tokenizer, answer, set())
    given_text, given = answer_tokens(tokenizer, answer, set(), given=MULTI_BYTE)
    assert generated_text == given_text == {"answer": MULTI_BYTE}
    assert [(token.start, token.end) for token in generated] == [(token.start, token.end) for token in given]
    assert all(token.end > token.start for token in generated)  # no token of the text is zero-width
    cat = [position for position, token in enumerate(generated) if token.start == 0]
    assert len(cat) == len(tokenizer.encode("猫", add_special_tokens=False)) > 1
    assert all(generated[position].text == "猫" for position in cat)


def test_an_nfd_prompt_labels_its_tokens_with_the_characters_they_carry(tiny_models):
    """Qwen's tokenizer reads text in NFC: in an NFD prompt (a macOS copy) "e" + a combining accent is one
    character's bytes, and the tokenizer gives its tokens the span of the "e" alone. They are labelled with both
    characters, and an NFC phrase finds them; a given answer in NFD too."""
    from PIL import Image

    nfd = unicodedata.normalize("NFD", "un café noir")
    model = tiny_models["qwen2_vl"]
    result = model.capture(Image.new("RGB", (56, 56), "red"), nfd, answer=nfd)
    for part in ("prompt", "answer"):
        spans = {(token.start, token.end): token.text for token in result.tokens if token.part == part and token.end}
        assert "".join(spans[span] for span in sorted(spans)) == nfd, part  # every character, the accent too
        carrying = [token for token in result.tokens if token.part == part and "\u0301" in token.text]
        assert carrying and all(token.text == "e\u0301" for token in carrying)
    selected = result.token_indices("café")  # typed in NFC
    assert any("\u0301" in result.tokens[index].text for index in selected)
