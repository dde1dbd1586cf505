#!/usr/bin/env python3
"""Memory of a server's whole process tree, read from /proc.

    procstat.py once PID            one reading, as JSON
    procstat.py sample PID OUT      readings every 0.25 s until SIGTERM/SIGINT, then a summary in OUT

RSS is summed over the process and all its descendants (what the benchmark reports, as the
issue asks). Forked workers share pages, which the RSS sum counts once per process; PSS (from
/proc/PID/smaps_rollup) splits shared pages between the processes that map them, so the PSS sum is
the tree's real footprint. Both are reported.
"""

import json
import os
import signal
import sys
import time


def children_map():
    """ppid -> [pid] for every process now visible in /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Fields after "(comm)": state, ppid, ...
        rest = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(rest[1]), []).append(int(name))
    return children


def tree(root):
    children = children_map()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def field_kb(path, field):
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def command(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return ""


def reading(root, detail=False):
    pids = [pid for pid in tree(root) if os.path.exists(f"/proc/{pid}")]
    rss = {pid: field_kb(f"/proc/{pid}/status", "VmRSS:") for pid in pids}
    pss = {pid: field_kb(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids}
    result = {"processes": len(pids), "rss_kb": sum(rss.values()), "pss_kb": sum(pss.values())}
    if detail:
        result["per_process"] = [
            {"pid": pid, "rss_kb": rss[pid], "pss_kb": pss[pid], "cmd": command(pid)} for pid in pids
        ]
    return result


def main():
    mode, root = sys.argv[1], int(sys.argv[2])
    if mode == "once":
        print(json.dumps(reading(root, detail=True)))
        return
    out = sys.argv[3]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    samples = []
    while not stop:
        samples.append(reading(root))
        time.sleep(0.25)
    summary = {
        "samples": len(samples),
        "processes": max((s["processes"] for s in samples), default=0),
        "max_rss_kb": max((s["rss_kb"] for s in samples), default=0),
        "mean_rss_kb": round(sum(s["rss_kb"] for s in samples) / max(len(samples), 1)),
        "max_pss_kb": max((s["pss_kb"] for s in samples), default=0),
    }
    with open(out, "w") as handle:
        json.dump(summary, handle)


if __name__ == "__main__":
    main()
