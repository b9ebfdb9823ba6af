"""Mutants of issue EDGES, silent wrong results in text: control characters, multi-byte and normalised phrases,
duplicate choices, the HTML size limit, the demo helpers' maps."""

from __future__ import annotations

from mutant import Mutant

TEXT = "tests/test_edges_text.py"

MUTANTS = [
    Mutant(
        "edges-text-controls-kept",
        "qvl_widget/_text.py",
        "    return _INVISIBLE.sub(_escape, text)",
        "    return text",
        "control characters written into figures as they are: an SVG that is not XML, glyphs no font has",
        (TEXT,),
    ),
    Mutant(
        "edges-text-html-limit-unchecked",
        "qvl_widget/cli.py",
        "    if number * MIB < smallest:",
        "    if False:",
        "an --html-max-mib under any page's size rounds to 0 bytes and is read as no limit at all",
        (TEXT,),
    ),
    Mutant(
        "edges-text-demo-map-nan",
        "qvl_widget/demo/_pointing.py",
        "    if not np.isfinite(array).all():",
        "    if False:",
        "the demo's pointing check answers for an all-NaN map (its argmax: the first cell)",
        (TEXT,),
    ),
    Mutant(
        "edges-text-duplicate-choices-twice",
        "qvl_widget/_choices.py",
        "    return sorted(set(checked_indices(choice, count, name))), reduce",
        "    return checked_indices(choice, count, name), reduce",
        "a layer or head named twice weighs double in grid (and once in the widget and the page)",
        (TEXT,),
    ),
    Mutant(
        "edges-text-phrase-not-nfc",
        "qvl_widget/_result.py",
        '    body = r"\\s+".join(re.escape(unicodedata.normalize("NFC", word)) for word in words)',
        '    body = r"\\s+".join(re.escape(word) for word in words)',
        "a phrase typed in NFD (or NFC) is not found in a prompt of the other form",
        (TEXT,),
    ),
    Mutant(
        "edges-text-byte-tokens-zero-width",
        "qvl_widget/_answer.py",
        "            tokens[position] = replace(tokens[position], text=text[start:end], start=start, end=end)",
        "            pass",
        "a generated character split over byte-level tokens: its first tokens are zero-width, so a phrase over it "
        "skips the step that began it",
        (TEXT,),
    ),
    Mutant(
        "edges-text-nfd-span-of-the-letter",
        "qvl_widget/_inputs.py",
        "            widened[first:stop] = [(start, carried)] * (stop - first)",
        "            widened[first:stop] = [(start, end)] * (stop - first)",
        "an NFD prompt: the tokens of e + a combining accent are labelled 'e', the accent in no token",
        (TEXT,),
    ),
    Mutant(
        "edges-text-widget-all-heads-then-max",
        "qvl_widget/_widget.py",
        "                if self._by_reduce[name] and getattr(self, name) != self.reduce:",
        "                if False:",
        "a widget set to every head by list, then reduce='max', still shows their mean",
        ("tests/test_choices.py::test_a_choice_of_every_index_follows_a_later_reduce_as_grid_does",),
    ),
    Mutant(
        "edges-text-chips-show-controls-raw",
        "js/labels.js",
        "  return text.replace(INVISIBLE, escaped).replace(",
        "  return text.replace(",
        "token chips in the widget and the page show control characters raw (invisible), not as their escapes",
        ("tests/test_edges_text.py::test_the_page_and_the_widget_show_control_characters_as_their_escapes",),
    ),
]
