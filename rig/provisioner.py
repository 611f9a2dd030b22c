"""kubectl-rayha rig: the storage provisioner of StorageClass rig-block (the default class).

A real cluster's default class is network block storage (gp3, pd-balanced, ...): a claim gets a
volume whose data lives outside any pod and that attaches to whichever node its pod lands on.
This does the same with directories: each claim of the class gets a PersistentVolume
`pvc-<claim uid>` whose hostPath is $STATE/volumes/pvc-<claim uid>; every rig node shares this
machine's disk, so the node agent can mount it on any node (it also enforces ReadWriteOnce: see
claim_volume in agent/rayha_agent.py). The class binds WaitForFirstConsumer, as cloud classes do:
the scheduler picks the node, marks the claim, and only then is the volume made. A released
volume of reclaim policy Delete is removed with its data, as a cloud disk is.

Runs with or without the node agent (kwok's fake pods need their claims bound too); stdlib only.
"""
import os
import shutil
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent"))
from rayha_agent import RIG_STORAGE_CLASS, VOLUMES_DIR, Api, log  # noqa: E402

PROVISIONER = "rig.kubectl-rayha/block"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"

STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": RIG_STORAGE_CLASS,
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    },
    "provisioner": PROVISIONER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "WaitForFirstConsumer",
    "allowVolumeExpansion": False,
}


def items(api, path):
    lst = api.get(path)
    if lst is None:
        raise RuntimeError("cannot list %s" % path)
    return lst.get("items") or []


def ensure_class(api):
    code, obj = api.request("POST", "/apis/storage.k8s.io/v1/storageclasses", STORAGE_CLASS)
    if code not in (201, 409):
        raise RuntimeError("cannot create StorageClass %s: HTTP %d %s" % (RIG_STORAGE_CLASS, code, str(obj)[:200]))


def wants_volume(pvc, classes):
    """A claim of ours with no volume yet whose volume may be made now."""
    md, spec = pvc["metadata"], pvc.get("spec") or {}
    if md.get("deletionTimestamp") or spec.get("volumeName"):
        return False
    sc = classes.get(spec.get("storageClassName") or "")
    if sc is None or sc.get("provisioner") != PROVISIONER:
        return False
    if sc.get("volumeBindingMode") == "WaitForFirstConsumer":
        return bool((md.get("annotations") or {}).get(SELECTED_NODE))
    return True


def volume_for(pvc, sc):
    md, spec = pvc["metadata"], pvc["spec"]
    name = "pvc-" + md["uid"]
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": sc["metadata"]["name"],
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": md["namespace"],
                         "name": md["name"], "uid": md["uid"]},
            "hostPath": {"path": os.path.join(VOLUMES_DIR, name), "type": "DirectoryOrCreate"},
        },
    }


def provision(api, pvc, sc):
    pv = volume_for(pvc, sc)
    os.makedirs(pv["spec"]["hostPath"]["path"], mode=0o755, exist_ok=True)
    code, obj = api.request("POST", "/api/v1/persistentvolumes", pv)
    if code == 201:
        log("provisioned %s for %s/%s", pv["metadata"]["name"], pvc["metadata"]["namespace"],
            pvc["metadata"]["name"])
    elif code != 409:
        log("cannot create %s: HTTP %d %s", pv["metadata"]["name"], code, str(obj)[:200])


def released(pv):
    spec = pv.get("spec") or {}
    return ((pv.get("metadata") or {}).get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER \
        and (pv.get("status") or {}).get("phase") in ("Released", "Failed") \
        and spec.get("persistentVolumeReclaimPolicy") == "Delete"


def reclaim(api, pv):
    name = pv["metadata"]["name"]
    path = ((pv["spec"].get("hostPath") or {}).get("path") or "")
    if os.path.dirname(path.rstrip("/")) == VOLUMES_DIR:
        shutil.rmtree(path, ignore_errors=True)
    code, obj = api.request("DELETE", "/api/v1/persistentvolumes/" + urllib.parse.quote(name))
    if code in (200, 202):
        log("deleted released volume %s and its data", name)
    elif code != 404:
        log("cannot delete %s: HTTP %d %s", name, code, str(obj)[:200])


def sync(api):
    classes = {sc["metadata"]["name"]: sc for sc in items(api, "/apis/storage.k8s.io/v1/storageclasses")}
    for pvc in items(api, "/api/v1/persistentvolumeclaims"):
        if wants_volume(pvc, classes):
            provision(api, pvc, classes[pvc["spec"]["storageClassName"]])
    for pv in items(api, "/api/v1/persistentvolumes"):
        if released(pv):
            reclaim(api, pv)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--interval", type=float, default=1.0)
    a = ap.parse_args()
    api = Api(a.kubeconfig)
    os.makedirs(VOLUMES_DIR, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log("provisioner %s for StorageClass %s: volumes in %s", PROVISIONER, RIG_STORAGE_CLASS, VOLUMES_DIR)
    while not stop.is_set():
        try:
            ensure_class(api)
            break
        except Exception as e:  # noqa: BLE001 - the API server may still be starting
            log("%s; retrying", e)
            stop.wait(1)
    while not stop.wait(a.interval):
        try:
            sync(api)
        except Exception as e:  # noqa: BLE001 - keep serving after an API hiccup
            log("sync: %s", e)
    log("provisioner stopped")


if __name__ == "__main__":
    main()
