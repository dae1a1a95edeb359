"""The browser checks can fail: a page that loads from a (loopback) server, logs an error
and throws is caught, and a blank page is told apart from a drawn one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from headless_chromium import Chromium
from report_helpers import assert_not_blank


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Counting.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_requests_errors_and_blank_pages_are_caught(tmp_path, server):
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        f'<!DOCTYPE html><html><body><h1>hi</h1><img src="{server}/pixel.png">'
        f"<script>console.error('boom'); fetch('{server}/api'); undefined_function();</script></body></html>"
    )
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    with Chromium() as browser:
        visit = browser.open_page(leaky, settle=0.5)
        empty = browser.open_page(blank)
    assert f"{server}/pixel.png" in visit.requests and f"{server}/api" in visit.requests
    assert "/pixel.png" in _Counting.hits  # the request did leave the page
    assert any("boom" in e for e in visit.errors)
    assert any(e.startswith("exception:") for e in visit.errors)
    assert empty.requests == [blank.resolve().as_uri()] and empty.errors == []
    with pytest.raises(AssertionError, match="looks blank"):
        assert_not_blank(empty.screenshot)
