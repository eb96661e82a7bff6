"""Smoke tests of the Synapse fixture with the real matrix-nio client.

They prove the fixture is usable by the adapter tests to come: users register, rooms are
created and joined, messages flow through /sync, and ``restart()`` keeps data and tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nio

from tests.fakes.synapse import Synapse, SynapseError
from tests.matrix.conftest import MatrixUser

SYNC_TIMEOUT_MS = 10_000


def client_for(synapse: Synapse, user: MatrixUser) -> nio.AsyncClient:
    """An nio client already holding ``user``'s access token (no login round trip)."""
    client = nio.AsyncClient(synapse.url, user.user_id)
    client.access_token = user.access_token
    return client


def test_two_users_exchange_a_message(
    synapse: Synapse, register_user: Callable[..., MatrixUser]
) -> None:
    alice, bob = register_user("alice"), register_user("bob")

    async def scenario() -> None:
        a, b = client_for(synapse, alice), client_for(synapse, bob)
        try:
            created = await a.room_create(name="smoke")
            assert isinstance(created, nio.RoomCreateResponse), created
            room_id = created.room_id
            invited = await a.room_invite(room_id, bob.user_id)
            assert isinstance(invited, nio.RoomInviteResponse), invited

            first = await a.sync(timeout=0)  # alice's position before bob speaks
            assert isinstance(first, nio.SyncResponse), first

            joined = await b.join(room_id)
            assert isinstance(joined, nio.JoinResponse), joined
            sent = await b.room_send(
                room_id,
                "m.room.message",
                {"msgtype": "m.text", "body": "hello alice", "m.mentions": {}},
            )
            assert isinstance(sent, nio.RoomSendResponse), sent

            seen: list[nio.RoomMessageText] = []
            since = first.next_batch
            while not seen:  # long-polls; the outer wait_for bounds the loop
                synced = await a.sync(timeout=SYNC_TIMEOUT_MS, since=since)
                assert isinstance(synced, nio.SyncResponse), synced
                since = synced.next_batch
                room = synced.rooms.join.get(room_id)
                events = room.timeline.events if room else []
                seen += [e for e in events if isinstance(e, nio.RoomMessageText)]
            assert [(e.sender, e.body, e.event_id) for e in seen] == [
                (bob.user_id, "hello alice", sent.event_id)
            ]
        finally:
            await a.close()
            await b.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def test_restart_keeps_users_rooms_and_tokens(
    synapse: Synapse, register_user: Callable[..., MatrixUser]
) -> None:
    carol = register_user("carol")

    async def before() -> str:
        client = client_for(synapse, carol)
        try:
            created = await client.room_create(name="survives restart")
            assert isinstance(created, nio.RoomCreateResponse), created
            sent = await client.room_send(
                created.room_id,
                "m.room.message",
                {"msgtype": "m.text", "body": "before restart", "m.mentions": {}},
            )
            assert isinstance(sent, nio.RoomSendResponse), sent
            return created.room_id
        finally:
            await client.close()

    room_id = asyncio.run(before())
    port = synapse.port
    synapse.restart()
    assert synapse.port == port, "restart must keep the port so clients can reconnect"

    async def after() -> None:
        client = client_for(synapse, carol)  # the token issued before the restart
        try:
            whoami = await client.whoami()
            assert isinstance(whoami, nio.WhoamiResponse), whoami
            assert whoami.user_id == carol.user_id
            synced = await client.sync(timeout=0, sync_filter={"room": {"timeline": {"limit": 50}}})
            assert isinstance(synced, nio.SyncResponse), synced
            bodies = [
                e.body
                for e in synced.rooms.join[room_id].timeline.events
                if isinstance(e, nio.RoomMessageText)
            ]
            assert bodies == ["before restart"]
        finally:
            await client.close()

        fresh = nio.AsyncClient(synapse.url, carol.user_id)
        try:
            login = await fresh.login(carol.password, device_name="after restart")
            assert isinstance(login, nio.LoginResponse), login
        finally:
            await fresh.close()

    asyncio.run(asyncio.wait_for(after(), timeout=30))


def test_register_rejects_a_taken_localpart(
    synapse: Synapse, register_user: Callable[..., MatrixUser]
) -> None:
    dave = register_user("dave")
    try:
        synapse.register(dave.localpart, "another password")
    except SynapseError as exc:
        assert "M_USER_IN_USE" in str(exc)
    else:
        raise AssertionError("registering a taken localpart must fail")


def test_admin_flag_and_no_federation(
    synapse: Synapse, register_user: Callable[..., MatrixUser]
) -> None:
    admin, plain = register_user("admin", admin=True), register_user("plain")
    for user, expected in ((admin, True), (plain, False)):
        reply = synapse.request(
            "GET", f"/_synapse/admin/v2/users/{user.user_id}", access_token=admin.access_token
        )
        assert reply["admin"] is expected
    # federation_domain_whitelist: [] -> a remote invite is refused at once, no network.
    try:
        synapse.request(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"invite": ["@someone:example.org"]},
            access_token=plain.access_token,
        )
    except SynapseError as exc:
        assert "403" in str(exc) and "Federation denied" in str(exc)
    else:
        raise AssertionError("an invite to a remote server must be refused")
