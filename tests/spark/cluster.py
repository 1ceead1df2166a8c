"""A real Spark cluster on 127.0.0.1 for the tests: a standalone master and one worker
started from pyspark's own jars, and a Spark Connect server against them.

The workers' Python is this interpreter behind a wrapper that hides retcalc (the
editable install, the worktree, PYTHONPATH): ``import retcalc`` works there only from
the zip retcalc ships. Every process is started in its own process group and stopped
by its id (:meth:`Cluster.stop`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: sitecustomize of the workers' Python: top-level modules named in RETCALC_TEST_HIDE
#: cannot be imported, but retcalc still can from a zip on sys.path (the shipped one).
HIDE = """\
import importlib.machinery
import os
import sys

HIDDEN = set(os.environ.get("RETCALC_TEST_HIDE", "").split())


class Hide:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in HIDDEN or "." in name:
            return None
        if top == "retcalc":
            zips = [p for p in sys.path if p.endswith(".zip")]
            spec = importlib.machinery.PathFinder.find_spec(name, zips)
            if spec is not None:
                return spec
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path[:] = [Hide] + [
    f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def worker_python(directory: Path, hide: tuple[str, ...] = ("retcalc",)) -> Path:
    """An executable that runs this interpreter with ``hide`` unimportable and no
    PYTHONPATH of its caller."""
    hook = directory / "hook"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(HIDE)
    script = directory / f"python-without-{'-'.join(hide)}"
    script.write_text(
        "#!/bin/sh\n"
        f"export PYTHONPATH='{hook}'\n"
        f"export RETCALC_TEST_HIDE='{' '.join(hide)}'\n"
        f"exec '{sys.executable}' \"$@\"\n"
    )
    script.chmod(0o755)
    return script


def base_env(directory: Path) -> dict[str, str]:
    """The environment of what the fixture starts: no PYTHONPATH, no Spark of the caller;
    Spark's logs (errors only) on stderr."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "SPARK_REMOTE", "PYSPARK_PYTHON", "SPARK_CONF_DIR")
        and not k.startswith("PYSPARK_")
    }
    conf = directory / "conf"
    conf.mkdir(exist_ok=True)
    from retcalc.engines.spark.session import CONF_DIR

    (conf / "log4j2.properties").write_text((CONF_DIR / "log4j2.properties").read_text())
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_CONF_DIR=str(conf),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_NO_DAEMONIZE="1",
    )
    return env


@dataclass
class Cluster:
    directory: Path
    env: dict[str, str]
    master_url: str = ""
    ui_port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    connect_url: str = ""

    def spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                args,
                env=env or self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.directory,
                start_new_session=True,  # its own process group, stopped as one
            )
        self.processes.append(process)
        return process

    def start(self, *, cores: int = 2, memory: str = "1g", timeout: float = 120) -> None:
        """The master, then (once it answers, so the worker need not retry) the worker."""
        spark_class = str(spark_home() / "bin" / "spark-class")
        port, self.ui_port = free_port(), free_port()
        self.master_url = f"spark://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        self.spawn(
            "master",
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                *("--host", "127.0.0.1", "--port", str(port)),
                *("--webui-port", str(self.ui_port)),
            ],
        )
        self._wait_for(lambda state: True, deadline)
        work = self.directory / "work"
        work.mkdir(exist_ok=True)
        self.spawn(
            "worker",
            [
                spark_class,
                "org.apache.spark.deploy.worker.Worker",
                self.master_url,
                *("--host", "127.0.0.1", "--cores", str(cores), "--memory", memory),
                *("--webui-port", str(free_port()), "--work-dir", str(work)),
            ],
        )
        self._wait_for(lambda state: state.get("aliveworkers", 0) >= 1, deadline)

    def _wait_for(self, ready: Callable[[dict[str, Any]], bool], deadline: float) -> None:
        """Until the master's state (its web UI's JSON) is ``ready``."""
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                url = f"http://127.0.0.1:{self.ui_port}/json/"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if ready(json.load(answer)):
                        return
            except (OSError, ValueError):  # not listening yet, or an empty page while starting
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the standalone cluster did not start: see {self.directory}/*.log")

    def start_connect(self, python: Path, *, timeout: float = 120) -> subprocess.Popen[bytes]:
        """A Spark Connect server (pyspark's own jar) on the cluster; its executors run
        ``python``. Stop it with :meth:`stop_one`."""
        port = free_port()
        env = {**self.env, "PYSPARK_PYTHON": str(python)}
        server = self.spawn(
            "connect",
            [
                str(spark_home() / "bin" / "spark-submit"),
                "--class",
                "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--master",
                self.master_url,
                "--conf",
                "spark.cores.max=1",
                "--conf",
                "spark.executor.memory=512m",
                "--conf",
                "spark.driver.memory=512m",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf",
                f"spark.connect.grpc.binding.port={port}",
                "--name",
                "retcalc-tests-connect",
                "spark-internal",
            ],
            env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    self.connect_url = f"sc://127.0.0.1:{port}"
                    return server
            time.sleep(0.5)
        raise RuntimeError(f"the Spark Connect server did not start: see {self.directory}")

    def check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{process.args[1]} exited ({process.returncode}): see {self.directory}/*.log"
                )

    def stop_one(self, process: subprocess.Popen[bytes]) -> None:
        _stop_group(process)
        self.processes.remove(process)

    def stop(self) -> None:
        """Stop every process group started, newest first (the worker's executors are
        in its group)."""
        for process in reversed(self.processes):
            _stop_group(process)
        self.processes.clear()
        # pyspark's Python daemons lead groups of their own; they end with their
        # executor, but any still running in this directory is ended by its id.
        for pid in _running_in(self.directory):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _running_in(directory: Path) -> list[int]:
    """The ids of this user's processes whose working directory is below ``directory``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = Path(os.readlink(entry / "cwd"))
            except OSError:
                continue
            if cwd.is_relative_to(directory) and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        # The group may outlive its leader (an executor's Python): make sure.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return
