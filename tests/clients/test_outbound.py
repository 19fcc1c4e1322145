"""core.outbound: the SSRF guard (docs/reliability.md, guarded outbound HTTP) and the guarded POST.

No test resolves a real name or leaves the machine: ``fake_dns`` answers names from a table and
only numeric forms (and ``localhost``) reach the real resolver, with ``AI_NUMERICHOST``.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from core import outbound
from core.errors import ValidationFailed
from core.outbound import OutboundResult, ParsedTarget
from tests.clients.receiver import Receiver, Reply

_real_getaddrinfo = socket.getaddrinfo
PUBLIC_IP = "93.184.216.34"


def _addrinfo(address: str, port):
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port), 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """``fake_dns.records[name]`` is a list of addresses, or a callable returning one per lookup."""
    records: dict = {
        "hooks.example.com": [PUBLIC_IP],
        "metadata.google.internal": ["169.254.169.254"],
        "internal.example": ["127.0.0.1"],
        "mixed.example": [PUBLIC_IP, "10.0.0.5"],
        "v6-internal.example": ["2606:4700::1111", "fd12:3456::1"],
    }
    calls: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        calls.append(host)
        if host in records:
            answer = records[host]
            return [_addrinfo(address, port) for address in (answer() if callable(answer) else answer)]
        if host == "localhost":
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(records=records, calls=calls)


@pytest.fixture
def no_loopback(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False


@pytest.fixture
def loopback(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket tries to connect to (the egress guard still runs after this)."""
    seen: list[tuple] = []
    guarded_connect = socket.socket.connect

    def recording_connect(sock, address):
        seen.append(tuple(address[:2]))
        return guarded_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return seen


FORBIDDEN = [
    ("http://127.0.0.1/", "forbidden_target"),
    ("http://localhost/", "forbidden_target"),
    ("http://127.1/", "forbidden_target"),
    ("http://0.0.0.0/", "forbidden_target"),
    ("http://0/", "forbidden_target"),
    ("http://[::1]/", "forbidden_target"),
    ("http://[::ffff:127.0.0.1]/", "forbidden_target"),
    ("http://2130706433/", "forbidden_target"),
    ("http://0x7f000001/", "forbidden_target"),
    ("http://017700000001/", "forbidden_target"),
    ("http://0177.0.0.1/", "forbidden_target"),
    ("HTTP://127.0.0.1/", "forbidden_target"),
    ("http://127.0.0.1:6379/", "forbidden_target"),
    ("https://127.0.0.1:5432/", "forbidden_target"),
    ("http://169.254.169.254/latest/meta-data/", "forbidden_target"),
    ("http://[::ffff:a9fe:a9fe]/", "forbidden_target"),
    ("http://metadata.google.internal/computeMetadata/v1/", "forbidden_target"),
    ("http://[fd00:ec2::254]/", "forbidden_target"),
    ("http://10.0.0.1/", "forbidden_target"),
    ("http://172.16.0.1/", "forbidden_target"),
    ("http://192.168.1.1/", "forbidden_target"),
    ("http://100.64.0.1/", "forbidden_target"),
    ("http://198.18.0.1/", "forbidden_target"),
    ("http://255.255.255.255/", "forbidden_target"),
    ("http://224.0.0.1/", "forbidden_target"),
    ("http://[fc00::1]/", "forbidden_target"),
    ("http://[fe80::1]/", "forbidden_target"),
    ("http://[::]/", "forbidden_target"),
    ("http://[ff02::1]/", "forbidden_target"),
    ("http://[2002:7f00:1::]/", "forbidden_target"),
    ("http://[64:ff9b::7f00:1]/", "forbidden_target"),
    ("http://internal.example/", "forbidden_target"),
    ("http://mixed.example/", "forbidden_target"),
    ("http://v6-internal.example/", "forbidden_target"),
    ("http://user@127.0.0.1/", "invalid_url"),
    ("http://user:secret@hooks.example.com/", "invalid_url"),
    ("http://@hooks.example.com/", "invalid_url"),
    ("file:///etc/passwd", "invalid_url"),
    ("gopher://127.0.0.1:6379/_INFO", "invalid_url"),
    ("dict://127.0.0.1:11211/stats", "invalid_url"),
    ("ftp://hooks.example.com/", "invalid_url"),
    ("//127.0.0.1/", "invalid_url"),
    ("http://", "invalid_url"),
    ("http:///etc/passwd", "invalid_url"),
    ("http://hooks.example.com\\@127.0.0.1/", "invalid_url"),
    ("http://hooks.example.com /", "invalid_url"),
    ("http://127.0.0.%31/", "invalid_url"),
    ("http://[::1/", "invalid_url"),
    ("http://hooks.example.com:0/", "invalid_url"),
    ("http://hooks.example.com:99999/", "invalid_url"),
    ("http://does-not-resolve.example/", "invalid_url"),
]


@pytest.mark.parametrize(("url", "code"), FORBIDDEN)
def test_validate_url_refuses_forbidden_targets(no_loopback, url, code):
    # given loopback is not allowed (production)
    # when / then
    with pytest.raises(ValidationFailed) as caught:
        outbound.validate_url(url)
    assert caught.value.code == code


def test_forbidden_message_names_the_host_and_the_address(no_loopback):
    with pytest.raises(ValidationFailed) as caught:
        outbound.validate_url("http://metadata.google.internal/computeMetadata/v1/")
    assert caught.value.message == (
        "The host 'metadata.google.internal' resolves to 169.254.169.254, which is not a public address."
    )
    assert caught.value.details == {"host": "metadata.google.internal", "address": "169.254.169.254"}


def test_validate_url_accepts_a_public_host(no_loopback):
    target = outbound.validate_url("https://Hooks.Example.com/quorum/in?x=1&y=caf\u00e9#frag")
    assert target == ParsedTarget(
        scheme="https",
        host="hooks.example.com",
        port=443,
        path="/quorum/in?x=1&y=caf%C3%A9",
        host_header="hooks.example.com",
        addresses=(PUBLIC_IP,),
    )


def test_validate_url_keeps_a_non_default_port_in_the_host_header(no_loopback):
    target = outbound.validate_url("http://hooks.example.com:8080")
    assert (target.port, target.path, target.host_header) == (8080, "/", "hooks.example.com:8080")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1:8080/", "127.0.0.1"),
        ("http://localhost/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://[::1]:9000/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
    ],
)
def test_loopback_setting_allows_loopback(loopback, url, address):
    assert outbound.validate_url(url).addresses == (address,)


@pytest.mark.parametrize(
    "url",
    [
        "http://0.0.0.0/",
        "http://169.254.169.254/",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://[fc00::1]/",
        "http://[fe80::1]/",
        "http://mixed.example/",
    ],
)
def test_loopback_setting_allows_nothing_else(loopback, url):
    with pytest.raises(ValidationFailed) as caught:
        outbound.validate_url(url)
    assert caught.value.code == "forbidden_target"


def test_post_json_sends_the_body_with_the_original_host_header(loopback):
    with Receiver() as receiver:
        result = outbound.post_json(
            receiver.url + "hooks/in?x=1",
            b'{"a":1}',
            {"content-type": "application/json", "Host": "evil.example"},
        )
        requests = receiver.requests
    assert (result.status_code, result.error, result.response_excerpt) == (200, "", "ok")
    assert (result.bytes_read, result.truncated, result.retry_after_seconds) == (2, False, None)
    assert len(requests) == 1
    assert (requests[0].method, requests[0].path, requests[0].body) == ("POST", "/hooks/in?x=1", b'{"a":1}')
    assert requests[0].headers["host"] == f"127.0.0.1:{receiver.port}"
    assert requests[0].headers["content-type"] == "application/json"


def test_post_json_refuses_a_forbidden_target_at_send_time(no_loopback):
    # given a URL that was fine when saved (loopback allowed then), now refused
    with Receiver() as receiver:
        result = outbound.post_json(receiver.url, b"{}", {})
        connections = receiver.connections
    assert result.status_code is None
    assert result.error == (
        "forbidden_target: The host '127.0.0.1' resolves to 127.0.0.1, which is not a public address."
    )
    assert connections == 0


def test_dns_rebinding_between_save_and_send_is_refused(no_loopback, fake_dns):
    # given a name that resolves publicly when the URL is saved and to loopback afterwards
    answers = iter([[PUBLIC_IP], ["127.0.0.1"], ["127.0.0.1"]])
    fake_dns.records["rebind.example"] = lambda: next(answers)
    with Receiver() as canary:
        url = f"http://rebind.example:{canary.port}/"
        assert outbound.validate_url(url).addresses == (PUBLIC_IP,)
        # when it is sent
        result = outbound.post_json(url, b"{}", {})
        connections = canary.connections
    # then the send-time check refuses it and nothing reached the canary
    assert result.status_code is None
    assert result.error.startswith("forbidden_target: ")
    assert connections == 0


def test_dns_rebinding_after_the_check_cannot_move_the_connection(loopback, fake_dns, connects):
    # given a name that resolves publicly once and to the canary on every later lookup; loopback
    # is allowed, so only pinning (not the address check) can keep the request off the canary
    answers = iter([[PUBLIC_IP]])
    fake_dns.records["rebind.example"] = lambda: next(answers, ["127.0.0.1"])
    with Receiver() as canary:
        # when
        result = outbound.post_json(f"http://rebind.example:{canary.port}/", b"{}", {})
        connections = canary.connections
    # then the one connection attempt went to the checked address (and the egress guard refused it)
    assert fake_dns.calls == ["rebind.example"]
    assert connects == [(PUBLIC_IP, canary.port)]
    assert result.status_code is None
    assert result.error.startswith("connection_failed: ")
    assert connections == 0


def test_a_public_literal_that_resolves_to_loopback_is_refused(no_loopback, fake_dns, connects):
    with Receiver() as canary:
        fake_dns.records[PUBLIC_IP] = ["127.0.0.1"]
        result = outbound.post_json(f"http://{PUBLIC_IP}:{canary.port}/", b"{}", {})
        connections = canary.connections
    assert result.error.startswith("forbidden_target: ")
    assert connects == []
    assert connections == 0


def test_redirects_are_not_followed(loopback):
    with Receiver() as canary, Receiver() as origin:
        origin.default = Reply(status=302, headers={"Location": canary.url + "stolen"})
        result = outbound.post_json(origin.url, b"{}", {})
        origin_requests, canary_connections = len(origin.requests), canary.connections
    assert (result.status_code, result.error) == (302, "")
    assert origin_requests == 1
    assert canary_connections == 0


def test_response_body_is_read_up_to_the_cap(loopback, settings):
    settings.QUORUM_OUTBOUND_MAX_RESPONSE_BYTES = 64 * 1024
    with Receiver(default=Reply(status=200, body_size=5 * 1024 * 1024)) as receiver:
        result = outbound.post_json(receiver.url, b"{}", {})
    assert (result.status_code, result.error) == (200, "")
    assert result.bytes_read == 64 * 1024
    assert result.truncated is True
    assert result.response_excerpt == "x" * 500


def test_a_receiver_slower_than_the_timeout_fails_with_timeout(loopback, settings):
    settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS = 0.5
    with Receiver(default=Reply(status=200, delay=3)) as receiver:
        result = outbound.post_json(receiver.url, b"{}", {})
        requests = len(receiver.requests)
    assert requests == 1
    assert result.status_code is None
    assert result.error.startswith("timeout: ")
    assert result.duration_ms < 3000  # gave up before the receiver answered


def test_a_dripping_body_is_cut_at_the_overall_deadline(loopback, settings):
    # given a receiver that answers 200 at once, then sends its body one byte every 0.2 s (10 s)
    settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS = 1.0
    with Receiver(default=Reply(status=200, body_size=50, drip_interval=0.2)) as receiver:
        result = outbound.post_json(receiver.url, b"{}", {})
    # then the status stands, and the read stopped at the deadline, not at the end of the drip
    assert (result.status_code, result.error, result.truncated) == (200, "", True)
    assert result.bytes_read < 50
    assert result.duration_ms < 10_000


def test_a_closed_port_is_a_connection_failure(loopback):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    result = outbound.post_json(f"http://127.0.0.1:{port}/", b"{}", {})
    assert result.status_code is None
    assert result.error.startswith("connection_failed: ")


@pytest.mark.parametrize(("header", "seconds"), [("120", 120), ("soon", None)])
def test_retry_after_seconds_are_reported(loopback, header, seconds):
    with Receiver(default=Reply(status=429, headers={"Retry-After": header})) as receiver:
        result = outbound.post_json(receiver.url, b"{}", {})
    assert (result.status_code, result.retry_after_seconds) == (429, seconds)


def test_outbound_result_ok_means_2xx():
    assert [
        OutboundResult(status_code=code, error="", duration_ms=0).ok for code in (200, 204, 302, 500)
    ] == [
        True,
        True,
        False,
        False,
    ]
