"""Abusive clients against a real server process: unsigned bodies, stalled connections, too few descriptors.

Figures come from the kernel: RSS and its high-water mark from ``/proc/<pid>/status``, open descriptors from
``/proc/<pid>/fd``.
"""

from __future__ import annotations

import os
import resource
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.jobs import wait_for
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.job_databases("sqlite", reason="connections abused at the edge: no job reaches the store")

MIB = 1024 * 1024
JOBS = "/v20180820/jobs"


def status_kib(pid: int, field: str) -> int:
    """A ``VmRSS``/``VmHWM`` figure of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def pid_of(server: Server) -> int:
    assert server.process is not None
    return server.process.pid


def healthz_answers(server: Server, within: float = 5.0) -> bool:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=within) as reply:
        return bool(reply.status == 200)


def signed_head(server: Server, method: str, path: str, body: bytes) -> bytes:
    """The request line and headers of a SigV4-signed request (as boto3 signs it), ready for a raw socket."""
    request = AWSRequest(method=method, url=f"{server.url}{path}", data=body, headers={"x-amz-account-id": ACCOUNT})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    headers = {**dict(request.headers), "Host": f"127.0.0.1:{server.port}", "Content-Length": str(len(body))}
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def unsigned_head(server: Server, length: int) -> bytes:
    return (
        f"POST {JOBS} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nx-amz-account-id: {ACCOUNT}\r\n"
        f"Content-Type: application/xml\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def connect(server: Server, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def closed_by_server(sock: socket.socket, within: float) -> bytes | None:
    """Everything the server sent until it closed the connection; None if it is still open after ``within``."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        return received
    except TimeoutError:
        return None
    return received


def send_quietly(sock: socket.socket, data: bytes) -> bool:
    """Send, or False once the server has closed the connection (what a refused client sees)."""
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


@contextmanager
def sockets(count: int, make: Callable[[], socket.socket]) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            opened.append(make())
        yield opened
    finally:
        for sock in opened:
            sock.close()


def signed_list_jobs_answers(server: Server) -> bool:
    jobs = server.client().list_jobs(AccountId=ACCOUNT)
    return "Jobs" in jobs


# --- unsigned bodies: refused before they are read --------------------------------------------------------


def unsigned_body_flood(server: Server, connections: int) -> dict[str, int]:
    """``connections`` unsigned CreateJob requests, each sending 1 MiB in 64 KiB rounds; the server's figures."""
    pid = pid_of(server)
    healthz_answers(server)
    assert signed_list_jobs_answers(server)
    before_rss, before_fds = status_kib(pid, "VmRSS"), open_fds(pid)
    piece = b"<" * (64 * 1024)
    with sockets(connections, lambda: connect(server)) as socks:
        alive = list(socks)
        for sock in alive:
            send_quietly(sock, unsigned_head(server, MIB))
        for round_number in range(MIB // len(piece)):
            alive = [sock for sock in alive if send_quietly(sock, piece)]
            if round_number % 4 == 0:  # the API keeps answering during the flood
                assert healthz_answers(server)
                assert signed_list_jobs_answers(server)
        peak_fds = open_fds(pid)
        answers = [closed_by_server(sock, within=10.0) for sock in socks]
    wait_for(lambda: open_fds(pid) <= before_fds + 2, timeout=10, what="the server to close the flood's connections")
    # Closed while the client still sends: the kernel may turn the close into a reset before the 403 is read.
    refused = sum(1 for answer in answers if answer is not None and answer[:13] in (b"", b"HTTP/1.1 403 "))
    return {
        "rss_before_kib": before_rss,
        "rss_peak_kib": status_kib(pid, "VmHWM"),
        "fds_before": before_fds,
        "fds_during": peak_fds,
        "refused_403": refused,
        "still_open": sum(1 for answer in answers if answer is None),
    }


def check_flood(server: Server, connections: int, rss_bound_mib: int) -> None:
    figures = unsigned_body_flood(server, connections)
    print(f"unsigned body flood of {connections} connections: {figures}")
    growth_mib = (figures["rss_peak_kib"] - figures["rss_before_kib"]) / 1024
    assert growth_mib < rss_bound_mib, f"RSS grew {growth_mib:.0f} MiB under {connections} unsigned bodies: {figures}"
    assert figures["still_open"] == 0, figures
    assert figures["refused_403"] == connections, figures


def test_unsigned_bodies_are_refused_unread_and_memory_stays_flat(server: Server) -> None:
    check_flood(server, 100, rss_bound_mib=32)


@pytest.mark.soak
def test_soak_unsigned_bodies_300_connections(server: Server) -> None:
    check_flood(server, 300, rss_bound_mib=48)


# --- stalled connections: closed after their deadline ------------------------------------------------------


def test_stalled_heads_and_bodies_are_closed_after_their_deadlines(start_server: Any) -> None:
    server = start_server(env={"BATCHOPS_HEAD_TIMEOUT_SECONDS": "1", "BATCHOPS_BODY_TIMEOUT_SECONDS": "1"})
    body = b'<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"></CreateJobRequest>'
    with connect(server) as head_only, connect(server) as half_body, connect(server) as unsigned:
        head_only.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode())  # never ends
        half_body.sendall(signed_head(server, "POST", JOBS, body) + body[:10])
        unsigned.sendall(unsigned_head(server, MIB) + b"<" * 1000)
        assert closed_by_server(head_only, within=5) == b"", "a connection without a whole head stays open"
        answer = closed_by_server(half_body, within=5)
        assert answer is not None, "a signed request whose body stalls is never answered"
        assert answer.startswith(b"HTTP/1.1 400 ") and b"<Code>RequestTimeout</Code>" in answer, answer
        assert b"did not arrive within 1 s" in answer
        answer = closed_by_server(unsigned, within=5)
        assert answer is not None, "an unsigned request with an unread body keeps its connection open"
        assert answer.startswith(b"HTTP/1.1 403 ") and b"<Code>AccessDenied</Code>" in answer, answer
        assert b"connection: close" in answer.lower()


def test_a_client_that_disconnects_mid_body_is_no_error(server: Server) -> None:
    pid = pid_of(server)
    healthz_answers(server)
    baseline = open_fds(pid)
    body = b"<CreateJobRequest>" + b" " * 100_000
    for _ in range(3):
        with connect(server) as sock:
            sock.sendall(signed_head(server, "POST", JOBS, body) + body[:1000])
    wait_for(lambda: open_fds(pid) <= baseline, timeout=10, what="the server to drop the disconnected clients")
    assert healthz_answers(server)
    log = server.log_tail(400)
    assert "ERROR" not in log and "Traceback" not in log, log


# --- too few descriptors: the bound stays under the open-file limit -----------------------------------------


def low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def check_stalled_under_fd_limit(start_server: Any, stalled: int) -> None:
    server = start_server(preexec=low_fd_limit, env={"BATCHOPS_HEAD_TIMEOUT_SECONDS": "60"})
    pid = pid_of(server)
    head = f"POST {JOBS} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode()  # and then nothing
    with sockets(stalled, lambda: connect(server)) as socks:
        for sock in socks:
            send_quietly(sock, head)
        fds_during = open_fds(pid)
        started = time.monotonic()
        for _ in range(5):
            assert healthz_answers(server, within=5)
            assert signed_list_jobs_answers(server)
        answered_in = time.monotonic() - started
    log = (server.data_dir / "server.log").read_text(errors="replace")
    storm = log.count("out of system resource")
    print(f"{stalled} stalled connections under ulimit -n 256: fds {fds_during}, 5 answers in {answered_in:.2f} s")
    assert storm == 0, f"accept() ran out of descriptors {storm} times"
    assert fds_during < 256
    assert "serving at most 96 connections at once (listen backlog 16)" in log  # 256 - 64 - 64 tasks - 2 x 16


def test_stalled_connections_under_a_low_fd_limit_leave_the_api_answering(start_server: Any) -> None:
    check_stalled_under_fd_limit(start_server, 300)


@pytest.mark.soak
def test_soak_1000_stalled_connections_under_a_low_fd_limit(start_server: Any) -> None:
    check_stalled_under_fd_limit(start_server, 1000)
