#!/usr/bin/env python3
"""Memory of a server's whole process tree, read from /proc.

    procstat.py once PID            one reading, as JSON
    procstat.py sample PID OUT      readings every 0.25 s until SIGTERM/SIGINT, then a summary in OUT
    procstat.py quiet PID           waits until the tree is idle; the CPU it used meanwhile, as JSON

Each reading also sums the tree's CPU time so far (user + system), which the benchmark reads
before and after a scenario to report the server's CPU per unit of work.

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


def cpu_seconds(pid):
    """User + system CPU time the process has used so far, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            rest = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After "(comm)": state is field 3, utime 14 and stime 15 (1-based, as in proc(5)).
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def reading(root, detail=False):
    pids = [pid for pid in tree(root) if os.path.exists(f"/proc/{pid}")]
    rss = {pid: field_kb(f"/proc/{pid}/status", "VmRSS:") for pid in pids}
    pss = {pid: field_kb(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids}
    result = {"processes": len(pids), "rss_kb": sum(rss.values()), "pss_kb": sum(pss.values()),
              "cpu_s": round(sum(cpu_seconds(pid) for pid in pids), 2)}
    if detail:
        result["per_process"] = [
            {"pid": pid, "rss_kb": rss[pid], "pss_kb": pss[pid], "cmd": command(pid)} for pid in pids
        ]
    return result


def quiet(root, least=12.0, most=240.0):
    """Waits until the tree has used under 2 % of a core for 2 s running, after at least `least`
    seconds (Atelier summarises a long series once it has been quiet for 5 s, looking every 5 s),
    and returns the CPU it used meanwhile: the work a load left behind it."""
    start = time.monotonic()
    first = last = reading(root)["cpu_s"]
    calm = 0
    while time.monotonic() - start < most:
        time.sleep(1)
        now = reading(root)["cpu_s"]
        calm = calm + 1 if now - last < 0.02 else 0
        last = now
        if calm >= 2 and time.monotonic() - start >= least:
            break
    return {"cpu_s": round(last - first, 2), "waited_s": round(time.monotonic() - start, 1)}


def main():
    mode, root = sys.argv[1], int(sys.argv[2])
    if mode == "once":
        print(json.dumps(reading(root, detail=True)))
        return
    if mode == "quiet":
        print(json.dumps(quiet(root)))
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
