"""One request in flight at a time against a Serve route, like the KubeRay HA guide's query.py,
with a fresh TCP connection per request (so the Service balances each request anew), a timeout,
and a check of the answer. Prints the guide's `req_index : N, num_fail: F` line per request, or one
JSON object per request when RAYHA_FORMAT=json."""
import http.client
import json
import os
import socket
import time
import urllib.parse

URL = urllib.parse.urlsplit(os.environ["RAYHA_URL"])
METHOD = os.environ.get("RAYHA_METHOD", "POST")
DATA = os.environ.get("RAYHA_DATA", "").encode()
EXPECT = os.environ.get("RAYHA_EXPECT")
COUNT = int(os.environ.get("RAYHA_COUNT", "0"))
TIMEOUT = float(os.environ.get("RAYHA_TIMEOUT", "5"))
AS_JSON = os.environ.get("RAYHA_FORMAT") == "json"
PATH = URL.path or "/"
if URL.query:
    PATH += "?" + URL.query


def one_request():
    """Returns (cause, status, body); cause is None on success."""
    conn = http.client.HTTPConnection(URL.hostname, URL.port or 80, timeout=TIMEOUT)
    try:
        conn.request(METHOD, PATH, body=DATA or None)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace").strip()
    except (socket.timeout, TimeoutError):
        return "timeout", None, ""
    except ConnectionError as e:
        return "connect: " + type(e).__name__, None, ""
    except OSError as e:
        return "connect: " + str(e), None, ""
    except http.client.HTTPException as e:
        return "protocol: " + type(e).__name__, None, ""
    finally:
        conn.close()
    if resp.status != 200:
        return "status %d" % resp.status, resp.status, body
    if EXPECT is not None and body != EXPECT:
        return "wrong body", resp.status, body
    return None, resp.status, body


req_index = 0
num_fail = 0
while COUNT == 0 or req_index < COUNT:
    start = time.time()
    cause, status, body = one_request()
    elapsed_ms = (time.time() - start) * 1000.0
    if cause:
        num_fail += 1
    if AS_JSON:
        print(json.dumps({"req_index": req_index, "num_fail": num_fail, "t": start,
                          "latency_ms": round(elapsed_ms, 3), "status": status,
                          "error": cause, "body": body[:200]}), flush=True)
    else:
        print(f"req_index : {req_index}, num_fail: {num_fail}", flush=True)
        print(f"response: {body}" if not cause else f"failed: {cause}", flush=True)
    req_index += 1
    if cause and time.time() - start < 0.1:
        # An instant failure (no Service yet, connection refused): don't spin a core on it.
        time.sleep(0.1)
