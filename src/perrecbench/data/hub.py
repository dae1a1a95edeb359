"""Download Amazon Reviews 2023 category files from the Hugging Face hub.

Why: users should not have to find the files by hand. The dataset repo
`McAuley-Lab/Amazon-Reviews-2023` keeps one JSON-lines file per category:
`raw/review_categories/<Cat>.jsonl` and `raw/meta_categories/meta_<Cat>.jsonl`.
`huggingface_hub` is optional (the `hub` extra) and imported here only.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from ..errors import ConfigError, InputDataError, install_hint

REPO_ID = "McAuley-Lab/Amazon-Reviews-2023"
CATEGORIES = (
    "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive",
    "Baby_Products", "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl",
    "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics",
    "Gift_Cards", "Grocery_and_Gourmet_Food", "Handmade_Products", "Health_and_Household",
    "Health_and_Personal_Care", "Home_and_Kitchen", "Industrial_and_Scientific", "Kindle_Store",
    "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Software", "Sports_and_Outdoors",
    "Subscription_Boxes", "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games",
    "Unknown",
)
KINDS = ("review", "meta")


def check_category(category: str) -> str:
    """The category's exact hub name; ConfigError with the closest names when unknown.

    Case and spaces are forgiven ("home and kitchen" -> "Home_and_Kitchen").
    """
    if category in CATEGORIES:
        return category
    key = category.strip().replace(" ", "_").replace("&", "and").lower()
    by_key = {c.lower(): c for c in CATEGORIES}
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(by_key[c] for c in close)}?" if close else ""
    raise ConfigError(f"unknown Amazon Reviews 2023 category {category!r}{hint} "
                      f"(one of: {', '.join(CATEGORIES)})")


def hub_filename(category: str, kind: str = "review") -> str:
    """Path of the category's file inside the dataset repo."""
    cat = check_category(category)
    if kind == "review":
        return f"raw/review_categories/{cat}.jsonl"
    if kind == "meta":
        return f"raw/meta_categories/meta_{cat}.jsonl"
    raise ConfigError(f"kind must be one of {KINDS}, got {kind!r}")


def download_amazon(category: str, dest_dir: Path | str, kind: str = "review") -> Path:
    """Download (or reuse) one category file under `dest_dir`; returns its local path.

    Files already downloaded are reused without network access when the hub is
    unreachable or `HF_HUB_OFFLINE=1`.
    """
    filename = hub_filename(category, kind)
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )
    except ImportError:
        raise InputDataError(
            f"downloading from the Hugging Face hub needs huggingface_hub: {install_hint('hub')}; or download "
            "the files yourself and pass them with --input/--meta"
        ) from None
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        path = hf_hub_download(repo_id=REPO_ID, repo_type="dataset", filename=filename, local_dir=dest)
    except LocalEntryNotFoundError as exc:
        raise InputDataError(
            f"{REPO_ID}/{filename}: not downloaded yet and the hub cannot be reached "
            f"(offline or HF_HUB_OFFLINE=1): {exc}"
        ) from exc
    except (EntryNotFoundError, RepositoryNotFoundError) as exc:
        raise InputDataError(f"{REPO_ID}/{filename}: not found on the hub: {exc}") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise InputDataError(f"{REPO_ID}/{filename}: download failed: {exc}") from exc
    return Path(path)
