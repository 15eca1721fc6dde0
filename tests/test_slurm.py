"""profiles/slurm on a real Slurm engine: a one-node cluster on localhost (Debian's slurm-wlm and
munge), the data and one training run of the tiny profile submitted through
`snakemake --profile profiles/slurm`, and the outputs compared with the same run of the session's
tiny DAG, run locally.

Needs root (slurmd runs jobs as their user) and the Debian packages slurm-wlm and munge (`make
test` installs them where it may); skipped with the reason otherwise. Every daemon is started
in the foreground by this test and stopped by its process id, also when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")
# Columns and keys that measure time or memory, which differ between any two runs.
UNSTABLE_COLUMNS = {"seconds", "epoch_seconds", "peak_memory_mb"}
STABLE_SUMMARY_KEYS = ("dataset", "model", "params", "final_test_accuracy", "best_test_accuracy",
                       "epochs", "seed", "config")
TARGETS = ("train/mnist/mlp/summary.json",)


def _missing_requirement() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "a one-node Slurm cluster needs root (slurmd runs jobs as their user)"
    tools = (*DAEMONS, "mungekey", "sbatch", "squeue", "srun", "sinfo")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        return (f"{', '.join(missing)} not installed (Debian packages slurm-wlm and munge: "
                "apt-get install slurm-wlm munge)")
    return None


# Checked before the tiny DAG is asked for, which a skipped test must not run.
_MISSING = _missing_requirement()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def slurm_conf(root: Path, host: str, cpus: int, memory_mb: int, munge_socket: Path) -> str:
    """A slurm.conf for one node on this machine; every state and log file under `root`."""
    ctld_port, slurmd_port = _free_ports(2)
    return "\n".join([
        "ClusterName=pyode-test",
        f"SlurmctldHost={host}",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SwitchType=switch/none",
        "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SchedulerType=sched/builtin",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        # finished jobs stay visible to squeue, which snakemake polls for their state
        "MinJobAge=600",
        "SlurmdTimeout=60",
        "InactiveLimit=0",
        "KillWait=5",
        f"NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        # the profile sends training to a partition named gpu; both are this one node
        f"PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        f"PartitionName=gpu Nodes={host} MaxTime=INFINITE State=UP",
        "",
    ])


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each daemon by its process id (last started first); SIGKILL after 15 s."""
    for process in reversed(processes):
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def _wait_for(check, what: str, logs: list[Path], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in logs if p.exists())
    raise AssertionError(f"{what} within {timeout:.0f} s\n{tails}")


@contextmanager
def one_node_cluster(root: Path) -> Iterator[dict[str, str]]:
    """munged, slurmctld and slurmd for this machine; yields the environment for Slurm clients."""
    for sub in ("state", "spool", "munge"):
        (root / sub).mkdir(parents=True)
    (root / "munge").chmod(0o700)
    key, munge_socket = root / "munge" / "munge.key", root / "munge" / "munge.socket"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, timeout=30,
                   capture_output=True)
    host = socket.gethostname().split(".")[0]
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, host, os.cpu_count() or 1, memory_mb * 9 // 10,
                               munge_socket))
    # Inside a batch job, snakemake's jobstep plugin removes every SLURM_* variable (SLURM_CONF
    # too) before it calls srun, which then looks only at /etc/slurm: an srun on PATH that sets
    # SLURM_CONF keeps this test's cluster out of the machine's configuration.
    wrappers = root / "bin"
    wrappers.mkdir()
    srun = wrappers / "srun"
    srun.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which("srun")} "$@"\n')
    srun.chmod(0o755)
    env = dict(os.environ, SLURM_CONF=str(conf), PATH=f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    logs = [root / "munged.log", root / "slurmctld.log", root / "slurmd.log"]
    commands = [
        ["munged", "--foreground", "--force", f"--key-file={key}", f"--socket={munge_socket}",
         f"--pid-file={root / 'munge' / 'munged.pid'}", f"--log-file={logs[0]}",
         f"--seed-file={root / 'munge' / 'munged.seed'}"],
        ["slurmctld", "-D", "-i", "-f", str(conf)],
        ["slurmd", "-D", "-f", str(conf)],
    ]
    processes: list[subprocess.Popen] = []
    try:
        for command in commands:
            processes.append(subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            ))
            if command[0] == "munged":
                _wait_for(munge_socket.exists, "munged did not open its socket", logs)

        def node_idle() -> bool:
            for process in processes:
                if process.poll() is not None:
                    raise AssertionError(
                        f"{process.args[0]} exited with {process.returncode}\n"
                        + "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in logs
                                    if p.exists()))
            state = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], env=env, timeout=10,
                                   capture_output=True, text=True)
            return state.returncode == 0 and "idle" in state.stdout

        _wait_for(node_idle, "the Slurm node did not become idle", logs)
        yield env
    finally:
        _stop(processes)


def _outputs(results: Path) -> dict[str, object]:
    """The run's CSVs without their time and memory columns, and its stable summary keys."""
    run = results / "train" / "mnist" / "mlp"
    out: dict[str, object] = {}
    for name in ("iterations.csv", "epochs.csv"):
        table = pd.read_csv(run / name)
        out[name] = table.drop(columns=[c for c in table if c in UNSTABLE_COLUMNS])
    summary = json.loads((run / "summary.json").read_text())
    out["summary"] = {key: summary[key] for key in STABLE_SUMMARY_KEYS}
    out["mnist"] = json.loads((results / "data" / "mnist" / "summary.json").read_text())
    return out


def test_tiny_profile_on_a_one_node_slurm_cluster(snakemake, tiny_dag, subprocess_env,
                                                   tmp_path) -> None:
    cluster = tmp_path / "slurm" / "results"
    started = time.monotonic()
    with one_node_cluster(tmp_path / "cluster") as slurm_env:
        env = dict(subprocess_env, SLURM_CONF=slurm_env["SLURM_CONF"],
                   PATH=f"{slurm_env['PATH'].split(os.pathsep)[0]}{os.pathsep}"
                        f"{subprocess_env['PATH']}")
        run = snakemake(
            "--profile", "profiles/slurm", *[str(cluster / target) for target in TARGETS],
            "--slurm-no-account", "--slurm-status-command", "squeue",
            "--slurm-init-seconds-before-status-checks", "2",
            "--slurm-logdir", str(tmp_path / "slurm-logs"), "--latency-wait", "10",
            # last: --config takes every argument that follows it
            "--configfile", ".test/config.yaml", "--config", f"results={cluster}",
            env=env, timeout=400,
        )
        submitted = run.stdout.count("has been submitted with SLURM jobid")
    print(f"slurm run: {time.monotonic() - started:.1f} s, {submitted} batch jobs")
    assert run.returncode == 0, run.stdout[-10000:]
    assert submitted >= 2, run.stdout[-5000:]

    expected, actual = _outputs(tiny_dag.results), _outputs(cluster)
    for name in ("iterations.csv", "epochs.csv"):
        pd.testing.assert_frame_equal(actual[name], expected[name])
    assert actual["summary"] == expected["summary"]
    assert actual["mnist"] == expected["mnist"]
