"""The official prompt set against the authors' released filled prompts, byte for byte.

The Components of each released prompt are recovered by *parsing* its text (profile,
ratings, history entries, query), then re-rendered with the official set.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

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
from perrecbench.prompts.fewshot import Demo
from perrecbench.prompts.official_set import OfficialPromptSet
from perrecbench.prompts.registry import get_prompt_set

LEVELS = ("easy", "medium", "hard")
USER_RE = re.compile(r"<\|The Start of User(\d*) Data\|>\n(.*?)<\|The End of User\1 Data\|>", re.S)
PROFILE_RE = re.compile(
    r"## User Profile\n(.*?)\n\n## User Most Common Rating\n(\S+)\n\n## User Average Rating\n(\S+)\n", re.S
)
ENTRY_RE = re.compile(r"### Item Title\n(.*?)\n(?:### Item Author\n(.*?)\n)?### User\d* Rating\n(\S+)")
QUERY_RE = re.compile(
    r"<\|The Start of Query Item Information\|>\n### Item Title\n(.*?)\n"
    r"(?:### Item Author\n(.*?)\n)?<\|The End of Query Item Information\|>"
)


def parse_prompt(text: str) -> Components:
    """Recover the information of a released prompt (the inverse of rendering)."""
    users = []
    for _, body in USER_RE.findall(text):
        prof = PROFILE_RE.match(body)
        assert prof, body[:200]
        entries = tuple(
            HistoryEntry(t, a or None, float(r)) for t, a, r in ENTRY_RE.findall(body[prof.end():])
        )
        users.append(UserBlock(entries, prof.group(1), float(prof.group(2)), float(prof.group(3))))
    q = QUERY_RE.search(text)
    assert q
    return Components(tuple(users), QueryItem(q.group(1), q.group(2) or None))


def samples(level: str, method: str) -> dict[str, list[str]]:
    path = shared_path("reference", "official-samples", f"{level}_{method}_prompts.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def templates() -> Path:
    return shared_path("reference", "official-templates")


@pytest.mark.parametrize("level", LEVELS)
def test_pointwise_samples_byte_for_byte(level, templates):
    pset = OfficialPromptSet(templates)
    data = samples(level, "point")
    assert len(data) == 5
    n = 0
    for prompts in data.values():
        assert len(prompts) == {"easy": 2, "medium": 3, "hard": 4}[level]
        for prompt in prompts:
            comps = parse_prompt(prompt)
            assert len(comps.users) == 1 and len(comps.users[0].history) == 4
            msgs = pset.render("point", comps, PromptOptions(use_profile=True))
            assert [m.role for m in msgs] == ["system", "user"]
            assert msgs[1].content == prompt
            n += 1
    assert n == 5 * {"easy": 2, "medium": 3, "hard": 4}[level]


@pytest.mark.parametrize("level", LEVELS)
def test_listwise_samples_byte_for_byte(level, templates):
    pset = get_prompt_set("official-sample-run", templates)
    released = OfficialPromptSet(templates)
    data = samples(level, "list")
    assert len(data) == 5
    for prompts in data.values():
        (prompt,) = prompts
        comps = parse_prompt(prompt)
        assert len(comps.users) == {"easy": 2, "medium": 3, "hard": 4}[level]
        msgs = pset.render("list", comps, PromptOptions(use_profile=True))
        assert msgs[1].content == prompt
        # the released template differs from the sample run in that one line only
        other = released.render("list", comps, PromptOptions(use_profile=True))[1].content
        diff = [(a, b) for a, b in zip(other.split("\n"), prompt.split("\n"), strict=True) if a != b]
        assert len(diff) == 1 and "(e.g., 1 for User1)" in diff[0][0]
        assert '{"predicted_ranking": <user_ranking>}' in other  # {{{{ -> { after two formats


def test_samples_cover_author_less_items(templates):
    comps = [parse_prompt(p) for ps in samples("hard", "point").values() for p in ps]
    authors = [h.author for c in comps for u in c.users for h in u.history]
    assert None in authors and any(authors)


def _comps(n_users: int, profile: bool = True) -> Components:
    users = tuple(
        UserBlock(
            (HistoryEntry(f"Book {i}a", "Ann Author", 4.0), HistoryEntry(f"Gadget {i}b", None, 2.0)),
            f"profile of user {i} with {{braces}}" if profile else None,
            4.0,
            3.25 + i,
        )
        for i in range(n_users)
    )
    return Components(users, QueryItem("The Query", None))


def test_pair_structure(templates):
    pset = OfficialPromptSet(templates)
    msgs = pset.render("pair", _comps(2), PromptOptions())
    sys, user = msgs[0].content, msgs[1].content
    assert "[User A]" in sys and "{" not in sys
    a_at, b_at, q_at = user.index("[User A]\n"), user.index("[User B]\n"), user.index("[Query Item Details]\n")
    assert a_at < b_at < q_at
    block_a = user[a_at:b_at]
    assert "Book 0a" in block_a and "Book 1a" not in block_a
    assert "profile of user 0 with {braces}" in block_a  # values are not re-formatted
    assert "## User Average Rating\n3.2\n" in block_a  # 3.25 -> one decimal (half-even)
    assert "\n### Item Title\nGadget 0b\n### User Rating\n2.0\n\n<|The End of User Data|>\n" in block_a
    assert "### Item Title\nThe Query\n<|The End of Query Item Information|>" in user  # no author
    assert user.rstrip().endswith('do not generate anything else:')
    # both orders of a pair render symmetrically
    swapped = Components(tuple(reversed(_comps(2).users)), _comps(2).query)
    user2 = pset.render("pair", swapped, PromptOptions())[1].content
    assert user2.index("Book 1a") < user2.index("Book 0a")


def test_variants_pick_templates(templates):
    pset = OfficialPromptSet(templates)
    c = _comps(1)
    cot = pset.render("point", c, PromptOptions(cot=True))
    assert cot[1].content.endswith("Answer: Let's think step by step.")
    assert cot[0].content.startswith("To predict")
    rel_user = UserBlock((HistoryEntry("Book", None, 0.25), HistoryEntry("Pen", None, -1.0)), "p", 4.0, 3.0)
    rel = pset.render("point", Components((rel_user,), c.query), PromptOptions(rel_rating=True))
    assert "relative rating" in rel[0].content
    assert "### User Rating\n0.2\n" in rel[1].content  # relative values: one decimal
    assert "### User Rating\n-1.0\n" in rel[1].content
    plain = pset.render("point", Components((rel_user,), c.query), PromptOptions())
    assert "### User Rating\n0.25\n" in plain[1].content  # ratings as Python prints them
    noprof = pset.render("list", _comps(3, profile=False), PromptOptions(use_profile=False))
    assert "## User Profile" not in noprof[1].content
    assert "<|The Start of User3 Data|>\n\n### Item Title\nBook 2a" in noprof[1].content
    with pytest.raises(ConfigError, match="profile"):
        pset.render("list", _comps(3, profile=False), PromptOptions(use_profile=True))
    with pytest.raises(ConfigError, match="1 user"):
        pset.render("point", _comps(2), PromptOptions())


def test_demos_are_inline_prefix(templates):
    pset = OfficialPromptSet(templates)
    demo = Demo(_comps(3), '{"predicted_ranking": [3, 1, 2]}')
    msgs = pset.render("list", _comps(3), PromptOptions(demos=(demo,)))
    assert len(msgs) == 2
    user = msgs[1].content
    first, second = user.index("[Users]"), user.rindex("[Users]")
    assert first == 0 and second > 0
    assert '\n{"predicted_ranking": [3, 1, 2]}\n\n[Users]' in user
    # the release formatted demo templates once, so their JSON example keeps double braces
    assert '{{"predicted_ranking"' in user[:second]


def test_missing_or_bad_templates_are_config_errors(tmp_path, templates):
    with pytest.raises(ConfigError, match="not found"):
        OfficialPromptSet(tmp_path / "nope")
    copy = tmp_path / "code"
    shutil.copytree(templates, copy)
    (copy / "template_pair" / "0ours0_cot.txt").unlink()
    with pytest.raises(ConfigError, match="0ours0_cot.txt"):
        OfficialPromptSet(copy)
    shutil.copy(templates / "template_pair" / "0ours0_cot.txt", copy / "template_pair")
    (copy / "templates_point" / "0ours" / "0ours0.txt").write_text("{}\nonly one slot\n")
    with pytest.raises(ConfigError, match="1 '\\{\\}' slots, expected 2"):
        OfficialPromptSet(copy)
    (copy / "templates_point" / "0ours" / "0ours0.txt").write_text("{} {name}\n")
    with pytest.raises(ConfigError, match="named fields"):
        OfficialPromptSet(copy)


def test_registry_requires_templates_dir(templates):
    with pytest.raises(ConfigError, match="templates"):
        get_prompt_set("official")
    with pytest.raises(ConfigError, match="unknown prompt set"):
        get_prompt_set("fancy")
    assert get_prompt_set("official", templates).name == "official"
    assert get_prompt_set().name == "default"
