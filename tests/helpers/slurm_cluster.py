"""A real one-node Slurm (Debian's slurm-wlm 22.05) for the tests, run as root without systemd.

munged, slurmctld and slurmd run in the foreground as children of the test process and are stopped
by PID. The node has fake GPUs (gres.conf ``File=/dev/null`` etc.): Slurm schedules it like a real
one and sets ``CUDA_VISIBLE_DEVICES`` in the job. No slurmdbd, so no accounting: Snakemake must use
``slurm-status-command: squeue``.

The config must live at /etc/slurm/slurm.conf (the compiled-in default): the slurm-jobstep plugin
strips ``SLURM_CONF`` from the environment of the ``srun`` inside each job. An existing slurm.conf
that these tests did not write is never touched (the tests are skipped instead).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ETC = Path("/etc/slurm")
CONF = ETC / "slurm.conf"
GRES_CONF = ETC / "gres.conf"
MARKER = "# written by fundiff tests/helpers/slurm_cluster.py"
PACKAGES = ["slurm-wlm", "munge"]
BINARIES = ["munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol"]
PARTITION = "debug"  # the default partition
GPU_PARTITION = "gpu"  # a second partition on the same node, for FUNDIFF_SLURM_GPU_PARTITION
SKIP_ENV = "FUNDIFF_SKIP_SYSTEM_TESTS"


def _run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def unavailable_reason() -> str | None:
    """Why a local Slurm cannot be set up here, or None. Installs the packages with apt if needed."""
    if os.environ.get(SKIP_ENV, "") not in ("", "0"):
        return f"{SKIP_ENV} is set (this test installs slurm-wlm and munge system-wide as root)"
    if os.name != "posix" or os.geteuid() != 0:
        return "a local Slurm needs root (slurmd/slurmctld run as root, packages come from apt)"
    if CONF.exists() and MARKER not in CONF.read_text():
        return f"{CONF} exists and was not written by these tests; refusing to overwrite it"
    if all(shutil.which(b) for b in BINARIES):
        return None
    if not shutil.which("apt-get"):
        return f"Slurm is not installed ({', '.join(PACKAGES)}) and apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    try:
        proc = _run(install, timeout=600, env=env)
        if proc.returncode != 0:  # stale package lists on a fresh machine: update once, retry
            _run(["apt-get", "update"], timeout=300, env=env)
            proc = _run(install, timeout=600, env=env)
    except subprocess.TimeoutExpired:
        return "apt-get install slurm-wlm munge timed out"
    if proc.returncode != 0:
        return f"apt-get install {' '.join(PACKAGES)} failed: {proc.stderr.strip()[-500:]}"
    missing = [b for b in BINARIES if not shutil.which(b)]
    return f"Slurm binaries missing after install: {missing}" if missing else None


def _free_port(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class SlurmCluster:
    """``with SlurmCluster() as c:`` gives a running one-node cluster with partition ``debug``."""

    def __init__(self, cpus: int = 16, mem_mb: int = 256000, gpus: int = 2):
        self.cpus = cpus
        self.gpus = gpus
        self.mem_mb = mem_mb
        self.dir = Path(tempfile.mkdtemp(prefix="fundiff-slurm-"))
        self.node = socket.gethostname().split(".")[0]
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: list = []

    # -- setup ---------------------------------------------------------------------------------
    def _write_configs(self) -> None:
        d = self.dir
        for sub in ("munge", "state", "spool", "log"):
            (d / sub).mkdir(mode=0o700)
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        ETC.mkdir(parents=True, exist_ok=True)
        # SlurmdParameters=config_overrides: the node is what this file says (CPUs, memory, GPU),
        # not what the hardware reports, so the same test runs on any CI machine; CPUs and memory
        # are generous so that only the GPUs (and Snakemake's --jobs) limit concurrency. task/none and
        # proctrack/linuxproc: no cgroups or systemd needed. MinJobAge: squeue must still see
        # finished jobs when Snakemake asks (and when the test inspects them afterwards).
        CONF.write_text(
            f"""{MARKER}
ClusterName=fundifftest
SlurmctldHost={self.node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.socket
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
MinJobAge=900
DefMemPerCPU=1000
ReturnToService=2
MpiDefault=none
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb} Gres=gpu:{self.gpus} State=UNKNOWN
PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
PartitionName={GPU_PARTITION} Nodes={self.node} Default=NO MaxTime=INFINITE State=UP
"""
        )
        # Fake GPUs: any existing device file will do (Count without File leaves the node INVAL).
        fake = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random"][: self.gpus]
        GRES_CONF.write_text(
            MARKER + "\n" + "".join(f"NodeName={self.node} Name=gpu File={f}\n" for f in fake)
        )

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.dir / "log" / f"{name}.out", "w")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _wait(self, what: str, ok, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({p.returncode}) while waiting for {what}\n{self.logs()}"
                    )
            if ok():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")

    def start(self) -> SlurmCluster:
        for port in (6817, 6818):
            if not _free_port(port):
                raise RuntimeError(f"port {port} is in use: is another Slurm running here?")
        self._write_configs()
        d = self.dir
        sock = str(d / "munge" / "munge.socket")
        self._spawn(
            "munged",
            ["munged", "--foreground", "--force", f"--socket={sock}",
             f"--key-file={d}/munge/munge.key", f"--log-file={d}/log/munged.log",
             f"--pid-file={d}/munge/munged.pid", f"--seed-file={d}/munge/munged.seed"],
        )  # fmt: skip
        self._wait("munged", lambda: Path(sock).exists(), 20)
        self._spawn("slurmctld", ["slurmctld", "-D", "-c", "-i"])
        self._wait("slurmctld", lambda: _run(["sinfo", "-h"], timeout=10).returncode == 0, 60)
        self._spawn("slurmd", ["slurmd", "-D"])
        self._wait("the node to be idle", self._node_idle, 90)
        return self

    def _node_idle(self) -> bool:
        state = _run(["sinfo", "-h", "-n", self.node, "-o", "%t"], timeout=10).stdout.strip()
        if state.rstrip("*~#") in ("inval", "drain", "drng", "down"):
            _run(["scontrol", "update", f"nodename={self.node}", "state=resume"], timeout=10)
        return state == "idle"

    # -- teardown ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel leftover jobs, stop the daemons (by PID), remove the config files we wrote."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                for partition in (PARTITION, GPU_PARTITION):
                    _run(["scancel", "--full", "--partition", partition], timeout=15)
            except subprocess.TimeoutExpired:
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=15)
        for log in self._logs:
            log.close()
        for f in (CONF, GRES_CONF):
            if f.exists() and MARKER in f.read_text():
                f.unlink()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        """Tail of every daemon log, for assertion messages."""
        out = []
        for f in sorted((self.dir / "log").glob("*")):
            out.append(f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}")
        return "\n".join(out)

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still remembers (finished ones for MinJobAge s), as key=value dicts."""
        out = _run(["scontrol", "-d", "-o", "show", "job"], timeout=30).stdout
        jobs = []
        for line in out.splitlines():
            fields = {}
            for tok in line.split():
                k, _, v = tok.partition("=")
                fields.setdefault(k, v)  # -d repeats some keys per node; keep the job-level one
            if "JobId" in fields:
                jobs.append(fields)
        return jobs

    def __enter__(self) -> SlurmCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
