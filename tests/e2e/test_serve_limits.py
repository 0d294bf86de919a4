"""`skyferry serve` against clients that send too much, too slowly, or malformed: every refusal
is a problem document the client can read, as the clients of the standard library read.

One `skyferry serve` subprocess per module, with its limits set through their SKYFERRY_ twins.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.servers import free_port

# one xdist worker runs the module, so its module-scoped servers start once, not once per worker
pytestmark = pytest.mark.xdist_group("serve-limits")

MIB = 1024 * 1024
BODY_LIMIT = 10 * MIB  # SKYFERRY_MAX_BODY_BYTES's default
UPLOAD_LIMIT = 1 * MIB
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("serve-limits")
    port = free_port()
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{tmp_path}/db/skyferry.db",
        SKYFERRY_SERVICES="demo,inventory",
        SKYFERRY_INVENTORY__MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
        SKYFERRY_HEADER_TIMEOUT_SECONDS="0.5",
        SKYFERRY_BODY_TIMEOUT_SECONDS="0.5",
        SKYFERRY_MAX_HEADER_BYTES="8192",
        SKYFERRY_MAX_HEADER_COUNT="50",
    )
    process = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, process)
        yield url
    finally:
        stop(process)


def raw_exchange(url: str, request: bytes, *, pause_after: float = 0.0) -> bytes:
    """Send ``request`` on a new socket (then wait ``pause_after`` seconds); all the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        time.sleep(pause_after)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def problem_of(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def test_urllib_reads_the_413_for_a_64_mib_body(server: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - our own server
        f"{server}/jobs/demo",
        data=b" " * (64 * MIB),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)  # noqa: S310 - our own server
    assert refused.value.code == 413
    assert refused.value.headers["content-type"] == PROBLEM
    assert json.loads(refused.value.read())["title"] == "Content Too Large"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_http_client_reads_the_413_for_a_64_mib_body(server: str, chunked: bool) -> None:
    connection = http.client.HTTPConnection(urlsplit(server).netloc, timeout=60)
    body = b" " * (64 * MIB)
    try:
        if chunked:  # no Content-Length: the limit is found while counting
            pieces = (body[start : start + MIB] for start in range(0, len(body), MIB))
            connection.request(
                "POST",
                "/jobs/demo",
                body=pieces,
                headers={"Content-Type": "application/json"},
                encode_chunked=True,
            )
        else:
            connection.request(
                "POST", "/jobs/demo", body=body, headers={"Content-Type": "application/json"}
            )
        answer = connection.getresponse()
        problem = json.loads(answer.read())
    finally:
        connection.close()
    assert answer.status == 413
    assert answer.getheader("content-type") == PROBLEM
    assert problem["title"] == "Content Too Large"


def test_every_413_has_the_same_title(server: str) -> None:
    too_big = b"x" * (UPLOAD_LIMIT + 1)
    url = f"{server}/files/big.bin"
    declared = urllib.request.Request(url, data=too_big, method="PUT")  # noqa: S310
    titles = set()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(declared, timeout=30)  # noqa: S310 - our own server
    titles.add(json.loads(refused.value.read())["title"])
    connection = http.client.HTTPConnection(urlsplit(server).netloc, timeout=30)
    try:
        connection.request("PUT", "/files/big.bin", body=iter([too_big]), encode_chunked=True)
        titles.add(json.loads(connection.getresponse().read())["title"])
        connection.request("POST", "/jobs/demo", body=b" " * (BODY_LIMIT + 1))
        titles.add(json.loads(connection.getresponse().read())["title"])
    finally:
        connection.close()
    assert titles == {"Content Too Large"}


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: ten\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["not-a-number", "two-lengths", "length-and-chunked"],
)
def test_malformed_framing_is_a_400_problem(server: str, framing: bytes) -> None:
    request = b"POST /jobs/demo HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n0\r\n\r\n"
    status, headers, problem = problem_of(raw_exchange(server, request))
    assert (status, headers["content-type"], headers["connection"]) == (400, PROBLEM, "close")
    assert problem["title"] == "Bad Request"
    assert "framing" in problem["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * 9000 + b"\r\n",
        b"".join(b"X-Field-%d: a\r\n" % n for n in range(60)),
    ],
    ids=["too-large", "too-many"],
)
def test_oversized_headers_are_a_431_problem(server: str, headers: bytes) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    status, response_headers, problem = problem_of(raw_exchange(server, request))
    assert (status, response_headers["content-type"]) == (431, PROBLEM)
    assert problem["title"] == "Request Header Fields Too Large"


def test_a_header_block_that_never_ends_is_cut_off_at_the_limit(server: str) -> None:
    # one field that does not end: no parser callback ever sees it complete (and small
    # enough that the server has read all of it when it refuses, so no reset hides the 431)
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 10_000
    status, _, problem = problem_of(raw_exchange(server, request))
    assert status == 431
    assert "8192 bytes" in problem["detail"]


def test_headers_that_trickle_in_time_out_as_408(server: str) -> None:
    started = time.monotonic()
    status, headers, problem = problem_of(raw_exchange(server, b"GET /health HTTP/1.1\r\nHost"))
    assert (status, headers["content-type"]) == (408, PROBLEM)
    assert problem["title"] == "Request Timeout"
    assert time.monotonic() - started < 5


def test_a_body_that_stops_arriving_times_out_as_408(server: str) -> None:
    request = (
        b"POST /jobs/demo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    status, headers, problem = problem_of(raw_exchange(server, request))
    assert (status, headers["content-type"], headers["connection"]) == (408, PROBLEM, "close")
    assert problem["instance"] == "/jobs/demo"


def test_a_connection_that_sends_nothing_is_closed(server: str) -> None:
    started = time.monotonic()
    assert raw_exchange(server, b"") == b""
    assert time.monotonic() - started < 5


def test_within_the_limits_nothing_changes(server: str, tmp_path: Path) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + b"X-A: b\r\n" * 40
    answer = raw_exchange(server, request + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
