"""Memory (PSS) and CPU of the running rig, grouped: control plane, operator, agent+kube-proxy,
and each rig pod (every process in the pod's PID namespace).

  python3 rig/agent/measure.py [SECONDS]     (default 30; run as root)

CPU is the share of one core over SECONDS; PSS splits shared pages fairly, so the groups add up.
"""
import os
import sys
import time

STATE = os.environ.get("RAYHA_RIG_STATE", "/var/tmp/kubectl-rayha-rig")
CACHE = os.environ.get("RAYHA_RIG_CACHE", "/var/cache/kubectl-rayha-rig")
TICK = os.sysconf("SC_CLK_TCK")


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except (OSError, IndexError):
        return 0


def pod_of_pidns():
    """pid-namespace inode -> pod label, from the agent's PID-1 pidfiles."""
    out = {}
    base = os.path.join(STATE, "agent", "pods")
    for d in os.listdir(base) if os.path.isdir(base) else []:
        for f in os.listdir(os.path.join(base, d)):
            if f.endswith(".init.pid"):
                try:
                    pid = int(open(os.path.join(base, d, f)).read())
                    out[os.stat("/proc/%d/ns/pid" % pid).st_ino] = "pod " + d.rsplit("_", 1)[0].replace("_", "/", 1)
                except (OSError, ValueError):
                    pass
    return out


def group(pid, pods, named):
    try:
        ino = os.stat("/proc/%d/ns/pid" % pid).st_ino
    except OSError:
        return None
    if ino in pods:
        return pods[ino]
    return named.get(pid)


def named_pids():
    out = {}
    pdir = os.path.join(STATE, "pids")
    for f in os.listdir(pdir) if os.path.isdir(pdir) else []:
        if f.endswith(".pid"):
            try:
                out[int(open(os.path.join(pdir, f)).read())] = f[:-4]
            except (OSError, ValueError):
                pass
    # the agent's launchers (outside the pods' PID namespaces) count for the agent
    base = os.path.join(STATE, "agent", "pods")
    for d in os.listdir(base) if os.path.isdir(base) else []:
        for f in os.listdir(os.path.join(base, d)):
            if f.endswith(".launcher.pid"):
                try:
                    out[int(open(os.path.join(base, d, f)).read())] = "rayha-agent (launchers)"
                except (OSError, ValueError):
                    pass
    return out


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    pods, named = pod_of_pidns(), named_pids()
    t0 = {p: cpu_ticks(p) for p in pids()}
    time.sleep(secs)
    groups = {}
    for p in pids():
        g = group(p, pods, named)
        if g is None:
            continue
        cpu = (cpu_ticks(p) - t0.get(p, cpu_ticks(p))) / TICK / secs
        m = groups.setdefault(g, [0, 0.0, 0])
        m[0] += pss_kb(p)
        m[1] += cpu
        m[2] += 1
    tot = [0, 0.0, 0]
    print("%-62s %10s %8s %6s" % ("group", "PSS MiB", "CPU %", "procs"))
    for g in sorted(groups):
        m = groups[g]
        print("%-62s %10.0f %8.1f %6d" % (g, m[0] / 1024, m[1] * 100, m[2]))
        tot = [tot[0] + m[0], tot[1] + m[1], tot[2] + m[2]]
    print("%-62s %10.0f %8.1f %6d" % ("total", tot[0] / 1024, tot[1] * 100, tot[2]))
    with open("/proc/loadavg") as f:
        print("loadavg:", f.read().strip())


if __name__ == "__main__":
    main()
