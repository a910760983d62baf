"""Images and video embeds of an article body, as absolute URLs (docs/architecture.md step 4).

Videos are kept as a list of URLs, never as iframes in the republished HTML: the sanitizer drops
every iframe, and the portal renders known players itself.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

# Players whose embeds are worth keeping; any other iframe is an ad, a map or a tracker.
VIDEO_HOSTS = frozenset(
    {
        "v.qq.com",
        "player.bilibili.com",
        "player.youku.com",
        "open.iqiyi.com",
        "www.ixigua.com",
        "player.video.iqiyi.com",
        "tv.cctv.com",
        "www.youtube.com",
        "www.youtube-nocookie.com",
        "player.vimeo.com",
        "channels.weixin.qq.com",
    }
)
VIDEO_EXTENSIONS = (".mp4", ".m3u8", ".webm", ".ogv", ".mov", ".flv")


def _absolute(base_url: str, value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    url = urljoin(base_url, value.strip())
    if url.startswith("//"):
        url = "https:" + url
    return url if urlsplit(url).scheme in ("http", "https") else None


def images_in(node: HtmlElement, base_url: str) -> list[str]:
    """Absolute ``src`` of every <img> under ``node``, in order, without repeats."""
    found = (_absolute(base_url, img.get("src")) for img in node.iter("img"))
    return list(dict.fromkeys(url for url in found if url))


def is_video_player(url: str) -> bool:
    """True for an embed URL of a known video host."""
    return (urlsplit(url).hostname or "").lower() in VIDEO_HOSTS


def _is_video(element: HtmlElement, src: str) -> bool:
    if element.tag == "video":
        return True
    if element.tag == "source":
        parent = element.getparent()
        return parent is not None and parent.tag == "video"
    if element.tag == "iframe":
        return is_video_player(src)
    return urlsplit(src).path.lower().endswith(VIDEO_EXTENSIONS)  # <embed>


def videos_in(node: HtmlElement, base_url: str) -> list[str]:
    """<video src>, <video><source src>, video-file <embed> and known-player <iframe> URLs under ``node``."""
    found: list[str] = []
    for element in node.iter("video", "source", "iframe", "embed"):
        src = _absolute(base_url, element.get("src") or element.get("data-src"))
        if src is not None and _is_video(element, src):
            found.append(src)
    return list(dict.fromkeys(found))
