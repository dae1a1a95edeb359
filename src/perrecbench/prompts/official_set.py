"""The authors' prompts, read from a directory the user supplies, rendered exactly as their code did.

The directory has the layout of the release's `code/` folder (see `FILES`); nothing of it
ships with PerRecBench. Rendering rules (checked byte for byte against released prompts):

* templates are read in text mode (CRLF -> LF), UTF-8;
* point and list: the template is formatted with (user-data skeleton, "{}") and the
  result formatted again with the values, so `{{{{` in a list template ends as `{`;
  pair: each user's block is filled first, then the template formatted once;
* a user block is `<|The Start of User Data|>\\n` (list: `User{i} Data`), then with a
  profile `## User Profile\\n{profile}\\n\\n## User Most Common Rating\\n{:.1f}\\n\\n## User
  Average Rating\\n{:.1f}\\n`, then `\\n{entry}\\n` per history entry (pair: `\\n{entry}\\n\\n`),
  then `<|The End of User Data|>\\n` (list: one more `\\n` after each user);
* an entry is `### Item Title\\n{title}\\n[### Item Author\\n{author}\\n]### User Rating\\n{r}`
  (list: `### User{i} Rating`), r as Python prints the float, relative ratings `{:.1f}`;
* system prompt: `_sys_rel_rating` with relative ratings, else `_sys_cot` with CoT
  (point, list), else `_sys`; CoT uses the `_cot` user template.
* few-shot demos are prefixed inline to the user message, as the release did (its demo
  formats differ slightly from the main prompt, reproduced here; see `_demo_text`).

Variant "sample-run": the released listwise sample prompts carry one different final
instruction line (`(e.g., 1 for User1)., do not include`); this variant applies that
one change to the list template so those samples can be reproduced.
"""

from __future__ import annotations

import string
from pathlib import Path

from ..errors import ConfigError
from .components import Components, Message, PromptOptions, UserBlock, check_users
from .retrieval import entry_text, query_text

FILES = {
    "point": {
        "user": "templates_point/0ours/0ours0.txt",
        "user_cot": "templates_point/0ours/0ours0_cot.txt",
        "sys": "templates_point/0ours/0ours0_sys.txt",
        "sys_cot": "templates_point/0ours/0ours0_sys_cot.txt",
        "sys_rel": "templates_point/0ours/0ours0_sys_rel_rating.txt",
    },
    "list": {
        "user": "templates_list/0ours/0ours0.txt",
        "user_cot": "templates_list/0ours/0ours0_cot.txt",
        "sys": "templates_list/0ours/0ours0_sys.txt",
        "sys_cot": "templates_list/0ours/0ours0_sys_cot.txt",
        "sys_rel": "templates_list/0ours/0ours0_sys_rel_rating.txt",
    },
    "pair": {
        "user": "template_pair/0ours0.txt",
        "user_cot": "template_pair/0ours0_cot.txt",
        "sys": "template_pair/0ours0_sys.txt",
        "sys_rel": "template_pair/0ours0_sys_rel_rating.txt",
    },
}
PROFILE_FILE = "template_profile/gen_profile.txt"
#: `{}` slots each user template must have: point/list (users, query), pair (A, B, query)
SLOTS = {"point": 2, "list": 2, "pair": 3}
VARIANTS = ("released", "sample-run")
_SAMPLE_RUN_EDIT = ("(e.g., 1 for User1), do not include", "(e.g., 1 for User1)., do not include")
_PROFILE_SKELETON = (
    "## User Profile\n{}\n\n## User Most Common Rating\n{:.1f}\n\n## User Average Rating\n{:.1f}\n"
)


def read_template(path: Path, slots: int | None = None) -> str:
    """Read one template as the release did (text mode) and check its `{}` slot count."""
    if not path.is_file():
        raise ConfigError(f"official templates: missing {path}")
    try:
        text = path.read_text(encoding="utf-8")  # universal newlines: CRLF -> LF
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"official templates: cannot read {path}: {exc}") from exc
    if slots is not None:
        found = count_slots(text, path)
        if found != slots:
            raise ConfigError(f"official templates: {path} has {found} '{{}}' slots, expected {slots}")
    return text


def count_slots(text: str, path: Path) -> int:
    """Number of `{}` fields for str.format; named/numbered fields are rejected."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ConfigError(f"official templates: {path} is not a valid format string: {exc}") from exc
    if any(f != "" for f in fields):
        raise ConfigError(f"official templates: {path} uses named fields; only '{{}}' is expected")
    return len(fields)


class OfficialPromptSet:
    """The release's prompts from `templates_dir`, validated when constructed."""

    name = "official"

    def __init__(self, templates_dir: Path | str, variant: str = "released"):
        self.dir = Path(templates_dir)
        if not self.dir.is_dir():
            raise ConfigError(f"official templates directory not found: {self.dir}")
        if variant not in VARIANTS:
            raise ConfigError(f"unknown official variant {variant!r}; choose from {', '.join(VARIANTS)}")
        self.variant = variant
        self.templates: dict[str, dict[str, str]] = {}
        for method, files in FILES.items():
            self.templates[method] = {
                key: read_template(self.dir / rel, SLOTS[method] if key.startswith("user") else None)
                for key, rel in files.items()
            }
        if variant == "sample-run":
            old, new = _SAMPLE_RUN_EDIT
            text = self.templates["list"]["user"]
            if old not in text:
                raise ConfigError(f"variant sample-run: {self.dir / FILES['list']['user']} lacks {old!r}")
            self.templates["list"]["user"] = text.replace(old, new)

    def render(self, method: str, components: Components, options: PromptOptions) -> list[Message]:
        check_users(method, components, FILES)
        t = self.templates[method]
        prompt = self._main_text(method, components, options, t["user_cot" if options.cot else "user"])
        if options.demos:
            prompt = "".join(self._demo_text(method, d, options) for d in options.demos) + prompt
        if options.rel_rating:
            system = t["sys_rel"]
        elif options.cot and "sys_cot" in t:
            system = t["sys_cot"]
        else:
            system = t["sys"]
        return [Message("system", system), Message("user", prompt)]

    # -- main prompt -------------------------------------------------------------------

    def _main_text(self, method: str, c: Components, options: PromptOptions, template: str) -> str:
        q = query_text(c.query)
        if method == "pair":
            a, b = (self._pair_user(u, options) for u in c.users)
            return template.format(a, b, q)
        skeleton, values = "", []
        for i, user in enumerate(c.users, 1):
            label = "" if method == "point" else str(i)
            skeleton += f"<|The Start of User{label} Data|>\n"
            if options.use_profile:
                skeleton += _PROFILE_SKELETON
                values += _profile_values(user)
            skeleton += "\n{}\n" * len(user.history)
            values += [entry_text(h, options.rel_rating, f"User{label}") for h in user.history]
            skeleton += f"<|The End of User{label} Data|>\n" + ("\n" if method == "list" else "")
        return template.format(skeleton, "{}").format(*values, q)

    def _pair_user(self, user: UserBlock, options: PromptOptions) -> str:
        text = "<|The Start of User Data|>\n"
        if options.use_profile:
            text += _PROFILE_SKELETON.format(*_profile_values(user))
        text += "".join(f"\n{entry_text(h, options.rel_rating)}\n\n" for h in user.history)
        return text + "<|The End of User Data|>\n"

    # -- few-shot demos, in the release's inline format ----------------------------------

    def _demo_text(self, method: str, demo, options: PromptOptions) -> str:
        c: Components = demo.components
        q = query_text(c.query)
        if method == "point":
            user = c.users[0]
            his = "<|The Start of User Data|>\n"
            if options.use_profile:
                his += _PROFILE_SKELETON.format(*_profile_values(user))
            his += "".join(f"\n{entry_text(h, options.rel_rating)}\n\n" for h in user.history)
            body = self.templates["point"]["user"].format(his + "<|The End of User Data|>\n\n", q)
        elif method == "list":
            his = ""
            for i, user in enumerate(c.users, 1):
                entries = "\n\n".join(entry_text(h, options.rel_rating, f"User{i}") for h in user.history)
                his += f"<|The Start of User{i} Data|>\n"
                if options.use_profile:
                    his += _PROFILE_SKELETON.format(*_profile_values(user)) + "\n"
                his += f"{entries}\n<|The End of User{i} Data|>\n\n"
            body = self.templates["list"]["user"].format(his, q)  # formatted once, as released
        else:
            a, b = (self._pair_user(u, options) for u in c.users)
            body = self.templates["pair"]["user"].format(a, b, q)
        return f"{body}\n{demo.answer}\n\n"

    def profile_template(self) -> str:
        """The release's profile-generation prompt (one `{}` slot for the history)."""
        return read_template(self.dir / PROFILE_FILE, 1)


def _profile_values(user: UserBlock) -> list:
    if user.profile is None or user.most_common_rating is None or user.avg_rating is None:
        raise ConfigError(
            "official prompts with profiles need each user's profile, most common and average "
            "rating; generate profiles (`perrecbench profiles --label L`, and again with `--split "
            "heldout` when --shots takes pair or list demos from held-out questions) or run without "
            "profiles (--profile none)"
        )
    return [user.profile, user.most_common_rating, user.avg_rating]
