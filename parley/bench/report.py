"""What a bench run prints and writes: the terminal table, ratios to the floor, targets, JSON, PNG, markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Run = dict[str, Any]
COLUMNS = [
    "parley",
    "parley-asgi",
    "parley-2p",
    "parley-2p-core",
    "tutorial-route",
    "tutorial-route-sync",
    "tutorial",
    "floor",
]
# Parley's tutorial routes at W1 N=1,000, as a share of the floor's deliveries/s in the same run
TUTORIAL_ROUTE_TARGETS = {"tutorial-route": 0.5, "tutorial-route-sync": 0.25}
TUTORIAL_ROUTE_N = 1000
W1S_SHARE, W1S_N = 0.8, 1000  # W1S at N=1,000 against the floor's W1 at N=1,000, same run
W6_P99_MS, W6_ROOMS, W6_BUSY = 100.0, 500, 20  # the rooms answer's p99 for a user in 500 rooms, 20 busy
W5_SOCKETS, W5_SECONDS = 10000, 10.0  # the reconnect storm: 10,000 sockets back and resubscribed in 10 s


def columns(run: Run) -> list[str]:
    """The servers of a run in table order; configurations with changed settings after their base."""
    names = list(run["results"])
    return sorted(names, key=lambda n: (COLUMNS.index(n.split("+")[0]) if n.split("+")[0] in COLUMNS else 99, n))


def _w1(run: Run, server: str, n: int, workload: str = "W1", client: str = "bench") -> dict[str, Any] | None:
    for r in run["results"].get(server, []):
        if r.get("workload") == workload and r.get("n") == n and r.get("client", "bench") == client:
            return r
    return None


def clients(run: Run) -> list[str]:
    """The load clients of a run (older runs: the bench client only)."""
    return list(run.get("clients") or ["bench"])


def _suffix(client: str) -> str:
    return "" if client == "bench" else f" [{client}]"


def _w1s_sizes(run: Run) -> list[int]:
    return list(run["profile"].get("w1s_sizes", ()))


def _get(run: Run, server: str, workload: str, client: str | None = "bench") -> dict[str, Any] | None:
    """A workload's result; ``client=None``: whichever client ran it (W3, W4, W5, W6, H1 run with one)."""
    return next(
        (
            r
            for r in run["results"].get(server, [])
            if r.get("workload") == workload and (client is None or r.get("client", "bench") == client)
        ),
        None,
    )


def w1_figure(r: dict[str, Any] | None) -> float | None:
    return float(r["best"]["deliveries_per_s"]) if r and r.get("best") else None


def _fmt_search(r: dict[str, Any] | None, key: str = "deliveries_per_s", unit: str = "") -> str:
    if r is None:
        return "-"
    if r.get("error"):
        return "error"
    if r.get("best"):
        b = r["best"]
        at_least = ">= " if r.get("capped") else ""
        return f"{at_least}{b[key]:,}{unit} (p99 {b['p99_ms']:.0f}ms)"
    f = r.get("first_failure")
    if f:
        why = f"lost {f['lost']}" if f["lost"] else f"p50 {f['p50_ms']:.0f}ms"
        return f"fails ({why} at {f['rate']} msg/s)"
    return "fails"


def _fmt_w2(r: dict[str, Any] | None) -> str:
    """W2: the held rate (ack p99 under 100 ms for 10 s) where there was a hold, else the search's."""
    if r is None or not r.get("hold"):
        return _fmt_search(r, "rate")
    h = r["hold"]
    if not h["ok"]:
        return f"held none (last hold {h['rate']:,} msg/s: p99 {h['p99_ms']:.0f}ms, ack p99 {h['ack_p99_ms']}ms)"
    ack = f", ack p99 {h['ack_p99_ms']:.0f}ms" if h.get("ack_p99_ms") is not None else ""
    return f"{h['rate']:,} held (p99 {h['p99_ms']:.0f}ms{ack}; search {r['best']['rate']:,})"


def _cpu_per_delivery(r: dict[str, Any] | None) -> str:
    """Server CPU (all its processes; "?" for a remote one) and load-client CPU per delivered
    frame, at the best step."""
    best = r.get("best") if r else None
    if not best or best.get("client_cpu_us_per_delivery") is None:
        return "-"
    server = best.get("server_cpu_us_per_delivery")
    return f"{'?' if server is None else f'{server:.1f}'}, {best['client_cpu_us_per_delivery']:.1f}"


def w2_figure(r: dict[str, Any] | None) -> float | None:
    """msg/s: the held rate if the run held one, else the search's best."""
    if r is None:
        return None
    best = r.get("hold") or r.get("best")
    return float(best["rate"]) if best and best.get("ok") else 0.0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _judged(run: dict[str, Any], configurations: list[str], met: bool) -> bool | None:
    """None (n/a) when a configuration the target compares was not part of the run; otherwise
    whether it was met (a configuration that ran and failed counts as not met)."""
    if any(name not in run["results"] for name in configurations):
        return None
    return met


def ratios_and_targets(run: Run) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ratios: dict[str, Any] = {}
    targets: list[dict[str, Any]] = []
    for n in run["profile"]["w1_sizes"]:
        parley, floor = w1_figure(_w1(run, "parley", n)), w1_figure(_w1(run, "floor", n))
        two = w1_figure(_w1(run, "parley-2p", n))
        ratios[f"W1 N={n} parley/floor"] = _ratio(parley, floor)
        ratios[f"W1 N={n} parley-2p/parley"] = _ratio(two, parley)
        ratios[f"W1 N={n} tutorial/floor"] = _ratio(w1_figure(_w1(run, "tutorial", n)), floor)
        ratios[f"W1 N={n} parley-asgi/floor"] = _ratio(w1_figure(_w1(run, "parley-asgi", n)), floor)
        for route in TUTORIAL_ROUTE_TARGETS:
            ratios[f"W1 N={n} {route}/floor"] = _ratio(w1_figure(_w1(run, route, n)), floor)
        for client in clients(run)[1:] if clients(run)[0] == "bench" else clients(run):
            mine = w1_figure(_w1(run, "parley", n, client=client))
            theirs = w1_figure(_w1(run, "floor", n, client=client))
            ratios[f"W1 N={n} parley/floor{_suffix(client)}"] = _ratio(mine, theirs)
        if n >= 1000 and (_w1(run, "parley", n) is not None or "parley" not in run["results"]):
            # (a run whose parley did not measure W1, e.g. `--workloads W1S` beside the floor's
            # W1, has no row for this target)
            value = ratios[f"W1 N={n} parley/floor"]
            judged = _judged(run, ["parley", "floor"], value is not None and value >= 0.8)
            targets.append({"target": f"W1 N={n} >= 0.8 x floor", "value": value, "met": judged})
        value = ratios[f"W1 N={n} parley-2p/parley"]
        if two is not None or "parley-2p" in run["results"]:
            judged = _judged(run, ["parley-2p", "parley"], value is not None and value >= 1.5)
            targets.append({"target": f"W1 N={n} 2 procs >= 1.5 x 1", "value": value, "met": judged})
    targets += _tutorial_route_targets(run, ratios)
    targets += _sidebar_targets(run, ratios)
    targets += _w2_targets(run, ratios)
    targets += _w5_targets(run)
    h1 = _get(run, "parley", "H1")
    if h1 is not None and "acked_per_s" in h1:
        value = h1["acked_per_s"]
        met_h1: bool | None = value >= 1000 and run["servers"]["parley"].get("database") == "postgres"
        if run["profile"]["name"] != "full":
            met_h1 = None  # a few seconds on 16 connections say nothing about the target
        targets.append({"target": "H1 >= 1,000 msg/s acked over HTTP (PostgreSQL)", "value": value, "met": met_h1})
    wh = _get(run, "parley", "WH")
    if wh is not None and "per_s" in wh:
        met_wh: bool | None = wh["per_s"] >= 200 if wh["deliveries"] >= 10_000 else None  # only the full backlog
        targets.append(
            {"target": "WH a 10,000-delivery webhook backlog drains >= 200/s", "value": wh["per_s"], "met": met_wh}
        )
    w3 = _get(run, "parley", "W3")
    if w3 is not None and "kb_per_conn" in w3:
        floor_w3 = _get(run, "floor", "W3")
        floor_kb = floor_w3.get("kb_per_conn") if floor_w3 else None
        ratios["W3 parley/floor KB per conn"] = _ratio(w3["kb_per_conn"], floor_kb)
        full = w3["connections"] >= 10000
        value = w3["kb_per_conn"]
        met3 = value <= 30 if full else None
        targets.append({"target": "W3 10,000 conns <= 30 KB/conn", "value": value, "met": met3})
    w4 = _get(run, "parley", "W4")
    if w4 is not None and "clients" in w4:
        secs = w4.get("all_caught_up_s")
        full = w4["clients"] >= 1000 and w4["events_each"] >= 100
        met4 = bool(secs and secs <= 5) if full else None
        targets.append({"target": "W4 1,000 clients caught up <= 5 s", "value": secs, "met": met4})
    return ratios, targets


def _w2_targets(run: Run, ratios: dict[str, Any]) -> list[dict[str, Any]]:
    """W2 with each load client: the held rate against the floor's (same client, same run)."""
    targets: list[dict[str, Any]] = []
    for client in clients(run):
        w2 = _get(run, "parley", "W2", client)
        if w2 is None:
            continue
        best = w2.get("hold") or w2.get("best")
        rate = w2_figure(w2) or 0.0
        ack = best["ack_p99_ms"] if best else None
        ratios[f"W2 parley/floor msg/s{_suffix(client)}"] = _ratio(rate, w2_figure(_get(run, "floor", "W2", client)))
        met: bool | None = (
            rate >= 3000 and ack is not None and ack < 100 and run["servers"]["parley"].get("database") == "postgres"
        )
        if run["profile"]["w2_rooms"] < 1000 or not run["profile"]["w2_hold_s"]:
            met = None  # a smaller W2 (quick, tiny) says nothing about the target
        target = f"W2 >= 3,000 msg/s acked (PostgreSQL), p99 ack < 100ms{_suffix(client)}"
        targets.append({"target": target, "value": rate, "met": met})
    return targets


def _w5_targets(run: Run) -> list[dict[str, Any]]:
    w5 = _get(run, "parley", "W5", None)
    if w5 is None:
        return []
    secs = w5.get("all_resubscribed_s")
    clean = bool(w5.get("ok")) and secs is not None and secs <= W5_SECONDS
    met: bool | None = clean if w5.get("sockets", 0) >= W5_SOCKETS else None
    return [
        {"target": f"W5 {W5_SOCKETS:,} sockets resubscribed <= {W5_SECONDS:.0f} s, no error", "value": secs, "met": met}
    ]


def _fmt_w5(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    if r.get("error"):
        return "error"
    trouble = f"; errors {r['error_frames']}, 5xx {r['refused_5xx']}, failed {r['failed']}"
    return f"{r['all_resubscribed_s']} s ({r['resubscribed']:,}/{r['sockets']:,}, {r['reconnects_per_s']:,}/s{trouble})"


def _tutorial_route_targets(run: Run, ratios: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per tutorial route in the run. met is None when the run cannot judge: no W1
    N=1,000 (tiny), or no floor figure beside it; a route that did not start, errored or passed
    no rate is not met."""
    targets: list[dict[str, Any]] = []
    n = TUTORIAL_ROUTE_N
    for route, share in TUTORIAL_ROUTE_TARGETS.items():
        if route not in run["results"]:
            continue
        value: float | None = None
        met: bool | None = None
        mine, floor = _w1(run, route, n), w1_figure(_w1(run, "floor", n))
        started = all(r.get("workload") != "start" for r in run["results"][route])
        if not started or (mine is not None and mine.get("error")):
            met = False
        elif mine is not None and floor:
            value = ratios.get(f"W1 N={n} {route}/floor") or 0.0
            met = value >= share
        targets.append({"target": f"W1 N={n:,} {route} >= {share} x floor", "value": value, "met": met})
    return targets


def _sidebar_targets(run: Run, ratios: dict[str, Any]) -> list[dict[str, Any]]:
    """W1S (Parley with every member's sidebar watching the room) against the floor's W1 at the
    same N, and W6's rooms answer. Judged only at the bars' sizes (N=1,000; 500 rooms, 20 busy)."""
    targets: list[dict[str, Any]] = []
    for n in _w1s_sizes(run):
        mine = _w1(run, "parley", n, "W1S")
        if mine is None:
            continue
        floor = w1_figure(_w1(run, "floor", n))
        value = ratios[f"W1S N={n} parley/floor"] = _ratio(w1_figure(mine), floor)
        ratios[f"W1S N={n} parley W1S/W1"] = _ratio(w1_figure(mine), w1_figure(_w1(run, "parley", n)))
        if n != W1S_N:
            met: bool | None = None
        elif mine.get("error") or not mine.get("best"):
            met = False if floor else None
        else:
            met = _judged(run, ["parley", "floor"], value is not None and value >= W1S_SHARE)
            met = met and not mine.get("activity_while_following") if met is not None else None
        targets.append({"target": f"W1S N={n:,} >= {W1S_SHARE} x floor", "value": value, "met": met})
    w6 = _get(run, "parley", "W6")
    if w6 is not None:
        p99 = w6.get("rooms_p99_ms")
        at_size = w6.get("rooms", 0) >= W6_ROOMS and w6.get("busy", 0) >= W6_BUSY
        ok = not w6.get("error") and p99 is not None and p99 <= W6_P99_MS and w6.get("listed_min") == w6.get("rooms")
        target = f"W6 sidebar p99 <= {W6_P99_MS:.0f} ms"
        targets.append({"target": target, "value": p99, "met": ok if at_size else None})
    return targets


def _fmt_w6(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    if r.get("error"):
        return "error"
    return (
        f"p50 {r['rooms_p50_ms']:.1f} / p99 {r['rooms_p99_ms']:.1f} ms (connect->answer p99 "
        f"{r['connect_p99_ms']:.0f} ms; {r['connects']} x {r['listed_min']} rooms)"
    )


def _fmt_w6_activity(r: dict[str, Any] | None) -> str:
    if r is None or r.get("error"):
        return "-"
    return f"{r['activity']:,} frames, gaps {r['gaps']}, missing {r['missing']}, dup {r['duplicates']}"


def verdict(met: bool | None) -> str:
    """A target's outcome; None: this run cannot say (sizes too small for it, as in the quick and
    tiny profiles, or a configuration it compares was not run)."""
    if met is None:
        return "n/a (not measured at the target's size, or a configuration it compares was not run)"
    return "yes" if met else "no"


def table(run: Run) -> str:
    """One row per workload (W1 and W2: per load client, in the client column)."""
    cols = columns(run)
    rows: list[list[str]] = []
    for n in run["profile"]["w1_sizes"]:
        for k in clients(run):
            rows.append([f"W1 N={n:,} deliveries/s", k, *(_fmt_search(_w1(run, c, n, client=k)) for c in cols)])
    for n in _w1s_sizes(run):  # the floor's W1 at W1S's N, when W1 itself did not measure it
        if n not in run["profile"]["w1_sizes"] and any(_w1(run, c, n) for c in cols):
            rows.append([f"W1 N={n:,} deliveries/s", "bench", *(_fmt_search(_w1(run, c, n)) for c in cols)])
    for n in run["profile"]["w1_sizes"]:
        for k in clients(run):
            cpu = [_cpu_per_delivery(_w1(run, c, n, client=k)) for c in cols]
            rows.append([f"W1 N={n:,} CPU us/delivery server, client", k, *cpu])
    for n in _w1s_sizes(run):
        if any(_w1(run, c, n, "W1S") for c in cols):
            rows.append([f"W1S N={n:,} deliveries/s", "bench", *(_fmt_search(_w1(run, c, n, "W1S")) for c in cols)])
            cpu = [_cpu_per_delivery(_w1(run, c, n, "W1S")) for c in cols]
            rows.append([f"W1S N={n:,} CPU us/delivery server, client", "bench", *cpu])
    for k in clients(run):
        rows.append(["W2 msg/s (5 members)", k, *(_fmt_w2(_get(run, c, "W2", k)) for c in cols)])
    w3 = [_get(run, c, "W3") for c in cols]
    rows.append(
        [
            "W3 KB/conn (connects/s)",
            "bench",
            *(f"{r['kb_per_conn']} ({r['connects_per_s']:,}/s)" if r and "kb_per_conn" in r else "-" for r in w3),
        ]
    )
    w4 = [_get(run, c, "W4") for c in cols]
    w4_cells = (str(r.get("all_caught_up_s")) if r and "clients" in r else "-" for r in w4)
    rows.append(["W4 all caught up (s)", "bench", *w4_cells])
    w5 = [_get(run, c, "W5", None) for c in cols]
    if any(w5):
        client = next(r.get("client", "bench") for r in w5 if r)
        rows.append(["W5 reconnect storm: all resubscribed", client, *(_fmt_w5(r) for r in w5)])
    if any(_get(run, c, "W6") for c in cols):
        rows.append(["W6 rooms answer", "bench", *(_fmt_w6(_get(run, c, "W6")) for c in cols)])
        rows.append(["W6 activity (busy rooms)", "bench", *(_fmt_w6_activity(_get(run, c, "W6")) for c in cols)])
    h1 = [_get(run, c, "H1") for c in cols]
    h1_cells = (f"{r['acked_per_s']:,}" if r and "acked_per_s" in r else "-" for r in h1)
    rows.append(["H1 HTTP posts acked/s", "http", *h1_cells])
    wh = [_get(run, c, "WH") for c in cols]
    if any(wh):
        wh_cells = (f"{r['per_s']:,}" if r and "per_s" in r else "-" for r in wh)
        rows.append(["WH webhook deliveries/s", "http", *wh_cells])
    head = ["", "client", *cols]
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in [head, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(run: Run) -> str:
    ratios, targets = run["ratios"], run["targets"]
    cols = columns(run)
    t = table(run).splitlines()
    md = [f"| {' | '.join(cell.strip() for cell in t[0].split(' | '))} |", "|" + "---|" * len(t[0].split(" | "))]
    md += [f"| {' | '.join(cell.strip() for cell in line.split(' | '))} |" for line in t[2:]]
    out = [
        f"Run {run['started']} ({run['profile']['name']} profile, {run['elapsed_s']:.0f} s): `{run['command']}`",
        "",
        f"Machine: {run['machine']['cpu']}, {run['machine']['nproc']} cores, Python {run['machine']['python']}; "
        f"servers: {', '.join(f'{c} = {run["servers"][c].get("label")}' for c in cols)}.",
        "",
        *md,
        "",
        "Ratios (same run): " + "; ".join(f"{k} = {v}" for k, v in ratios.items() if v is not None),
        "",
        "| target | value | met |",
        "|---|---|---|",
        *(f"| {t['target']} | {t['value']} | {verdict(t['met'])} |" for t in targets),
    ]
    return "\n".join(out) + "\n"


def write_json(run: Run, path: Path) -> None:
    path.write_text(json.dumps(run, indent=1, default=str))


def plot(run: Run, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    sizes = list(run["profile"]["w1_sizes"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for server in columns(run):
        xs, ys, ps = [], [], []
        for n in sizes:
            r = _w1(run, server, n)
            if r and r.get("best"):
                xs.append(n)
                ys.append(r["best"]["deliveries_per_s"])
                ps.append(r["best"]["p99_ms"])
        if xs:
            ax1.plot(xs, ys, marker="o", label=server)
            ax2.plot(xs, ps, marker="o", label=server)
    for ax, title in ((ax1, "W1 deliveries/s (p99 < 200 ms, none lost)"), (ax2, "W1 p99 at that rate (ms)")):
        ax.set_xscale("log")
        ax.set_xlabel("room members N")
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"make bench ({run['profile']['name']}), {run['started']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
