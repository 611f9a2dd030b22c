"""kubectl-rayha rig, part 2: the node agent (the rig's kubelet).

It owns the rig's nodes (Ready condition and Lease renewals), and runs every pod bound to them
as real processes:

  * one network namespace per pod with the pod's IP from its node's podCIDR on a veth whose other
    end sits on the rig's bridge in the router namespace (default route via the bridge address);
  * each container through launcher.py: private mount/PID/UTS namespaces, the pod's volumes
    (ConfigMap and Secret files, emptyDirs) and /etc/hosts bound in, command/args/env from the
    spec with valueFrom (Secret, ConfigMap, fieldRef, resourceFieldRef) resolved;
  * images map to local runtimes: rayproject/ray:X -> $CACHE/ray-X (a venv with ray[serve]==X),
    redis:* -> Debian's redis-server; anything else stays Waiting with ErrImagePull and an Event;
  * readiness/liveness/startup probes (exec inside the pod's namespaces, HTTP/TCP to the pod IP),
    restarts with restartCount, pod phase, conditions and container states written to the API;
  * deletion: SIGTERM, the grace period, SIGKILL, the namespace removed, then the pod object is
    deleted with grace 0 (as a kubelet does);
  * names: per-pod hosts files listing every Service of the pod's namespace and of 'default'
    under <svc>, <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local (ClusterIP ->
    the cluster IP, headless -> ready endpoint IPs), rewritten in place whenever they change.

ClusterIP traffic is handled by the real kube-proxy in the router namespace (see ./agent).

The kubelet API (`kubectl logs`, `kubectl port-forward`) is kwok's server: the agent posts the
nodes' kubelet port (KUBELET_PORT, bridged in the router namespace to kwok, see ./agent), writes
each container's output in the CRI log format as well (<container>.cri.log, the previous instance's
in <container>.previous.cri.log) and keeps one kwok `Logs` and one kwok `PortForward` object per
pod (same name and namespace, owned by the pod: the garbage collector removes them with it).
Standard library only; runs as root on the host.
"""
import base64
import hashlib
import http.client
import ipaddress
import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import stat
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("RAYHA_RIG_CACHE", "/var/cache/kubectl-rayha-rig")
STATE = os.environ.get("RAYHA_RIG_STATE", "/var/tmp/kubectl-rayha-rig")
ROUTER_NS = os.environ.get("RAYHA_RIG_ROUTER_NS", "rayha-net")
BRIDGE = os.environ.get("RAYHA_RIG_BRIDGE", "rayha-br0")
BRIDGE_ADDR = os.environ.get("RAYHA_RIG_BRIDGE_ADDR", "10.244.127.254/17")
NODE_SELECTOR = os.environ.get("RAYHA_RIG_NODE_LABEL", "rig.kubectl-rayha/node")
WORK = os.path.join(STATE, "agent")
PODS_DIR = os.path.join(WORK, "pods")
# A file named after a node here powers that node off (`agent node-down NAME`); removing it powers
# the node back on (Agent.power_loop).
DOWN_DIR = os.path.join(WORK, "down")
# PersistentVolumes of the rig's provisioner (rig/provisioner.py): one directory each, outside
# every pod, and the default StorageClass that makes them.
VOLUMES_DIR = os.path.join(STATE, "volumes")
RIG_STORAGE_CLASS = "rig-block"
NETNS_PREFIX = "rpod-"
VETH_PREFIX = "rv"
PY = os.environ.get("RAYHA_RIG_PYTHON", "/usr/bin/python3")
# Ray applies the proportion to the memory *available* when a node starts, not the total, and
# refuses less than 75 MiB: aim at 256 MiB of the total so that ~100-200 MiB result.
RAY_OBJECT_STORE_BYTES = int(os.environ.get("RAYHA_RIG_OBJECT_STORE_BYTES", str(256 * 1024 * 1024)))
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
AGENT_NAME = "rayha-rig-agent"
# The nodes' kubelet port (status.daemonEndpoints): the API server dials <node InternalIP>:<port>
# for logs and port-forward; ./agent bridges it in the router namespace to kwok's server.
KUBELET_PORT = int(os.environ.get("RAYHA_RIG_KUBELET_PORT", "10250"))
KWOK_API = "/apis/kwok.x-k8s.io/v1alpha1/namespaces/%s/%s/%s?fieldManager=rayha-agent&force=true"
# The nodes' Lease duration: an hour, so that kwok, which keeps polling the Leases of the nodes it
# once managed, never sees one expire (Agent.renew_lease).
LEASE_SECONDS = 3600
CRI_PARTIAL = 16 * 1024  # longer lines are split into partial (P) records, like a CRI runtime

_log_lock = threading.Lock()


def log(msg, *args):
    line = time.strftime("%H:%M:%S") + " " + (msg % args if args else msg)
    with _log_lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def now_micro():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p


# --------------------------------------------------------------------------- API client ----
class Api:
    """A minimal Kubernetes API client for the rig's kubeconfig (client certificate auth)."""

    def __init__(self, kubeconfig):
        text = open(kubeconfig).read()

        def field(name):
            m = re.search(r"^\s*%s:\s*(\S+)\s*$" % re.escape(name), text, re.M)
            if not m:
                raise RuntimeError("kubeconfig %s has no %s" % (kubeconfig, name))
            return m.group(1)

        u = urllib.parse.urlsplit(field("server"))
        self.host, self.port = u.hostname, u.port or 443
        self.tmp = tempfile.mkdtemp(prefix="rayha-agent-tls-")
        paths = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            p = os.path.join(self.tmp, key)
            with open(p, "wb") as f:
                f.write(base64.b64decode(field(key)))
            os.chmod(p, 0o600)
            paths[key] = p
        self.ctx = ssl.create_default_context(cafile=paths["certificate-authority-data"])
        self.ctx.load_cert_chain(paths["client-certificate-data"], paths["client-key-data"])
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.local = threading.local()

    def _conn(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", timeout=30):
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = self._conn(timeout)
            try:
                conn.request(method, path, body=data, headers={"Content-Type": ctype, "Accept": "application/json"})
                resp = conn.getresponse()
                raw = resp.read()
                try:
                    obj = json.loads(raw) if raw else {}
                except ValueError:
                    obj = {"raw": raw.decode(errors="replace")}
                return resp.status, obj
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.5)

    def get(self, path):
        st, obj = self.request("GET", path)
        return obj if st == 200 else None

    def watch(self, path, rv):
        """Yields watch events (dicts); returns when the server closes the stream."""
        sep = "&" if "?" in path else "?"
        conn = self._conn(timeout=330)
        try:
            conn.request("GET", "%s%swatch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=%s" % (path, sep, rv),
                         headers={"Accept": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise RuntimeError("watch %s: HTTP %d %s" % (path, resp.status, resp.read()[:200]))
            while True:
                line = resp.readline()
                if not line:
                    return
                line = line.strip()
                if line:
                    yield json.loads(line)
        finally:
            conn.close()


class Informer(threading.Thread):
    """List+watch of one resource into a dict keyed by namespace/name; calls on_change(kind, obj)."""

    def __init__(self, api, path, on_change, name):
        super().__init__(daemon=True, name="informer-" + name)
        self.api, self.path, self.on_change = api, path, on_change
        self.items = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()

    @staticmethod
    def key(obj):
        md = obj["metadata"]
        return "%s/%s" % (md.get("namespace", ""), md["name"])

    def snapshot(self):
        with self.lock:
            return list(self.items.values())

    def run(self):
        while True:
            try:
                lst = self.api.get(self.path)
                if lst is None:
                    raise RuntimeError("list %s failed" % self.path)
                rv = lst["metadata"]["resourceVersion"]
                new = {self.key(o): o for o in lst.get("items", [])}
                with self.lock:
                    gone = [o for k, o in self.items.items() if k not in new]
                    self.items = new
                for o in gone:
                    self.on_change("DELETED", o)
                for o in new.values():
                    self.on_change("MODIFIED", o)
                self.synced.set()
                while True:
                    for ev in self.api.watch(self.path, rv):
                        t, o = ev["type"], ev["object"]
                        if t == "ERROR":
                            raise RuntimeError("watch error: %s" % o.get("message"))
                        rv = o["metadata"]["resourceVersion"]
                        if t == "BOOKMARK":
                            continue
                        with self.lock:
                            if t == "DELETED":
                                self.items.pop(self.key(o), None)
                            else:
                                self.items[self.key(o)] = o
                        self.on_change(t, o)
            except Exception as e:  # noqa: BLE001 - relist after any failure
                log("informer %s: %s; relisting", self.path, e)
                time.sleep(1)


# ------------------------------------------------------------------------- the agent ----
class Agent:
    def __init__(self, api, nodes):
        self.api = api
        self.nodes = {}  # name -> {"ip":..., "cidr":...}
        self.node_names = set(nodes)
        self.workers = {}  # uid -> PodWorker
        self.lock = threading.RLock()
        self.used_ips = {}  # ip -> uid
        self.services = Informer(api, "/api/v1/services", self.on_dns_change, "services")
        self.slices = Informer(api, "/apis/discovery.k8s.io/v1/endpointslices", self.on_dns_change, "endpointslices")
        self.pods = Informer(api, "/api/v1/pods", self.on_pod, "pods")
        self.dns_dirty = threading.Event()
        self.hosts_cache = {}
        self.took_over = set()
        self.down = set()  # nodes powered off: no heartbeats, no leases, their pods dead
        self.operator_hosts = None

    # ---- nodes
    def refresh_nodes(self):
        for n in list(self.node_names):
            node = self.api.get("/api/v1/nodes/" + n)
            if node is None:
                continue
            ann = node["metadata"].get("annotations", {})
            ip = ann.get("rig.kubectl-rayha/node-ip")
            if not ip:
                for a in node.get("status", {}).get("addresses", []):
                    if a["type"] == "InternalIP":
                        ip = a["address"]
            cidr = node.get("spec", {}).get("podCIDR")
            if ip and cidr:
                self.nodes[n] = {"ip": ip, "cidr": cidr}
            if ann.get("rig.kubectl-rayha/agent") == "true":
                self.took_over.add(n)  # taken over by an earlier run of the agent
            if "kwok.x-k8s.io/node" in ann:
                # take the node over from kwok: kwok only manages nodes with this annotation
                self.api.request("PATCH", "/api/v1/nodes/" + n,
                                 {"metadata": {"annotations": {"kwok.x-k8s.io/node": None,
                                                               "rig.kubectl-rayha/agent": "true"}}},
                                 ctype="application/merge-patch+json")
                self.took_over.add(n)
                log("took node %s over from kwok", n)

    def node_status(self, name):
        info = self.nodes[name]
        t = now_rfc3339()
        cond = lambda typ, st, reason, msg: {"type": typ, "status": st, "reason": reason, "message": msg,
                                             "lastHeartbeatTime": t}
        return {"status": {
            "conditions": [
                cond("Ready", "True", "KubeletReady", "rig node agent is posting ready status"),
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", ""),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", ""),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", ""),
                cond("NetworkUnavailable", "False", "RouteCreated", "rig bridge"),
            ],
            "addresses": [{"type": "InternalIP", "address": info["ip"]}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "rayha-agent",
                         "kubeProxyVersion": "", "containerRuntimeVersion": "rayha-launcher://1",
                         "kernelVersion": os.uname().release, "osImage": "kubectl-rayha rig",
                         "machineID": "", "systemUUID": "", "bootID": ""},
        }}

    def heartbeat_loop(self):
        """Posts the nodes' Ready status every 20 s (the leases have their own thread)."""
        last_status = 0
        while True:
            try:
                if len(self.nodes) < len(self.node_names):
                    self.refresh_nodes()
                if time.time() - last_status > 20:
                    for n in [n for n in self.nodes if n not in self.down]:
                        st, _ = self.api.request("PATCH", "/api/v1/nodes/%s/status" % n, self.node_status(n),
                                                 ctype="application/merge-patch+json")
                    last_status = time.time()
            except Exception as e:  # noqa: BLE001
                log("heartbeat: %s", e)
            time.sleep(10)

    def lease_loop(self):
        """Renews each node's Lease every 10 s, on a thread of its own with short requests: a slow
        node status post or a busy API server must not delay it."""
        while True:
            for n in [n for n in self.nodes if n not in self.down]:
                try:
                    self.renew_lease(n)
                except Exception as e:  # noqa: BLE001
                    log("lease %s: %s", n, e)
            time.sleep(10)

    def renew_lease(self, n):
        """kwok never learns that a node lost its kwok.x-k8s.io/node annotation (its informer drops
        updates that no longer match), so it keeps polling the node's Lease and takes it the moment
        it looks expired; holding it, kwok plays its pod stages on the agent's pods (a deleted pod
        vanishes at once, a new one is "Ready" at once). The agent's Lease therefore never expires
        in kwok's eyes (LEASE_SECONDS); the node lifecycle controller only looks at renewTime."""
        path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + n
        st, lease = self.api.request("GET", path, timeout=5)
        holder = (lease.get("spec") or {}).get("holderIdentity") if st == 200 else None
        if st == 200 and holder not in (None, n):
            log("lease %s was held by %s: taking it back", n, holder)
        spec = {"holderIdentity": n, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": now_micro()}
        if st == 404:
            self.api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                             {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                              "metadata": {"name": n, "namespace": "kube-node-lease"}, "spec": spec}, timeout=5)
        else:
            self.api.request("PATCH", path, {"spec": spec}, ctype="application/merge-patch+json", timeout=5)

    def release_lease(self, n):
        """Hands the node's Lease back (deleted: kwok creates its own and manages the node again)."""
        self.api.request("DELETE", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + n, timeout=5)

    # ---- IPs
    def allocate_ip(self, uid, node, wanted=None):
        with self.lock:
            for ip, u in self.used_ips.items():
                if u == uid:
                    return ip
            net = ipaddress.ip_network(self.nodes[node]["cidr"])
            if wanted and ipaddress.ip_address(wanted) in net and wanted not in self.used_ips:
                self.used_ips[wanted] = uid
                return wanted
            hosts = list(net.hosts())[1:]  # .1 stays free (a gateway by convention)
            start = random.randrange(len(hosts))
            for i in range(len(hosts)):
                ip = str(hosts[(start + i) % len(hosts)])
                if ip not in self.used_ips:
                    self.used_ips[ip] = uid
                    return ip
            raise RuntimeError("no free IP in %s" % net)

    def release_ip(self, uid):
        with self.lock:
            for ip in [ip for ip, u in self.used_ips.items() if u == uid]:
                del self.used_ips[ip]

    # ---- pods
    def on_pod(self, typ, pod):
        node = pod.get("spec", {}).get("nodeName")
        if node not in self.node_names or node in self.down:
            return  # a dead machine's kubelet hears nothing
        uid = pod["metadata"]["uid"]
        with self.lock:
            w = self.workers.get(uid)
            if w is None:
                if typ == "DELETED":
                    return
                w = self.workers[uid] = PodWorker(self, pod)
                w.start()
            else:
                w.update(pod, deleted=(typ == "DELETED"))
        self.dns_dirty.set()

    # ---- power
    def power_loop(self):
        """Follows DOWN_DIR: a node's file there powers it off, its removal powers it back on."""
        os.makedirs(DOWN_DIR, exist_ok=True)
        while True:
            try:
                wanted = set(os.listdir(DOWN_DIR)) & self.node_names
                for n in sorted(wanted - self.down):
                    self.power_off(n)
                for n in sorted(self.down - wanted):
                    self.power_on(n)
            except Exception:  # noqa: BLE001
                log("power: %s", traceback.format_exc())
            time.sleep(0.5)

    def power_off(self, n):
        """As a machine that dies: heartbeats and lease renewals stop, every process of its pods is
        killed at once (no preStop, no SIGTERM), and their addresses and the node's kubelet port
        drop packets silently, so clients time out instead of being refused. The API server is
        told nothing: the node lifecycle controller has to notice."""
        with self.lock:
            self.down.add(n)
            workers = [w for w in self.workers.values() if w.node == n]
        self.kubelet_port_drop(n, True)
        for w in workers:
            w.power_off()
        log("node %s powered off (%d pods dead)", n, len(workers))

    def power_on(self, n):
        """As the machine booting again: its kubelet forgets the dead sandboxes, posts status and
        renews the lease, and syncs the pods the API server still binds to it (finishes the
        deletion of those deleted meanwhile, starts the others afresh)."""
        with self.lock:
            dead = [w for w in self.workers.values() if w.node == n]
        for w in dead:
            w.join(30)
            w.net_down()
            self.worker_done(w.uid)
        self.kubelet_port_drop(n, False)
        with self.lock:
            self.down.discard(n)
        self.renew_lease(n)
        pods = [p for p in self.pods.snapshot() if p.get("spec", {}).get("nodeName") == n]
        for p in pods:
            self.on_pod("ADDED", p)
        log("node %s powered on (%d pods to sync)", n, len(pods))

    def kubelet_port_drop(self, n, drop):
        ip = self.nodes.get(n, {}).get("ip")
        if not ip:
            return
        rule = ["INPUT", "-d", ip, "-p", "tcp", "--dport", str(KUBELET_PORT), "-j", "DROP"]
        ipt = ["ip", "netns", "exec", ROUTER_NS, "iptables", "-w"]
        while drop is False and run(ipt + ["-C"] + rule, check=False).returncode == 0:
            run(ipt + ["-D"] + rule, check=False)
        if drop and run(ipt + ["-C"] + rule, check=False).returncode != 0:
            run(ipt + ["-I"] + rule)

    def worker_done(self, uid):
        with self.lock:
            self.workers.pop(uid, None)
        self.release_ip(uid)

    # ---- names
    def on_dns_change(self, typ, obj):
        self.dns_dirty.set()

    def hosts_entries(self, ns):
        """Lines of the hosts file for pods in namespace ns."""
        lines = []
        svcs = self.services.snapshot()
        slices = self.slices.snapshot()
        for svc in svcs:
            sns = svc["metadata"]["namespace"]
            if sns not in (ns, "default"):
                continue
            name = svc["metadata"]["name"]
            names = ["%s.%s" % (name, sns), "%s.%s.svc" % (name, sns), "%s.%s.svc.cluster.local" % (name, sns)]
            if sns == ns:
                names.insert(0, name)
            cip = svc.get("spec", {}).get("clusterIP")
            ips = []
            if cip and cip != "None":
                ips = [cip]
            else:
                pub = svc.get("spec", {}).get("publishNotReadyAddresses", False)
                for s in slices:
                    if s["metadata"].get("namespace") != sns or \
                            s["metadata"].get("labels", {}).get("kubernetes.io/service-name") != name:
                        continue
                    for ep in s.get("endpoints") or []:
                        if pub or ep.get("conditions", {}).get("ready", False):
                            ips.extend(ep.get("addresses", []))
                        if ep.get("hostname") and ep.get("conditions", {}).get("ready", pub):
                            for a in ep.get("addresses", []):
                                lines.append("%s\t%s.%s.%s.svc.cluster.local %s.%s.%s.svc" %
                                             (a, ep["hostname"], name, sns, ep["hostname"], name, sns))
            for ip in sorted(set(ips)):
                lines.append("%s\t%s" % (ip, " ".join(names)))
        return lines

    def operator_entries(self):
        """Lines of the operator's hosts file (rig/rig start_operator): every Service of every
        namespace by its cluster-local names, resolved to its ready endpoints' pod IPs, which the
        host reaches (its ClusterIP it does not: kube-proxy runs in the rig's netns only)."""
        ready = {}
        for s in self.slices.snapshot():
            md = s["metadata"]
            svc = (md.get("labels") or {}).get("kubernetes.io/service-name")
            for ep in s.get("endpoints") or []:
                if svc and (ep.get("conditions") or {}).get("ready", False):
                    ready.setdefault((md.get("namespace"), svc), set()).update(ep.get("addresses", []))
        lines = []
        for svc in self.services.snapshot():
            md = svc["metadata"]
            key = (md["namespace"], md["name"])
            names = " ".join("%s.%s%s" % (md["name"], md["namespace"], d) for d in (".svc.cluster.local", ".svc", ""))
            lines.extend("%s\t%s" % (ip, names) for ip in sorted(ready.get(key, ())))
        return lines

    def write_operator_hosts(self):
        path = os.path.join(STATE, "operator-hosts")
        if not os.path.exists(path):
            return  # the operator runs through the API server's proxy (rig/rig start_operator)
        content = "# rig node agent: Services by their endpoints' pod IPs, for the KubeRay operator\n" \
                  "127.0.0.1\tlocalhost\n" + "\n".join(self.operator_entries()) + "\n"
        if content == self.operator_hosts:
            return
        with open(path, "r+") as f:  # in place: the file is bind-mounted over the operator's /etc/hosts
            f.write(content)
            f.truncate()
        self.operator_hosts = content

    def dns_loop(self):
        while True:
            self.dns_dirty.wait()
            self.dns_dirty.clear()
            try:
                with self.lock:
                    workers = list(self.workers.values())
                per_ns = {}
                for w in workers:
                    ns = w.ns
                    if ns not in per_ns:
                        per_ns[ns] = self.hosts_entries(ns)
                    w.write_hosts(per_ns[ns])
                self.write_operator_hosts()
            except Exception as e:  # noqa: BLE001
                log("dns: %s", e)
            time.sleep(0.2)

    # ---- events
    def event(self, pod, typ, reason, message, container=None):
        md = pod["metadata"]
        ev = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": md["name"] + ".", "namespace": md["namespace"]},
            "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": md["namespace"], "name": md["name"],
                               "uid": md["uid"], **({"fieldPath": "spec.containers{%s}" % container} if container else {})},
            "type": typ, "reason": reason, "message": message[:1024],
            "source": {"component": "kubelet", "host": pod["spec"].get("nodeName", "")},
            "reportingComponent": "kubelet", "reportingInstance": pod["spec"].get("nodeName", ""),
            "firstTimestamp": now_rfc3339(), "lastTimestamp": now_rfc3339(), "count": 1,
        }
        try:
            self.api.request("POST", "/api/v1/namespaces/%s/events" % md["namespace"], ev)
        except Exception as e:  # noqa: BLE001
            log("event: %s", e)
        log("%s/%s: %s %s: %s", md["namespace"], md["name"], typ, reason, message)

    def cleanup_stale(self):
        """Remove pod namespaces and processes left by an earlier agent run."""
        if os.path.isdir(PODS_DIR):
            for d in os.listdir(PODS_DIR):
                pdir = os.path.join(PODS_DIR, d)
                for f in os.listdir(pdir) if os.path.isdir(pdir) else []:
                    if f.endswith(".launcher.pid"):
                        kill_pidfile(os.path.join(pdir, f), signal.SIGKILL)
        out = run(["ip", "netns", "list"], check=False).stdout
        for line in out.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(NETNS_PREFIX):
                run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(PODS_DIR, ignore_errors=True)

    def main(self):
        os.makedirs(PODS_DIR, exist_ok=True)
        shutil.rmtree(DOWN_DIR, ignore_errors=True)  # a (re)started agent powers every node on
        self.cleanup_stale()
        self.refresh_nodes()
        threading.Thread(target=self.heartbeat_loop, daemon=True, name="heartbeat").start()
        threading.Thread(target=self.lease_loop, daemon=True, name="leases").start()
        threading.Thread(target=self.power_loop, daemon=True, name="power").start()
        t0 = time.time()
        while len(self.nodes) < len(self.node_names) and time.time() - t0 < 60:
            time.sleep(1)
            self.refresh_nodes()
        log("agent: nodes %s", self.nodes)
        for n in self.nodes:  # an earlier run's power-off may have left its kubelet port dropped
            self.kubelet_port_drop(n, False)
        self.services.start()
        self.slices.start()
        self.services.synced.wait(30)
        self.slices.synced.wait(30)
        self.pods.start()
        threading.Thread(target=self.dns_loop, daemon=True, name="dns").start()
        stop = threading.Event()

        def term(sig, frame):
            stop.set()
        signal.signal(signal.SIGTERM, term)
        signal.signal(signal.SIGINT, term)
        while not stop.wait(1):
            pass
        log("agent: stopping every pod")
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            w.shutdown_local()
        for w in workers:
            w.join(20)
        self.cleanup_stale()
        for n in self.took_over:  # hand the node back to kwok
            try:
                self.release_lease(n)
                self.api.request("PATCH", "/api/v1/nodes/" + n,
                                 {"metadata": {"annotations": {"kwok.x-k8s.io/node": "fake",
                                                               "rig.kubectl-rayha/agent": None}}},
                                 ctype="application/merge-patch+json")
                log("handed node %s back to kwok", n)
            except Exception as e:  # noqa: BLE001 - the API server may be gone already
                log("could not hand node %s back to kwok: %s", n, e)


def cri_time():
    ns = time.time_ns()
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%09dZ" % (ns % 10**9)).encode()


def pump_logs(fds, raw_path, cri_path):
    """Copies a container's stdout and stderr (pipe read ends: {"stdout": fd, "stderr": fd}) into
    its plain log (both streams as they come, what `agent logs` shows) and its CRI-format log
    (`<RFC3339Nano> <stream> F|P <line>`, what kwok's server reads for `kubectl logs`), until
    every writer is gone."""
    sel = selectors.DefaultSelector()
    for stream, fd in fds.items():
        sel.register(fd, selectors.EVENT_READ, stream.encode())
    pending = {fd: b"" for fd in fds.values()}  # an unfinished line per stream
    with open(raw_path, "ab") as raw, open(cri_path, "ab") as cri:
        while sel.get_map():
            for key, _ in sel.select():
                data = os.read(key.fd, 65536)
                stream, out = key.data, []
                if data:
                    raw.write(data)
                    raw.flush()
                    buf = pending[key.fd] + data
                    *lines, buf = buf.split(b"\n")
                    out = [(line, b"F") for line in lines]
                    while len(buf) >= CRI_PARTIAL:
                        out.append((buf[:CRI_PARTIAL], b"P"))
                        buf = buf[CRI_PARTIAL:]
                    pending[key.fd] = buf
                else:  # this stream's writers are all gone
                    sel.unregister(key.fd)
                    os.close(key.fd)
                    if pending[key.fd]:
                        out = [(pending[key.fd], b"F")]
                if out:
                    ts = cri_time()
                    cri.write(b"".join(b"%s %s %s %s\n" % (ts, stream, tag, line) for line, tag in out))
                    cri.flush()


def listening_ports(pid):
    """TCP ports listened on in the network namespace of process PID on an address other than a
    loopback one (kwok's port-forward dials the pod IP)."""
    ports = set()
    try:
        with open("/proc/%d/net/tcp" % pid) as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) > 3 and parts[3] == "0A":
                    addr, port = parts[1].split(":")
                    if not addr.endswith("7F"):  # little-endian 127.x.x.x
                        ports.add(int(port, 16))
    except (OSError, ValueError, StopIteration):
        pass
    return ports


def kill_pidfile(path, sig):
    try:
        pid = int(open(path).read().strip())
        os.kill(pid, sig)
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------- images ----
class Image:
    """What an image gives a container besides its program: environment, default command,
    working directory, default user (with its passwd entry) and the directories its filesystem
    has (made fresh for each container start, as an image's writable layer is)."""

    def __init__(self, env, argv, workdir="/", user=None, passwd=None, dirs=()):
        self.env, self.argv, self.workdir = env, argv, workdir
        self.user = user          # (uid, gid) of the image's USER, None for root
        self.passwd = passwd      # the /etc/passwd line of that user, when the host lacks it
        self.dirs = list(dirs)    # (path, uid, gid, mode)


# The official images' users and working directories (docker inspect of rayproject/ray:2.52.0
# and redis:7.4.0): Ray runs as ray (1000:100) in /home/ray; Redis works in /data (owned by
# redis, 999), running as root unless the pod says otherwise (the image's entrypoint, which
# drops to redis, is replaced by any `command`).
RAY_USER = (1000, 100)
RAY_PASSWD = "ray:x:1000:100::/home/ray:/bin/bash"
REDIS_DATA = ("/data", 999, 999, 0o755)


def image_runtime(image):
    """(Image, error) for an image name."""
    ref = image.split("@")[0]
    repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")
    repo = re.sub(r"^(docker\.io/|index\.docker\.io/|quay\.io/)", "", repo)
    repo = re.sub(r"^library/", "", repo)
    if repo in ("rayproject/ray", "rayproject/ray-ml"):
        version = tag.split("-")[0]
        venv = os.path.join(CACHE, "ray-" + version)
        if not os.path.isfile(os.path.join(venv, ".complete")):
            return None, ("image %s: no local Ray %s runtime (%s); install it with "
                          "rig/agent/install-runtime.sh ray %s" % (image, version, venv, version))
        try:
            mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            mem = 24 << 30
        env = {"PATH": venv + "/bin:" + BASE_PATH, "VIRTUAL_ENV": venv, "HOME": "/home/ray",
               "RAY_USAGE_STATS_ENABLED": "0",
               "RAY_DEFAULT_OBJECT_STORE_MEMORY_PROPORTION": "%.6f" % (RAY_OBJECT_STORE_BYTES / mem),
               "PYTHONUNBUFFERED": "1"}
        return Image(env, ["bash"], "/home/ray", RAY_USER, RAY_PASSWD), None
    if repo in ("redis", "bitnami/redis"):
        if not shutil.which("redis-server"):
            return None, "image %s: redis-server is not installed (rig/agent/install-runtime.sh apt)" % image
        return Image({"PATH": BASE_PATH, "HOME": "/data"}, ["redis-server"], "/data", dirs=[REDIS_DATA]), None
    if repo in ("busybox", "debian", "ubuntu", "alpine"):
        return Image({"PATH": BASE_PATH, "HOME": "/root"}, ["sh"]), None
    return None, ("image %s is not available on the rig: only rayproject/ray:<version>, redis:* and "
                  "busybox/debian/ubuntu/alpine are mapped to local runtimes" % image)


def quantity_to_number(q):
    q = str(q)
    m = re.match(r"^([0-9.]+)([a-zA-Z]*)$", q)
    if not m:
        return 0
    v, s = float(m.group(1)), m.group(2)
    mult = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024, "Mi": 1024 ** 2,
            "Gi": 1024 ** 3, "Ti": 1024 ** 4}.get(s, 1)
    return v * mult


def expand_vars(s, env):
    """Kubernetes $(VAR) expansion; $$(VAR) escapes."""
    def rep(m):
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        name = m.group(1)
        return env.get(name, m.group(0))
    return re.sub(r"\$?\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", rep, s)


# ------------------------------------------------------------------------ pod worker ----
class ProbeRunner(threading.Thread):
    def __init__(self, cont, kind, probe):
        super().__init__(daemon=True, name="probe-%s-%s" % (cont.name, kind))
        self.cont, self.kind, self.probe = cont, kind, probe
        self.stop = threading.Event()
        self.success = None  # None = no result yet
        self.consecutive_fail = 0
        self.consecutive_ok = 0

    def run(self):
        p = self.probe
        delay = p.get("initialDelaySeconds", 0)
        period = max(1, p.get("periodSeconds", 10))
        timeout = max(1, p.get("timeoutSeconds", 1))
        fail_thr = max(1, p.get("failureThreshold", 3))
        ok_thr = max(1, p.get("successThreshold", 1))
        if self.stop.wait(delay):
            return
        while not self.stop.is_set():
            ok, detail = self.cont.worker.run_probe(self.cont, p, timeout)
            if self.stop.is_set():
                return
            if ok:
                self.consecutive_ok += 1
                self.consecutive_fail = 0
                if self.consecutive_ok >= ok_thr and self.success is not True:
                    self.success = True
                    self.cont.worker.kick()
            else:
                self.consecutive_fail += 1
                self.consecutive_ok = 0
                if self.consecutive_fail >= fail_thr and self.success is not False:
                    self.success = False
                    self.cont.worker.on_probe_failed(self.cont, self.kind, detail)
                    self.cont.worker.kick()
                elif self.kind == "liveness" and self.consecutive_fail >= fail_thr:
                    self.cont.worker.on_probe_failed(self.cont, self.kind, detail)
            if self.stop.wait(period):
                return


class Container:
    def __init__(self, worker, spec, init=False):
        self.worker, self.spec, self.init = worker, spec, init
        self.name = spec["name"]
        self.proc = None
        self.restart_count = 0
        self.started_at = None
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.probes = {}
        self.exit_code = None
        self.next_start = 0
        self.backoff = 0
        self.start_seq = 0
        self.env = {}
        self.workdir = "/"
        self.restart_requested = None

    @property
    def pidfile(self):
        return os.path.join(self.worker.dir, "%s.init.pid" % self.name)

    @property
    def launcher_pidfile(self):
        return os.path.join(self.worker.dir, "%s.launcher.pid" % self.name)

    def kill(self):
        """SIGKILL to PID 1 of the container's PID namespace (the rest dies with it) and to its
        launcher, then reap it."""
        pid = self.init_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def init_pid(self):
        try:
            pid = int(open(self.pidfile).read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def ready(self):
        if not isinstance(self.state, dict) or "running" not in self.state:
            return False
        r = self.probes.get("readiness")
        if r is not None and r.success is not True:
            return False
        s = self.probes.get("startup")
        if s is not None and s.success is not True:
            return False
        return True

    def started(self):
        if "running" not in self.state:
            return False
        s = self.probes.get("startup")
        return s is None or s.success is True

    def status(self, image):
        st = {"name": self.name, "image": image, "imageID": "rig://" + image,
              "ready": self.ready(), "restartCount": self.restart_count, "state": self.state,
              "started": self.started()}
        if self.proc is not None or self.exit_code is not None:
            st["containerID"] = "rayha://%s-%s-%d" % (self.worker.uid[:8], self.name, self.start_seq)
        if self.last_state:
            st["lastState"] = self.last_state
        return st

    def stop_probes(self):
        for p in self.probes.values():
            p.stop.set()
        self.probes = {}


class PodWorker(threading.Thread):
    def __init__(self, agent, pod):
        md = pod["metadata"]
        super().__init__(daemon=True, name="pod-%s/%s" % (md["namespace"], md["name"]))
        self.agent, self.api = agent, agent.api
        self.pod = pod
        self.uid, self.ns, self.name = md["uid"], md["namespace"], md["name"]
        self.node = pod["spec"]["nodeName"]
        self.dir = os.path.join(PODS_DIR, "%s_%s_%s" % (self.ns, self.name, self.uid[:8]))
        self.netns = NETNS_PREFIX + self.uid.replace("-", "")[:10]
        self.veth = VETH_PREFIX + self.uid.replace("-", "")[:10]
        self.ip = None
        self.cond = threading.Condition()
        self.deleted = False
        self.local_stop = False
        self.powered_off = False
        self.phase = "Pending"
        self.start_time = None
        self.last_status = None
        self.hosts_lines = None
        self.hosts_file = os.path.join(self.dir, "hosts")
        self.containers = [Container(self, c) for c in pod["spec"].get("containers", [])]
        self.inits = [Container(self, c, init=True) for c in pod["spec"].get("initContainers", [])]
        self.init_done = not self.inits
        self.image_error = None
        self.conditions_time = {}

    # ---- plumbing
    def update(self, pod, deleted=False):
        with self.cond:
            self.pod = pod
            if deleted:
                self.deleted = True
            self.cond.notify_all()

    def kick(self):
        with self.cond:
            self.cond.notify_all()

    def shutdown_local(self):
        with self.cond:
            self.local_stop = True
            self.cond.notify_all()

    def power_off(self):
        with self.cond:
            self.powered_off = True
            self.cond.notify_all()

    def die(self):
        """The node lost power: every process is gone at once, the pod's address drops packets,
        and nothing is said to the API server. The netns stays (its address is not reused) until
        the node is powered on."""
        for c in self.containers + self.inits:
            c.stop_probes()
        for c in self.containers + self.inits:
            if c.proc is not None:
                c.kill()
                c.proc = None
        for chain in ("INPUT", "OUTPUT"):
            run(["ip", "netns", "exec", self.netns, "iptables", "-w", "-I", chain, "-j", "DROP"], check=False)
        self.log("dead (node %s powered off)", self.node)

    def log(self, msg, *args):
        log("%s/%s: " % (self.ns, self.name) + msg, *args)

    # ---- network
    def net_up(self):
        ip = self.agent.allocate_ip(self.uid, self.node, self.pod.get("status", {}).get("podIP"))
        prefix = ipaddress.ip_network(BRIDGE_ADDR, strict=False).prefixlen
        gw = BRIDGE_ADDR.split("/")[0]
        run(["ip", "netns", "del", self.netns], check=False)
        run(["ip", "netns", "add", self.netns])
        run(["ip", "netns", "exec", self.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
             "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        run(["ip", "-n", ROUTER_NS, "link", "del", self.veth], check=False)
        run(["ip", "-n", ROUTER_NS, "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
             "netns", self.netns])
        run(["ip", "-n", ROUTER_NS, "link", "set", self.veth, "master", BRIDGE, "up"])
        run(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        run(["ip", "-n", self.netns, "addr", "add", "%s/%d" % (ip, prefix), "dev", "eth0"])
        run(["ip", "-n", self.netns, "link", "set", "eth0", "up"])
        run(["ip", "-n", self.netns, "route", "add", "default", "via", gw, "dev", "eth0"])
        self.ip = ip

    def net_down(self):
        run(["ip", "-n", ROUTER_NS, "link", "del", self.veth], check=False)
        run(["ip", "netns", "del", self.netns], check=False)

    # ---- filesystem
    def write_hosts(self, lines):
        if self.ip is None:
            return
        content = "# rig node agent: Services of the namespace, like cluster DNS\n127.0.0.1\tlocalhost\n" \
                  "%s\t%s\n" % (self.ip, self.name) + "\n".join(lines) + "\n"
        if content == self.hosts_lines:
            return
        try:
            # in place: the file is bind-mounted into the pod, a rename would not be seen there
            with open(self.hosts_file, "r+" if os.path.exists(self.hosts_file) else "w") as f:
                f.write(content)
                f.truncate()
            self.hosts_lines = content
        except OSError as e:
            self.log("hosts: %s", e)

    def fetch(self, kind, name):
        path = "/api/v1/namespaces/%s/%s/%s" % (self.ns, kind, name)
        return self.api.get(path)

    def prepare_volumes(self):
        """Materialize the pod's volumes under its directory. Returns name -> path."""
        spec = self.pod["spec"]
        sc = spec.get("securityContext") or {}
        fs_group = sc.get("fsGroup")
        run_as = sc.get("runAsUser")
        vols = {}
        for v in spec.get("volumes") or []:
            path = os.path.join(self.dir, "volumes", v["name"])
            os.makedirs(path, exist_ok=True)
            if "configMap" in v or "secret" in v:
                is_cm = "configMap" in v
                src = v["configMap"] if is_cm else v["secret"]
                name = src.get("name") if is_cm else src.get("secretName")
                obj = self.fetch("configmaps" if is_cm else "secrets", name)
                if obj is None:
                    if src.get("optional"):
                        vols[v["name"]] = path
                        continue
                    raise PodError("FailedMount", "%s %s not found for volume %s" %
                                   ("ConfigMap" if is_cm else "Secret", name, v["name"]))
                data = {}
                for k, val in (obj.get("data") or {}).items():
                    data[k] = val.encode() if is_cm else base64.b64decode(val)
                for k, val in (obj.get("binaryData") or {}).items():
                    data[k] = base64.b64decode(val)
                items = src.get("items")
                files = [(it["key"], it["path"], it.get("mode")) for it in items] if items else \
                    [(k, k, None) for k in data]
                mode = src.get("defaultMode", 0o644)
                for key, rel, m in files:
                    if key not in data:
                        raise PodError("FailedMount", "key %s not in %s" % (key, name))
                    fp = os.path.join(path, rel)
                    os.makedirs(os.path.dirname(fp), exist_ok=True)
                    with open(fp, "wb") as f:
                        f.write(data[key])
                    os.chmod(fp, m if m is not None else mode)
                    if fs_group is not None:
                        os.chown(fp, -1, fs_group)
            elif "emptyDir" in v:
                if fs_group is not None or run_as is not None:
                    os.chown(path, run_as if run_as is not None else -1, fs_group if fs_group is not None else -1)
                    os.chmod(path, 0o2775)
                else:
                    os.chmod(path, 0o777)
            elif "persistentVolumeClaim" in v:
                path = self.claim_volume(v["persistentVolumeClaim"]["claimName"])
                if fs_group is not None:
                    own_by_group(path, fs_group)
            elif "hostPath" in v:
                os.chmod(path, 0o777)  # a per-pod directory stands in: pods never see the host's files
            elif "projected" in v or "downwardAPI" in v:
                pass  # service account tokens etc.: left empty
            vols[v["name"]] = path
        return vols

    def claim_volume(self, claim):
        """The directory of the PersistentVolume bound to `claim`, once this node may attach it.

        Volumes of the rig's provisioner (rig/provisioner.py) are directories under
        $STATE/volumes: their data outlives every pod and any node can mount them, as network
        block storage can. Attachment is judged as the attach/detach controller does: a
        ReadWriteOnce volume is attached to the node of any pod that uses the claim and is not
        finished (a pod being deleted still holds it until its object is gone), so a pod on
        another node waits with a Multi-Attach error; ReadWriteOncePod admits one pod at all.
        """
        pvc = self.fetch("persistentvolumeclaims", claim)
        if pvc is None:
            raise PodError("FailedMount", 'persistentvolumeclaim "%s" not found' % claim)
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name or (pvc.get("status") or {}).get("phase") != "Bound":
            raise PodError("FailedMount", 'persistentvolumeclaim "%s" is not bound' % claim)
        pv = self.api.get("/api/v1/persistentvolumes/" + pv_name)
        host_path = ((pv or {}).get("spec", {}).get("hostPath") or {}).get("path", "")
        if os.path.dirname(host_path.rstrip("/")) != VOLUMES_DIR:
            raise PodError("FailedMount", "volume %s: the rig mounts only volumes of its provisioner "
                                          "(StorageClass %s)" % (pv_name, RIG_STORAGE_CLASS))
        modes = set(pv["spec"].get("accessModes") or [])
        holders = [p for p in self.agent.pods.snapshot() if self.shares_claim(p, claim)]
        if "ReadWriteOncePod" in modes:
            holders = [p["metadata"]["name"] for p in holders]
        elif "ReadWriteOnce" in modes and not modes & {"ReadWriteMany", "ReadOnlyMany"}:
            holders = [p["metadata"]["name"] for p in holders if p["spec"].get("nodeName") != self.node]
        else:
            holders = []
        if holders:
            raise PodError("FailedAttachVolume", 'Multi-Attach error for volume "%s" Volume is already '
                                                 "used by pod(s) %s" % (pv_name, ", ".join(sorted(holders))))
        os.makedirs(host_path, exist_ok=True)
        return host_path

    def shares_claim(self, pod, claim):
        """`pod` is another unfinished pod of this namespace that uses `claim`."""
        md, spec = pod["metadata"], pod.get("spec") or {}
        if md.get("uid") == self.uid or md.get("namespace") != self.ns or not spec.get("nodeName"):
            return False
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return False
        return any((v.get("persistentVolumeClaim") or {}).get("claimName") == claim
                   for v in spec.get("volumes") or [])

    def passwd_file(self, entry):
        """The host's /etc/passwd plus the image user's line: an image names its own users."""
        path = os.path.join(self.dir, "passwd")
        if not os.path.exists(path):
            with open("/etc/passwd") as f:
                lines = [l for l in f.read().splitlines() if l.split(":")[2:3] != [entry.split(":")[2]]]
            with open(path + ".tmp", "w") as f:
                f.write("\n".join(lines + [entry]) + "\n")
            os.chmod(path + ".tmp", 0o644)
            os.replace(path + ".tmp", path)
        return path

    def resolve_env(self, cspec, base):
        env = dict(base)
        for ef in cspec.get("envFrom") or []:
            if "configMapRef" in ef:
                obj = self.fetch("configmaps", ef["configMapRef"]["name"])
                for k, val in ((obj or {}).get("data") or {}).items():
                    env[ef.get("prefix", "") + k] = val
            if "secretRef" in ef:
                obj = self.fetch("secrets", ef["secretRef"]["name"])
                for k, val in ((obj or {}).get("data") or {}).items():
                    env[ef.get("prefix", "") + k] = base64.b64decode(val).decode(errors="replace")
        for e in cspec.get("env") or []:
            name = e["name"]
            if "value" in e:
                env[name] = expand_vars(e["value"], env)
                continue
            vf = e.get("valueFrom")
            if not vf:
                env[name] = ""
                continue
            if "secretKeyRef" in vf or "configMapKeyRef" in vf:
                is_sec = "secretKeyRef" in vf
                ref = vf["secretKeyRef" if is_sec else "configMapKeyRef"]
                obj = self.fetch("secrets" if is_sec else "configmaps", ref["name"])
                data = (obj or {}).get("data") or {}
                if ref["key"] not in data:
                    if ref.get("optional"):
                        continue
                    raise PodError("CreateContainerConfigError", "%s %s has no key %s (env %s)" %
                                   ("Secret" if is_sec else "ConfigMap", ref["name"], ref["key"], name))
                val = data[ref["key"]]
                env[name] = base64.b64decode(val).decode(errors="replace") if is_sec else val
            elif "fieldRef" in vf:
                env[name] = self.field_value(vf["fieldRef"]["fieldPath"])
            elif "resourceFieldRef" in vf:
                r = vf["resourceFieldRef"]
                cname = r.get("containerName") or cspec["name"]
                res = {}
                for c in self.pod["spec"].get("containers", []) + self.pod["spec"].get("initContainers", []):
                    if c["name"] == cname:
                        res = c.get("resources") or {}
                kind, _, what = r["resource"].partition(".")
                q = (res.get(kind) or {}).get(what)
                if q is None:
                    q = {"cpu": "16", "memory": str(64 << 30)}.get(what, "0")
                div = quantity_to_number(r.get("divisor", "1")) or 1
                num = quantity_to_number(q) / div
                env[name] = str(int(-(-num // 1)))  # ceil, as the kubelet does
        return env

    def field_value(self, fp):
        md, spec = self.pod["metadata"], self.pod["spec"]
        m = re.match(r"^metadata\.(labels|annotations)\['(.*)'\]$", fp)
        if m:
            return (md.get(m.group(1)) or {}).get(m.group(2), "")
        return {
            "metadata.name": md["name"], "metadata.namespace": md["namespace"], "metadata.uid": md["uid"],
            "spec.nodeName": spec.get("nodeName", ""), "spec.serviceAccountName": spec.get("serviceAccountName", ""),
            "status.podIP": self.ip or "", "status.podIPs": self.ip or "",
            "status.hostIP": self.agent.nodes.get(self.node, {}).get("ip", ""),
            "status.hostIPs": self.agent.nodes.get(self.node, {}).get("ip", ""),
        }.get(fp, "")

    # ---- containers
    def start_container(self, c, vols):
        image = c.spec.get("image", "")
        img, err = image_runtime(image)
        if err:
            raise PodError("ErrImagePull", err, waiting=True)
        default_argv = img.argv
        env = self.resolve_env(c.spec, img.env)
        env.setdefault("HOSTNAME", self.name)
        env["RAYHA_POD_IP"] = self.ip
        # the service environment variables a kubelet adds are left out (enableServiceLinks);
        # KUBERNETES_SERVICE_* is what clients of the API server look for
        command = [expand_vars(a, env) for a in c.spec.get("command") or []]
        args = [expand_vars(a, env) for a in c.spec.get("args") or []]
        argv = (command or default_argv) + args if command else default_argv + args
        if not command and not args:
            argv = default_argv
        c.start_seq += 1
        cdir = os.path.join(self.dir, "run", "%s-%d" % (c.name, c.start_seq))
        tmp = os.path.join(cdir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        os.chmod(tmp, 0o1777)
        binds = [{"source": self.hosts_file, "target": "/etc/hosts"},
                 {"source": os.path.join(self.dir, "resolv.conf"), "target": "/etc/resolv.conf"},
                 {"source": tmp, "target": "/tmp"}]
        sc = dict(self.pod["spec"].get("securityContext") or {})
        sc.update(c.spec.get("securityContext") or {})
        if "runAsUser" in sc:
            uid, gid = sc["runAsUser"], sc.get("runAsGroup", sc["runAsUser"])
        else:
            uid, gid = img.user or (None, None)
            gid = sc.get("runAsGroup", gid)
        mounted = {vm["mountPath"].rstrip("/") for vm in c.spec.get("volumeMounts") or []}
        if image.split("/")[0].startswith("rayproject") or "rayproject/ray" in image:
            home = os.path.join(self.dir, "home-ray")
            if not os.path.isdir(home):
                os.makedirs(home)
                # the image's Python lives at /home/ray/anaconda3 (KubeRay's docs and samples
                # call it by that path); here it is the runtime's venv
                os.symlink(img.env["VIRTUAL_ENV"], os.path.join(home, "anaconda3"))
                if img.user:
                    os.lchown(os.path.join(home, "anaconda3"), *img.user)
                    os.chown(home, *img.user)
            binds.append({"source": home, "target": "/home/ray"})
        for path, duid, dgid, mode in img.dirs:
            if path in mounted:
                continue
            d = os.path.join(cdir, "fs", path.lstrip("/"))
            os.makedirs(d, exist_ok=True)
            os.chown(d, duid, dgid)
            os.chmod(d, mode)
            binds.append({"source": d, "target": path})
        if img.passwd and uid == img.user[0]:
            binds.append({"source": self.passwd_file(img.passwd), "target": "/etc/passwd"})
        for vm in c.spec.get("volumeMounts") or []:
            src = vols.get(vm["name"])
            if src is None:
                raise PodError("CreateContainerConfigError", "volumeMount %s: no such volume" % vm["name"])
            if vm.get("subPath"):
                src = os.path.join(src, vm["subPath"])
            binds.append({"source": src, "target": vm["mountPath"], "readonly": bool(vm.get("readOnly"))})
        wd = c.spec.get("workingDir") or img.workdir
        spec = {"argv": argv, "env": env, "binds": binds, "hostname": self.name, "workdir": wd,
                "uid": uid, "gid": gid,
                "supplemental_groups": [g for g in [self.pod["spec"].get("securityContext", {}).get("fsGroup")] if g is not None],
                "pidfile": c.pidfile}
        specfile = os.path.join(cdir, "spec.json")
        with open(specfile, "w") as f:
            json.dump(spec, f)
        os.chmod(specfile, 0o600)
        try:
            os.unlink(c.pidfile)
        except OSError:
            pass
        raw_log = os.path.join(self.dir, "%s.log" % c.name)
        with open(raw_log, "ab") as logf:
            logf.write(("---- %s start %d: %s\n" % (now_rfc3339(), c.start_seq, " ".join(argv))).encode())
        # kubectl logs --previous: the last instance's CRI log (a kubelet keeps one)
        cri_log = os.path.join(self.dir, "%s.cri.log" % c.name)
        if os.path.exists(cri_log):
            os.replace(cri_log, os.path.join(self.dir, "%s.previous.cri.log" % c.name))
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            c.proc = subprocess.Popen(["nsenter", "--net=/run/netns/" + self.netns, PY, os.path.join(HERE, "launcher.py"),
                                       specfile], stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
                                      start_new_session=True, close_fds=True)
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        threading.Thread(target=pump_logs, args=({"stdout": out_r, "stderr": err_r}, raw_log, cri_log),
                         daemon=True, name="logs-%s/%s/%s" % (self.ns, self.name, c.name)).start()
        with open(c.launcher_pidfile, "w") as f:
            f.write(str(c.proc.pid))
        c.env, c.workdir = env, wd
        c.started_at = now_rfc3339()
        c.state = {"running": {"startedAt": c.started_at}}
        c.exit_code = None
        for kind in ("readiness", "liveness", "startup"):
            p = c.spec.get(kind + "Probe")
            if p and not c.init:
                r = c.probes[kind] = ProbeRunner(c, kind, p)
                r.start()
        self.agent.event(self.pod, "Normal", "Started", "Started container %s (%s)" % (c.name, image), c.name)

    def run_pre_stop(self, c, deadline):
        """The container's lifecycle.preStop hook (exec, httpGet or sleep), within the grace period."""
        hook = (c.spec.get("lifecycle") or {}).get("preStop")
        if not hook or c.proc is None or c.proc.poll() is not None:
            return
        budget = max(0.0, deadline - time.time())
        t0 = time.time()
        if "sleep" in hook:
            time.sleep(min(budget, float(hook["sleep"].get("seconds", 0))))
        else:
            probe = {k: v for k, v in hook.items() if k in ("exec", "httpGet", "tcpSocket")}
            ok, detail = self.run_probe(c, probe, max(1, int(budget)))
            if not ok:
                self.agent.event(self.pod, "Warning", "FailedPreStopHook",
                                 "PreStopHook failed: %s" % detail.strip(), c.name)
        self.log("container %s: preStop hook took %.1fs", c.name, time.time() - t0)

    def stop_container(self, c, grace, reason="Killing"):
        c.stop_probes()
        if c.proc is None:
            return
        if c.proc.poll() is None:
            deadline = time.time() + max(0, grace)
            self.run_pre_stop(c, deadline)
            try:
                c.proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
            while time.time() < deadline and c.proc.poll() is None:
                time.sleep(0.1)
            if c.proc.poll() is None:
                c.kill()
        self.container_exited(c)

    def container_exited(self, c):
        code = c.proc.returncode if c.proc is not None else None
        if code is None:
            code = 137
        c.exit_code = code
        c.state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                  "startedAt": c.started_at, "finishedAt": now_rfc3339(),
                                  "containerID": "rayha://%s-%s-%d" % (self.uid[:8], c.name, c.start_seq)}}
        c.proc = None
        c.stop_probes()
        try:
            os.unlink(c.launcher_pidfile)
        except OSError:
            pass

    def run_probe(self, c, p, timeout):
        try:
            if "exec" in p:
                pid = c.init_pid()
                if pid is None:
                    return False, "container not running"
                envargs = ["%s=%s" % kv for kv in c.env.items()]
                cmd = ["nsenter", "-t", str(pid), "-n", "-m", "-p", "-u", "--wd=" + c.workdir, "env", "-i"] + \
                    envargs + list(p["exec"]["command"])
                try:
                    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                                       start_new_session=True)
                except subprocess.TimeoutExpired:
                    return False, "exec probe timed out after %ds" % timeout
                return r.returncode == 0, r.stdout.decode(errors="replace")[-300:]
            if "httpGet" in p:
                h = p["httpGet"]
                port = self.resolve_port(c, h.get("port"))
                host = h.get("host") or self.ip
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
                try:
                    conn.request("GET", h.get("path", "/"),
                                 headers={x["name"]: x["value"] for x in h.get("httpHeaders") or []})
                    resp = conn.getresponse()
                    resp.read()
                    return 200 <= resp.status < 400, "HTTP %d" % resp.status
                finally:
                    conn.close()
            if "tcpSocket" in p:
                port = self.resolve_port(c, p["tcpSocket"].get("port"))
                with socket.create_connection((p["tcpSocket"].get("host") or self.ip, port), timeout=timeout):
                    return True, ""
            if "grpc" in p:
                port = p["grpc"]["port"]
                with socket.create_connection((self.ip, port), timeout=timeout):
                    return True, ""
        except Exception as e:  # noqa: BLE001 - a failed probe
            return False, str(e)
        return True, ""

    def resolve_port(self, c, port):
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            return int(port)
        for cp in c.spec.get("ports") or []:
            if cp.get("name") == port:
                return cp["containerPort"]
        raise RuntimeError("no port named %s" % port)

    def on_probe_failed(self, c, kind, detail):
        self.agent.event(self.pod, "Warning", "Unhealthy", "%s probe failed: %s" % (kind.capitalize(), detail.strip()),
                         c.name)
        if kind in ("liveness", "startup"):
            c.restart_requested = "%s probe failed" % kind
            self.kick()

    # ---- status
    def compute_status(self):
        spec = self.pod["spec"]
        images = {c["name"]: c.get("image", "") for c in spec.get("containers", []) + spec.get("initContainers", [])}
        cs = [c.status(images[c.name]) for c in self.containers]
        ics = [c.status(images[c.name]) for c in self.inits]
        all_ready = bool(self.containers) and all(x["ready"] for x in cs) and self.phase == "Running"

        def cond(typ, ok, reason=None):
            st = "True" if ok else "False"
            prev = self.conditions_time.get(typ)
            if prev is None or prev[0] != st:
                self.conditions_time[typ] = (st, now_rfc3339())
            d = {"type": typ, "status": st, "lastProbeTime": None, "lastTransitionTime": self.conditions_time[typ][1]}
            if reason and not ok:
                d["reason"] = reason
            return d
        conds = [
            cond("PodReadyToStartContainers", self.ip is not None),
            cond("Initialized", self.init_done, "ContainersNotInitialized"),
            cond("ContainersReady", all_ready, "ContainersNotReady"),
            cond("Ready", all_ready, "ContainersNotReady"),
            cond("PodScheduled", True),
        ]
        if self.phase in ("Succeeded", "Failed"):
            conds[2] = cond("ContainersReady", False, "PodCompleted")
            conds[3] = cond("Ready", False, "PodCompleted")
        st = {"phase": self.phase, "conditions": conds, "containerStatuses": cs}
        if ics:
            st["initContainerStatuses"] = ics
        hip = self.agent.nodes.get(self.node, {}).get("ip")
        if hip:
            st["hostIP"] = hip
            st["hostIPs"] = [{"ip": hip}]
        if self.ip:
            st["podIP"] = self.ip
            st["podIPs"] = [{"ip": self.ip}]
        if self.start_time:
            st["startTime"] = self.start_time
        return st

    def push_status(self, force=False):
        st = self.compute_status()
        key = json.dumps(st, sort_keys=True)
        if key == self.last_status and not force:
            return
        code, obj = self.api.request("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (self.ns, self.name),
                                     {"metadata": {"uid": self.uid}, "status": st},
                                     ctype="application/merge-patch+json")
        if code == 200:
            self.last_status = key
        elif code not in (404, 409):
            self.log("status patch: HTTP %d %s", code, str(obj)[:300])

    # ---- kubelet API through kwok's server (kubectl logs, kubectl port-forward)
    def owner_ref(self):
        return [{"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}]

    def apply_kwok(self, resource, kind, spec):
        body = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": kind,
                "metadata": {"name": self.name, "namespace": self.ns, "ownerReferences": self.owner_ref()},
                "spec": spec}
        try:
            code, obj = self.api.request("PATCH", KWOK_API % (self.ns, resource, self.name), body,
                                         ctype="application/apply-patch+yaml")
        except (OSError, http.client.HTTPException) as e:
            code, obj = 0, {"message": str(e)}
        if code not in (200, 201):
            self.log("kwok %s: HTTP %d %s", kind, code, str(obj.get("message", obj))[:200])
        return code in (200, 201)

    def apply_kwok_logs(self):
        """kwok's server finds a container's log through the pod's Logs object."""
        logs = [{"containers": [c.name], "logsFile": os.path.join(self.dir, "%s.cri.log" % c.name),
                 "previousLogsFile": os.path.join(self.dir, "%s.previous.cri.log" % c.name)}
                for c in self.inits + self.containers]
        self.apply_kwok("logs", "Logs", {"logs": logs})

    def apply_kwok_exec(self):
        """kwok's server runs `kubectl exec` on the host with this environment; the rig's exec
        shim (rig/agent/exec-shim) reads it and enters the named container instead."""
        execs = [{"containers": [c.name],
                  "local": {"envs": [{"name": "RAYHA_RIG_EXEC", "value": "%s %s %s" % (self.ns, self.name, c.name)}]}}
                 for c in self.inits + self.containers]
        self.apply_kwok("execs", "Exec", {"execs": execs})

    def sync_port_forward(self):
        """The pod's PortForward object: every declared container port and every port listened on
        (not only on loopback) in the pod's netns, each to <pod IP>:<port>; checked every 2 s."""
        now = time.time()
        if self.ip is None or now < getattr(self, "pf_next", 0):
            return
        self.pf_next = now + 2
        ports = {cp["containerPort"] for c in self.containers for cp in c.spec.get("ports") or []
                 if cp.get("protocol", "TCP") == "TCP" and cp.get("containerPort")}
        for c in self.inits + self.containers:
            if c.proc is not None:
                ports |= listening_ports(c.proc.pid)
        key = (self.ip, tuple(sorted(ports)))
        if key == getattr(self, "pf_key", None):
            return
        fwd = [{"ports": [p], "target": {"address": self.ip, "port": p}} for p in sorted(ports)]
        if self.apply_kwok("portforwards", "PortForward", {"forwards": fwd}):
            self.pf_key = key

    # ---- main loop
    def run(self):
        try:
            self.lifecycle()
        except Exception:  # noqa: BLE001
            self.log("worker crashed:\n%s", traceback.format_exc())
        finally:
            if not self.powered_off:  # a dead node's pods wait for it to power on (Agent.power_on)
                self.teardown(0)
                self.agent.worker_done(self.uid)

    def restart_policy(self):
        return self.pod["spec"].get("restartPolicy", "Always")

    def grace_period(self):
        md = self.pod["metadata"]
        g = md.get("deletionGracePeriodSeconds")
        if g is None:
            g = self.pod["spec"].get("terminationGracePeriodSeconds", 30)
        return g

    def lifecycle(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "resolv.conf"), "w") as f:
            f.write("# rig: no DNS server; names come from /etc/hosts\nnameserver 127.0.0.1\n"
                    "search %s.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:1 timeout:1 attempts:1\n"
                    % self.ns)
        if self.pod["metadata"].get("deletionTimestamp"):
            self.finalize()
            return
        self.start_time = now_rfc3339()
        self.net_up()
        self.write_hosts(self.agent.hosts_entries(self.ns))
        self.log("pod IP %s on %s (netns %s)", self.ip, self.node, self.netns)
        self.push_status()
        self.apply_kwok_logs()
        self.apply_kwok_exec()
        vols = None
        while True:
            with self.cond:
                if self.deleted or self.pod["metadata"].get("deletionTimestamp") or self.local_stop \
                        or self.powered_off:
                    break
            try:
                if vols is None:
                    vols = self.prepare_volumes()
                self.step(vols)
                self.image_error = None
            except PodError as e:
                volume = e.reason in ("FailedMount", "FailedAttachVolume")
                for c in self.inits + self.containers:
                    if c.proc is None and "terminated" not in c.state:
                        # a kubelet keeps a pod whose volumes are not there yet in ContainerCreating
                        c.state = {"waiting": {"reason": "ContainerCreating"}} if volume else \
                            {"waiting": {"reason": e.reason, "message": e.message}}
                if e.message != self.image_error:
                    if volume:
                        self.agent.event(self.pod, "Warning", e.reason, e.message)
                    else:
                        self.agent.event(self.pod, "Warning", "Failed", "%s: %s" % (e.reason, e.message))
                    self.image_error = e.message
                vols = None if volume else vols
            self.push_status()
            self.sync_port_forward()
            if self.phase in ("Succeeded", "Failed") and not any(c.proc for c in self.containers):
                pass
            with self.cond:
                self.cond.wait(1.0)
        if self.powered_off:
            self.die()
            return
        if self.local_stop and not self.deleted and not self.pod["metadata"].get("deletionTimestamp"):
            self.teardown(5)
            return
        self.finalize()

    def finalize(self):
        g = self.grace_period()
        self.log("deleting: grace %ss", g)
        for c in self.containers + self.inits:
            if c.proc is not None:
                self.agent.event(self.pod, "Normal", "Killing", "Stopping container %s" % c.name, c.name)
        self.teardown(g)
        if not self.deleted:
            md = self.pod["metadata"]
            code, obj = self.api.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (self.ns, self.name),
                                         {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                          "preconditions": {"uid": md["uid"]}})
            if code not in (200, 202, 404, 409):
                self.log("final delete: HTTP %d %s", code, str(obj)[:200])
        # like a kubelet, forget the pod's files (logs included) once it is gone
        shutil.rmtree(self.dir, ignore_errors=True)
        self.log("gone")

    def teardown(self, grace):
        threads = [threading.Thread(target=self.stop_container, args=(c, grace))
                   for c in self.containers + self.inits if c.proc is not None]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.net_down()
        shutil.rmtree(os.path.join(self.dir, "run"), ignore_errors=True)
        self.ip = None

    def step(self, vols):
        policy = self.restart_policy()
        # init containers, one after the other
        if not self.init_done:
            for c in self.inits:
                if c.exit_code == 0 and c.proc is None:
                    continue
                if c.proc is None:
                    if time.time() < c.next_start:
                        return
                    self.start_container(c, vols)
                    return
                if c.proc.poll() is None:
                    return
                self.container_exited(c)
                if c.exit_code != 0:
                    if policy == "Never":
                        self.phase = "Failed"
                        return
                    c.restart_count += 1
                    c.last_state, c.next_start = c.state, time.time() + 2
                    c.state = {"waiting": {"reason": "CrashLoopBackOff"}}
                    c.exit_code = None
                return
            self.init_done = True
        if self.phase in ("Succeeded", "Failed"):
            return
        for c in self.containers:
            if c.proc is not None and c.restart_requested:
                self.agent.event(self.pod, "Normal", "Killing",
                                 "Container %s %s, will be restarted" % (c.name, c.restart_requested), c.name)
                c.restart_requested = None
                self.stop_container(c, self.pod["spec"].get("terminationGracePeriodSeconds", 30))
                c.last_state = c.state
                c.restart_count += 1
                c.next_start = time.time() + 1
                c.state = {"waiting": {"reason": "ContainerCreating"}}
                c.exit_code = None
                continue
            if c.proc is not None and c.proc.poll() is not None:
                self.container_exited(c)
                self.log("container %s exited with %s", c.name, c.exit_code)
                if policy == "Always" or (policy == "OnFailure" and c.exit_code != 0):
                    c.last_state = c.state
                    c.restart_count += 1
                    c.backoff = min(40, max(2, c.backoff * 2))
                    c.next_start = time.time() + c.backoff
                    c.state = {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": "back-off %ds restarting failed container %s" % (c.backoff, c.name)}}
                    c.exit_code = None
            if c.proc is None and c.exit_code is None and time.time() >= c.next_start:
                self.start_container(c, vols)
        if all(c.proc is None and c.exit_code is not None for c in self.containers):
            self.phase = "Succeeded" if all(c.exit_code == 0 for c in self.containers) else "Failed"
        elif any(c.proc is not None for c in self.containers) or self.phase == "Running":
            self.phase = "Running"
        for c in self.containers:
            if c.proc is not None and c.started_at and c.backoff and "running" in c.state:
                # reset back-off after 60s of running
                pass


def own_by_group(path, gid):
    """fsGroup on a volume, as a kubelet applies it: group-owned, group-writable, setgid dirs."""
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, f) for f in dirs + files]:
            try:
                st = os.lstat(name)
                if stat.S_ISLNK(st.st_mode):
                    continue
                os.chown(name, -1, gid)
                extra = stat.S_ISGID | 0o070 if stat.S_ISDIR(st.st_mode) else 0o060
                os.chmod(name, stat.S_IMODE(st.st_mode) | extra)
            except OSError:
                pass


class PodError(Exception):
    def __init__(self, reason, message, waiting=True):
        super().__init__(message)
        self.reason, self.message, self.waiting = reason, message, waiting


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kubeconfig", default=os.path.join(STATE, "kubeconfig"))
    ap.add_argument("--nodes", default="", help="comma-separated node names (default: nodes labelled %s)" % NODE_SELECTOR)
    a = ap.parse_args()
    api = Api(a.kubeconfig)
    nodes = [n for n in a.nodes.split(",") if n]
    if not nodes:
        lst = api.get("/api/v1/nodes?labelSelector=" + urllib.parse.quote(NODE_SELECTOR))
        nodes = [n["metadata"]["name"] for n in (lst or {}).get("items", [])]
    if not nodes:
        sys.exit("no rig nodes found (label %s)" % NODE_SELECTOR)
    log("agent: managing nodes %s", ",".join(nodes))
    Agent(api, nodes).main()


if __name__ == "__main__":
    main()
