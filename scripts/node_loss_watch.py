"""Timeline of a node loss on the test rig, polled once a second through kubectl, until
DEADLINE seconds after t0: the node's Ready condition and taints, the Ray and Redis pods (Ready,
Terminating, new ones), the serve Service's ready endpoints and the RayService's Ready condition.
Prints one line per change, `t=<s since t0> <what>`, and a JSON summary as the last line.

  python3 scripts/node_loss_watch.py NAMESPACE RAYSERVICE NODE T0_UNIX DEADLINE_S

Used by scripts/node-loss.sh; needs KUBECONFIG (and kubectl on PATH or RAYHA_RIG_KUBECTL).
"""
import json
import os
import subprocess
import sys
import time

KUBECTL = os.environ.get("RAYHA_RIG_KUBECTL") or "kubectl"


def get(*args):
    r = subprocess.run([KUBECTL, *args, "-o", "json"], capture_output=True, text=True, timeout=20)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None


def ready(obj):
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((c["status"] for c in conds if c["type"] == "Ready"), "?")


def main():
    ns, name, node, t0, deadline = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
    seen, first, state = {}, {}, {}

    def say(key, what):
        if seen.get(key) == what:
            return
        seen[key] = what
        t = round(time.time() - t0, 1)
        first.setdefault(what, t)
        print("t=%6.1f %s" % (t, what), flush=True)

    victims = None
    while time.time() - t0 < deadline:
        n = get("get", "node", node)
        if n:
            say("node", "node %s Ready=%s" % (node, ready(n)))
            taints = sorted("%s:%s" % (t["key"], t["effect"]) for t in (n["spec"].get("taints") or []))
            say("taints", "node taints: %s" % (", ".join(taints) or "none"))
        pods = (get("get", "pods", "-n", ns) or {}).get("items", [])
        ray = [p for p in pods if (p["metadata"].get("labels") or {}).get("ray.io/node-type") or
               "redis" in p["metadata"]["name"]]
        if victims is None:  # the pods at the start: those on NODE are the victims
            victims = {p["metadata"]["uid"]: p["metadata"]["name"] for p in ray if p["spec"].get("nodeName") == node}
            known = {p["metadata"]["uid"]: "victim" if p["metadata"]["uid"] in victims else "pod" for p in ray}
            state["victims"] = sorted(victims.values())
        for p in ray:
            md = p["metadata"]
            role = (md.get("labels") or {}).get("ray.io/node-type") or "redis"
            tag = known.setdefault(md["uid"], "new")
            term = " Terminating" if md.get("deletionTimestamp") else ""
            say(md["uid"], "%s %s %s on %s: %s Ready=%s%s" % (
                tag, role, md["name"], p["spec"].get("nodeName") or "-", (p.get("status") or {}).get("phase"),
                ready(p), term))
        gone = [v for u, v in victims.items() if u not in {p["metadata"]["uid"] for p in pods}]
        for v in gone:
            say("gone-" + v, "victim %s gone from the API" % v)
        slices = (get("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=%s-serve-svc" % name)
                  or {}).get("items", [])
        eps = [e for s in slices for e in (s.get("endpoints") or [])]
        rdy = sorted(e["addresses"][0] for e in eps if (e.get("conditions") or {}).get("ready"))
        say("eps", "serve endpoints ready: %d of %d" % (len(rdy), len(eps)))
        rs = get("get", "rayservices.ray.io", name, "-n", ns)
        if rs:
            say("rs", "rayservice Ready=%s" % ready(rs))
        time.sleep(1)
    print(json.dumps({"first": first, "victims": state.get("victims")}))


if __name__ == "__main__":
    main()
