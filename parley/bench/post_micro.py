"""Micro-benchmark of group commit: CPU and wall time per post in ``messages_post``, in process.

    python -m parley.bench.post_micro [--sizes 5,20,100] [--seconds 4] [--compare REV] [--debug] [--profile PATH]

Runs against a fresh PostgreSQL database cloned from a migrated template (PARLEY_MICRO_PG, default
postgres://postgres@127.0.0.1:5432/postgres, names the server). Like W2: one author, public rooms,
every post of a batch to a different room. ``--compare REV`` also loads
``parley/messaging/services.py`` as it was at REV (a revision from before it became a package)
and alternates the two in short rounds, so both see the same machine noise. Publishing is
replaced by a no-op: it is not the DB thread's work in the server (it hands the batch to the
event loop). ``--debug`` also runs the current code with ``settings.DEBUG`` on (what ``make run``
with the dev settings pays: Django records every query), alternated the same way.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("PARLEY_MICRO_PG", "postgres://postgres@127.0.0.1:5432/postgres")
TEMPLATE = "parley_micro_template"
DATABASE = "parley_micro"


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _fresh_database() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE]).fetchone() is None:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DATABASE_URL": _pg_url(TEMPLATE)}
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE} TEMPLATE {TEMPLATE}")
    return _pg_url(DATABASE)


def _load_at(rev: str, name: str) -> types.ModuleType:
    path = "parley/messaging/" + name + ".py"
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True)
    module = types.ModuleType(f"parley.messaging.{name}_at_{rev}")
    module.__file__ = f"<{path} at {rev}>"
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source.stdout, module.__file__, "exec"), module.__dict__)
    return module


def _load_services_at(rev: str) -> types.ModuleType:
    """services.py as of ``rev``, with the event builders of ``rev``."""
    services = _load_at(rev, "services")
    services.events = _load_at(rev, "events")  # type: ignore[attr-defined]
    return services


class Variant:
    def __init__(self, name: str, services: types.ModuleType, debug: bool = False) -> None:
        self.name = name
        self.services = services
        self.debug = debug
        services.room_events_publish = lambda batch: None  # type: ignore[attr-defined]
        self.posts = 0
        self.cpu = 0.0
        self.thread = 0.0
        self.wall = 0.0

    def run(self, batches: list[list[tuple[Any, str, str, str]]]) -> None:
        request = self.services.PostRequest
        prepared = [[request(user=u, room=r, cid=c, body=b) for u, r, c, b in batch] for batch in batches]
        post: Callable[[list[Any]], list[Any]] = self.services.messages_post
        from django.conf import settings

        settings.DEBUG = self.debug  # read per cursor: DEBUG wraps each in CursorDebugWrapper
        cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
        for batch in prepared:
            results = post(batch)
        settings.DEBUG = False
        self.cpu += time.process_time() - cpu
        self.thread += time.thread_time() - thread
        self.wall += time.perf_counter() - wall
        self.posts += sum(len(batch) for batch in prepared)
        assert all(getattr(result, "created", False) for result in results), results

    def line(self) -> str:
        per = 1e6 / max(self.posts, 1)
        return (
            f"{self.name:>12}: {self.posts:6d} posts  cpu {self.cpu * per:6.1f} us/post"
            f"  thread {self.thread * per:6.1f} us/post  wall {self.wall * per:6.1f} us/post"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="5,20,100", help="posts per batch, comma-separated")
    ap.add_argument("--seconds", type=float, default=4.0, help="about this long per size (all variants)")
    ap.add_argument("--rooms", type=int, default=1000)
    ap.add_argument("--compare", metavar="REV", help="also run services.py as of this git revision")
    ap.add_argument("--debug", action="store_true", help="also run the current code with DEBUG on")
    ap.add_argument("--profile", metavar="PATH", help="cProfile the current code into PATH (pstats)")
    args = ap.parse_args()

    os.environ["DATABASE_URL"] = _fresh_database()
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ["DEBUG"] = "0"  # DEBUG records every query: not what a server pays
    import django

    django.setup()
    from parley.accounts.models import User
    from parley.messaging.services import posting
    from parley.rooms.models import Room

    user = User.objects.create(username="micro-bot", display_name="micro")
    slugs = [f"room-{i:05d}" for i in range(args.rooms)]
    Room.objects.bulk_create([Room(slug=s, is_public=True) for s in slugs], batch_size=500)

    variants = [Variant("current", posting)]  # the module that calls room_events_publish
    if args.compare:
        variants.append(Variant(args.compare[:12], _load_services_at(args.compare)))
    if args.debug:
        variants.append(Variant("DEBUG=1", posting, debug=True))
    counter = 0

    def batches(size: int, count: int) -> list[list[tuple[Any, str, str, str]]]:
        nonlocal counter
        made = []
        for _ in range(count):
            made.append(
                [
                    (user, slugs[(counter + i) % len(slugs)], f"c{counter + i}", f"message {counter + i}")
                    for i in range(size)
                ]
            )
            counter += size
        return made

    for size in (int(s) for s in args.sizes.split(",")):
        for variant in variants:  # warm up: connection, statement caches
            variant.run(batches(size, 3))
            variant.posts = 0
            variant.cpu = variant.thread = variant.wall = 0.0
        per_round = max(1, 400 // size)
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            for variant in variants:
                variant.run(batches(size, per_round))
        print(f"batch of {size}:")
        for variant in variants:
            print("  " + variant.line())

    if args.profile:
        profiler = cProfile.Profile(time.thread_time)  # CPU, not waits
        work = batches(5, 400)
        profiler.enable()
        variants[0].run(work)
        profiler.disable()
        profiler.dump_stats(args.profile)
        print(f"profile of 400 batches of 5 (current) in {args.profile}")


if __name__ == "__main__":
    main()
