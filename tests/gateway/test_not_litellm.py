"""A proxy URL where a server answers that is not LiteLLM gets a line about the setting (issue 21, item 6).

The real LiteLLM proxy of the test run is recognised; two real HTTP servers that are not LiteLLM (Python's own file
server, which answers POST with 501, and one that answers every path with a web page) are named as such."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaiwa.gateway.endpoint import not_litellm
from tests.conftest import Kaiwa
from tests.gateway.test_offline import free_port
from tests.harness.asserts import assert_one_line_failure


class WebPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


class Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def file_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    yield from serve(Files)


@pytest.fixture
def web_page() -> Iterator[str]:
    yield from serve(WebPage)


def test_the_real_proxy_is_litellm(proxy: object) -> None:
    assert not_litellm(proxy.base_url) is None  # type: ignore[attr-defined]


def test_nothing_listening_is_left_to_the_cannot_reach_line() -> None:
    assert not_litellm(f"http://127.0.0.1:{free_port()}/v1") is None


def test_a_file_server_is_named(file_server: str) -> None:
    problem = not_litellm(file_server.replace("http://", "http://me:secretpw@"))
    assert problem is not None
    line = problem.line()
    assert "is not a LiteLLM proxy (HTTP 404" in line and "LITELLM_BASE_URL" in line
    assert "secretpw" not in line and "me:***@" in line


def test_a_web_page_is_named(web_page: str) -> None:
    problem = not_litellm(web_page)
    assert problem is not None and "an answer that is not LiteLLM's" in problem.line()


@pytest.mark.parametrize("server", ["file_server", "web_page"])
def test_a_turn_against_a_server_that_is_not_litellm_names_the_setting(
    tmp_path: Path, server: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(server)
    kaiwa = Kaiwa(
        tmp_path, {"LITELLM_BASE_URL": url.replace("http://", "http://me:secretpw@"), "KAIWA_MAX_RETRIES": "0"}
    )
    run = kaiwa("--input", "hi")
    assert_one_line_failure(run, 1, "is not a LiteLLM proxy", "LITELLM_BASE_URL")
    assert "secretpw" not in run.err and "mid-answer" not in run.err and "upstream" not in run.err
    as_json = kaiwa("--input", "hi", "--json")
    assert json.loads(as_json.out.splitlines()[-1])["kind"] == "not_litellm"
