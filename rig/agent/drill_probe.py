"""One-in-flight request loops for the rig's HA drills, run inside a rig pod.

  python drill_probe.py SECONDS DATA EXPECT URL [URL...]

One thread per URL sends (DRILL_PAUSE seconds apart, default 0) POST DATA (fresh connection each time, 10 s timeout) until SECONDS have
passed and prints one JSON line per request: {"url", "t", "ms", "ok", "error"}.  The drill test
runs it with the serve Service's URL and each serve endpoint's own URL (pod IP:8000), so that a
failure through the Service can be matched with the endpoint that was failing at that time.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
PAUSE = float(os.environ.get("DRILL_PAUSE", "0"))  # seconds between requests of one loop


def loop(url, data, expect, deadline):
    u = urllib.parse.urlsplit(url)
    while time.time() < deadline:
        t = time.time()
        err = None
        try:
            c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
            c.request("POST", u.path or "/", body=data.encode())
            r = c.getresponse()
            body = r.read().decode(errors="replace").strip()
            c.close()
            if r.status != 200:
                err = "status %d" % r.status
            elif body != expect:
                err = "body %r" % body[:80]
        except Exception as e:  # noqa: BLE001 - every failure is data
            err = "%s: %s" % (type(e).__name__, e)
        ms = (time.time() - t) * 1000
        with lock:
            print(json.dumps({"url": url, "t": round(t, 3), "ms": round(ms, 1), "ok": err is None, "error": err}),
                  flush=True)
        if err is not None and ms < 100:
            time.sleep(0.1)  # refused at once: do not spin
        elif PAUSE:
            time.sleep(PAUSE)


def main():
    secs, data, expect, urls = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    deadline = time.time() + secs
    ts = [threading.Thread(target=loop, args=(u, data, expect, deadline)) for u in urls]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


if __name__ == "__main__":
    main()
