"""The full-text index of messages (parley.messaging.search): a GIN expression index on
PostgreSQL, an FTS5 table kept by triggers on SQLite. Each part runs only on its database."""

from django.db import migrations

EVENT = "messaging_event"
FTS = "messaging_event_search"
POSTED = "'message.posted'"

# Not atomic, so that PostgreSQL can build the index CONCURRENTLY: a live database keeps taking
# messages while it is built. Not partial (no WHERE kind = 'message.posted', although only those
# rows are searched; the others have an empty body, which the index stores as nothing): ANALYZE
# keeps statistics of an expression index's words only when the index is not partial, and
# without them the planner takes every word for a rare one. Then a common word's search reads all
# its rows through the index and sorts them (seconds at a million messages) where walking the
# newest events back until a page is found takes a millisecond (docs/performance.md, search).
POSTGRES_UP = [
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS event_body_search ON {EVENT} USING gin (to_tsvector('simple', body))",
]
POSTGRES_DOWN = ["DROP INDEX CONCURRENTLY IF EXISTS event_body_search"]

# External content: the FTS table holds only the index; the text stays in the event table. The
# triggers give it every message.posted row as it is inserted, rewritten (an edit, a deletion
# emptying the body) and removed. "delete" needs the old text, which OLD has.
SQLITE_UP = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(body, content='{EVENT}', content_rowid='id',"
    f" tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_insert AFTER INSERT ON {EVENT} WHEN new.kind = {POSTED} BEGIN"
    f" INSERT INTO {FTS}(rowid, body) VALUES (new.id, new.body); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_delete AFTER DELETE ON {EVENT} WHEN old.kind = {POSTED} BEGIN"
    f" INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.id, old.body); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_update AFTER UPDATE OF body, kind ON {EVENT} BEGIN"
    f" INSERT INTO {FTS}({FTS}, rowid, body) SELECT 'delete', old.id, old.body WHERE old.kind = {POSTED};"
    f" INSERT INTO {FTS}(rowid, body) SELECT new.id, new.body WHERE new.kind = {POSTED}; END",
    f"INSERT INTO {FTS}(rowid, body) SELECT id, body FROM {EVENT} WHERE kind = {POSTED}",
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {FTS}_insert",
    f"DROP TRIGGER IF EXISTS {FTS}_delete",
    f"DROP TRIGGER IF EXISTS {FTS}_update",
    f"DROP TABLE IF EXISTS {FTS}",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("messaging", "0003_changes_and_reactions")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        ),
    ]
