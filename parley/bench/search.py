"""Search workload: p99 of the `search` frame's query over 1,000,000 messages on PostgreSQL.

    python -m parley.bench.search [--messages 1000000] [--rounds 30] [--reuse]

Makes a fresh PostgreSQL database from a migrated template (PARLEY_SEARCH_PG names the server,
default postgres://postgres@127.0.0.1:5432/postgres; PARLEY_SEARCH_DB the database), fills it in
SQL (generate_series: a few hundred users, 120 rooms of which 20 private, messages of 6-16 words
drawn from a 5,000-word vocabulary with a skewed, Zipf-like frequency, so that the commonest word
is in over half of all messages and the rarest in a handful; a file on one message in 20, whose
names the last two queries search), builds the search index with
migration 0004's own statement, and then times ``parley.messaging.search.messages_search`` in
process, the selector the `search` frame calls (access rule, filters and paging included; the
socket's cost is not in it). Each round asks every query of QUERIES once, in a shuffled order;
the first round warms the cache and is not counted. Not part of `make bench`'s profiles: filling
the database takes a minute or two.

``--reuse`` keeps a database filled by an earlier run with the same ``--messages``.

``--write-cost`` answers the other question, what the index costs a post: on a small database of
its own (20,000 messages), it posts batches of 20 (one author, 20 rooms, W2's shape) through
``messages_post`` for ``--round-s`` seconds at a time, with the index and without it (dropped and
made again between rounds, in ABBA order so a drift of the shared machine hits both alike), and
prints posts per second and CPU time per post (this process and its PostgreSQL backend) of
each. Publishing is replaced by a no-op, as in post_micro.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("PARLEY_SEARCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("PARLEY_SEARCH_DB", "parley_search_bench")  # the test uses its own
TEMPLATE = DATABASE + "_template"
TARGET_P99_MS = 100.0

USERS = 400
PUBLIC_ROOMS = 100
PRIVATE_ROOMS = 20
VOCABULARY = 5000
SEARCHER = "searcher"  # a member of half the private rooms

# (label, q, filters): words by rank in the vocabulary (w1 the most frequent) and filters
QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("common word", "w1", {}),
    ("frequent word", "w10", {}),
    ("mid word", "w300", {}),
    ("rare word", "w4000", {}),
    ("absent word", "nosuchword", {}),
    ("two common words", "w1 w2", {}),
    ("common and rare", "w2 w3000", {}),
    ("three mid words", "w50 w120 w200", {}),
    ("common, one room", "w1", {"room": "pub-7"}),
    ("rare, one room", "w4000", {"room": "pub-7"}),
    ("common, one person", "w1", {"author": "user-17"}),
    ("rare, one person", "w2500", {"author": "user-17"}),
    ("mid, private room", "w300", {"room": "priv-3"}),
    ("common, page 2", "w1", {"page": 2}),
    ("mid, page 3", "w300", {"page": 3}),
    # a file on one message in FILE_EVERY: every file's name holds "pdf", one in 50 "report"
    ("file name, every file", "pdf", {}),
    ("file name, rare", "report", {}),
]
FILE_EVERY = 20


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _say(text: str) -> None:
    print(text, flush=True)


def _fresh_database(reuse: bool, messages: int, name: str = DATABASE) -> tuple[str, bool]:
    """The bench database's URL, and whether it must be filled."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if reuse and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            with psycopg.connect(_pg_url(name)) as bench:
                count = bench.execute("SELECT count(*) FROM messaging_event").fetchone()
            if count and count[0] == messages:
                return _pg_url(name), False
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DATABASE_URL": _pg_url(TEMPLATE)}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return _pg_url(name), True


def _fill(url: str, messages: int) -> None:
    """Users, rooms, memberships and ``messages`` messages, in SQL; then the index, as the
    migration makes it (built once at the end: far faster than growing it row by row)."""
    import psycopg

    index = importlib.import_module("parley.messaging.migrations.0004_event_search")
    rooms = PUBLIC_ROOMS + PRIVATE_ROOMS
    with psycopg.connect(url, autocommit=True) as db:
        t0 = time.monotonic()
        db.execute("SET maintenance_work_mem = '512MB'")
        db.execute("SET work_mem = '256MB'")
        db.execute(index.POSTGRES_DOWN[0])
        db.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,"
            " is_staff, is_active, date_joined, display_name, is_guest, is_bot, avatar)"
            " SELECT '!', false, CASE WHEN i = 0 THEN %s ELSE 'user-' || i END, '', '', '', false, true, now(),"
            "  '', false, false, '' FROM generate_series(0, %s) i",
            [SEARCHER, USERS - 1],
        )
        db.execute(
            "INSERT INTO rooms_room (slug, title, topic, kind, is_public, restricted, last_seq, created_at)"
            " SELECT CASE WHEN i < %s THEN 'pub-' || i ELSE 'priv-' || (i - %s) END, '', '', 'room',"
            "  i < %s, false, 0, now() FROM generate_series(0, %s) i",
            [PUBLIC_ROOMS, PUBLIC_ROOMS, PUBLIC_ROOMS, rooms - 1],
        )
        # every private room: 20 members; the searcher is in the even ones
        db.execute(
            "INSERT INTO rooms_membership (room_id, user_id, role, read_seq, notify, joined_at)"
            " SELECT r.id, u.id, 'member', 0, 'all', now() FROM rooms_room r"
            " CROSS JOIN generate_series(0, 19) k"
            " JOIN accounts_user u ON u.username = 'user-' || (1 + (r.id * 7 + k) %% %s) WHERE NOT r.is_public"
            " ON CONFLICT DO NOTHING",
            [USERS - 1],
        )
        db.execute(
            "INSERT INTO rooms_membership (room_id, user_id, role, read_seq, notify, joined_at)"
            " SELECT r.id, u.id, 'member', 0, 'all', now() FROM rooms_room r, accounts_user u"
            " WHERE u.username = %s AND r.slug LIKE 'priv-%%' AND substr(r.slug, 6)::int %% 2 = 1"
            " ON CONFLICT DO NOTHING",
            [SEARCHER],
        )
        _say(f"  users, rooms, memberships: {time.monotonic() - t0:.1f}s")
        t0 = time.monotonic()
        # A word's rank is floor(V ** random()) (log-uniform, about Zipf's law): w1 is in over
        # half of the messages, w10 in about one in ten, w4000 in a few hundred of a million.
        db.execute(
            "WITH room_ids AS (SELECT array_agg(id ORDER BY id) a FROM rooms_room),"
            " user_ids AS (SELECT array_agg(id ORDER BY id) a FROM accounts_user),"
            " msgs AS (SELECT i, (i %% %s) AS r, (i / %s) + 1 AS seq,"
            "  (SELECT string_agg('w' || floor(power(%s::float8, random() + k.n * 0))::int, ' ')"
            "   FROM generate_series(1, 6 + ((i::bigint * 7919) %% 11)::int) AS k(n)) AS body"
            "  FROM generate_series(0, %s) i)"
            " INSERT INTO messaging_event (room_id, seq, kind, author_id, cid, body, reply_to, created_at, frame)"
            " SELECT ro.a[m.r + 1], m.seq, 'message.posted', us.a[1 + (m.i * 31) %% %s], 'b' || m.i, m.body,"
            "  NULL, now() - (%s - m.i) * interval '1 second',"
            "  json_build_object('type', 'event', 'room', CASE WHEN m.r < %s THEN 'pub-' || m.r"
            "   ELSE 'priv-' || (m.r - %s) END, 'seq', m.seq, 'kind', 'message.posted',"
            "   'user', json_build_object('id', us.a[1 + (m.i * 31) %% %s], 'username', 'user', 'name', 'user',"
            "    'guest', false), 'ts', to_char(now() - (%s - m.i) * interval '1 second',"
            "    'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'cid', 'b' || m.i, 'body', m.body, 'reply_to', NULL)::text"
            " FROM msgs m, room_ids ro, user_ids us",
            [rooms, rooms, VOCABULARY, messages - 1, USERS, messages, PUBLIC_ROOMS, PUBLIC_ROOMS, USERS, messages],
        )
        db.execute(
            "INSERT INTO files_attachment (room_id, uploader_id, name, content_type, size, storage_name,"
            "  created_at, seq)"
            " SELECT room_id, author_id, 'doc-' || id || (CASE WHEN id %% 50 = 0 THEN '-report' ELSE '' END)"
            "  || '.pdf', 'application/pdf', 1000, 'bench/' || id, created_at, seq"
            " FROM messaging_event WHERE id %% %s = 0 ORDER BY id",
            [FILE_EVERY],
        )
        db.execute(
            "UPDATE rooms_room r SET last_seq = m.s FROM"
            " (SELECT room_id, max(seq) s FROM messaging_event GROUP BY room_id) m WHERE m.room_id = r.id"
        )
        _say(f"  {messages:,} messages, a file on one in {FILE_EVERY}: {time.monotonic() - t0:.1f}s")
        t0 = time.monotonic()
        for statement in index.POSTGRES_UP:
            db.execute(statement)
        db.execute("VACUUM ANALYZE")
        _say(f"  index (migration 0004's statement) and ANALYZE: {time.monotonic() - t0:.1f}s")


def _measure(rounds: int) -> dict[str, list[float]]:
    from parley.accounts.models import User
    from parley.messaging.search import messages_search

    user = User.objects.get(username=SEARCHER)
    cursors: dict[str, list[str | None]] = {}

    def ask(label: str, q: str, filters: dict[str, Any]) -> float:
        filters = dict(filters)
        page = filters.pop("page", 1)
        before = None
        if page > 1:  # the cursor of the previous page, found once, outside the timing
            if label not in cursors:
                found: list[str | None] = [None]
                for _ in range(page - 1):
                    found.append(messages_search(user=user, q=q, before=found[-1], **filters)[1])
                cursors[label] = found
            before = cursors[label][page - 1]
        t0 = time.perf_counter()
        messages_search(user=user, q=q, before=before, **filters)
        return (time.perf_counter() - t0) * 1000

    samples: dict[str, list[float]] = {label: [] for label, _, _ in QUERIES}
    order = list(QUERIES)
    rng = random.Random(12)
    for round_no in range(rounds + 1):
        rng.shuffle(order)
        for label, q, filters in order:
            ms = ask(label, q, filters)
            if round_no:  # round 0 warms the cache
                samples[label].append(ms)
    return samples


def _write_cost(url: str, rounds: int, round_s: float) -> None:
    import psycopg

    from parley.accounts.models import User
    from parley.messaging.services import PostRequest, messages_post, posting

    index = importlib.import_module("parley.messaging.migrations.0004_event_search")
    posting.room_events_publish = lambda batch: None
    author = User.objects.get(username="user-1")
    rng = random.Random(7)
    counter = [0]

    def batch() -> list[PostRequest]:
        out = []
        for room in rng.sample(range(PUBLIC_ROOMS), 20):
            counter[0] += 1
            words = " ".join(f"w{int(VOCABULARY ** rng.random())}" for _ in range(rng.randint(6, 16)))
            out.append(PostRequest(user=author, room=f"pub-{room}", cid=f"wc-{counter[0]}", body=words))
        return out

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    tick = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        """This process's CPU time and its PostgreSQL backend's (the index's work is there)."""
        with open(f"/proc/{backend}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return time.process_time() + (int(fields[11]) + int(fields[12])) / tick

    def post_for(seconds: float) -> tuple[float, float]:
        """Posts per second (wall) and CPU microseconds per post (client and backend)."""
        posted, t_end, t0, c0 = 0, time.perf_counter() + seconds, time.perf_counter(), cpu_s()
        while time.perf_counter() < t_end:
            posted += len(messages_post(batch()))
        return posted / (time.perf_counter() - t0), (cpu_s() - c0) * 1e6 / posted

    rates: dict[bool, list[float]] = {True: [], False: []}
    costs: dict[bool, list[float]] = {True: [], False: []}
    with psycopg.connect(url, autocommit=True) as db:
        post_for(1.0)  # warm up
        for round_no in range(rounds):
            for with_index in (True, False) if round_no % 2 == 0 else (False, True):
                db.execute((index.POSTGRES_UP if with_index else index.POSTGRES_DOWN)[0])
                db.execute("VACUUM ANALYZE messaging_event")
                rate, cost = post_for(round_s)
                rates[with_index].append(rate)
                costs[with_index].append(cost)
                label = "with" if with_index else "without"
                _say(f"  round {round_no + 1} {label} the index: {rate:,.0f} posts/s, {cost:,.0f} us CPU/post")
        db.execute(index.POSTGRES_UP[0])
    with_i, without = statistics.median(rates[True]), statistics.median(rates[False])
    cpu_with, cpu_without = statistics.median(costs[True]), statistics.median(costs[False])
    _say(
        f"\nmedians: posts/s with the index {with_i:,.0f}, without {without:,.0f}"
        f" ({100 * (with_i - without) / without:+.1f} %); CPU us/post (client + backend) with"
        f" {cpu_with:,.0f}, without {cpu_without:,.0f} ({100 * (cpu_with - cpu_without) / cpu_without:+.1f} %)"
    )


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m parley.bench.search", description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--reuse", action="store_true", help="keep a database filled by an earlier run")
    ap.add_argument("--write-cost", action="store_true", help="posts/s with and without the index instead")
    ap.add_argument("--round-s", type=float, default=3.0, help="--write-cost: seconds per round")
    args = ap.parse_args(argv)
    name = DATABASE
    if args.write_cost:
        args.messages, args.reuse, name = 20_000, False, DATABASE + "_writes"
    url, fill = _fresh_database(args.reuse, args.messages, name)
    if fill:
        _say(f"filling {name} with {args.messages:,} messages")
        _fill(url, args.messages)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    if args.write_cost:
        _write_cost(url, args.rounds, args.round_s)
        return 0
    samples = _measure(args.rounds)
    every = [ms for values in samples.values() for ms in values]
    _say(f"\n{'query':<22} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, values in samples.items():
        _say(f"{label:<22} {statistics.median(values):8.2f} {_p(values, 0.99):8.2f} {max(values):8.2f}")
    p99 = _p(every, 0.99)
    verdict = "met" if p99 < TARGET_P99_MS else "NOT met"
    _say(
        f"\nall {len(every)} searches: p50 {statistics.median(every):.2f} ms, p99 {p99:.2f} ms,"
        f" max {max(every):.2f} ms; target p99 < {TARGET_P99_MS:.0f} ms -> {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
