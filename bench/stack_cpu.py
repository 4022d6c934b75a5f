#!/usr/bin/env python3
"""CPU time used so far by a stack's parts, from /proc: prints one JSON line
{"nginx": s, "workers": s, "postgres": s} (utime + stime in seconds, all threads, the nginx
and Postgres master processes with their children). Two readings around a run give the CPU
each part spent on it, which the machine's other load does not change much, unlike
requests per second.

Usage: stack_cpu.py STATE_DIR
"""
import glob
import json
import os
import sys

CLK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK  # ppid, utime + stime


def pid_in(path, line=0):
    try:
        with open(path) as f:
            return int(f.read().splitlines()[line].strip())
    except (OSError, ValueError, IndexError):
        return None


def main(state):
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = stat(entry)
            if s:
                procs[int(entry)] = s
    def tree(root):
        if root is None or root not in procs:
            return 0.0
        return procs[root][1] + sum(cpu for pid, (ppid, cpu) in procs.items() if ppid == root)
    workers = sum(procs.get(p, (0, 0.0))[1] for p in (pid_in(f) for f in glob.glob(f"{state}/run/fcgi-*.pid")) if p)
    print(json.dumps({
        "nginx": round(tree(pid_in(f"{state}/run/nginx.pid")), 2),
        "workers": round(workers, 2),
        "postgres": round(tree(pid_in(f"{state}/pg/data/postmaster.pid")), 2),
    }, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1])
