"""Runs one container of a rig pod: the 'container runtime' of the rig's node agent.

Started by the agent as ``nsenter --net=/run/netns/<pod> python3 launcher.py SPEC.json``, so it
already lives in the pod's network namespace.  It then makes private mount, PID and UTS
namespaces, and forks the container's init (PID 1 of the new PID namespace), which

  * mounts a fresh /proc, a private /dev/shm and /tmp (a new directory per start, so /tmp/ray
    never holds an older run's sessions), binds the pod's /etc/hosts and /etc/resolv.conf and
    every volume at its mountPath,
  * sets the hostname to the pod's name, switches to runAsUser/runAsGroup when given,
  * and execs the container's command, which so becomes PID 1 as in a real container (the
    kernel ignores SIGTERM for a PID 1 without a handler; when PID 1 exits, the kernel kills
    whatever is left in the PID namespace).

The launcher itself stays outside the new PID namespace, forwards SIGTERM to that PID 1 and
exits with its status; if the launcher is SIGKILLed, the init gets SIGKILL too (parent-death
signal), which tears the whole PID namespace down.  Only the standard library is used.
"""
import ctypes
import ctypes.util
import json
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src, dst, fstype, flags, data=None):
    _check(libc.mount(src.encode() if src else None, dst.encode(),
                      fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None), f"mount {src} on {dst}")


def ensure_mountpoint(path, is_file):
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    if is_file:
        open(path, "a").close()
    else:
        os.makedirs(path, exist_ok=True)


def setup_fs(spec):
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=%s,mode=1777" % spec.get("shm_size", "512m"))
    # Binds: sorted by depth so that nested mountPaths land inside their parents.
    for b in sorted(spec["binds"], key=lambda b: b["target"].rstrip("/").count("/")):
        src, dst = b["source"], b["target"]
        ensure_mountpoint(dst, os.path.isfile(src))
        mount(src, dst, None, MS_BIND | MS_REC)
        if b.get("readonly"):
            try:
                mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
            except OSError:
                pass


def container_main(spec):
    env = spec["env"]
    os.chdir(spec.get("workdir") or "/")
    gid, uid = spec.get("gid"), spec.get("uid")
    if gid is not None:
        os.setgroups([gid] + list(spec.get("supplemental_groups", [])))
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)
    argv = spec["argv"]
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # Python ignores these; a container must not
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        sys.stderr.write(f"rig launcher: cannot exec {argv[0]!r}: {e}\n")
        os._exit(127)


def init_main(spec):
    """Becomes PID 1 of the container's PID namespace: sets up, then execs the command.

    As in a container, the command itself is PID 1, so the kernel drops every signal it has no
    handler for (a `bash -c` or `python` PID 1 ignores SIGTERM and runs until the grace period
    ends and SIGKILL comes), and it reaps orphans (or not) like the real thing."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    name = spec.get("hostname", "pod")[:63].encode()
    _check(libc.sethostname(name, len(name)), "sethostname")
    setup_fs(spec)
    container_main(spec)


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS), "unshare")
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])
    init = os.fork()
    if init == 0:
        try:
            init_main(spec)
        except BaseException as e:  # noqa: BLE001 - report and fail the container
            sys.stderr.write(f"rig launcher: container setup failed: {e}\n")
            os._exit(126)
    if spec.get("pidfile"):
        with open(spec["pidfile"] + ".tmp", "w") as f:
            f.write(str(init))
        os.rename(spec["pidfile"] + ".tmp", spec["pidfile"])
    while True:
        sig_or_none = signal.sigtimedwait([signal.SIGTERM, signal.SIGINT], 0.2)
        if sig_or_none is not None:
            try:
                os.kill(init, sig_or_none.si_signo)
            except ProcessLookupError:
                pass
        pid, st = os.waitpid(init, os.WNOHANG)
        if pid == init:
            code = os.waitstatus_to_exitcode(st)
            sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
