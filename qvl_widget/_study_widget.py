"""StudyWidget: a study's examples as a table sorted by a metric, above the attention view of the chosen one.

The table's rows are the study's examples with one value each: the metric at one layer and head (by default the
study's best head for it), failed examples last with their error. Choosing a row (a click or the keyboard in the
view, or `widget.chosen = id` in Python) opens that example's result: the one the study saved (keep="results"),
or a new capture of the example with the study's own options (`model=` and `examples=`, the study's examples).
The view keeps its layer, head and look from one example to the next; the scored query's tokens are pinned, and the
example's box is drawn where `examples=` gives it.

Swapping examples: `shown` (the example whose data the traits hold) is None while the data is replaced, then the
new example's id, each change sent on its own. A front end drops its attention view at None and builds a new one
at the id, so it never draws one example's maps over another's tokens. Traits only, as the attention widget.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from ._arguments import shown as shown_value
from ._payload import Selections
from ._result import AttentionResult
from ._study import EXAMPLE_ERRORS, Study, capture_example, one_line, study_capture_options
from ._study_manifest import Examples, study_examples
from ._study_metrics import MEAN_HEAD, scored_queries
from ._study_store import METRICS
from ._view_state import ViewOptions, ViewState, check_view_option_names
from ._widget import AttentionWidget

if TYPE_CHECKING:
    from typing_extensions import Unpack

# The options that carry over from one example to the next: how the view looks, not what it shows.
CARRIED = ("reduce", "unit", "head_overview", "colormap", "opacity", "smooth", "shared_scale", "show_special", "width")


class StudyWidget(AttentionWidget):
    """A study's examples, sorted by `metric` at one layer and head, above the attention view of the chosen one.

    Made by `study.widget(...)`: see `Study.widget`. Traits beyond the attention widget's: `examples` (the table's
    rows: `id`, `value`, and `error` for a failed example), `column` (what `value` is), `chosen` (the example asked
    for: set it to open one), `shown` (the example on view) and `message` (why the last choice did not open).
    """

    examples = traitlets.List(traitlets.Dict()).tag(sync=True)
    column = traitlets.Unicode("").tag(sync=True)
    chosen = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    shown = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        study: Study,
        metric: str = "pointing",
        *,
        layer: int | None = None,
        head: int | None = None,
        query: str | None = None,
        model: Any = None,
        examples: object = None,
        **options: Unpack[ViewOptions],
    ) -> None:
        check_view_option_names(options, "study.widget")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {shown_value(metric)}")
        self._query = study.checked_query(query)
        self._layer_id, self._head = _chosen_head(study, metric, layer, head, self._query)
        self._opener = _Opener(study, model, examples)
        rows = example_rows(study, metric, self._layer_id, self._head, self._query)
        first = next((row["id"] for row in rows if row["error"] is None), None)
        if first is None:
            raise ValueError("the study has no example done yet: run it (model.study) before opening its widget")
        result = self._opener.result(first)
        super().__init__(result, **self._view_of(first, result), **options)
        head_name = "the heads' mean" if self._head == MEAN_HEAD else f"head {self._head}"
        self.column = f"{metric}, layer {self._layer_id} {head_name} ({self._query!r} query)"
        self.examples = rows
        self.shown = first
        self.chosen = first

    @traitlets.observe("chosen")
    def _open_chosen(self, change: traitlets.Bunch) -> None:
        if change.new is None or change.new == self.shown:
            return
        failure = self._opener.failure(change.new)
        if failure is not None:
            self.message = f"example {change.new!r} failed in the study: {failure}"
            self.chosen = self.shown
            return
        try:
            result = self._opener.result(change.new)
            state = ViewState.of(result, **self._view_of(change.new, result), **self._carried())
        except EXAMPLE_ERRORS as error:
            self.message = f"example {change.new!r} did not open: {one_line(error)}"
            self.chosen = self.shown
            return
        self._replace(change.new, result, state)
        self.message = ""

    def _view_of(self, example: str, result: AttentionResult) -> dict[str, Any]:
        """Where example `example`'s view opens: the widget's layer and head (the table's at first), the scored
        query's tokens pinned, and its box where the examples give one."""
        shown_before = getattr(self, "shown", None) is not None
        layer = self.layer if shown_before else _layer_index(result, self._layer_id)
        head = self.head if shown_before else ("mean" if self._head == MEAN_HEAD else self._head)
        tokens, producing = self._opener.query_tokens(example, result, self._query)
        box = self._opener.box(example)
        return {
            "layer": layer,
            "head": head,
            "token": tokens,
            "producing": producing,
            "boxes": [] if box is None else [(*box, "box")],
        }

    def _carried(self) -> dict[str, Any]:
        options = {name: getattr(self, name) for name in CARRIED}
        return {**options, "style": self.overlay_style}

    def _replace(self, example: str, result: AttentionResult, state: ViewState) -> None:
        """Put `result`'s view state into the traits, between `shown = None` and `shown = example`."""
        self.shown = None
        self._ready = False  # no payload while the traits are set one by one
        self.result = result
        self._selections = Selections(result, state.reduce)
        with self.hold_sync():
            for name, value in state.fields().items():
                setattr(self, name, value)
            self.heads_payload = b""
            self.full_pictures = []
            self.want_full_pictures = False
        self._ready = True
        self.maps_payload = self._selections.payload(self.layer, self.head, self.relative, self.drop_sinks)
        self._send_heads()
        threading.Thread(target=self._selections.warm_up, name="qvl-widget-warm-up", daemon=True).start()
        self.shown = example


class _Opener:
    """What opens an example: its saved result, or a capture of it again with the study's options."""

    def __init__(self, study: Study, model: Any, examples: object) -> None:
        self.study = study
        self.model = model
        self.source: Examples | None = None if examples is None else study_examples(examples)
        if self.source is not None and self.source.ids != study.ids:
            raise ValueError("examples= are not this study's (their ids differ): pass the examples it ran on")
        if model is not None:
            if self.source is None:
                raise ValueError("model= captures examples again, so it needs examples= too (the study's examples)")
            if model.name != study.model:
                raise ValueError(f"this study ran on {study.model!r}, not on {model.name!r}: load that model")
        elif study.options["keep"] != "results":
            raise ValueError(
                "this study kept summaries only (keep='summary'): pass model= and examples= to capture an example "
                "again when it is chosen, or run the study with keep='results'"
            )

    def failure(self, example: str) -> str | None:
        """The error example `example` failed with in the study, if it did."""
        failed = self.study.errors()
        lines = failed.loc[failed["example"] == example, "error"]
        return None if lines.empty else str(lines.iloc[0])

    def result(self, example: str) -> AttentionResult:
        if self.model is None:
            return self.study.result(example)
        assert self.source is not None  # checked in __init__
        options = self.study.options
        capture_options = {**study_capture_options(self.model, options), "sink_scores": True}  # for drop_sinks
        found = self.source.example(self.source.ids.index(example))
        return capture_example(self.model, found, options["answer"], capture_options)

    def box(self, example: str) -> tuple[float, ...] | None:
        if self.source is None:
            return None
        found = self.source.example(self.source.ids.index(example))
        return None if found.box is None or found.video is not None else tuple(found.box)

    def query_tokens(self, example: str, result: AttentionResult, query: str) -> tuple[list[int], bool]:
        """The tokens `query` scored in `example` (to pin), and whether they show their producing steps."""
        table = self.study.table()
        rows = table[(table["example"] == example) & (table["query"] == query)]
        phrase = str(rows["text"].iloc[0]) if query == "phrase" and len(rows) else None
        try:
            queries = scored_queries(result, query, phrase)  # type: ignore[arg-type]
        except ValueError:
            return [], False
        tokens = sorted({token for scored in queries for token in scored.tokens})
        return tokens, any(scored.producing for scored in queries)


def example_rows(study: Study, metric: str, layer: int, head: int, query: str) -> list[dict[str, Any]]:
    """The table's rows: each done example's `metric` at `layer` and `head` (the mean over the query's words), best
    first (lowest first for spatial entropy; no value last), then the failed examples with their errors."""
    table = study.table()
    chosen = table[(table["query"] == query) & (table["layer"] == layer) & (table["head"] == head)]
    values = chosen.groupby("example", sort=False)[metric].mean()
    sign = 1.0 if metric == "spatial_entropy" else -1.0
    done = [name for name in study.ids if name in values.index]
    done.sort(key=lambda name: (bool(np.isnan(values[name])), sign * float(np.nan_to_num(values[name]))))
    rows = [{"id": name, "value": _finite(values[name]), "error": None} for name in done]
    failed = study.errors()
    errors = dict(zip(failed["example"], failed["error"], strict=True))
    rows += [{"id": name, "value": None, "error": str(errors[name])} for name in study.ids if name in errors]
    return rows


def _chosen_head(study: Study, metric: str, layer: int | None, head: int | None, query: str) -> tuple[int, int]:
    """The table's layer (a decoder layer) and head (-1: the heads' mean): as given, else the study's best head."""
    if layer is None and head is None:
        best = study.head_ranking(metric, top=1, query=query).iloc[0]
        return int(best["layer"]), int(best["head"])
    if layer is None or head is None:
        raise ValueError("give layer= and head= together (or neither: the study's best head for the metric)")
    layers = study.layer_ids()
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or int(layer) not in layers:
        raise ValueError(f"layer must be one of the study's decoder layers {layers}, not {shown_value(layer)}")
    heads = int(study.table()["head"].max()) + 1
    if isinstance(head, bool) or not isinstance(head, (int, np.integer)) or not MEAN_HEAD <= int(head) < heads:
        raise ValueError(f"head must be a head index 0..{heads - 1} or -1 (the heads' mean), not {shown_value(head)}")
    return int(layer), int(head)


def _layer_index(result: AttentionResult, layer_id: int) -> int:
    return list(result.layer_ids).index(layer_id)


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
