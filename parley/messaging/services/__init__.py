"""Writes to a room's log. Each write is a transaction that appends events with the rooms' next
seqs and publishes them on commit (parley.realtime.publish); nothing else publishes events.

Posting is batched (group commit): ``messages_post`` stores many posts, to many rooms, in one
transaction whatever the batch size. On PostgreSQL it is two statements between BEGIN and
COMMIT: lock the rooms (in id order, so concurrent batches cannot deadlock) and read the known
cids and the members of private rooms; then take the seqs and insert the events. On SQLite
each of these is its own statement. ``message_post`` is the batch of one.

The modules: ``records`` (a post's request and answer), ``validation`` (a request's fields),
``posting`` (the batch flow), ``store`` (what the flow asks of the database, and which store a
connection gets), ``store_postgres`` and ``store_generic`` (the SQL of each).
"""

from parley.messaging.services.posting import message_post, messages_post
from parley.messaging.services.records import Posted, PostRequest
from parley.messaging.services.validation import CID_MAX, body_validate, cid_validate

__all__ = ["CID_MAX", "PostRequest", "Posted", "body_validate", "cid_validate", "message_post", "messages_post"]
