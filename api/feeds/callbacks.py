"""The guard every subscriber callback passes: the crawler's private-address check (crawlers/safety.py).

A callback is an address our worker will call, given by anyone: like a source URL, it must not reach
private, loopback, link-local or metadata addresses, in any spelling, unless its host name is listed
in ``websubhub.allowed_callback_hosts``.
"""

from __future__ import annotations

from crawlers.safety import HostPolicy
from crawlers.websub import SubscribeError, check_hub_url
from hub.settings import WebSubHubSettings
from hub.websubhub_http import CallbackRefused, Guard


def callback_guard(config: WebSubHubSettings) -> Guard:
    """A function raising CallbackRefused for a callback URL we must not call."""
    policy = HostPolicy(False, config.allowed_callback_hosts)

    def guard(url: str) -> None:
        try:
            check_hub_url(policy, url)  # the subscriber side's check of hub URLs: same rules
        except SubscribeError as exc:
            raise CallbackRefused(f"hub.callback refused: {exc}") from exc

    return guard
