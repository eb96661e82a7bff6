"""Keeping the group, person and membership rows in step with what the platform says.

Every command refreshes them first; the statements are prebuilt because this runs before
each of the thousands of positions a busy round receives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import EllipsisType

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from deliberation import commands as c
from deliberation.model import Charter, Group, Member, Person

MAX_TITLE = 255  # characters of a group's title kept

ENTER = (
    select(Group.member_count, Person.name, Member.person_id, Person.language_hint, Group.title)
    .select_from(Group)
    .outerjoin(Person, Person.id == bindparam("person"))
    .outerjoin(Member, and_(Member.group_id == Group.id, Member.person_id == bindparam("person")))
    .where(Group.id == bindparam("group"))
)
_PERSON = select(Person.name, Person.language_hint).where(Person.id == bindparam("person"))
_SET_MEMBER_COUNT = (
    update(Group.__table__)
    .where(Group.id == bindparam("group"))
    .values(member_count=bindparam("count"))
)
_ADD_PERSON = insert(Person.__table__)
_RENAME_PERSON = (
    update(Person.__table__).where(Person.id == bindparam("person")).values(name=bindparam("name"))
)
_HINT_PERSON = (
    update(Person.__table__)
    .where(Person.id == bindparam("person"))
    .values(language_hint=bindparam("hint"))
)
_RETITLE_GROUP = (
    update(Group.__table__).where(Group.id == bindparam("group")).values(title=bindparam("title"))
)
_RENAME_CHARTER = (
    update(Charter.__table__)
    .where(Charter.id == bindparam("charter"))
    .values(name=bindparam("title"))
)
_ADD_MEMBER = insert(Member.__table__)
_COUNT_MEMBER = (
    update(Group.__table__)
    .where(Group.id == bindparam("group"))
    .values(members_seen=Group.members_seen + 1)
)


def params(actor: c.Actor) -> dict[str, str]:
    return {"group": actor.group, "person": actor.person}


def refresh(
    conn: Connection,
    actor: c.Actor,
    now: datetime,
    count: int | None,
    name: str | None,
    member: str | None,
    hint: str | None | EllipsisType = ...,
) -> None:
    """Apply what ``actor`` tells us, given the stored member count, name, membership and
    language hint (the language the platform says the person uses; ``...``: not read, as
    on a vote's hot path, which leaves it to the person's next other command)."""
    if actor.member_count is not None and actor.member_count != count:
        conn.execute(_SET_MEMBER_COUNT, {**params(actor), "count": actor.member_count})
    if name is None:
        conn.execute(
            _ADD_PERSON,
            {"id": actor.person, "name": actor.name, "language_hint": actor.language_hint},
        )
    else:
        if name != actor.name:
            conn.execute(_RENAME_PERSON, {**params(actor), "name": actor.name})
        if hint is not ... and actor.language_hint and actor.language_hint != hint:
            conn.execute(_HINT_PERSON, {**params(actor), "hint": actor.language_hint})
    if actor.member and member is None:
        conn.execute(
            _ADD_MEMBER, {"group_id": actor.group, "person_id": actor.person, "joined_at": now}
        )
        conn.execute(_COUNT_MEMBER, params(actor))


def enter(
    conn: Connection, actor: c.Actor, now: datetime, new_group: Callable[[str], object]
) -> bool:
    """Create or refresh the actor's group, person and membership rows (one read). True
    when the group's title changed (an ORM object of the group holds the old one)."""
    row = conn.execute(ENTER, params(actor)).first()
    if row is None:
        new_group(actor.group)
        person = conn.execute(_PERSON, params(actor)).first()
        count, member, title = 0, None, actor.group
        name, hint = person if person is not None else (None, None)
    else:
        count, name, member, hint, title = row
    retitled = retitle(conn, actor, title)
    refresh(conn, actor, now, count, name, member, hint)
    return retitled


def retitle(conn: Connection, actor: c.Actor, title: str) -> bool:
    """The group's title (and its charter's name) as its platform names the chat now:
    what other groups of an alliance, and the charter, call it."""
    wanted = " ".join((actor.group_title or "").split())[:MAX_TITLE]
    if wanted and wanted != title:
        values = {"group": actor.group, "title": wanted, "charter": f"group:{actor.group}"}
        conn.execute(_RETITLE_GROUP, values)
        conn.execute(_RENAME_CHARTER, values)
        return True
    return False


def eligible(group: Group) -> int:
    """Human members now: the platform's count, else the members we have seen speak."""
    return group.member_count or group.members_seen
