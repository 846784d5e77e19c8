"""Channel-layer group names. Room slugs are immutable and already group-safe ([a-z0-9_-])."""


def room_group(slug: str) -> str:
    return f"room.{slug}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


# Every process's hub is in this group: news for all of them whoever their sockets are (a revoked
# token that any process may have cached).
PROCESSES = "processes"
