"""Outgoing webhooks in-process: events owed in the posting transaction, deliveries POSTed by the
worker's code to a real receiver on loopback, retried, dead-lettered, redelivered, refused
destinations. The worker process itself (db_worker, killed and restarted) is
tests/hooks/test_worker_live.py."""

from __future__ import annotations

import hashlib
import hmac
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from parley.core import metrics
from parley.core.errors import BadRequest, NotFound
from parley.hooks import outgoing
from parley.hooks.deliveries import backoff, deliveries_drain
from parley.hooks.fanout import subscribed_forget
from parley.hooks.metrics import BackgroundCollector
from parley.hooks.models import Delivery
from parley.hooks.sending import Refused, deliver, destination_check, url_check
from parley.messaging.models import Event
from parley.messaging.services import message_post
from parley.rooms.members import room_join, room_leave
from tests import factories
from tests.support.receiver import Receiver, receiving

pytestmark = [pytest.mark.storage, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> Iterator[None]:
    settings.PARLEY_WEBHOOK_ROOMS_CACHE = 0.0  # each test's rooms are new rows
    subscribed_forget()
    yield
    subscribed_forget()  # the next test's database has none of these subscriptions


def _drain_until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the deliveries did not settle"
        deliveries_drain(seconds=2)
        time.sleep(0.05)


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in headers["X-Parley-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(parts["v1"], expected) and abs(time.time() - int(parts["t"])) < 300


def test_a_receiver_that_fails_twice_gets_the_third_attempt_signed() -> None:
    bot, bob = factories.user("bot"), factories.user("bob")
    factories.room("lobby")
    receiver = Receiver(answer=lambda n: 500 if n < 2 else 204)
    with receiving(receiver):
        info, secret = outgoing.subscription_create(actor=bot, url=receiver.url, events="room", room="lobby")
        assert secret.startswith("whsec_") and info.room == "lobby"
        posted = message_post(user=bob, room="lobby", cid="c1", body="hello hooks")
        [delivery] = Delivery.objects.all()
        assert (delivery.seq, delivery.state) == (posted.seq, "pending")
        assert DBTaskResult.objects.filter(status="READY", task_path="parley.hooks.tasks.deliveries_run").exists()

        DBTaskResult.objects.update(status="RUNNING")  # as the worker does before it runs the task
        deliveries_drain(seconds=2)
        delivery.refresh_from_db()
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
        assert delivery.next_at > timezone.now() - timezone.timedelta(seconds=1)
        # the retry is a task with run_after at the delivery's next attempt
        assert DBTaskResult.objects.filter(status="READY", run_after__gte=delivery.next_at).exists()
        _drain_until(lambda: len(receiver.received) == 3)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("ok", 3, 204)
    stored = Event.objects.get(room__slug="lobby", seq=posted.seq).frame
    assert [r.body.decode() for r in receiver.received] == [stored] * 3  # the event as /ws/ sends it
    assert [r.headers["X-Parley-Attempt"] for r in receiver.received] == ["1", "2", "3"]
    third = receiver.received[2]
    assert third.event["room"] == "lobby" and third.event["seq"] == posted.seq
    assert third.event["kind"] == "message.posted" and third.headers["X-Parley-Event"] == "message.posted"
    assert _verify(secret, third.headers, third.body)
    assert not _verify("whsec_other", third.headers, third.body)
    assert not _verify(secret, third.headers, third.body + b" ")
    scraped = metrics.render_collected(BackgroundCollector()).decode()
    assert 'parley_webhook_deliveries_total{outcome="ok"} 1.0' in scraped
    assert 'parley_webhook_deliveries_total{outcome="retried"} 2.0' in scraped
    assert "parley_task_queue{state=" in scraped


def test_dead_after_the_last_attempt_then_redelivered(settings: Any) -> None:
    settings.PARLEY_WEBHOOK_MAX_ATTEMPTS = 3
    bot, bob, eve = factories.user("bot"), factories.user("bob"), factories.user("eve")
    factories.room("lobby")
    receiver = Receiver(answer=lambda n: 503 if n < 3 else 200)
    with receiving(receiver):
        info, _ = outgoing.subscription_create(actor=bot, url=receiver.url, events="room", room="lobby")
        message_post(user=bob, room="lobby", cid="c1", body="will die")
        _drain_until(lambda: Delivery.objects.filter(state="dead").exists())
        assert len(receiver.received) == 3
        [dead] = outgoing.deliveries_of(actor=bot, sub_id=info.id, state="dead")
        assert (dead.attempts, dead.last_status, dead.last_error, dead.room) == (3, 503, "HTTP 503", "lobby")
        assert outgoing.subscription_get(actor=bot, sub_id=info.id).dead == 1
        assert 'outcome="dead"} 1.0' in metrics.render_collected(BackgroundCollector()).decode()
        with pytest.raises(NotFound):
            outgoing.deliveries_of(actor=eve, sub_id=info.id)
        with pytest.raises(NotFound):
            outgoing.delivery_redeliver(actor=eve, sub_id=info.id, delivery_id=dead.id)

        again = outgoing.delivery_redeliver(actor=bot, sub_id=info.id, delivery_id=dead.id)
        assert (again.state, again.attempts) == ("pending", 0)
        _drain_until(lambda: Delivery.objects.filter(state="ok").exists())
        with pytest.raises(BadRequest):
            outgoing.delivery_redeliver(actor=bot, sub_id=info.id, delivery_id=dead.id)  # ok now
    assert len(receiver.received) == 4
    assert outgoing.deliveries_of(actor=bot, sub_id=info.id, state="dead") == []


def test_backoff_doubles_with_jitter(settings: Any) -> None:
    settings.PARLEY_WEBHOOK_BACKOFF, settings.PARLEY_WEBHOOK_BACKOFF_MAX = 10.0, 100.0
    for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        seen = [backoff(attempts) for _ in range(50)]
        assert all(full / 2 <= s <= full for s in seen) and len(set(seen)) > 1


def test_mentions_subscription_and_no_echo_of_ones_own_events() -> None:
    bot, bob = factories.user("bot"), factories.user("bob")
    factories.room("lobby")
    factories.room("random")
    receiver = Receiver()
    with receiving(receiver):
        outgoing.subscription_create(actor=bot, url=receiver.url, events="mentions")  # every room bot reads
        room_join(user=bot, slug="lobby")
        message_post(user=bob, room="lobby", cid="a", body="no one named")
        mention = message_post(user=bob, room="random", cid="b", body="hey @bot, ping")
        message_post(user=bot, room="random", cid="c", body="@bot talking to myself")
        _drain_until(lambda: not Delivery.objects.filter(state="pending").exists())
    assert receiver.ok_events() == [("random", mention.seq)]


def test_a_room_without_subscriptions_costs_no_query(settings: Any) -> None:
    settings.PARLEY_WEBHOOK_ROOMS_CACHE = 60.0
    bob = factories.user("bob")
    factories.room("lobby")
    factories.room("watched")
    outgoing.subscription_create(actor=factories.user("bot"), url="http://127.0.0.1:9/", events="room", room="watched")
    message_post(user=bob, room="lobby", cid="warm", body="the cache fills here")
    with CaptureQueriesContext(connection) as queries:
        message_post(user=bob, room="lobby", cid="c1", body="nobody listens")
    assert not [q for q in queries.captured_queries if "hooks_" in q["sql"] or "django_tasks" in q["sql"]]
    assert not Delivery.objects.exists()


def test_a_rolled_back_post_owes_nothing() -> None:
    bob = factories.user("bob")
    factories.room("lobby")
    outgoing.subscription_create(actor=factories.user("bot"), url="http://127.0.0.1:9/", events="room", room="lobby")
    DBTaskResult.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        message_post(user=bob, room="lobby", cid="c1", body="gone")
        assert Delivery.objects.count() == 1
        raise RuntimeError
    assert not Delivery.objects.exists() and not DBTaskResult.objects.exists()


def test_an_owner_who_left_a_private_room_is_sent_nothing() -> None:
    bot, ann = factories.user("bot"), factories.user("ann")
    factories.room("secret", creator=ann, public=False)
    from parley.rooms.members import member_invite

    member_invite(actor=ann, slug="secret", username="bot")
    receiver = Receiver()
    with receiving(receiver):
        info, _ = outgoing.subscription_create(actor=bot, url=receiver.url, events="room", room="secret")
        message_post(user=ann, room="secret", cid="c1", body="still here?")
        room_leave(user=bot, slug="secret")
        _drain_until(lambda: not Delivery.objects.filter(state="pending").exists())
    assert receiver.received == []
    [dead] = outgoing.deliveries_of(actor=bot, sub_id=info.id)
    assert dead.state == "dead" and "no longer read" in dead.last_error


@pytest.mark.parametrize(
    "host",
    ["10.0.0.1", "192.168.1.10", "172.16.0.5", "169.254.169.254", "127.0.0.2", "0.0.0.0", "100.64.0.1", "::1",
     "fd00::1", "fe80::1", "::ffff:10.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_private_loopback_and_link_local_destinations_are_refused(host: str) -> None:
    with pytest.raises(Refused):
        destination_check(host, 80)
    url = f"http://[{host}]/" if ":" in host else f"http://{host}/"
    with pytest.raises(BadRequest, match="private or special"):
        outgoing.subscription_create(actor=factories.user("bot"), url=url, events="mentions")


def test_the_operator_list_opens_and_closes_destinations(settings: Any) -> None:
    assert destination_check("127.0.0.1", 80) == ["127.0.0.1"]  # listed in the test settings
    assert destination_check("93.184.216.34", 443) == ["93.184.216.34"]  # public: allowed by default
    settings.PARLEY_WEBHOOK_ALLOWED_HOSTS = ["10.0.0.0/8"]
    assert destination_check("10.1.2.3", 80) == ["10.1.2.3"]
    for loopback in ("127.0.0.1", "localhost"):
        with pytest.raises(Refused):
            destination_check(loopback, 80)
    # a subscription's name is resolved by the API (off the database thread) and at every send
    assert url_check("http://localhost:8080/x?y=1", resolve=False).path == "/x?y=1"
    with pytest.raises(BadRequest, match="private or special"):
        url_check("http://localhost:8080/", resolve=True)
    with pytest.raises(BadRequest, match="private or special"):
        url_check("http://127.0.0.1:8080/", resolve=False)  # an address is checked at once
    settings.PARLEY_WEBHOOK_PUBLIC = False
    with pytest.raises(Refused, match="not in PARLEY_WEBHOOK_ALLOWED_HOSTS"):
        destination_check("93.184.216.34", 443)


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "http:///nohost", "127.0.0.1/x", "", "http://[::1/"]
)
def test_bad_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(BadRequest):
        outgoing.subscription_create(actor=factories.user("bot"), url=url, events="mentions")


def test_redirects_are_not_followed_and_the_address_is_checked_again_at_send(settings: Any) -> None:
    bot, bob = factories.user("bot"), factories.user("bob")
    factories.room("lobby")
    receiver = Receiver(answer=lambda n: 302)
    with receiving(receiver):
        outgoing.subscription_create(actor=bot, url=receiver.url, events="room", room="lobby")
        message_post(user=bob, room="lobby", cid="c1", body="go elsewhere")
        deliveries_drain(seconds=2)
        [delivery] = Delivery.objects.all()
        assert len(receiver.received) == 1 and "redirects are not followed" in delivery.last_error
        settings.PARLEY_WEBHOOK_ALLOWED_HOSTS = []  # the operator closes loopback
        Delivery.objects.update(next_at=timezone.now())
        deliveries_drain(seconds=2)
    delivery.refresh_from_db()
    assert len(receiver.received) == 1 and delivery.last_error.startswith("refused:")


def test_subscriptions_are_the_owners_and_limited(settings: Any) -> None:
    settings.PARLEY_WEBHOOK_SUBSCRIPTIONS_MAX = 2
    bot, eve = factories.user("bot"), factories.user("eve")
    factories.room("lobby")
    factories.room("secret", creator=eve, public=False)
    made, _ = outgoing.subscription_create(actor=bot, url="http://127.0.0.1:9/a", events="room", room="lobby")
    with pytest.raises(NotFound):
        outgoing.subscription_create(actor=bot, url="http://127.0.0.1:9/b", events="room", room="secret")
    with pytest.raises(BadRequest, match="needs a room"):
        outgoing.subscription_create(actor=bot, url="http://127.0.0.1:9/b", events="room")
    with pytest.raises(BadRequest, match="events"):
        outgoing.subscription_create(actor=bot, url="http://127.0.0.1:9/b", events="all")
    outgoing.subscription_create(actor=bot, url="http://127.0.0.1:9/b", events="mentions")
    with pytest.raises(Exception, match="at most 2"):
        outgoing.subscription_create(actor=bot, url="http://127.0.0.1:9/c", events="mentions")
    assert [s.url for s in outgoing.subscriptions_of(actor=bot)] == ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
    assert outgoing.subscriptions_of(actor=eve) == []
    with pytest.raises(NotFound):
        outgoing.subscription_delete(actor=eve, sub_id=made.id)
    outgoing.subscription_delete(actor=bot, sub_id=made.id)
    with pytest.raises(NotFound):
        outgoing.subscription_get(actor=bot, sub_id=made.id)


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_at_the_deadline(settings: Any) -> None:
    """Each byte comes within the per-read timeout; the whole answer never does."""
    settings.PARLEY_WEBHOOK_TIMEOUT = 0.3
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.is_set():
                try:
                    conn.sendall(b"X")
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    started = time.monotonic()
    outcome = deliver(url=f"http://127.0.0.1:{listener.getsockname()[1]}/", secret="s", body=b"{}", headers={})
    took = time.monotonic() - started
    stop.set()
    thread.join(timeout=5)
    listener.close()
    assert not outcome.ok and "past the deadline" in outcome.error, outcome
    assert 0.5 < took < 2.0


def test_https_goes_to_the_checked_address_and_verifies_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    receiver = Receiver(tls=(str(cert), str(key)))
    with receiving(receiver):
        refused = deliver(url=receiver.url, secret="s", body=b'{"room":"x","seq":1}', headers={})
        assert not refused.ok and "CERTIFICATE_VERIFY_FAILED" in refused.error  # not trusted yet
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        sent = deliver(url=receiver.url, secret="s", body=b'{"room":"x","seq":1}', headers={})
    assert sent.ok and receiver.ok_events() == [("x", 1)], sent
