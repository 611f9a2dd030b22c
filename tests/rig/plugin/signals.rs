//! Ctrl-C (SIGINT) in each phase of `failover` and of `apply --wait`: exit 130 within 2 s (a
//! moment of slack for a loaded rig), the drill's lock released, a partial report.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

use crate::harness::{Namespace, Rig, TestResult, ensure, patience, s, wait_until};

const LEASE: &str = "rayservice-ha-rayha-failover";
/// The promise is 2 s; the slack is for a rig whose two cores run three Ray pods.
const PROMPT: Duration = Duration::from_millis(2500);

/// A `kubectl rayha` child whose stderr lines arrive on a channel.
pub(super) struct Watched {
    child: Child,
    lines: mpsc::Receiver<String>,
}

pub(super) fn spawn(rig: &Rig, args: &[&str]) -> Watched {
    let mut child = rig
        .rayha_cmd(args, None)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Watched { child, lines }
}

impl Watched {
    /// Waits for a stderr line containing `needle`.
    pub(super) fn until_line(&self, needle: &str, within: Duration) -> TestResult {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(format!("no line {needle:?} within {within:?}").into()),
            }
        }
    }

    /// SIGINT by pid; the exit status, how long it took, and stdout.
    pub(super) fn interrupt(mut self) -> Result<(ExitStatus, Duration, String), String> {
        let t = Instant::now();
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .map_err(|e| e.to_string())?;
        let status = self.child.wait().map_err(|e| e.to_string())?;
        let took = t.elapsed();
        let mut stdout = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_string(&mut stdout).ok();
        }
        Ok((status, took, stdout))
    }
}

pub(super) fn exited_130(what: &str, status: ExitStatus, took: Duration) -> TestResult {
    println!("Ctrl-C {what}: exit {:?} after {took:?}", status.code());
    ensure(
        status.code() == Some(130),
        format!("Ctrl-C {what}: exit {status:?}"),
    )?;
    ensure(took <= PROMPT, format!("Ctrl-C {what}: took {took:?}"))
}

pub(super) fn lease_gone(rig: &Rig, ns: &str, what: &str) -> TestResult {
    ensure(
        rig.kubectl(&["get", "lease", LEASE, "-n", ns, "-o", "name"])
            .is_err(),
        format!("lock left behind after Ctrl-C {what}"),
    )
}

fn lease_held(rig: &Rig, ns: &str) -> bool {
    rig.kubectl(&["get", "lease", LEASE, "-n", ns, "-o", "name"])
        .is_ok()
}

/// Whether a head pod of `ns` is being deleted.
fn head_terminating(rig: &Rig, ns: &str) -> Result<bool, String> {
    let pods = rig.items(&["pods", "-n", ns, "-l", "ray.io/node-type=head"])?;
    Ok(pods
        .iter()
        .any(|p| p.pointer("/metadata/deletionTimestamp").is_some()))
}

/// Starts a one-round drill on the head `old`, interrupts it as soon as `moment` holds, checks the
/// exit, the partial report and the lock; returns the UID of the head it leaves (or "" while none
/// is up yet).
fn interrupted_after_the_kill(
    rig: &Rig,
    ns: &str,
    old: &str,
    what: &str,
    moment: impl Fn(&Rig, &str) -> Result<bool, String>,
) -> Result<String, Failed> {
    let drill = spawn(
        rig,
        &[
            "failover",
            "rayservice-ha",
            "-n",
            ns,
            "-y",
            "--warmup",
            "2s",
        ],
    );
    wait_until(&format!("the moment {what}"), patience(120), || {
        Ok(moment(rig, ns)?.then_some(()))
    })?;
    let (status, took, partial) = drill.interrupt()?;
    exited_130(what, status, took)?;
    ensure(
        partial.contains("interrupted"),
        format!("no partial report {what}: {partial}"),
    )?;
    lease_gone(rig, ns, what)?;
    // The head that is left once the old one is gone.
    wait_until("the new head pod", patience(120), || {
        let uid = head_uid(rig, ns)?;
        Ok((!uid.is_empty() && uid != old).then_some(uid))
    })
}

fn head_uid(rig: &Rig, ns: &str) -> Result<String, String> {
    let pods = rig.items(&["pods", "-n", ns, "-l", "ray.io/node-type=head"])?;
    Ok(pods
        .iter()
        .find(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .map(|p| s(p, "/metadata/uid").to_string())
        .unwrap_or_default())
}

/// On a Ready RayService in `ns`: Ctrl-C in each phase of the drill (the preflight, the
/// warm-up, the kill with the old head still terminating, the wait for the new head, between
/// rounds). Each ends with 130 in time, the lock released and, once a round has begun, a partial
/// report; the RayService is Ready again afterwards.
pub(super) fn failover_phases(
    rig: &Rig,
    ns: &str,
    wait_ready: &dyn Fn() -> TestResult,
) -> TestResult {
    // At once: in the preflight (or as the lock is taken); nothing is deleted.
    let old = head_uid(rig, ns)?;
    let drill = spawn(rig, &["failover", "rayservice-ha", "-n", ns, "-y"]);
    std::thread::sleep(Duration::from_millis(400));
    let (status, took, _) = drill.interrupt()?;
    exited_130("at the start", status, took)?;
    lease_gone(rig, ns, "at the start")?;
    ensure(
        head_uid(rig, ns)? == old,
        "the head was deleted after Ctrl-C at the start",
    )?;

    // In the warm-up: the lock is held and the load runs; the head is not deleted.
    let drill = spawn(
        rig,
        &[
            "failover",
            "rayservice-ha",
            "-n",
            ns,
            "-y",
            "--warmup",
            "60s",
        ],
    );
    wait_until("the drill's lock taken", patience(60), || {
        Ok(lease_held(rig, ns).then_some(()))
    })?;
    std::thread::sleep(Duration::from_secs(3));
    let (status, took, partial) = drill.interrupt()?;
    exited_130("in the warm-up", status, took)?;
    ensure(
        partial.contains("interrupted"),
        format!("no partial report: {partial}"),
    )?;
    lease_gone(rig, ns, "in the warm-up")?;
    ensure(
        head_uid(rig, ns)? == old,
        "the head was deleted after Ctrl-C in the warm-up",
    )?;

    // During the kill: the old head is deleted and still terminating (its preStop runs).
    let old = interrupted_after_the_kill(rig, ns, &old, "during the kill", |rig, ns| {
        head_terminating(rig, ns)
    })?;
    wait_ready()?;

    // In the recovery wait: the new head exists and is not Ready yet.
    let old_uid = old.clone();
    interrupted_after_the_kill(rig, ns, &old, "in the recovery wait", move |rig, ns| {
        let now = head_uid(rig, ns)?;
        Ok(!now.is_empty() && now != old_uid)
    })?;
    wait_ready()?;

    // Between rounds: once round 1 is over and the drill waits for Ready.
    let drill = spawn(
        rig,
        &[
            "failover",
            "rayservice-ha",
            "-n",
            ns,
            "-y",
            "--warmup",
            "2s",
            "--settle",
            "1s",
            "--rounds",
            "2",
        ],
    );
    drill.until_line("before round 2", patience(300))?;
    let (status, took, partial) = drill.interrupt()?;
    exited_130("between rounds", status, took)?;
    ensure(
        partial.contains("round 1") && partial.contains("interrupted"),
        format!("no partial report with round 1: {partial}"),
    )?;
    lease_gone(rig, ns, "between rounds")?;
    wait_ready()
}

/// `apply --wait` on the rig: Ctrl-C while it waits ends it with 130 in time, saying the rollout
/// goes on; the applied objects stay.
pub(super) fn apply_wait_ends_on_ctrl_c(rig: &Rig) -> TestResult {
    let ns = Namespace::create(rig, "rayha-applyint")?;
    let n = ns.name.as_str();
    let apply = spawn(rig, &["apply", "-n", n, "--timeout", "10m"]);
    apply.until_line("RayCluster created", patience(120))?;
    let (status, took, _) = apply.interrupt()?;
    exited_130("during apply --wait", status, took)?;
    ensure(
        rig.kubectl(&[
            "get",
            "rayservices.ray.io",
            "rayservice-ha",
            "-n",
            n,
            "-o",
            "name",
        ])
        .is_ok(),
        "the RayService is gone after Ctrl-C",
    )?;
    Ok(())
}
