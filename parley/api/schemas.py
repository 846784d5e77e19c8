"""The API's request and response shapes: the protocol's frames (docs/protocol.md) as JSON
Schema, so /api/v1/openapi.json describes every answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import ConfigDict


class ErrorBody(Schema):
    code: str = Field(description="protocol v1's error code: bad_request, not_found, forbidden, ...")
    detail: str
    retry_after: float | None = Field(None, description="seconds; also the Retry-After header")


class ErrorOut(Schema):
    error: ErrorBody


class UserOut(Schema):
    id: int
    username: str
    name: str
    guest: bool


class MeOut(UserOut):
    staff: bool
    auth: Literal["token", "session"]
    display_name: str = Field(description='what people see; "" shows the username')
    email: str = Field(description='"" when none; never shown to others')
    email_digest: bool = Field(description="unread mentions and DMs are mailed to ``email``")
    avatar: str | None = Field(description="the picture's URL (64 px), null for initials")


class MeIn(Schema):
    display_name: str | None = Field(None, description='at most 64 characters; "" shows the username')
    email: str | None = Field(None, description='an address no other account uses, or "" for none')
    email_digest: bool | None = None


class PasswordIn(Schema):
    old_password: str
    new_password: str = Field(description="checked as the settings page checks it (length, not common, ...)")


class FileOut(Schema):
    """An uploaded file's ref: send its ``id`` in a message's ``files``."""

    id: int
    name: str
    size: int = Field(description="bytes")
    type: str = Field(description="the sniffed MIME type")
    url: str
    thumb: str | None = Field(None, description="pictures, once the thumbnail is made (absent until then)")
    width: int | None = Field(None, description="pictures only")
    height: int | None = Field(None, description="pictures only")


class EventOut(Schema):
    """An event of a room's log, as ``/ws/`` sends it (kind-specific fields besides these)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["event"]
    room: str
    seq: int
    kind: str
    user: UserOut
    ts: str


class HistoryOut(Schema):
    room: str
    events: list[EventOut] = Field(description="ascending seq")


class PostIn(Schema):
    cid: str = Field(description="1-64 characters of your choosing, unique per author: retries are safe")
    body: str = Field(description='the text; may be "" when files are given')
    reply_to: int | None = None
    files: list[int] | None = Field(
        default=None, description="1-10 ids of your uploads to this room (POST /rooms/<room>/files), not sent yet"
    )


class AckOut(Schema):
    room: str
    cid: str | None
    seq: int | None = Field(description="the seq of the event; null when a change changed nothing")


class EditIn(Schema):
    body: str
    cid: str | None = None


class ReactIn(Schema):
    emoji: str
    on: bool = True
    cid: str | None = None


class Entry(Schema):
    room: str
    kind: Literal["public", "private", "dm"]
    title: str
    topic: str
    role: Literal["owner", "admin", "member"]
    muted: bool
    notify: Literal["all", "mentions", "nothing"]
    last_seq: int
    read_seq: int
    unread: int = Field(description="messages of other people past read_seq, up to 100 (100: 100 or more)")
    mentions: int
    members: list[UserOut] | None


class RoomOut(Schema):
    room: str
    kind: Literal["public", "private", "dm"]
    title: str
    topic: str
    last_seq: int
    entry: Entry | None = Field(description="your sidebar entry, null when you are not a member")


class RoomCreateIn(Schema):
    title: str
    room: str | None = Field(None, description="the slug; made from the title when left out")
    visibility: Literal["public", "private"] = "public"
    topic: str = ""


class RoomUpdateIn(Schema):
    title: str | None = None
    topic: str | None = None


class DirectoryEntry(Schema):
    room: str
    title: str
    topic: str
    members: int
    last_seq: int
    member: bool


class MemberOut(Schema):
    user: UserOut
    role: Literal["owner", "admin", "member"]
    muted: bool


class MembersOut(Schema):
    room: str
    members: list[MemberOut]
    banned: list[UserOut] | None = Field(description="for the room's owners and admins; else null")


class InviteIn(Schema):
    user: str = Field(description="a username")


class MemberUpdateIn(Schema):
    muted: bool | None = None
    role: Literal["owner", "admin", "member"] | None = None


class DmIn(Schema):
    users: list[str] = Field(description="1-8 usernames, not yours")


class OkOut(Schema):
    room: str


class InviteLinkIn(Schema):
    hours: int = 24


class InviteLinkOut(Schema):
    room: str
    code: str
    url: str
    expires: str


class ReadIn(Schema):
    seq: int


class ReadOut(Schema):
    room: str
    read_seq: int | None = Field(description="the marker after the call; null when it did not move")


class NotifyIn(Schema):
    level: Literal["all", "mentions", "nothing"]


class MentionsOut(Schema):
    events: list[EventOut]
    cursor: str | None


class SearchOut(Schema):
    results: list[EventOut] = Field(description="message.posted events, newest first")
    cursor: str | None


class TokenOut(Schema):
    id: int
    name: str
    created: datetime
    last_used: datetime | None = Field(description="noted at most every 5 minutes")


class TokenIn(Schema):
    name: str = ""


class TokenMadeOut(TokenOut):
    token: str = Field(description="shown once: only its hash is kept")


class WebhookIn(Schema):
    name: str


class WebhookOut(Schema):
    id: int
    room: str
    name: str
    bot: UserOut
    created: datetime


class WebhookMadeOut(WebhookOut):
    url: str = Field(description='the secret URL, shown once: POST {"text": ...} to it')


class SubscriptionIn(Schema):
    url: str = Field(description="where events are POSTed: http(s), a host the server's operator allows")
    events: Literal["room", "mentions"] = Field(description="every event of the room, or the events mentioning you")
    room: str | None = Field(None, description='the room; with events "mentions", omit it for every room you read')


class SubscriptionOut(Schema):
    id: int
    room: str | None
    events: str
    url: str
    created: datetime
    pending: int = Field(description="deliveries still owed")
    dead: int = Field(description="deliveries given up on (see /deliveries?state=dead; redeliver them)")


class SubscriptionMadeOut(SubscriptionOut):
    secret: str = Field(description="signs every delivery (X-Parley-Signature), shown once")


class DeliveryOut(Schema):
    id: int
    room: str
    seq: int
    state: Literal["pending", "ok", "dead"]
    attempts: int
    next_at: datetime | None = Field(description="when a pending delivery is tried next")
    last_status: int | None = Field(description="the receiver's last HTTP status, if it answered")
    last_error: str
    created: datetime
    finished: datetime | None
