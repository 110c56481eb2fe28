#!/usr/bin/env python3
"""Summarizes a side-by-side results directory (JSON reports named SCENARIO-SERVER-PASS.json written by
xmpp-bench) as Markdown: per scenario and figure, the median over passes with min-max for each server, and
the ratio of xmppd's median to each peer's. `summarize.py DIR REFERENCE PEER...` names the servers instead (the
before/after comparison of benchmarks/before-after.sh uses `after before`)."""
import json, os, statistics, sys

FIGURES = {
    "connect": ["connected", "failures", "server_rss_kib_per_connection", "server_cpu_ms_per_login", "logins_per_second"],
    "login": ["logins_per_second", "server_cpu_ms_per_login", "login_latency_p50_ms", "login_latency_p99_ms",
              "failures", "bench_cpu_cores"],
    "throughput": ["delivered_per_second", "server_cpu_seconds_per_1000", "server_cpu_cores", "latency_p50_ms",
                   "latency_p99_ms", "latency_p999_ms", "lost", "bench_cpu_cores"],
    "rate": ["delivered_per_second", "latency_p50_ms", "latency_p99_ms", "latency_p999_ms", "server_cpu_seconds_per_1000",
             "lost", "skipped"],
    "muc": ["delivered_per_second", "server_cpu_seconds_per_1000", "server_cpu_cores", "latency_p50_ms", "latency_p99_ms",
            "lost", "bench_cpu_cores"],
    "churn": ["before_delivered_per_second", "after_delivered_per_second", "before_server_cpu_seconds_per_1000",
              "after_server_cpu_seconds_per_1000", "cpu_per_message_after_over_before", "churn_logins_per_second",
              "churn_failures", "before_lost", "after_lost"],
}
SERVERS = ["xmppd", "prosody", "ejabberd"]


def fmt(value):
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def main(directory, servers=SERVERS):
    reference = servers[0]
    runs = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        scenario, server, _ = name[:-5].rsplit("-", 2)
        with open(os.path.join(directory, name)) as f:
            report = json.load(f)
        runs.setdefault((scenario, server), []).append(report)
    for scenario, figures in FIGURES.items():
        present = [s for s in servers if (scenario, s) in runs]
        if not present:
            continue
        peers = [s for s in present if s != reference]
        passes = max(len(runs[(scenario, s)]) for s in present)
        print(f"### {scenario} ({passes} passes; median, min-max in brackets)\n")
        header = ["figure"] + present + [f"{reference} / {p}" for p in peers if reference in present]
        print("| " + " | ".join(header) + " |")
        print("| " + " | ".join("---" for _ in header) + " |")
        for figure in figures:
            medians, cells = {}, [figure]
            for server in present:
                values = [r["figures"][figure] for r in runs[(scenario, server)] if figure in r["figures"]]
                if not values:
                    cells.append("-")
                    continue
                medians[server] = statistics.median(values)
                cells.append(f"{fmt(medians[server])} ({fmt(min(values))}-{fmt(max(values))})")
            if reference in present:
                for peer in peers:
                    if medians.get(peer) and reference in medians:
                        cells.append(f"{medians[reference] / medians[peer]:.2f}")
                    else:
                        cells.append("-")
            print("| " + " | ".join(cells) + " |")
        errors = {e for s in present for r in runs[(scenario, s)] for e in r.get("errors", [])}
        if errors:
            print("\nerrors seen: " + "; ".join(sorted(errors)[:5]))
        print()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or SERVERS)
