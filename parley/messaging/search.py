"""Full-text search over the messages a user may read (the `search` frame, docs/protocol.md).

Each database has its own index, made by migration 0004 and kept current by the database
itself, so edits (which rewrite ``Event.body``) and deletions (which empty it) are searched as
they are now, never as they were:

- PostgreSQL: a GIN index on ``to_tsvector('simple', body)`` (of every event: the others' body
  is empty, and a partial index would have no statistics for the planner; see the migration). The
  ``simple`` configuration lowercases and splits words and does nothing else: no stemming and no
  stop words. A chat is written in many languages at once, and people search for names, nicknames,
  code identifiers and words such as "the who" that a language's configuration would stem into
  something else or drop; a stemmer that guesses wrong finds nothing, while an exact word search
  is predictable and the same on both databases.
- SQLite: an FTS5 table (``messaging_event_search``, external content: it stores only the index)
  filled by triggers on insert, update and delete of ``message.posted`` rows. Its ``unicode61``
  tokenizer with ``remove_diacritics 0`` splits and folds case as ``simple`` does.

A query is the words of ``q`` (letters and digits; anything else separates words), every one of
which a message must contain, newest first, 20 a page, over the rooms the user may read now:
public rooms and rooms they are a member of, less those they are banned from. A message is also
found by the names of its files: every word a piece of one file's name ("report" finds
"Q3-report.pdf"), as people look for a file they remember sharing. That second question reads the
attachments table (one row per file, far fewer than messages, no index needed) and its answers
join the text's, newest first, under the same cursor.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection, transaction

from parley.accounts.models import User
from parley.core.errors import BadRequest, Forbidden
from parley.files.models import Attachment
from parley.messaging.models import Event
from parley.rooms.access import room_access_for_user
from parley.rooms.models import Membership, Restriction, Room

PAGE = 20
Q_MAX = 200
WORDS_MAX = 16
_WORD = re.compile(r"[^\W_]+")

_EVENT, _ROOM = Event._meta.db_table, Room._meta.db_table
_MEMBERSHIP, _RESTRICTION = Membership._meta.db_table, Restriction._meta.db_table
FTS_TABLE = f"{_EVENT}_search"
_ATTACHMENT = Attachment._meta.db_table

# The rooms a user may read, as a clause on a room id column ({room}).
_READABLE = (
    f" AND {{room}} IN (SELECT id FROM {_ROOM} WHERE is_public"
    f"  UNION ALL SELECT room_id FROM {_MEMBERSHIP} WHERE user_id = %s)"
    f" AND NOT EXISTS (SELECT 1 FROM {_RESTRICTION} b"
    f"  WHERE b.room_id = {{room}} AND b.user_id = %s AND b.kind = 'ban')"
)
# The configuration stays a literal: the planner matches the index's expression only against the
# same constant.
_POSTGRES = (
    f"SELECT e.id, e.frame FROM {_EVENT} e"
    f" WHERE e.kind = 'message.posted' AND to_tsvector('simple', e.body) @@ plainto_tsquery('simple', %s)"
    f" AND e.body <> ''"
)
# The messages with a file whose name holds every word: read from the files' side, the newest
# FILES_WINDOW matching files of the rooms searched (a clause per word and the filters go inside),
# each led to its message by the (room, seq) unique index. MATERIALIZED keeps that order: inlined,
# PostgreSQL walks every event newest first looking for a file, seconds when none matches.
FILES_WINDOW = 2000
_FILES = (
    "WITH found AS MATERIALIZED (SELECT a.room_id, a.seq FROM {attachment} a WHERE a.seq IS NOT NULL{where}"
    " ORDER BY a.id DESC LIMIT {window})"
    " SELECT e.id, e.frame FROM found f JOIN {event} e ON e.room_id = f.room_id AND e.seq = f.seq"
    " WHERE e.kind = 'message.posted'"
)
# Words hold letters and digits only; each is quoted all the same, so that a word such as AND or
# NOT is not read as an operator.
_SQLITE = (
    f"SELECT e.id, e.frame FROM {FTS_TABLE} s JOIN {_EVENT} e ON e.id = s.rowid"
    f" WHERE {FTS_TABLE} MATCH %s AND e.kind = 'message.posted' AND e.body <> ''"
)


def search_words(q: object) -> list[str]:
    """The words of a query, lowercased, each once, in order; BadRequest if there are none."""
    if not isinstance(q, str) or len(q) > Q_MAX:
        raise BadRequest(f"q must be a string of at most {Q_MAX} characters")
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(q)))
    if not words:
        raise BadRequest("q must contain a word (letters or digits)")
    if len(words) > WORDS_MAX:
        raise BadRequest(f"q may hold at most {WORDS_MAX} different words")
    return words


def messages_search(
    *, user: User, q: object, room: object = None, author: object = None, before: object = None
) -> tuple[list[str], str | None]:
    """The ``message.posted`` frames (current text) that contain every word of ``q``, in rooms
    ``user`` may read (only ``room``, a slug, when given: ``not_found`` if they may not read it),
    by ``author`` (a username) when given, newest first, a page of PAGE; and the cursor of the
    next page (None at the end)."""
    if user.is_guest and not settings.PARLEY_GUESTS:
        raise Forbidden("guest access is turned off")
    words = search_words(q)
    if before is not None and (not isinstance(before, str) or not before.isdigit() or len(before) > 20):
        raise BadRequest("before must be the cursor of an earlier answer")
    if author is not None and (not isinstance(author, str) or not 1 <= len(author) <= 150):
        raise BadRequest("user must be a username")
    room_id = None if room is None else room_access_for_user(slug=room, user=user).pk  # type: ignore[arg-type]
    author_id = None
    if author is not None:
        author_id = User.objects.filter(username=author).values_list("pk", flat=True).first()
        if author_id is None:
            return [], None
    if connection.vendor == "postgresql":
        # The query as typed, so that PostgreSQL's parser reads it as it read the messages ("1.5",
        # "example.com" are one word to it). Each word must also be a substring of the lowercased
        # body: always true of a match (a lexeme of 'simple' is a lowercased piece of the text),
        # and far cheaper than to_tsvector, so a plan that walks the newest events parses only
        # the few that contain the words.
        text_sql, text_params = _POSTGRES + _substrings("e.body", words), [str(q), *words]
        # On PostgreSQL the events' id orders both questions.
        order = "e.id"
    else:
        text_sql, text_params = _SQLITE, [" ".join(f'"{word}"' for word in words)]
        # On SQLite, the FTS table's rowid: FTS5 then hands its matches newest first and stops at
        # the page (ordered by the event's id, the same number, it reads every match and sorts:
        # 75 ms against 0.4 ms for a common word at 200,000 messages).
        order = "s.rowid"
    filters, filter_params = _filters(user, room_id, author_id, room="e.room_id", author="e.author_id")
    # A file's uploader is its message's author: only they may send it.
    in_files, in_files_params = _filters(user, room_id, author_id, room="a.room_id", author="a.uploader_id")
    files_sql = _FILES.format(
        attachment=_ATTACHMENT,
        event=_EVENT,
        where=_substrings("a.name", words) + in_files,
        window=FILES_WINDOW,
    )
    questions: list[tuple[str, list[str | int], str]] = [
        (text_sql + filters, [*text_params, *filter_params], order),
        (files_sql, [*words, *in_files_params], "e.id"),
    ]
    rows: list[tuple[int, str]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Parallel workers take ~10 ms to start: more than a page of newest-first results.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for sql, params, key in questions:
            if before is not None:
                sql += f" AND {key} < %s"
                params.append(int(before))
            # (a message with two matching files is found twice: the dict below keeps one)
            cursor.execute(f"{sql} ORDER BY {key} DESC LIMIT %s", [*params, PAGE + 1])
            rows += cursor.fetchall()
    # A message found by its text and by a file's name is one result.
    rows = sorted(dict(rows).items(), reverse=True)[: PAGE + 1]
    page = rows[:PAGE]
    next_cursor = str(page[-1][0]) if len(rows) > PAGE else None
    return [frame for _, frame in page], next_cursor


def _substrings(column: str, words: list[str]) -> str:
    """A clause per word: the word is a piece of the lowercased column (SQLite's lower() folds
    ASCII letters only: there a name's other capitals match only as typed)."""
    find = "strpos" if connection.vendor == "postgresql" else "instr"
    return "".join(f" AND {find}(lower({column}), %s) > 0" for _ in words)


def _filters(
    user: User, room_id: int | None, author_id: int | None, *, room: str, author: str
) -> tuple[str, list[int]]:
    """The rooms (``room_id``, or every room ``user`` may read) and the author, as SQL on the
    columns ``room`` and ``author``."""
    if room_id is not None:
        sql, params = f" AND {room} = %s", [room_id]
    else:
        sql, params = _READABLE.format(room=room), [user.pk, user.pk]
    if author_id is not None:
        sql += f" AND {author} = %s"
        params.append(author_id)
    return sql, params
