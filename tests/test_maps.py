"""Maps that mean something: units, head summaries, baseline-relative maps and visual sinks, each checked against a
direct numpy computation; the capture of baselines and sink scores on the tiny models, outputs unchanged."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch
from browser_support import synthetic_answer_result, synthetic_result
from PIL import Image
from test_capture import PROMPT, noise_image, request_for
from test_html import embedded_container
from test_result_files import (
    VIDEO_KEYS,
    members_of,
    metadata_of,
    npy,
    npy_header,
    refused,
    stored,
    with_metadata,
    write_zip,
)

import qvl_widget
from qvl_widget import AttentionResult, figures
from qvl_widget._capture import SinkScores, capturing, recording_sink_scores
from qvl_widget._figures import _ValueTicks
from qvl_widget._payload import decode_heads, decode_maps, encode_heads, payload_key
from qvl_widget._result import BASELINE_PROMPT, RELATIVE_FLOOR, SINK_TAU
from qvl_widget._view_state import ViewState
from qvl_widget.testing import TINY_FAMILIES, build_processor, build_tokenizer

# (layer, head, reduce) choices: one head, a head list, the head max, every layer's head mean.
CHOICES = [(1, 0, "mean"), (-1, [0, 1], "max"), ([0, 2], "max", "mean"), ("mean", "mean", "mean")]


def with_extras(result: AttentionResult, seed: int = 0, zero_cells: int = 0) -> AttentionResult:
    """`result` with a random baseline (its first `zero_cells` image tokens 0 in every head) and sink scores that
    flag different tokens in each layer (token 1 in layer 0; tokens 0 and 3 in layer 1; none in layer 2, whose
    tokens 4 and 5 score 20 and 19.5)."""
    rng = np.random.default_rng(seed)
    layers, heads, _, columns = result.attention.shape
    baseline = rng.dirichlet(np.ones(columns), size=(layers, heads)).astype(np.float32) * 0.7
    baseline[:, :, :zero_cells] = 0
    scores = rng.uniform(0, 10, size=(layers, columns)).astype(np.float32)
    scores[0, 1] = 25
    if layers > 2:
        scores[1, [0, 3]] = [21, 400]
        scores[2, [4, 5]] = [20, 19.5]  # at and under tau: not sinks (a sink's score exceeds tau)
    return dataclasses.replace(result, baseline_attention=baseline, baseline_prompt=BASELINE_PROMPT, sink_scores=scores)


@pytest.fixture(scope="module")
def result() -> AttentionResult:
    return with_extras(synthetic_result(layers=3, heads=3, grids=((4, 6), (3, 3))), zero_cells=2)


def combined(values: np.ndarray, layer, head, reduce: str) -> np.ndarray:
    """The meaning of a layer/head choice, spelt out: `values[layers, heads, ...]` -> heads, then layers."""
    count_layers, count_heads = values.shape[:2]
    layers = range(count_layers) if layer in ("mean", "max", "all") else np.atleast_1d(np.arange(count_layers)[layer])
    heads = range(count_heads) if head in ("mean", "max", "all", None) else np.atleast_1d(np.arange(count_heads)[head])
    chosen = values[np.ix_(list(layers), list(heads))].astype(np.float64)
    over_heads = head if head in ("mean", "max") else reduce
    over_layers = layer if layer in ("mean", "max") else reduce
    chosen = chosen.mean(axis=1) if over_heads == "mean" else chosen.max(axis=1)
    return chosen.mean(axis=0) if over_layers == "mean" else chosen.max(axis=0)


def dropped(values: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Sinks dropped the slow way: per layer, head and row, flagged columns 0, the rest rescaled to the row's total."""
    out = values.astype(np.float64).copy()
    for layer, head, row in np.ndindex(*out.shape[:3]):
        flagged = scores[layer] > SINK_TAU
        total = out[layer, head, row].sum()
        kept = np.where(flagged, 0.0, out[layer, head, row])
        out[layer, head, row] = kept * (total / kept.sum()) if kept.sum() > 0 else 0.0
    return out


# ----- 0. units ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("layer", "head", "reduce"), CHOICES)
def test_uniform_unit_is_probability_times_the_image_tokens(result, layer, head, reduce):
    columns = result.attention.shape[-1]
    expected = combined(result.attention, layer, head, reduce) * columns
    np.testing.assert_allclose(result.maps(layer, head, reduce, unit="uniform"), expected, rtol=1e-5)
    grid = result.grid(token=[2, 3], layer=layer, head=head, reduce=reduce, image=1, unit="uniform")
    np.testing.assert_allclose(grid.ravel(), expected[[2, 3]][:, result.images[1].columns].mean(axis=0), rtol=1e-5)
    # An even spread is 1 in this unit, whatever the number of image tokens.
    even = dataclasses.replace(result, attention=np.full_like(result.attention, 1 / columns))
    np.testing.assert_allclose(even.grid(unit="uniform"), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ([0.0, 2e-5, 4e-5, 6e-5], ["0.000%", "0.002%", "0.004%", "0.006%"]),
        ([0.0, 0.0001, 0.0002], ["0.00%", "0.01%", "0.02%"]),
        ([0.0, 0.25, 0.5], ["0%", "25%", "50%"]),
        ([6.1035e-5], ["0.0061%"]),  # one tick: two significant digits of it
        ([3e-15, 6e-15], ["3e-13%", "6e-13%"]),
    ],
)
def test_colour_bar_labels_keep_significant_digits_at_tiny_probabilities(values, labels):
    assert _ValueTicks(percent=True).format_ticks(values) == labels


def test_figures_show_the_unit_on_their_colour_bar(result):
    figure = figures.layers_figure(result, layers=[-1], unit="uniform")
    columns = result.attention.shape[-1]
    assert figure.axes[-1].get_ylabel().replace("\n", " ") == f"× uniform: share × {columns} image tokens (1 = even)"
    ticks = figure.axes[-1].yaxis.get_major_formatter().format_ticks([0.0, 0.5, 1.0])
    assert ticks == ["0.0", "0.5", "1.0"]  # plain numbers, not percentages
    _, matrix = figures.matrix_figure(result, unit="uniform")
    np.testing.assert_allclose(matrix, result.maps(unit="uniform"))
    with pytest.raises(ValueError, match=r"^unit must be 'probability' .* or 'uniform' .*, not 'percent'$"):
        result.grid(unit="percent")
    with pytest.raises(ValueError, match="^unit must be"):
        figures.layers_figure(result, unit="percent")


# ----- 1. heads ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image", [None, 1])
def test_head_summary_is_each_heads_image_share_and_normalized_spatial_entropy(result, image):
    summary = result.head_summary(token=[1, 4], image=image)
    columns = slice(None) if image is None else result.images[image].columns
    for layer, head in np.ndindex(result.num_layers, result.num_heads):
        rows = result.attention[layer, head][[1, 4]][:, columns].astype(np.float64)
        mass = rows.sum(axis=1).mean() if image is not None else result.image_mass[layer, head, [1, 4]].mean()
        entropies = []
        for row in rows:
            p = row / row.sum()
            entropies.append(-(p[p > 0] * np.log(p[p > 0])).sum() / np.log(p.size))
        entropy = np.mean(entropies)
        assert summary.image_mass[layer, head] == pytest.approx(mass, rel=1e-6)
        assert summary.spatial_entropy[layer, head] == pytest.approx(entropy, rel=1e-6)
    assert summary.layer_ids == result.layer_ids and summary.tokens == (1, 4)


def test_spatial_entropy_is_0_on_one_cell_1_when_even_and_nan_without_mass(result):
    attention = np.zeros_like(result.attention)
    attention[0, 0, :, 5] = 0.5  # head (0, 0): one cell
    attention[0, 1] = 0.5 / attention.shape[-1]  # head (0, 1): even
    # every other head: no mass at all
    summary = dataclasses.replace(result, attention=attention).head_summary(phrase="red")
    assert summary.spatial_entropy[0, 0] == 0 and summary.spatial_entropy[0, 1] == pytest.approx(1.0)
    assert np.isnan(summary.spatial_entropy[1:]).all()


def test_spatial_entropy_averages_each_tokens_entropy_not_the_mean_maps(result):
    """Two tokens, each on its own cell: the head is focused (0), though their mean map has two cells (log 2)."""
    attention = np.zeros_like(result.attention)
    attention[:, :, 1, 0] = 0.5
    attention[:, :, 4, 7] = 0.5
    attention[:, :, 2] = 0.0  # token 2 has no image mass: left out of the mean
    summary = dataclasses.replace(result, attention=attention).head_summary(token=[1, 2, 4])
    np.testing.assert_array_equal(summary.spatial_entropy, 0.0)


def test_head_summary_of_producing_steps_uses_the_rows_before(tiny_models):
    answered = synthetic_answer_result()
    tokens = [len(answered.tokens) - 2, len(answered.tokens) - 1]
    summary = answered.head_summary(token=tokens, producing=True)
    rows = answered.producing_rows(tokens)
    np.testing.assert_allclose(summary.image_mass, answered.image_mass[:, :, rows].mean(axis=-1), rtol=1e-6)
    assert summary.tokens == tuple(tokens) and summary.producing


def test_heads_figure_draws_both_grids_named_by_decoder_layer(result, tmp_path):
    hybrid = dataclasses.replace(result, layer_ids=(3, 7, 11))
    figure = figures.heads_figure(hybrid, phrase="red cat")
    mass, focus = (axes.get_images()[0].get_array() for axes in figure.axes[::2][:2])
    summary = hybrid.head_summary(phrase="red cat")
    np.testing.assert_allclose(mass, summary.image_mass)
    np.testing.assert_allclose(focus, 1 - summary.spatial_entropy)  # bright: focused, on the same colours as mass
    assert figure.axes[2].images[0].cmap.name == figure.axes[0].images[0].cmap.name
    assert [axes.get_title() for axes in figure.axes[::2][:2]] == [
        "attention on the image",
        "focus (1: one cell, 0: even)",
    ]
    bars = [axes.get_ylabel().replace("\n", " ") for axes in figure.axes[1::2][:2]]
    assert bars == ["share of the tokens' attention (mean)", "1 − spatial entropy"]
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["3", "7", "11"]
    assert "“red cat” in the prompt" in figure.get_suptitle()
    figures.save_figure(figure, tmp_path / "heads.pdf")


# ----- 2. baseline-relative maps -------------------------------------------------------------------------------


@pytest.mark.parametrize(("layer", "head", "reduce"), CHOICES)
def test_relative_maps_divide_by_the_baselines_map_for_the_same_choice(result, layer, head, reduce):
    columns = result.attention.shape[-1]
    floor = RELATIVE_FLOOR / columns
    baseline = np.maximum(combined(result.baseline_attention, layer, head, reduce), floor)
    expected = combined(result.attention, layer, head, reduce) / baseline
    np.testing.assert_allclose(result.maps(layer, head, reduce, relative=True), expected, rtol=1e-5)
    # A ratio: the same in either unit. grid: the tokens' mean map over the baseline's.
    np.testing.assert_allclose(result.maps(layer, head, reduce, relative=True, unit="uniform"), expected, rtol=1e-5)
    grid = result.grid(phrase="red cat", layer=layer, head=head, reduce=reduce, relative=True)
    rows = result.token_indices("red cat")
    plain = combined(result.attention, layer, head, reduce)[rows].mean(axis=0) / baseline
    np.testing.assert_allclose(grid.ravel(), plain[result.images[0].columns], rtol=1e-5)


def test_a_near_zero_baseline_divides_by_the_floor_not_by_zero(result):
    maps = result.maps(layer=0, head=0, relative=True)
    assert np.isfinite(maps).all()
    columns = result.attention.shape[-1]
    # The first two image tokens have a zero baseline: their ratio is the map over 1% of an even share.
    np.testing.assert_allclose(maps[:, :2], result.maps(layer=0, head=0)[:, :2] / (RELATIVE_FLOOR / columns), rtol=1e-6)


def test_relative_and_drop_sinks_together_drop_the_sinks_from_both(result):
    expected = combined(dropped(result.attention, result.sink_scores), 1, "mean", "mean")
    baseline = combined(dropped(result.baseline_attention[:, :, None], result.sink_scores)[:, :, 0], 1, "mean", "mean")
    floor = RELATIVE_FLOOR / result.attention.shape[-1]
    maps = result.maps(layer=1, head="mean", relative=True, drop_sinks=True)
    np.testing.assert_allclose(maps, expected / np.maximum(baseline, floor), rtol=1e-5)


def test_figures_divide_by_the_baseline_and_say_so(result):
    figure = figures.layers_figure(result, layers=[0, 1], relative=True, drop_sinks=True)
    # A line each, below the tokens' and heads' line: joined, they would pass the figure's width.
    lines = figure.get_suptitle().splitlines()
    assert lines[-2:] == ["÷ baseline “Write a general description of the image.”", "visual sinks dropped (τ = 20)"]
    assert figure.axes[-1].get_ylabel() == "share ÷ the baseline's share"
    drawn, matrix = figures.matrix_figure(result, relative=True, drop_sinks=True)
    np.testing.assert_allclose(matrix, result.maps(relative=True, drop_sinks=True))
    title = next(axes for axes in drawn.axes if axes.images).get_title().splitlines()
    assert title[1:] == ["÷ baseline “Write a general description of the image.”", "visual sinks dropped (τ = 20)"]


# ----- 3. visual sinks -----------------------------------------------------------------------------------------


def test_sinks_are_the_image_tokens_scoring_over_tau(result):
    assert result.sinks(0).tolist() == [1]
    assert result.sinks(1).tolist() == [0, 3]
    assert result.sinks(-1).tolist() == []
    assert result.sinks(1, tau=100).tolist() == [3]
    assert result.sinks(2, tau=19).tolist() == [4, 5]
    for tau in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="^tau must be a positive number"):
            result.sinks(0, tau=tau)


@pytest.mark.parametrize(("layer", "head", "reduce"), CHOICES)
def test_drop_sinks_zeroes_each_layers_sinks_and_keeps_each_rows_total(result, layer, head, reduce):
    expected = combined(dropped(result.attention, result.sink_scores), layer, head, reduce)
    maps = result.maps(layer, head, reduce, drop_sinks=True)
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-8)
    one = result.maps(layer=1, head=2, drop_sinks=True)
    assert (one[:, [0, 3]] == 0).all()
    np.testing.assert_allclose(one.sum(axis=1), result.maps(layer=1, head=2).sum(axis=1), rtol=1e-5)
    assert result.maps(layer=2, drop_sinks=True) == pytest.approx(result.maps(layer=2))  # no sinks there


def test_a_row_whose_image_share_is_all_on_sinks_becomes_zero(result):
    attention = np.zeros_like(result.attention)
    attention[1, :, :, 3] = 0.6  # layer 1's sink
    maps = dataclasses.replace(result, attention=attention).maps(layer=1, drop_sinks=True)
    assert np.isfinite(maps).all() and (maps == 0).all()


# ----- 5. bad input --------------------------------------------------------------------------------------------


def test_views_without_what_they_need_say_how_to_capture_it(tmp_path):
    plain = synthetic_result()
    with pytest.raises(ValueError, match=r"^relative=True .* has none: capture it with .*baseline=True"):
        plain.grid(relative=True)
    with pytest.raises(ValueError, match=r"^drop_sinks=True needs .* sink scores.*sink_scores=True\)$"):
        plain.maps(drop_sinks=True)
    with pytest.raises(ValueError, match=r"^this result has no sink scores"):
        plain.sinks(0)
    with pytest.raises(ValueError, match=r"^relative=True"):
        figures.layers_figure(plain, relative=True)
    with pytest.raises(TypeError, match="^relative must be True or False, not 'yes'$"):
        plain.grid(relative="yes")
    with pytest.raises(ValueError, match="baseline_attention and baseline_prompt go together"):
        dataclasses.replace(plain, baseline_prompt="x")


@pytest.mark.parametrize(
    ("option", "value", "error", "message"),
    [
        (
            "relative",
            True,
            ValueError,
            r"^relative=True divides by a baseline's map, and this result has none: capture",
        ),
        (
            "drop_sinks",
            True,
            ValueError,
            r"^drop_sinks=True needs the image tokens' sink scores, .*sink_scores=True\)$",
        ),
        ("mark_sinks", True, ValueError, r"^mark_sinks=True needs the image tokens' sink scores"),
        ("relative", "yes", TypeError, r"^relative must be True or False, not 'yes'$"),
        ("unit", "percent", ValueError, r"^unit must be 'probability' .* or 'uniform'"),
        ("head_overview", "grid", ValueError, r"^head_overview must be 'off', 'mass' .* or 'focus' .*, not 'grid'$"),
    ],
)
def test_views_refuse_what_the_result_cannot_show_in_one_line(option, value, error, message, tmp_path):
    plain = synthetic_result()
    for make in (
        lambda: plain.widget(**{option: value}),
        lambda: plain.to_html(tmp_path / "x.html", **{option: value}),
    ):
        with pytest.raises(error, match=message) as info:
            make()
        assert "\n" not in str(info.value)
    widget = plain.widget()
    with pytest.raises(error, match=message):
        setattr(widget, option, value)
    assert getattr(widget, option) == ViewState.of(plain).fields()[option]  # the refused value never lands
    assert list(tmp_path.iterdir()) == []  # nothing half-written


# ----- the views: widget and HTML page ---------------------------------------------------------------------------


def test_view_state_names_the_baseline_and_each_layers_sinks(result):
    state = ViewState.of(result, unit="uniform", relative=True, drop_sinks=True, mark_sinks=True, head_overview="focus")
    assert state.baseline_prompt == BASELINE_PROMPT
    assert state.sinks == [result.sinks(layer).tolist() for layer in range(result.num_layers)] == [[1], [0, 3], []]
    assert (state.unit, state.relative, state.drop_sinks, state.mark_sinks) == ("uniform", True, True, True)
    plain = ViewState.of(synthetic_result())
    assert plain.baseline_prompt is None and plain.sinks is None and plain.head_overview == "off"


def test_payload_keys_name_the_variant_as_the_front_end_does():
    assert payload_key(3, "mean") == "3|mean"
    assert payload_key([1, 2], 4, relative=True, drop_sinks=True) == "1,2|4|relative|drop_sinks"  # js/tests too


@pytest.mark.parametrize(("relative", "drop_sinks"), [(True, False), (False, True), (True, True)])
def test_the_widget_sends_relative_and_sink_free_maps(result, relative, drop_sinks):
    widget = result.widget(layer=1, head="mean")
    plain = widget.maps_payload
    widget.relative, widget.drop_sinks = relative, drop_sinks
    maps, mass = decode_maps(widget.maps_payload)
    expected = result.maps(1, "mean", relative=relative, drop_sinks=drop_sinks)
    np.testing.assert_allclose(maps, expected, atol=expected.max(axis=1, keepdims=True).max() / 255 + 1e-7)
    assert not np.allclose(maps, decode_maps(plain)[0], atol=1e-3)  # the variant is not the plain map
    np.testing.assert_allclose(mass, result.image_mass[1].mean(axis=0), rtol=1e-6)  # the raw image share
    widget.relative = widget.drop_sinks = False
    assert widget.maps_payload == plain


def test_the_head_overview_data_is_sent_once_when_first_shown(result):
    widget = result.widget()
    assert widget.heads_payload == b""  # off: no pass over the tensor
    widget.head_overview = "mass"
    mass, entropy = decode_heads(widget.heads_payload)
    np.testing.assert_allclose(mass, result.image_mass, atol=result.image_mass.max() / 255 + 1e-7)
    for layer, head in np.ndindex(result.num_layers, result.num_heads):
        rows = result.attention[layer, head].astype(np.float64)
        p = rows / rows.sum(axis=1, keepdims=True)
        direct = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(axis=1) / np.log(rows.shape[1])
        np.testing.assert_allclose(entropy[layer, head], direct, atol=0.5 / 254 + 1e-9)
    sent = widget.heads_payload
    widget.head_overview = "focus"
    assert widget.heads_payload is sent
    # What the overview shows for some tokens is what head_summary says, within the quantisation.
    summary = result.head_summary(token=[1, 4])
    np.testing.assert_allclose(mass[:, :, [1, 4]].mean(axis=-1), summary.image_mass, atol=1 / 255)
    np.testing.assert_allclose(entropy[:, :, [1, 4]].mean(axis=-1), summary.spatial_entropy, atol=1 / 254)
    assert result.widget(head_overview="focus").heads_payload == sent  # asked for at the start: sent at once


def test_a_row_without_image_mass_has_no_entropy_in_the_overview(result):
    attention = result.attention.copy()
    attention[0, 1, 2] = 0
    _, entropy = decode_heads(encode_heads(dataclasses.replace(result, attention=attention)))
    assert np.isnan(entropy[0, 1, 2]) and not np.isnan(entropy[0, 1, 3]) and not np.isnan(entropy[1, 1, 2])


def test_the_page_embeds_each_variant_its_switches_show_and_the_head_overview(result, tmp_path):
    header, blob = embedded_container(result.to_html(tmp_path / "all.html", layers=[1], heads=["mean", 0], layer=1))
    keys = {
        f"1|{head}{flags}"
        for head in ("mean", "0")
        for flags in ("", "|relative", "|drop_sinks", "|relative|drop_sinks")
    }
    assert set(header["payloads"]) == keys
    for key in keys:
        relative, drop_sinks = "|relative" in key, "|drop_sinks" in key
        head = "mean" if "mean" in key else 0
        expected = result.maps(1, head, relative=relative, drop_sinks=drop_sinks)
        np.testing.assert_allclose(
            decode_maps(blob(header["payloads"][key]))[0], expected, atol=expected.max() / 255 + 1e-7
        )
    assert blob(header["heads"]) == encode_heads(result)
    # A result without a baseline or sinks embeds its plain maps only; layers without sinks share one blob.
    plain_header, _ = embedded_container(
        synthetic_result().to_html(tmp_path / "plain.html", layers=[1], heads=["mean"], layer=1)
    )
    assert set(plain_header["payloads"]) == {"1|mean"}
    header, _ = embedded_container(result.to_html(tmp_path / "two.html", layers=[2], heads=["mean"], layer=2))
    assert header["payloads"]["2|mean|drop_sinks"] == header["payloads"]["2|mean"]  # layer 2 has no sinks


@pytest.mark.parametrize("sinks", [True, False])
def test_the_page_opens_on_a_map_it_embeds(sinks, result, tmp_path):
    """Every view a page may open on has its maps in it: asked to drop sinks where no layer has one (sink scores,
    all under the threshold: the demo model's), it opens on the plain maps, which are the same."""
    shown = result if sinks else dataclasses.replace(result, sink_scores=np.zeros_like(result.sink_scores))
    for relative, drop_sinks in [(False, False), (True, False), (False, True), (True, True)]:
        path = shown.to_html(tmp_path / "page.html", layer=1, relative=relative, drop_sinks=drop_sinks)
        header, _ = embedded_container(path)
        state = header["state"]
        assert (state["relative"], state["drop_sinks"]) == (relative, drop_sinks and sinks)
        assert payload_key(state["layer"], state["head"], relative, state["drop_sinks"]) in header["payloads"]


@pytest.mark.parametrize(
    ("baseline", "error", "message"),
    [
        ("", ValueError, r"^baseline is empty: pass baseline=True for the generic prompt 'Write a general"),
        ("   ", ValueError, r"^baseline is empty"),
        (3, TypeError, r"^baseline must be True \(the generic prompt .*\), a prompt of your own or None, not int 3$"),
    ],
)
def test_a_bad_baseline_is_refused_in_one_line_before_the_model_runs(qwen2, baseline, error, message, monkeypatch):
    monkeypatch.setattr(qwen2, "capture_prepared", lambda *a, **k: pytest.fail("the model ran"))
    with pytest.raises(error, match=message):
        qwen2.capture(noise_image(64, 64), PROMPT, baseline=baseline)


# ----- save and load -------------------------------------------------------------------------------------------


def test_baseline_and_sink_scores_survive_save_and_load(result, tmp_path):
    loaded = AttentionResult.load(result.save(tmp_path / "maps.npz"))
    np.testing.assert_array_equal(loaded.baseline_attention, result.baseline_attention)
    np.testing.assert_array_equal(loaded.sink_scores, result.sink_scores)
    assert loaded.baseline_prompt == BASELINE_PROMPT
    both = {"relative": True, "drop_sinks": True}
    np.testing.assert_array_equal(loaded.grid(**both), result.grid(**both))


def damaged(tmp_path, result: AttentionResult, name: str, **changes) -> object:
    """`result` saved, then its member `name` replaced by `changes["array"]` (or removed with None), its metadata
    updated with `changes["metadata"]`."""
    members = members_of(result.save(tmp_path / "good.npz"))
    if "array" in changes:
        members.pop(f"{name}.npy", None)
        if changes["array"] is not None:
            members[f"{name}.npy"] = npy(changes["array"])
    if "metadata" in changes:
        metadata = {**metadata_of(members), **changes["metadata"]}
        if metadata["format_version"] < 4:  # images before videos: no temporal groups
            metadata["images"] = [
                {key: value for key, value in image.items() if key not in VIDEO_KEYS} for image in metadata["images"]
            ]
        members = with_metadata(members, metadata)
    return write_zip(tmp_path / f"bad-{name}.npz", [stored(key, data) for key, data in members.items()])


def test_damaged_baselines_and_sink_scores_are_refused_in_one_line(result, tmp_path):
    layers, heads, _, columns = result.attention.shape
    cases = [
        ("baseline_attention", {"array": np.zeros((layers, heads, columns + 1), np.float32)}, "baseline_attention is"),
        (
            "baseline_attention",
            {"array": np.full((layers, heads, columns), 2, np.float32)},
            "baseline_attention holds 2",
        ),
        ("baseline_attention", {"array": np.zeros((layers, heads, columns), np.int32)}, "holds int32, not float16"),
        ("baseline_attention", {"array": None}, "baseline_prompt and baseline_attention.npy do not go together"),
        ("baseline_attention", {"metadata": {"baseline_prompt": None}}, "do not go together"),
        ("baseline_attention", {"metadata": {"baseline_prompt": " "}}, "its baseline_prompt is empty"),
        ("sink_scores", {"array": np.full((layers, columns), -1, np.float32)}, "sink_scores holds -1.0"),
        ("sink_scores", {"array": np.full((layers, columns), np.nan, np.float32)}, "sink_scores holds nan"),
        ("sink_scores", {"array": np.zeros((layers + 1, columns), np.float32)}, f"needs [{layers}, {columns}]"),
        ("sink_scores", {"metadata": {"format_version": 2}}, "holds baseline_attention.npy, which version 2 files"),
    ]
    for name, changes, message in cases:
        refused(damaged(tmp_path, result, name, **changes), message)


def test_a_huge_declared_baseline_is_refused_before_it_is_read(result, tmp_path):
    members = members_of(result.save(tmp_path / "good.npz"))
    shape = (2**20, 2**10, 2**10)  # 4 TiB of float32, declared in a few bytes
    huge = stored("baseline_attention.npy", npy_header(np.float32, shape))
    path = write_zip(tmp_path / "huge.npz", [stored(k, v) for k, v in members.items() if k != huge.name] + [huge])
    refused(path)


# ----- capture -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_the_baseline_is_the_last_token_row_of_the_baseline_prompt(tiny_models, family):
    model = tiny_models[family]
    image = noise_image(100, 60)
    result = model.capture(image, PROMPT, baseline=True, answer=True, max_new_tokens=3)
    alone = model.capture(image, BASELINE_PROMPT)
    assert result.baseline_prompt == BASELINE_PROMPT and result.layer_ids == alone.layer_ids
    # Equal up to float rounding: one row is computed in a matrix product of another size than the prompt's rows.
    np.testing.assert_allclose(result.baseline_attention, alone.attention[:, :, -1], rtol=1e-5, atol=1e-7)
    own = model.capture(image, PROMPT, baseline="Describe it.", layers=[-1])
    assert own.baseline_prompt == "Describe it."
    reference = model.capture(image, "Describe it.").attention[-1:, :, -1]
    np.testing.assert_allclose(own.baseline_attention, reference, rtol=1e-5, atol=1e-7)


def test_a_conversations_baseline_sees_the_same_images(qwen2):
    images = [noise_image(100, 60, seed=1), noise_image(70, 90, seed=2)]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi."}, {"type": "image"}]}]
    result = qwen2.capture(images, messages=messages, baseline=True)
    reference = qwen2.capture(images, BASELINE_PROMPT).attention[:, :, -1]
    np.testing.assert_allclose(result.baseline_attention, reference, rtol=1e-5, atol=1e-7)


def test_new_options_leave_the_capture_and_the_answer_unchanged(tiny, family):
    image = noise_image(100, 60)
    plain = tiny.capture(image, PROMPT, answer=True, max_new_tokens=4, sink_scores=False)
    full = tiny.capture(image, PROMPT, answer=True, max_new_tokens=4, baseline=True, sink_scores=True)
    assert plain.sink_scores is None and plain.baseline_attention is None
    assert full.answer == plain.answer and full.tokens == plain.tokens
    np.testing.assert_array_equal(full.attention, plain.attention)
    np.testing.assert_array_equal(full.image_mass, plain.image_mass)
    # The prefill's scores: the decoding steps (whose hidden states are the new tokens') leave them as they are.
    np.testing.assert_array_equal(full.sink_scores, tiny.capture(image, PROMPT, sink_scores=True).sink_scores)


def test_sink_scores_are_kept_by_default_and_left_out_with_false(qwen2):
    image = noise_image(100, 60)
    default = qwen2.capture(image, PROMPT)
    layers, _, _, columns = default.attention.shape
    assert default.sink_scores is not None and default.sink_scores.shape == (layers, columns)
    np.testing.assert_array_equal(default.sink_scores, qwen2.capture(image, PROMPT, sink_scores=True).sink_scores)
    assert default.sinks(-1).dtype.kind == "i" and default.maps(drop_sinks=True).shape == default.maps().shape
    assert qwen2.capture(image, PROMPT, sink_scores=False).sink_scores is None
    prepared = qwen2.prepare(image, PROMPT)
    assert qwen2.capture_prepared(prepared).sink_scores is not None
    assert qwen2.capture_prepared(prepared, sink_scores=False).sink_scores is None
    for method in (qvl_widget.LoadedModel.capture, qvl_widget.LoadedModel.capture_prepared):
        assert inspect.signature(method).parameters["sink_scores"].default is True


def test_recording_sink_scores_leaves_the_logits_bit_identical(tiny):
    prepared = tiny.prepare(noise_image(100, 60), PROMPT)
    layers = tuple(range(tiny.model.config.get_text_config().num_hidden_layers))
    sinks = SinkScores(layers, torch.as_tensor(prepared.image_positions))
    with torch.no_grad():
        plain = tiny.model(**prepared.model_inputs).logits
        with recording_sink_scores(tiny.model, sinks), capturing(tiny.model, request_for(prepared)):
            recorded = tiny.model(**prepared.model_inputs).logits
        after = tiny.model(**prepared.model_inputs).logits
    assert torch.equal(plain, recorded) and torch.equal(plain, after)
    assert sinks.all_layers().shape == (len(layers), 1, len(prepared.image_positions))  # [layers, batch, image tokens]


@pytest.mark.parametrize("family", [name for name in TINY_FAMILIES if name in ("qwen2_vl", "qwen3_5")])
def test_sink_scores_are_the_rms_normalized_hidden_state_entering_each_attention_layer(tiny_models, family):
    model = tiny_models[family]
    image = noise_image(100, 60)
    result = model.capture(image, PROMPT, sink_scores=True)
    prepared = model.prepare(image, PROMPT)
    with torch.no_grad():
        hidden = model.model(**prepared.model_inputs, output_hidden_states=True).hidden_states
    norms = model.model.model.language_model.layers
    for slot, layer in enumerate(result.layer_ids):  # Qwen3.5: its attention layers only, (1, 3)
        x = hidden[layer][0, prepared.image_positions].double().numpy()  # entering decoder layer `layer`
        eps = getattr(norms[layer].input_layernorm, "variance_epsilon", None) or norms[layer].input_layernorm.eps
        expected = np.abs(x).max(axis=1) / np.sqrt((x**2).mean(axis=1) + eps)
        np.testing.assert_allclose(result.sink_scores[slot], expected, rtol=1e-5)


def massive_activation_model(white_cells: list[tuple[int, int]]) -> qvl_widget.LoadedModel:
    """A tiny Qwen2-VL (text width 512) whose vision tower writes 1,600 into dimension 0 of the image tokens of
    white 28 x 28 cells and small values elsewhere: white cells enter layer 0 with an RMS-normalized value of about
    sqrt(512) = 22.6 > 20 in one dimension (sinks); the others score about 3.

    How: the vision blocks add nothing (their output projections are 0), the patch embedding's channels 0 and 1
    are +/- the patch's mean pixel, which the merger's LayerNorm turns into +/-4 by the patch's brightness; the
    merger's MLP passes channel 0 of its four patches through one GELU unit (16 for white, ~0 for black) into
    output dimension 0 (x 100), plus a random bias of about 1 in every dimension."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    tokenizer = build_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    config = AutoConfig.for_model(
        "qwen2_vl",
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=512,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [16, 24, 24]},
        ),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=512, num_heads=4, mlp_ratio=2),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_config(config).eval()
    visual = model.model.visual
    with torch.no_grad():
        for block in visual.blocks:
            for layer in (block.attn.proj, block.mlp.fc2):
                layer.weight.zero_()
                layer.bias.zero_()
        patch = visual.patch_embed.proj.weight  # [32, 3, 2, 14, 14]
        patch.zero_()
        patch[0] = 1 / patch[0].numel()
        patch[1] = -1 / patch[1].numel()
        first, last = visual.merger.mlp[0], visual.merger.mlp[2]
        first.weight.zero_()
        first.bias.zero_()
        first.weight[0, [0, 32, 64, 96]] = 1.0  # channel 0 of each of the four merged patches
        last.weight.zero_()
        last.weight[0, 0] = 100.0
        last.bias.copy_(torch.randn(512))
    processor = build_processor("qwen2_vl", tokenizer)
    return qvl_widget.attach(model, processor, source="massive")


def test_sinks_are_detected_where_the_weights_put_a_massive_activation():
    cells = [(1, 2), (3, 0)]
    pixels = np.zeros((112, 112, 3), dtype=np.uint8)
    for row, col in cells:
        pixels[28 * row : 28 * (row + 1), 28 * col : 28 * (col + 1)] = 255
    model = massive_activation_model(cells)
    result = model.capture(Image.fromarray(pixels), PROMPT, sink_scores=True)
    assert (result.images[0].rows, result.images[0].cols) == (4, 4)
    expected = [row * 4 + col for row, col in cells]
    assert result.sinks(0).tolist() == expected  # entering layer 0: the image embeddings
    assert result.sink_scores[0, expected].min() > 22 and np.delete(result.sink_scores[0], expected).max() < 5
    # The massive dimension stays in the residual stream: layer 1 flags the same tokens.
    assert result.sinks(1).tolist() == expected
    grid = result.grid(layer=1, drop_sinks=True)
    assert (grid.ravel()[expected] == 0).all()
    np.testing.assert_allclose(grid.sum(), result.grid(layer=1).sum(), rtol=1e-5)
