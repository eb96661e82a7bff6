"""The rules of RFC 4287 (The Atom Syndication Format) that a feed validator checks, as
a list of the ones a document breaks. No maintained Atom validator is on PyPI, so the
MUST rules of sections 3 and 4.1 that apply to our feeds are written out here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

NS = "{http://www.w3.org/2005/Atom}"
# RFC 3339 date-time (section 3.3): the "T" and a time zone are required.
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TEXT_TYPES = {"text", "html", "xhtml"}


def _one(parent: ET.Element, name: str, where: str, problems: list[str]) -> ET.Element | None:
    found = parent.findall(NS + name)
    if len(found) != 1:
        problems.append(f"{where}: {len(found)} atom:{name}, exactly one is required")
        return None
    return found[0]


def _checked(element: ET.Element, name: str, where: str, problems: list[str]) -> None:
    """The constructs of section 3 an element is made of."""
    if name == "id":
        iri = (element.text or "").strip()
        if not urlsplit(iri).scheme:
            problems.append(f"{where}: atom:id {iri!r} is not an absolute IRI (4.2.6)")
    elif name == "updated":
        if not DATE.match((element.text or "").strip()):
            problems.append(f"{where}: atom:updated {element.text!r} is not RFC 3339 (3.3)")
    elif name in ("title", "content"):
        kind = element.get("type", "text")
        if name == "title" and kind not in TEXT_TYPES:
            problems.append(f"{where}: atom:title type {kind!r} (3.1.1)")
        if name == "title" and not (element.text or "").strip():
            problems.append(f"{where}: an empty atom:title")


def problems(document: str) -> list[str]:
    """What in ``document`` breaks RFC 4287; [] for a valid feed."""
    found: list[str] = []
    feed = ET.fromstring(document)
    if feed.tag != NS + "feed":
        return [f"the root is {feed.tag}, not atom:feed"]
    for name in ("id", "title", "updated"):
        element = _one(feed, name, "feed", found)
        if element is not None:
            _checked(element, name, "feed", found)
    feed_author = feed.find(NS + "author") is not None
    for author in feed.findall(f"{NS}author"):
        _one(author, "name", "feed author", found)
    links = feed.findall(NS + "link")
    if not any(link.get("rel") == "self" for link in links):
        found.append("feed: no atom:link rel=self (4.1.1 SHOULD)")
    alternates = [x for x in links if x.get("rel", "alternate") == "alternate"]
    if len({(x.get("type"), x.get("hreflang")) for x in alternates}) < len(alternates):
        found.append("feed: two alternate links with the same type and hreflang (4.1.1)")
    ids: set[str] = set()
    for number, entry in enumerate(feed.findall(NS + "entry"), 1):
        where = f"entry {number}"
        for name in ("id", "title", "updated"):
            element = _one(entry, name, where, found)
            if element is not None:
                _checked(element, name, where, found)
        if not feed_author and entry.find(NS + "author") is None:
            found.append(f"{where}: no atom:author here or in the feed (4.1.2)")
        content = entry.find(NS + "content")
        alternate = [
            x for x in entry.findall(NS + "link") if x.get("rel", "alternate") == "alternate"
        ]
        if content is None and not alternate:
            found.append(f"{where}: neither atom:content nor an alternate link (4.1.2)")
        if content is not None:
            _checked(content, "content", where, found)
        for link in entry.findall(NS + "link"):
            if not link.get("href"):
                found.append(f"{where}: an atom:link without href (4.2.7.1)")
        entry_id = entry.findtext(NS + "id")
        if entry_id in ids:
            found.append(f"{where}: atom:id {entry_id!r} used twice (4.2.6)")
        ids.add(entry_id or "")
    return found
