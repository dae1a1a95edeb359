"""API keys out of everything written or printed.

Keys come from the environment only, but a server may echo one back (a 401 body that
quotes the Authorization header), and that text reaches error details. Every file that
can hold outside text (calls.jsonl, predictions.jsonl) passes through `redact`, and so
does every message printed: a transport error is redacted where it is made
(`CallError`, `CallFailed`), and the CLI redacts each error line it prints.
"""

from __future__ import annotations

import os
import re

#: environment variables whose values are secrets
SECRET_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
_KEYLIKE = re.compile(r"\b(sk-|sk_|key-)[A-Za-z0-9_\-*.]{4,}")
#: a quoted Authorization / x-api-key header: whatever the key looks like
_HEADER = re.compile(r"(?i)(\bbearer\s+|\bx-api-key[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)[^\s\"',;)}\]]+")


def redact(text: str) -> str:
    """Remove API keys (the real values, and anything shaped like one) from text."""
    for env in SECRET_ENVS:
        secret = os.environ.get(env)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _KEYLIKE.sub(lambda m: m.group(1) + "***", text)
    return _HEADER.sub(lambda m: m.group(1) + "***", text)
