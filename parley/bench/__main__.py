"""`make bench`: start each server configuration, run W1-W6, W1S, H1 against it, stop it; print, save, plot.

python -m parley.bench [--profile full|quick|tiny] [--servers floor,tutorial,parley,parley-2p]
                       (also parley-asgi, parley-2p-core, tutorial-route, tutorial-route-sync)
                       [--workloads W1,W2,W3,W4,W5,W1S,W6,H1,WH] [--clients bench,plain]
                       [--out var/bench] [--doc docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import os
import platform
import resource
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

from parley.bench import report
from parley.bench.http_posts import h1
from parley.bench.profiles import PROFILES, Profile, memberships_for, slugs_for
from parley.bench.servers import (
    ROOT,
    SPECS,
    Databases,
    Server,
    launch,
    pin_client,
    remote,
    spec_with_env,
    two_cores,
)
from parley.bench.sidebar import w1s, w6
from parley.bench.storm import w5
from parley.bench.webhooks import wh
from parley.bench.workloads import Ids, w1, w2, w3, w4

BUDGET_S = {"full": 3600.0, "quick": 300.0, "tiny": 50.0}  # W1 and W2 may run with two clients
WH_DELIVERIES = {"full": 10_000, "quick": 2_000, "tiny": 500}  # the webhook backlog WH drains
WH_WORKERS = 2  # db_worker processes (docs/performance.md: one vs two)
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W1S", "W6", "H1", "WH")
# what runs without --workloads: the sidebar's workloads in the full profile (`make bench`) only
DEFAULT_WORKLOADS = {
    "full": "W1,W2,W3,W4,W5,W1S,W6,H1,WH",
    "quick": "W1,W2,W3,W4,W5,H1",
    "tiny": "W1,W2,W3,W4,H1",
}
# the load clients: "bench" (picows, parley.bench.client) and "plain" (parley.bench.plain: one
# frame per write, Python parser, the profile of browsers and most bot libraries); W1 and W2 run
# with each client asked for, the other workloads with the first
CLIENTS = ("bench", "plain")
CLIENT_LABELS = {
    "bench": "picows (C frame parser), one frame per write, TCP_NODELAY, sends due every ~1 ms",
    "plain": "asyncio protocol, Python frame parser, fresh mask per frame, one frame per write, TCP_NODELAY, "
    "sends due every ~1 ms",
}


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m parley.bench", description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--servers", default="floor,tutorial,parley,parley-2p")
    ap.add_argument(
        "--workloads",
        default="",
        help=f"comma-separated, of {','.join(WORKLOADS)} (default: {DEFAULT_WORKLOADS['full']} in the full "
        f"profile, {DEFAULT_WORKLOADS['quick']} otherwise); W1S also runs the floor's W1 at W1S's N",
    )
    ap.add_argument(
        "--clients",
        default="bench",
        help="comma-separated, of bench,plain: W1 and W2 run with each (`make bench`: bench,plain)",
    )
    ap.add_argument(
        "--set",
        default="",
        help="change profile sizes, e.g. w2_rooms=1000,w2_hold_s=8,max_steps=8 (recorded in results.json)",
    )
    ap.add_argument("--out", default=str(ROOT / "var" / "bench"))
    ap.add_argument("--doc", default="", help="also write the markdown summary to this file")
    ap.add_argument("--db", choices=["postgres", "sqlite"], default="postgres", help="Parley's database")
    ap.add_argument(
        "--target",
        default="",
        help="bench a running deployment at this URL instead of starting servers (W1, W2, W4, H1; "
        "prepare it with `manage.py parley_bench_setup --profile P`, which prints the token)",
    )
    ap.add_argument("--token", default=os.environ.get("PARLEY_BENCH_TOKEN", ""), help="bearer token for --target")
    return ap.parse_args(argv)


def _profile(args: argparse.Namespace) -> Profile:
    """The profile asked for, with ``--set`` applied."""
    p = PROFILES[args.profile]
    types = {f.name: f.type for f in dataclasses.fields(Profile)}
    changes: dict[str, Any] = {}
    for pair in (x.strip() for x in args.set.split(",") if x.strip()):
        key, _, value = pair.partition("=")
        kind = str(types.get(key, ""))
        if kind not in ("int", "float", "bool"):
            raise SystemExit(f"--set: {key!r} is not a numeric profile field ({', '.join(sorted(types))})")
        changes[key] = value.lower() in ("1", "true") if kind == "bool" else (int if kind == "int" else float)(value)
    return dataclasses.replace(p, **changes)


def _redacted(argv: list[str]) -> list[str]:
    """The command line as recorded in results: without the bearer token."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--token":
            arg = "REDACTED"
        elif arg.startswith("--token="):
            arg = "--token=REDACTED"
        out.append(arg)
    return out


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return {"cpu": cpu, "nproc": os.cpu_count(), "python": platform.python_version(), "pinned": two_cores()}


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def say(text: str) -> None:
    print(text, flush=True)


Plan = dict[str, Callable[[], Awaitable[dict[str, Any]]]]


def _suffix(client: str) -> str:
    return "" if client == "bench" else f" [{client}]"


def labels(p: Profile, clients: tuple[str, ...] = ("bench",)) -> list[str]:
    """Every workload label in the order a run measures them (on every configuration in turn)."""
    w1_sizes = sorted({*p.w1_sizes, *p.w1s_sizes})
    w1 = [f"W1 N={n}{_suffix(c)}" for n in w1_sizes for c in clients]
    w2 = [f"W2{_suffix(c)}" for c in clients]
    return ["W3", *w1, *(f"W1S N={n}" for n in p.w1s_sizes), *w2, "W4", "W5", "W6", "H1", "WH"]


def plan_for(
    name: str, p: Profile, workloads: set[str], server: Server, ids: Ids, clients: tuple[str, ...] = ("bench",)
) -> Plan:
    """The workloads one configuration runs, by label, in the order they run."""
    protocol_v1 = server.spec.protocol == "parley"
    main = not name.startswith("parley-2p")  # 2-process configurations answer one question: W1 scaling
    plan: Plan = {}
    if "W3" in workloads and main:  # first, on a fresh server: RSS above the idle server
        plan["W3"] = lambda: w3(server, p, say)
    w1_sizes = list(p.w1_sizes) if "W1" in workloads else []
    if "W1S" in workloads and name == "floor":  # W1S's reference: the floor's W1 at the same N
        w1_sizes += [n for n in p.w1s_sizes if n not in w1_sizes]
    for n in sorted(w1_sizes):
        for c in clients:
            plan[f"W1 N={n}{_suffix(c)}"] = lambda n=n, c=c: w1(server, n, p, ids, say, c)  # type: ignore[misc]
    # the sidebar's workloads: Parley's protocol v1 only (the peers have no sidebar); W6 on the
    # 2-process configurations too: there a watch is a layer subscription per room
    sidebar = protocol_v1 and server.local
    if "W1S" in workloads and sidebar and main:
        for n in p.w1s_sizes:
            plan[f"W1S N={n}"] = lambda n=n: w1s(server, n, p, ids, say)  # type: ignore[misc]
    if "W2" in workloads and main:
        for c in clients:
            plan[f"W2{_suffix(c)}"] = lambda c=c: w2(server, p, ids, say, c)  # type: ignore[misc]
    if "W4" in workloads and main and protocol_v1:
        plan["W4"] = lambda: w4(server, p, ids, say)
    if "W5" in workloads and main and protocol_v1:
        plan["W5"] = lambda: w5(server, p, ids, say, clients[0])
    if "W6" in workloads and sidebar:
        plan["W6"] = lambda: w6(server, p, ids, say)
    if "H1" in workloads and main and protocol_v1 and "token" in server.creds:
        plan["H1"] = lambda: h1_run(server, p)
    if "WH" in workloads and name == "parley" and server.local:  # the worker's work: once, on Parley's database
        plan["WH"] = lambda: wh(server.env, WH_DELIVERIES[p.name], WH_WORKERS, say)
    return plan


async def h1_run(server: Server, p: Profile) -> dict[str, Any]:
    """H1: posts over the HTTP API with keep-alive, acked (201) per second."""
    base = getattr(server, "base", "") or f"http://127.0.0.1:{server.port}"
    seconds = p.w2_hold_s or 3 * p.step_s
    conns = 64 if p.name == "full" else 16
    before = server.cpu_seconds() if server.local else None
    out = await h1(base, server.creds["token"], seconds, conns, f"h1-{time.time_ns()}")
    acked = int(out["acked"])  # type: ignore[call-overload]
    if before is not None and acked:
        out["server_cpu_us_per_msg"] = round((server.cpu_seconds() - before) * 1e6 / acked, 1)
    say(f"  H1 {out['acked_per_s']} acked msg/s over HTTP ({conns} connections) p50 {out['p50_ms']}ms")
    return out


async def run_planned(label: str, run: Callable[[], Awaitable[dict[str, Any]]], p: Profile) -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        out = await asyncio.wait_for(run(), timeout=BUDGET_S[p.name])
    except Exception as exc:
        say(f"  {label}: ERROR {exc!r}"[:400])
        name, _, client = label.partition(" [")
        workload, _, n = name.partition(" N=")
        out = {"workload": workload, **({"n": int(n)} if n else {}), "error": repr(exc)[:400]}
        if client:
            out["client"] = client.rstrip("]")
    say(f"  {label} done in {time.monotonic() - t0:.1f}s")
    return out


async def quiesce(servers: dict[str, Server], limit_pct: float = 10.0, patience_s: float = 60.0) -> None:
    """Wait until the servers together use under ``limit_pct`` of a core: a server still working
    off the backlog of a failed step must not take CPU from the next measurement."""
    t_end = time.monotonic() + patience_s
    while True:
        before = sum(server.cpu_seconds() for server in servers.values())
        await asyncio.sleep(0.5)
        busy = 100 * (sum(server.cpu_seconds() for server in servers.values()) - before) / 0.5
        if busy < limit_pct:
            return
        if time.monotonic() > t_end:
            say(f"  the servers still use {busy:.0f}% CPU after {patience_s:.0f}s; measuring anyway")
            return


async def bench_server(
    name: str, p: Profile, workloads: set[str], server: Server, ids: Ids, clients: tuple[str, ...]
) -> list[dict[str, Any]]:
    plan = plan_for(name, p, workloads, server, ids, clients)
    return [await run_planned(label, run, p) for label, run in plan.items()]


async def bench_remote(args: argparse.Namespace, p: Profile, run: dict[str, Any], workloads: set[str]) -> None:
    if not args.token:
        raise SystemExit("--target needs --token (or PARLEY_BENCH_TOKEN): run `manage.py parley_bench_setup` there")
    server = remote(args.target, args.token)
    await asyncio.to_thread(server.check)
    if "W3" in workloads:
        say("  W3 skipped: it measures the server's memory, which needs a server this run starts")
        workloads = workloads - {"W3"}
    if workloads & {"W1S", "W6"}:
        say("  W1S and W6 skipped: they need the floor beside them (W1S) or a second user's token (W6)")
        workloads = workloads - {"W1S", "W6"}
    say(f"[remote] {server.spec.label}")
    run["servers"]["remote"] = {"label": server.spec.label, "auth": "bearer token", "pinning": "not pinned"}
    gc.collect()
    gc.freeze()
    try:
        run["results"]["remote"] = await bench_server("remote", p, workloads, server, Ids(), clients_of(args))
    finally:
        gc.unfreeze()
    errors = [s.get("last_error", "") for r in run["results"]["remote"] for s in r.get("steps", [])]
    if any(e.startswith("rate_limited") for e in errors):
        say(
            "  the deployment rate-limits the bench's bot: run it with PARLEY_RATE_PER_SECOND=1000000 "
            "PARLEY_RATE_BURST=1000000 while you measure"
        )


def clients_of(args: argparse.Namespace) -> tuple[str, ...]:
    clients = tuple(dict.fromkeys(c.strip() for c in args.clients.split(",") if c.strip()))
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown or not clients:
        raise SystemExit(f"unknown client(s) {unknown}; choose from {', '.join(CLIENTS)}")
    return clients


async def bench(args: argparse.Namespace, p: Profile, run: dict[str, Any], workdir: Path) -> None:
    asked = args.workloads or DEFAULT_WORKLOADS[p.name]
    workloads = {w.strip().upper() for w in asked.split(",") if w.strip()}
    unknown_workloads = sorted(workloads - set(WORKLOADS))
    if unknown_workloads:
        raise SystemExit(f"unknown workload(s) {unknown_workloads}; choose from {', '.join(WORKLOADS)}")
    if args.target:
        await bench_remote(args, p, run, workloads)
        return
    names = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [n for n in names if n.split("+")[0] not in SPECS]
    if unknown:
        raise SystemExit(f"unknown server(s) {unknown}; choose from {sorted(SPECS)}")
    specs = {name: spec_with_env(name) for name in names}
    dbs = Databases(workdir, engine=args.db)
    ids = Ids()
    servers: dict[str, Server] = {}
    try:
        # Every configuration is up for the whole run, and each workload runs on all of them back
        # to back: a shared machine's slow drifts then hit the ratios' both sides alike. Idle
        # servers cost next to nothing; the one being measured has its core to itself.
        for name in names:
            say(f"[{name}] starting {specs[name].label}")
            try:
                setup = {"rooms": slugs_for(p), "members": memberships_for(p)}
                started, info = await asyncio.to_thread(launch, specs[name], workdir, dbs, setup)
            except Exception as exc:
                say(f"[{name}] ERROR {exc!r}"[:600])
                run["results"][name] = [{"workload": "start", "error": repr(exc)[:400]}]
                continue
            servers[name] = started
            run["servers"][name] = info
            run["results"][name] = []
        clients = clients_of(args)
        plans = {name: plan_for(name, p, workloads, server, ids, clients) for name, server in servers.items()}
        deadline = time.monotonic() + BUDGET_S[p.name]  # for the workloads: starting servers is not measuring
        gc.collect()
        gc.freeze()
        for label in labels(p, clients):
            for name, plan in plans.items():
                if label not in plan:
                    continue
                if time.monotonic() > deadline:
                    say(f"[{name}] {label} skipped: the run's time budget is spent")
                    continue
                await quiesce(servers)
                say(f"[{name}] {label}")
                run["results"][name].append(await run_planned(label, plan[label], p))
    finally:
        gc.unfreeze()
        for server in servers.values():
            server.stop()
        await asyncio.to_thread(dbs.close)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    p = _profile(args)
    _raise_fd_limit()
    if not args.target:
        pin_client()  # against a remote deployment the client has this machine to itself
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    run: dict[str, Any] = {
        "started": started,
        "command": "python -m parley.bench " + shlex.join(_redacted(argv if argv is not None else sys.argv[1:])),
        "profile": dataclasses.asdict(p),
        "machine": _machine(),
        "clients": {c: CLIENT_LABELS[c] for c in clients_of(args)},
        "servers": {},
        "results": {},
    }
    where = f"target {args.target}" if args.target else f"servers {args.servers}; client pinned to CPU 1"
    say(f"parley.bench {p.name}: {where}; workloads {args.workloads or DEFAULT_WORKLOADS[p.name]}")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        workdir = Path(tmp)
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(bench(args, p, run, workdir))
        except KeyboardInterrupt:
            say("interrupted: every server this run started has been stopped")
            return 130
        finally:
            for log in workdir.glob("*.log"):  # keep the servers' logs next to the results
                with contextlib.suppress(OSError):
                    (out / log.name).write_bytes(log.read_bytes()[-200_000:])
    run["elapsed_s"] = round(time.monotonic() - t0, 1)
    run["ratios"], run["targets"] = report.ratios_and_targets(run)
    report.write_json(run, out / "results.json")
    plotted = report.plot(run, out / "w1.png")
    say("\n" + report.table(run) + "\n")
    for key, value in run["ratios"].items():
        if value is not None:
            say(f"  {key}: {value}")
    for t in run["targets"]:
        outcome = "met" if t["met"] else "NOT met" if t["met"] is False else report.verdict(None)
        say(f"  target {t['target']}: {t['value']} -> {outcome}")
    md = report.markdown(run)
    (out / "summary.md").write_text(md)
    if args.doc:
        Path(args.doc).write_text(md)
    say(f"\nwrote {out / 'results.json'}" + (f", {out / 'w1.png'}" if plotted else "") + f", {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
