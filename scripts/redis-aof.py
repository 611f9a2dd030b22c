#!/usr/bin/env python3
"""What a Redis loss loses, per `appendfsync` policy: the measurement behind the bundle's choice.

For each policy (no, everysec, always) and each way Redis goes (SIGTERM: a pod deletion or a
drain; SIGKILL: an OOM kill or a crashed container), a local redis-server (127.0.0.1, a free
port, a temporary /data) takes acknowledged writes from one client, one in flight at a time,
the way the GCS writes; it is killed in the middle of the stream and started again on the same
/data, and the script counts the acknowledged writes the new server no longer has. It also times
the writes (median and p99), the price of a stricter policy.

What this cannot show: a loss of the machine itself (power, kernel), where the page cache goes
too; there `everysec` can lose the last second of writes and `always` none.

    scripts/redis-aof.py [--kills 5] [--writes-before-kill 3000]

Needs redis-server on PATH (rig/agent/install-runtime.sh installs it). Prints a table.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A minimal RESP client: one command in flight."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        raise RuntimeError("unexpected reply %r" % line)


def start(data, port, policy):
    conf = os.path.join(data, "redis.conf")
    with open(conf, "w") as f:
        f.write("dir %s\nport %d\nbind 127.0.0.1\nappendonly yes\nappendfsync %s\nsave 60 1\n" % (data, port, policy))
    p = subprocess.Popen(["redis-server", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            c = Client(port)
            c.call("PING")
            return p, c
        except (OSError, RuntimeError):
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("redis-server did not start")


def trial(policy, sig, writes):
    data = tempfile.mkdtemp(prefix="rayha-aof-")
    port = free_port()
    try:
        p, c = start(data, port, policy)
        latencies, acked = [], 0
        for i in range(1, writes + 1):
            t0 = time.perf_counter()
            c.call("SET", "k%d" % i, "v" * 64)
            latencies.append(time.perf_counter() - t0)
            acked = i
        p.send_signal(sig)
        p.wait(30)
        p, c = start(data, port, policy)
        kept = sum(1 for i in range(1, acked + 1) if c.call("EXISTS", "k%d" % i) == "1")
        p.terminate()
        p.wait(30)
        return acked - kept, latencies
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--writes-before-kill", type=int, default=3000)
    a = ap.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is not installed (rig/agent/install-runtime.sh)")
    print("%-9s %-8s %6s %18s %12s %12s" % ("policy", "signal", "kills", "acked writes lost", "median ms", "p99 ms"))
    for policy in ("no", "everysec", "always"):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            lost, lat = 0, []
            for _ in range(a.kills):
                n, l = trial(policy, sig, a.writes_before_kill)
                lost += n
                lat += l
            lat.sort()
            print("%-9s %-8s %6d %18d %12.3f %12.3f" % (
                policy, sig.name, a.kills, lost, statistics.median(lat) * 1e3, lat[int(len(lat) * 0.99)] * 1e3))


if __name__ == "__main__":
    main()
