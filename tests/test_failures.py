"""The failure vocabulary: every category's kind and what it means for asking again."""

from __future__ import annotations

from perrecbench import failures
from perrecbench.failures import Kind


def test_every_category_has_one_name_and_a_meaning():
    names = [f.name for f in failures.ALL]
    assert len(names) == len(set(names)) and all(f.meaning for f in failures.ALL)
    assert failures.lookup("rate_limit") is failures.RATE_LIMIT and failures.lookup(None) is failures.INTERNAL


def test_transport_failures_are_re_asked_answers_resampled_bugs_neither():
    for f in failures.ALL:
        if f.kind is Kind.TRANSPORT:
            assert f.reask and not f.resample
        if f.kind is Kind.ANSWER:
            assert not f.reask and not f.retry
        if f.kind in (Kind.INTERNAL, Kind.SETUP):
            assert not (f.retry or f.resample or f.reask)
    retried = {f.name for f in failures.ALL if f.retry}
    assert retried == {"rate_limit", "server_error", "timeout", "connection", "bad_response"}
    assert {f.name for f in failures.ALL if f.fatal} == {"auth", "not_found"}
    assert all(f.resample for f in failures.PARSE)


def test_http_status_categories():
    got = [failures.for_http_status(s).name for s in (429, 401, 403, 404, 408, 409, 500, 529, 400, 422)]
    assert got == ["rate_limit", "auth", "auth", "not_found", "timeout", "server_error", "server_error",
                   "server_error", "bad_request", "bad_request"]


def test_describe_lists_every_category():
    text = failures.describe()
    assert all(f.name in text for f in failures.ALL) and "re-asked" in text
