"""The SSRF guard's address checks (crawlers/safety.py): every spelling of a private address is caught."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from crawlers.safety import AddressCache, HostPolicy, is_private_address, parse_ip_literal

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # inet_aton: the last part fills the remaining bytes
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f.0.0.1", "127.0.0.1"),  # hex part
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal part
        ("[::1]", "::1"),  # as written in a URL
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),  # zone index dropped
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_parse_ip_literal_spellings(spelling: str, address: str) -> None:
    assert parse_ip_literal(spelling) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.gov.cn", "localhost", "", "1.2.3.4.5", "0x", "abc.def"])
def test_parse_ip_literal_names_are_not_addresses(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "169.254.169.254",  # cloud metadata
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fe80::1",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "100.64.0.1",  # CGNAT (RFC 6598)
        "100.127.255.254",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "0.0.0.0",
        "::",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.1",  # documentation
    ],
)
def test_private_addresses_are_refused(address: str) -> None:
    assert is_private_address(address)
    assert is_private_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "114.114.114.114", "172.32.0.1", "100.128.0.1", "2400:3200::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_private_address(address)


def test_every_spelling_of_loopback_is_private() -> None:
    for spelling in ("127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1"):
        literal = parse_ip_literal(spelling)
        assert literal == LOOPBACK
        assert is_private_address(literal)


def test_host_policy_allow_list_matches_names_exactly_and_addresses_in_any_spelling() -> None:
    policy = HostPolicy(allow_all=False, allowed_hosts=["127.0.0.1", "Sample.Local", "[::1]"])
    assert policy.allowed_name("127.0.0.1")
    assert policy.allowed_name("sample.local")  # case does not matter
    assert policy.allowed_name("::1")
    # An allowed address in another spelling is that address (w3lib >= 2.6 rewrites it to 127.0.0.1).
    for host in ("127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "[0:0:0:0:0:0:0:1]"):
        assert policy.allowed_name(host), host
    # Names resolving to an allowed address, subdomains of an allowed name, and other addresses are not.
    for host in ("localhost", "a.sample.local", "127.0.0.2", "127.2", "2130706434", "::ffff:127.0.0.1"):
        assert not policy.allowed_name(host), host
    assert policy.refusal("127.0.0.1", ["127.0.0.1"]) is None
    assert policy.refusal("2130706433", ["127.0.0.1"]) is None
    assert policy.refusal("127.2", ["127.0.0.2"]) == "127.2 resolves to private address 127.0.0.2"
    assert policy.refusal("localhost", ["::1", "127.0.0.1"]) is not None
    # A names-only allow-list allows no address spelling at all.
    assert not HostPolicy(allow_all=False, allowed_hosts=["sample.local"]).allowed_name("127.1")


def test_host_policy_public_and_allow_all() -> None:
    policy = HostPolicy(allow_all=False, allowed_hosts=[])
    assert policy.refusal("www.example.gov.cn", ["8.8.8.8"]) is None
    # One private address among the answers is enough to refuse (DNS may answer several).
    assert policy.refusal("mixed.example", ["8.8.8.8", "10.0.0.1"]) is not None
    assert policy.refusal("meta.example", ["169.254.169.254"]) is not None
    open_policy = HostPolicy(allow_all=True, allowed_hosts=[])
    assert open_policy.refusal("localhost", ["127.0.0.1"]) is None


def test_address_cache_shares_lookups_and_expires() -> None:
    calls: list[str] = []
    now = [0.0]

    async def lookup(host: str, port: int) -> list[str]:
        calls.append(host)
        await asyncio.sleep(0)
        return [] if host == "nowhere.invalid" else ["93.184.216.34"]

    async def scenario() -> None:
        cache = AddressCache(ttl=60, lookup=lookup, clock=lambda: now[0])
        # Concurrent requests to one host wait for the same query.
        results = await asyncio.gather(*(cache.resolve("example.gov.cn", 80) for _ in range(5)))
        assert results == [["93.184.216.34"]] * 5 and calls == ["example.gov.cn"]
        now[0] = 59.0
        await cache.resolve("example.gov.cn", 80)
        assert len(calls) == 1
        now[0] = 60.0  # expired: asked again
        await cache.resolve("example.gov.cn", 80)
        assert len(calls) == 2
        # A failed lookup is not kept: the next request asks again.
        assert await cache.resolve("nowhere.invalid", 80) == []
        assert await cache.resolve("nowhere.invalid", 80) == []
        assert calls.count("nowhere.invalid") == 2

    asyncio.run(scenario())


def test_address_cache_is_bounded() -> None:
    async def lookup(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    async def scenario() -> AddressCache:
        cache = AddressCache(size=3, lookup=lookup)
        for n in range(10):
            await cache.resolve(f"host{n}.example", 80)
        return cache

    assert len(asyncio.run(scenario())._entries) == 3


def test_middleware_refuses_a_name_that_resolves_to_loopback() -> None:
    # localhost resolves through /etc/hosts (no network); the cached answer is refused the second time too.
    from scrapy import Request

    from crawlers.middlewares.privatenet import BlockedPrivateAddress, PrivateNetworkMiddleware

    middleware = PrivateNetworkMiddleware(HostPolicy(False, ["127.0.0.1"]))

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(BlockedPrivateAddress):
                await middleware.process_request(Request("http://localhost:8700/feed.xml"))
        assert await middleware.process_request(Request("http://127.0.0.1:8700/feed.xml")) is None

    asyncio.run(scenario())
