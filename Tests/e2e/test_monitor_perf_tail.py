"""The monitor's access-log tail on synthetic nginx logs: every line counted exactly once.

Each test runs its own `opsplane monitor` (own OPS_MONITOR_LOCK, own configuration whose
access_log points at a temporary file) and writes nginx JSON lines to that file itself, with
route groups of its own (`/e2e-perf-<tag>/{n}`, declared in the configuration's `routes`)
and timestamps about three hours back, so neither the stack's traffic nor current-minute
alert rules meet them. After rotations (rename, copytruncate), a partial last line, a
SIGKILL, a fail-over between two monitors and a rotation while stopped, ops.api_minutes
must hold exactly what was written: nothing lost, nothing counted twice.
"""

import json
import os
import random
import secrets
import shutil
import subprocess
import threading
import time
from collections import defaultdict

import pytest

import helpers

STATUSES = (200, 200, 200, 201, 304, 400, 401, 403, 404, 500, 502, 503)


class SyntheticLog:
    """Writes nginx `opsplane_json` lines and keeps the expected ops.api_minutes counts."""

    def __init__(self, path, tag):
        self.path = path
        self.tag = tag
        self.groups = [f"/e2e-perf-{tag}/{{n}}", f"/e2e-perf-{tag}/x/{{n}}"]
        # A unique range of minutes about three hours ago: recent enough for the 48 h
        # retention, old enough for "current error rate" alert rules.
        self.base = (int(time.time()) - 3 * 3600) // 60 * 60 - random.randint(0, 600) * 60
        self.expected = defaultdict(lambda: [0, 0, 0, 0, 0.0])  # requests, 5xx, 4xx, 401/403, latency ms
        self.n = 0
        self.rng = random.Random(tag)

    def line(self):
        """One line (without newline) and its expectation, spread over 20 minutes and 2 groups."""
        i = self.n
        self.n += 1
        msec = self.base + (i * 7) % 1200 + self.rng.randint(0, 999) / 1000
        group = self.groups[i % 2]
        uri = group.replace("{n}", str(i)) + ("?q=%d&x=\"y\"" % i if i % 3 == 0 else "")
        status = STATUSES[i % len(STATUSES)]
        rt = self.rng.randint(0, 3000) / 1000
        text = json.dumps({"ts": "x", "msec": msec, "method": "GET", "uri": uri, "status": status,
                           "request_time": rt, "upstream_response_time": "-", "bytes_sent": 10,
                           "request_id": f"r{i}", "remote_addr": "127.0.0.1", "upstream_addr": "-",
                           "user_agent": "é \u0001 synthetic"}, separators=(",", ":"))
        e = self.expected[(int(msec // 60 * 60), group)]
        e[0] += 1
        e[1] += 500 <= status <= 599
        e[2] += 400 <= status <= 499
        e[3] += status in (401, 403)
        e[4] += rt * 1000
        return text

    def write(self, count, path=None, fh=None):
        """Append `count` lines to `path` (default: the log's path) or to an open file."""
        data = "".join(self.line() + "\n" for _ in range(count))
        if fh is not None:
            fh.write(data)
            fh.flush()
        else:
            with open(path or self.path, "a") as f:
                f.write(data)

    def total(self):
        return sum(e[0] for e in self.expected.values())


class OwnMonitor:
    """An `opsplane monitor` of the test's own; stopped (by pid) when the test ends."""

    def __init__(self, stack, config_path, lock, log_path):
        self.stack = stack
        self.config_path = config_path
        self.lock = lock
        self.log_path = log_path
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.update({k: v for k, v in self.stack.env.items() if k.startswith("OPS_")})
        env.update({"OPS_MONITOR_LOCK": self.lock, "OPS_MONITOR_CONFIG": str(self.config_path)})
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([str(helpers.opsplane_binary()), "monitor"], env=env,
                                         cwd=helpers.REPO, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_active(self, timeout=20):
        helpers.wait_until(lambda: self.stack.sql(
            "SELECT active FROM ops.monitor_instances WHERE pid = :'pid' AND heartbeat_at > now() - interval '10 s'",
            pid=self.proc.pid).strip() == "t", timeout, what=f"monitor pid {self.proc.pid} holds its lock")

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None:
            helpers.stop_process(self.proc)


@pytest.fixture
def tail_env(stack, tmp_path):
    """(SyntheticLog, make_monitor()) with a configuration tailing tmp_path/access.log."""
    tag = secrets.token_hex(4)
    log = SyntheticLog(str(tmp_path / "access.log"), tag)
    config = tmp_path / "monitor.json"
    config.write_text(json.dumps({"access_log": {"path": log.path, "routes": log.groups}}))
    lock = f"e2e-perf-{tag}"
    monitors = []

    def make_monitor():
        m = OwnMonitor(stack, config, lock, tmp_path / f"monitor-{len(monitors)}.log")
        monitors.append(m)
        return m

    yield log, make_monitor
    for m in monitors:
        m.stop()
    for m in monitors:
        print(f"--- {m.log_path}\n{helpers.tail(m.log_path, 40)}")
    stack.sql("DELETE FROM ops.access_log_cursor WHERE path = :'path'", path=log.path)
    stack.sql("DELETE FROM ops.api_minutes WHERE route_group LIKE :'like'", like=f"/e2e-perf-{tag}/%")
    stack.sql("DELETE FROM ops.api_rollups WHERE route_group LIKE :'like'", like=f"/e2e-perf-{tag}/%")


def cursor(stack, path):
    """(inode, byte_offset) saved for `path`, or None."""
    out = stack.sql("SELECT inode, byte_offset FROM ops.access_log_cursor WHERE path = :'path'", path=path).strip()
    return tuple(int(x) for x in out.split("|")) if out else None


def wait_caught_up(stack, log, timeout=40):
    """Until the saved cursor is at the end of the file the path names (so every line written
    so far is counted and committed with it)."""
    def done():
        st = os.stat(log.path)
        return cursor(stack, log.path) == (st.st_ino, st.st_size)
    helpers.wait_until(done, timeout, what=f"the tail of {log.path} catches up "
                                           f"(cursor {cursor(stack, log.path)}, file {os.stat(log.path).st_size} bytes)")


def stored(stack, log):
    """{(minute, group): [requests, 5xx, 4xx, 401/403, latency ms, sum of the histogram]}"""
    out = stack.sql("""
        SELECT extract(epoch FROM minute)::bigint, route_group, requests, errors, client_errors, auth_failures,
               latency_sum_ms, (SELECT sum(v) FROM unnest(latency_hist) v)
        FROM ops.api_minutes WHERE route_group LIKE :'like'""", like=f"/e2e-perf-{log.tag}/%")
    rows = {}
    for line in out.splitlines():
        m, g, r, e, c, a, lat, h = line.split("|")
        rows[(int(m), g)] = [int(r), int(e), int(c), int(a), float(lat), int(h)]
    return rows


def assert_exact(stack, log):
    rows = stored(stack, log)
    assert set(rows) == set(log.expected), (
        f"minutes/groups differ: missing {sorted(set(log.expected) - set(rows))[:5]}, "
        f"extra {sorted(set(rows) - set(log.expected))[:5]}")
    for key, e in log.expected.items():
        got = rows[key]
        assert got[:4] == e[:4], f"{key}: stored requests/5xx/4xx/auth {got[:4]}, written {e[:4]}"
        assert abs(got[4] - e[4]) < 1e-6 * max(1, e[4]), f"{key}: latency sum {got[4]} ms, written {e[4]} ms"
        assert got[5] == e[0], f"{key}: the histogram counts {got[5]} requests, not {e[0]}"
    assert sum(r[0] for r in rows.values()) == log.total()


def test_rotations_and_a_partial_line_count_every_line_once(stack, tail_env):
    log, make_monitor = tail_env
    log.write(300)
    monitor = make_monitor().start()
    monitor.wait_active()
    wait_caught_up(stack, log)
    assert_exact(stack, log)

    # A line nginx has only half written is not counted until its newline arrives: two
    # flushes after it appeared, the cursor still stops at its start.
    half = log.line()
    line_start = os.path.getsize(log.path)
    with open(log.path, "a") as f:
        f.write(half[:57])
    written_at = stack.sql("SELECT now()").strip()
    helpers.wait_until(lambda: stack.sql(
        "SELECT updated_at > :'t'::timestamptz + interval '6 s' FROM ops.access_log_cursor WHERE path = :'path'",
        t=written_at, path=log.path).strip() == "t", 30, what="two flushes after the partial line")
    assert cursor(stack, log.path) == (os.stat(log.path).st_ino, line_start)
    assert sum(r[0] for r in stored(stack, log).values()) == log.total() - 1
    with open(log.path, "a") as f:
        f.write(half[57:] + "\n")
    log.write(200)
    wait_caught_up(stack, log)
    assert_exact(stack, log)

    # Rotation by rename: nginx keeps writing to the renamed file until it reopens its log.
    old_inode = os.stat(log.path).st_ino
    with open(log.path, "a") as old:
        log.write(100, fh=old)
        os.rename(log.path, log.path + ".1")
        log.write(150, fh=old)
        with open(log.path, "a") as new:
            log.write(50, fh=new)
            log.write(25, fh=old)  # still before nginx reopens
            log.write(75, fh=new)
    wait_caught_up(stack, log)
    assert cursor(stack, log.path)[0] != old_inode
    assert_exact(stack, log)

    # copytruncate: lines not read yet are in the copy; the truncated file refills past the cursor.
    log.write(120)
    shutil.copyfile(log.path, log.path + ".2")
    os.truncate(log.path, 0)
    log.write(400)
    wait_caught_up(stack, log)
    assert_exact(stack, log)

    # copytruncate again, this time after the tail has read everything, to a smaller file.
    wait_caught_up(stack, log)
    shutil.copyfile(log.path, log.path + ".3")
    os.truncate(log.path, 0)
    log.write(3)
    wait_caught_up(stack, log)
    assert_exact(stack, log)


def test_sigkill_failover_and_rotation_while_stopped_count_every_line_once(stack, tail_env):
    log, make_monitor = tail_env
    first = make_monitor().start()
    first.wait_active()
    standby = make_monitor().start()  # same lock: waits

    # Lines keep arriving (some torn for a moment) while the active monitor is killed
    # between two flushes; the standby takes over from the saved cursor.
    stop = threading.Event()
    writer_error = []
    thread = threading.Thread(target=keep_writing, args=(log, stop, writer_error))
    thread.start()
    try:
        helpers.wait_until(lambda: (cursor(stack, log.path) or (0, 0))[1] > 0, 30,
                           what="a first flush with data")
        first.kill()
        at_kill = cursor(stack, log.path)
        standby.wait_active()  # fail-over within the lock poll
        time.sleep(2)
    finally:
        stop.set()
        thread.join(30)
    assert not writer_error, writer_error
    assert at_kill[1] < os.path.getsize(log.path), "the kill happened before the end of the file"
    wait_caught_up(stack, log)
    assert_exact(stack, log)

    # Rotation while no monitor runs: the restarted one finds the rotated file by its inode
    # next to the path, finishes it, then reads the new file.
    log.write(100)
    standby.stop()
    log.write(100)
    os.rename(log.path, log.path + ".1")
    log.write(80, path=log.path + ".1")
    log.write(60)
    again = make_monitor().start()
    again.wait_active()
    wait_caught_up(stack, log)
    assert_exact(stack, log)


def keep_writing(log, stop, errors):
    """Appends lines in small bursts, sometimes leaving a line half-written for a moment."""
    try:
        with open(log.path, "a") as f:
            while not stop.is_set():
                log.write(40, fh=f)
                torn = log.line()
                f.write(torn[:30])
                f.flush()
                time.sleep(0.02)
                f.write(torn[30:] + "\n")
                f.flush()
                time.sleep(0.02)
    except Exception as exc:
        errors.append(exc)


def test_status_classes_bad_lines_missing_file_and_rollups(stack, tail_env):
    log, make_monitor = tail_env
    monitor = make_monitor().start()
    monitor.wait_active()
    # The file does not exist yet: reported, and looked for again.
    helpers.wait_until(lambda: stack.sql(
        "SELECT count(*) FROM ops.system_errors WHERE service = 'access_log' AND type = 'missing' AND position(:'p' in message) > 0",
        p=log.path).strip() != "0", 20, what="a 'missing' system error for the absent log")

    marker = f"garbage-{log.tag}"
    with open(log.path, "a") as f:
        f.write("".join(log.line() + "\n" for _ in range(60)))
        f.write(f"{marker} this is not JSON\n")
        f.write('{"msec":1,"status":200}\n')  # JSON, but not a request line
        f.write("\n")
        f.write("".join(log.line() + "\n" for _ in range(60)))
    wait_caught_up(stack, log)
    assert_exact(stack, log)
    helpers.wait_until(lambda: stack.sql(
        "SELECT count(*) FROM ops.system_errors WHERE service = 'access_log' AND type = 'bad_lines' AND position(:'m' in message) > 0",
        m=marker).strip() != "0", 20, what="the bad lines reported to ops.system_errors")

    # 5xx, 4xx and 401/403 per group, as the pure tally says (assert_exact), and in total:
    expected_5xx = sum(e[1] for e in log.expected.values())
    assert expected_5xx > 0 and sum(e[3] for e in log.expected.values()) > 0

    # Rollups: a restarted monitor folds the marked minutes into hours and days at once.
    monitor.stop()
    make_monitor().start().wait_active()

    def rollups_match():
        out = stack.sql("""
            SELECT grain, sum(requests), sum(errors), sum(client_errors), sum(auth_failures),
                   (SELECT sum(v) FROM ops.api_rollups r2, unnest(r2.latency_hist) v
                    WHERE r2.grain = r.grain AND r2.route_group LIKE :'like')
            FROM ops.api_rollups r WHERE route_group LIKE :'like' GROUP BY grain ORDER BY grain""",
            like=f"/e2e-perf-{log.tag}/%").split()
        want = [log.total(), expected_5xx, sum(e[2] for e in log.expected.values()),
                sum(e[3] for e in log.expected.values()), log.total()]
        return out == [f"day|{'|'.join(map(str, want))}", f"hour|{'|'.join(map(str, want))}"]
    helpers.wait_until(rollups_match, 80, what="hour and day rollups equal to the minutes")
