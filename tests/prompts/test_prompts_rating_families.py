"""The four older rating-prediction prompt families (rating-wang, -liu, -dai, -bookgpt):
the rendered prompt of every family and variant equals its template filled by hand for
one known history, and the answers they ask for are read robustly."""

from __future__ import annotations

import shutil

import pytest
from conftest import shared_path

from perrecbench.errors import ConfigError
from perrecbench.prompts.components import (
    Components,
    HistoryEntry,
    PromptOptions,
    QueryItem,
    UserBlock,
)
from perrecbench.prompts.parsing import parse_first_rating
from perrecbench.prompts.rating_set import greek, letters, roman
from perrecbench.prompts.registry import get_prompt_set

HISTORY = (
    HistoryEntry("Dune", "Frank Herbert", 5.0),
    HistoryEntry("Emma", "Jane Austen", 4.0),
    HistoryEntry("USB-C Cable", None, 2.0),
    HistoryEntry("Neuromancer", "William Gibson", 3.5),
    HistoryEntry("Pride and Prejudice", "Jane Austen", 1.0),
)
QUERY = QueryItem("The Left Hand of Darkness", "Ursula K. Le Guin")
COMPONENTS = Components((UserBlock(HISTORY),), QUERY)
PLAIN = PromptOptions(use_profile=False)

E = [
    '"Dune" by Frank Herbert, rated 5.0',
    '"Emma" by Jane Austen, rated 4.0',
    '"USB-C Cable", rated 2.0',
    '"Neuromancer" by William Gibson, rated 3.5',
    '"Pride and Prejudice" by Jane Austen, rated 1.0',
]
DASHES = "\n".join(f"- {e}" for e in E)
#: the history slot of each (family, variant), written out by hand
BY_HAND = {
    ("rating-wang", 0): DASHES, ("rating-wang", 1): DASHES, ("rating-wang", 2): DASHES, ("rating-wang", 3): DASHES,
    ("rating-liu", 0): f"- Book A: {E[0]}\n- Book B: {E[1]}\n- Book C: {E[2]}\n- Book D: {E[3]}\n- Book E: {E[4]}",
    ("rating-liu", 1): f"i. {E[0]}\nii. {E[1]}\niii. {E[2]}\niv. {E[3]}\nv. {E[4]}",
    ("rating-liu", 2): f"* {E[0]}\n* {E[1]}\n* {E[2]}\n* {E[3]}\n* {E[4]}",
    ("rating-liu", 3): f"#1 {E[0]}\n#2 {E[1]}\n#3 {E[2]}\n#4 {E[3]}\n#5 {E[4]}",
    **{("rating-dai", v): "; ".join(E) for v in range(4)},
    ("rating-bookgpt", 0): "\n".join(f"- Book {i}: {e}" for i, e in enumerate(E, 1)),
    ("rating-bookgpt", 1): "\n".join(f"- Previous Rating {i}: {e}" for i, e in enumerate(E, 1)),
    ("rating-bookgpt", 2): f"- Rating for Book A: {E[0]}\n- Rating for Book B: {E[1]}\n- Rating for Book C: {E[2]}\n"
                           f"- Rating for Book D: {E[3]}\n- Rating for Book E: {E[4]}",
    ("rating-bookgpt", 3): f"- Score for Book Alpha: {E[0]}\n- Score for Book Beta: {E[1]}\n- Score for Book Gamma: "
                           f"{E[2]}\n- Score for Book Delta: {E[3]}\n- Score for Book Epsilon: {E[4]}",
}
FOLDER = {"rating-wang": "1wang", "rating-liu": "2liu", "rating-dai": "3dai", "rating-bookgpt": "4BookGPT"}
#: wang and dai quote the query slot themselves ("{}"): just the title goes in
QUOTED = {"rating-wang", "rating-dai"}


@pytest.fixture(scope="module")
def code_dir():
    return shared_path("reference", "official-templates")


@pytest.mark.parametrize(("family", "variant"), sorted(BY_HAND))
def test_every_family_and_variant_renders_its_template_filled_by_hand(code_dir, family, variant):
    path = code_dir / "templates_point" / FOLDER[family] / f"{FOLDER[family]}{variant}.txt"
    template = path.read_text(encoding="utf-8")  # text mode, as the release read it: CRLF -> LF
    query = QUERY.title if family in QUOTED else '"The Left Hand of Darkness" by Ursula K. Le Guin'
    expected = template.format(BY_HAND[(family, variant)], query)
    messages = get_prompt_set(family, code_dir, variant).render("point", COMPONENTS, PLAIN)
    assert [m.role for m in messages] == ["user"]
    assert messages[0].content == expected
    assert "\r" not in messages[0].content and "{}" not in messages[0].content


def test_variant_defaults_to_zero_and_markers_continue_past_four(code_dir):
    first = get_prompt_set("rating-liu", code_dir).render("point", COMPONENTS, PLAIN)
    assert first == get_prompt_set("rating-liu", code_dir, 0).render("point", COMPONENTS, PLAIN)
    assert [letters(i) for i in (1, 4, 26, 27, 28, 52, 53)] == ["A", "D", "Z", "AA", "AB", "AZ", "BA"]
    assert [roman(i) for i in (1, 4, 9, 14, 16, 40, 1994)] == ["i", "iv", "ix", "xiv", "xvi", "xl", "mcmxciv"]
    assert [greek(i) for i in (1, 2, 24, 25, 26)] == ["Alpha", "Beta", "Omega", "Alpha2", "Beta2"]
    many = Components((UserBlock(tuple(HistoryEntry(f"T{i}", None, 3.0) for i in range(1, 17))),), QUERY)
    text = get_prompt_set("rating-bookgpt", code_dir, 3).render("point", many, PLAIN)[0].content
    assert '- Score for Book Pi: "T16", rated 3.0' in text  # the 16th Greek letter, k = 16 as in the paper
    empty = Components((UserBlock(()),), QUERY)
    assert "rated" not in get_prompt_set("rating-dai", code_dir, 1).render("point", empty, PLAIN)[0].content


def test_families_refuse_what_they_have_no_place_for(code_dir, tmp_path):
    pset = get_prompt_set("rating-wang", code_dir, 1)
    profiled = Components((UserBlock(HISTORY, "Loves space operas.", 5.0, 4.1),), QUERY)
    for comps, options in ((profiled, PromptOptions(use_profile=True)), (COMPONENTS, PromptOptions(cot=True)),
                           (COMPONENTS, PromptOptions(use_profile=False, rel_rating=True))):
        with pytest.raises(ConfigError, match="no profile, CoT"):
            pset.render("point", comps, options)
    assert pset.render("point", COMPONENTS, PromptOptions()) == pset.render("point", COMPONENTS, PLAIN)
    with pytest.raises(ConfigError, match="unknown method"):
        pset.render("list", COMPONENTS, PLAIN)
    with pytest.raises(ConfigError, match="variants 0-3"):
        get_prompt_set("rating-dai", code_dir, 4)
    with pytest.raises(ConfigError, match="--prompt-variant is for the rating families"):
        get_prompt_set("default", None, 1)
    with pytest.raises(ConfigError, match="--templates DIR"):
        get_prompt_set("rating-liu", None)
    partial = tmp_path / "code"
    shutil.copytree(code_dir / "templates_point" / "1wang", partial / "templates_point" / "1wang")
    with pytest.raises(ConfigError, match="missing .*2liu0.txt"):
        get_prompt_set("rating-liu", partial)
    (partial / "templates_point" / "1wang" / "1wang2.txt").write_text("only {} one slot", encoding="utf-8")
    with pytest.raises(ConfigError, match="1 '\\{\\}' slots, expected 2"):
        get_prompt_set("rating-wang", partial, 2)


@pytest.mark.parametrize(("text", "value", "failure"), [
    ("4", 4.0, None),
    ("3.75\n", 3.75, None),
    ("(4 stars, 85%)", 4.0, None),
    ("Rating Prediction: (2 stars, 60%)", 2.0, None),
    ("The user would give it 5.", 5.0, None),
    ("0.9 confidence, rating 3", 3.0, None),  # the first number *in 1..5*
    ("7 out of 10", None, "out_of_range"),
    ("", None, "empty"),
    ("I'm sorry, I cannot predict that.", None, "refusal"),
    ("no idea", None, "no_answer"),
])
def test_bare_number_answers_are_read_robustly(text, value, failure):
    parsed = parse_first_rating(text)
    assert (parsed.failure.name if parsed.failure else None) == failure
    if failure is None:
        assert parsed.value == value
