"""The SSRF guard: which addresses are public, and pinning a delivery to the address it checked.

DNS answers are faked here (only the outside resolver, never our code): a test
cannot make a real name resolve to a chosen public address, and must send
nothing to one.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from tasks.webhook_targets import (
    Target,
    TargetUnresolvable,
    WebhookRefused,
    is_public,
    resolve_target,
)
from tasks.webhooks import post_webhook
from tests.webhook_receiver import WebhookReceiver


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:192.168.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 to 169.254.169.254
        ("2002:7f00:1::1", False),  # 6to4 from 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo to 192.0.2.45 (not global)
        ("64:ff9b::5db8:d822", True),  # NAT64 to 93.184.216.34
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_a_name_is_pinned_to_the_address_it_resolved_to(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    target = resolve_target("https://hooks.example:8443/in?x=1", allowed_hosts=())
    assert target == Target(
        url="https://93.184.216.34:8443/in?x=1",
        host_header="hooks.example:8443",
        sni_hostname="hooks.example",
    )


def test_a_name_with_any_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {"rebind.example": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(WebhookRefused, match="10.0.0.7"):
        resolve_target("http://rebind.example/hook", allowed_hosts=())
    with pytest.raises(TargetUnresolvable):
        resolve_target("http://nowhere.example/hook", allowed_hosts=())


def test_allow_listed_hosts_are_matched_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {"hooks.internal": ["10.0.0.7"]})
    assert resolve_target("http://hooks.internal/x", allowed_hosts={"hooks.internal"}) == Target(
        url="http://hooks.internal/x"
    )
    with pytest.raises(WebhookRefused):
        resolve_target("http://hooks.internal/x", allowed_hosts={"10.0.0.7"})


def test_a_pinned_request_keeps_the_host_header() -> None:
    with WebhookReceiver() as receiver:
        target = Target(url=receiver.url, host_header="hooks.example")
        answer = post_webhook(target, "{}", {"webhook-id": "msg_1"}, timeout_s=5)
        [received] = receiver.wait_for(1)
    assert answer == (200, None)
    assert received.headers["host"] == "hooks.example"
    assert received.headers["webhook-id"] == "msg_1" and received.body == b"{}"


def test_a_slow_receiver_times_out_and_redirects_are_not_followed() -> None:
    with WebhookReceiver(delay_s=1.5) as slow:
        status, error = post_webhook(Target(url=slow.url), "{}", {}, timeout_s=0.3)
    assert status is None and error is not None and error.startswith("ReadTimeout")
    with WebhookReceiver(302) as moving:
        assert post_webhook(Target(url=moving.url), "{}", {}, timeout_s=5) == (302, "HTTP 302")
        assert len(moving.requests) == 1
