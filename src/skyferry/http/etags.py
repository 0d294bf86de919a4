"""Entity tags: the If-Match / If-None-Match / If-Range lists clients send.

RFC 9110 §8.8.3 and §13.1: If-Match compares strongly (a weak tag never matches), If-None-Match
weakly (only the opaque part counts); ``*`` matches any current representation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# a quoted tag may hold commas, so the list is scanned tag by tag rather than split on commas;
# a bare token is accepted too, because some clients drop the quotes, but only whole: `"1` is
# neither a quoted tag nor a token, and must not match version 1
_TAG = re.compile(r'\s*(W/)?(?:"([^"]*)"|([^\s,"]+))\s*(?:,|$)')


@dataclass(frozen=True)
class ETagList:
    """A parsed If-Match or If-None-Match value: ``*``, or (weak, opaque) pairs."""

    any: bool
    tags: tuple[tuple[bool, str], ...] = ()

    def matches_strong(self, etag: str | None) -> bool:
        """If-Match and If-Range semantics."""
        if etag is None:
            return False
        if self.any:
            return True
        weak, opaque = _split(etag)
        return not weak and (False, opaque) in self.tags

    def matches_weak(self, etag: str | None) -> bool:
        """If-None-Match semantics."""
        if etag is None:
            return False
        if self.any:
            return True
        opaque = _split(etag)[1]
        return any(tag == opaque for _, tag in self.tags)


def parse_etags(header: str | None) -> ETagList | None:
    """The list in a conditional header, or None when there is no header to honour."""
    if header is None:
        return None
    text = header.strip()
    if text == "*":
        return ETagList(any=True)
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(text):
        match = _TAG.match(text, position)
        if match is None or match.end() == position:
            # a malformed header matches nothing, which is what a client sending garbage in
            # If-Match should get (412) rather than an unconditional write
            return ETagList(any=False)
        tags.append((bool(match[1]), match[2] if match[2] is not None else match[3]))
        position = match.end()
    return ETagList(any=False, tags=tuple(tags))


def _split(etag: str) -> tuple[bool, str]:
    weak = etag.startswith("W/")
    opaque = etag[2:] if weak else etag
    if len(opaque) >= 2 and opaque[0] == opaque[-1] == '"':
        opaque = opaque[1:-1]
    return weak, opaque
