"""One request in flight at a time against a Serve route, like the KubeRay HA guide's query.py,
with a fresh TCP connection per request (so the Service balances each request anew), a timeout,
and a check of the answer. Prints the guide's `req_index : N, num_fail: F` line per request, or one
JSON object per request when RAYHA_FORMAT=json (what `kubectl rayha query --via pod` reads), then
a `{"done": true, …}` line when RAYHA_COUNT or RAYHA_DURATION ends the loop."""
import http.client
import json
import os
import signal
import socket
import sys
import time
import urllib.parse

URL = urllib.parse.urlsplit(os.environ["RAYHA_URL"])
METHOD = os.environ.get("RAYHA_METHOD", "POST")
DATA = os.environ.get("RAYHA_DATA", "").encode()
EXPECT = os.environ.get("RAYHA_EXPECT")
EXPECT_STATUS = int(os.environ["RAYHA_EXPECT_STATUS"]) if os.environ.get("RAYHA_EXPECT_STATUS") else None
HEADERS = dict(json.loads(os.environ.get("RAYHA_HEADERS") or "[]"))
COUNT = int(os.environ.get("RAYHA_COUNT", "0"))
DURATION = float(os.environ.get("RAYHA_DURATION", "0"))
TIMEOUT = float(os.environ.get("RAYHA_TIMEOUT", "5"))
AS_JSON = os.environ.get("RAYHA_FORMAT") == "json"
PATH = URL.path or "/"
if URL.query:
    PATH += "?" + URL.query
if DATA and not any(k.lower() == "content-type" for k in HEADERS):
    HEADERS["Content-Type"] = "application/json"

# As a container's PID 1 the default SIGTERM action is ignored: stop at once when deleted.
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

def emit(record):
    print(json.dumps(record), flush=True)


def one_request():
    """Returns (cause, status, body); cause is None on success. Causes start with their class:
    connect, timeout, status, wrong body, io, protocol."""
    conn = http.client.HTTPConnection(URL.hostname, URL.port or 80, timeout=TIMEOUT)
    try:
        try:
            conn.connect()
        except (socket.timeout, TimeoutError):
            return "timeout", None, ""
        except OSError as e:
            return "connect: " + (e.strerror or type(e).__name__), None, ""
        try:
            conn.request(METHOD, PATH, body=DATA or None, headers=HEADERS)
            resp = conn.getresponse()
            body = resp.read().decode(errors="replace").strip()
        except (socket.timeout, TimeoutError):
            return "timeout", None, ""
        except http.client.RemoteDisconnected:
            return "io: connection closed before a reply", None, ""
        except OSError as e:
            return "io: " + (e.strerror or type(e).__name__), None, ""
        except http.client.HTTPException as e:
            return "protocol: " + type(e).__name__, None, ""
    finally:
        conn.close()
    ok = resp.status == EXPECT_STATUS if EXPECT_STATUS is not None else 200 <= resp.status < 300
    if not ok:
        return "status %d" % resp.status, resp.status, body
    if EXPECT is not None and body != EXPECT.strip():
        return "wrong body", resp.status, body
    return None, resp.status, body


req_index = 0
num_fail = 0
loop_start = time.monotonic()
while COUNT == 0 or req_index < COUNT:
    if DURATION and time.monotonic() - loop_start >= DURATION:
        break
    start_wall = time.time()
    start = time.perf_counter()
    cause, status, body = one_request()
    elapsed = time.perf_counter() - start
    if cause:
        num_fail += 1
    if AS_JSON:
        emit({"req_index": req_index, "num_fail": num_fail, "t": start_wall,
              "latency_ms": round(elapsed * 1000.0, 3), "status": status,
              "error": cause, "body": body[:200]})
    else:
        print(f"req_index : {req_index}, num_fail: {num_fail}", flush=True)
        print(f"response: {body}" if not cause else f"failed: {cause}", flush=True)
    req_index += 1
    if cause and elapsed < 0.1:
        # An instant failure (no Service yet, connection refused): don't spin a core on it.
        time.sleep(0.1)
if AS_JSON:
    emit({"done": True, "requests": req_index, "num_fail": num_fail})
