"""Section kernels forked from a warm zygote: a kernel provisioner and the papermill engine `kefu`.

Starting a `kefu-weikan` kernel costs ~1 s of process start and ipykernel/IPython imports,
and a section then spends another 0.5-1 s importing Altair and `helpers.report`:
seventeen times per publish. Here one *zygote* process of the kernel's interpreter
imports all that once (and warms Altair's schema validator); every kernel is then a
`fork()` of it that runs a fresh `IPKernelApp` on its own connection file. Each section
still gets a kernel of its own (a new process, nothing executed before it but imports),
so nothing is shared between sections.

- `ForkingProvisioner`: a jupyter_client kernel provisioner (a `LocalProvisioner`
  whose `launch_kernel` asks the zygote for a fork); it falls back to the usual
  `Popen` launch, with a one-line warning, when the zygote cannot start.
- `KefuEngine`: the papermill engine `kefu` (entry point in pyproject.toml); it is
  nbclient's engine with `KefuKernelManager`, whose kernels use the provisioner.
- `zygote_session()`, `start()`, `shutdown()`: the zygote's lifetime. It is shared by
  every execution in this process, started lazily on first use and stopped at exit.

Fork safety: the zygote holds no thread (Python or native: it starts with OpenBLAS at
one thread and jemalloc without its background thread), no zmq context and no event
loop; it checks so before serving and before each fork, and refuses otherwise.
See docs/decisions.md, "Section kernels: forked from a warm zygote".
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Type

log = logging.getLogger(__name__)

KERNEL = "kefu-weikan"
#: Imported by the zygote before it serves: ipykernel (required) and what a starting kernel
#: imports next (its shell, history, debugger), then what a section notebook imports to
#: present the figure store — and nothing more: pandas, pyarrow and DuckDB serve analysts
#: exploring rows, never the publish path. A module that fails to import here is skipped:
#: the kernel imports it itself, and reports any error.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython",
    "IPython.core.history",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.extensions.storemagic",
    # What IPKernelApp and InteractiveShell import only when they start (found by listing
    # the modules a forked kernel added): ~20 ms of every kernel otherwise.
    "faulthandler",
    "tornado.platform.asyncio",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.utils.wildcard",
    "sqlite3",
    "tornado.queues",
    "psutil",
    "altair",
    "helpers.fmt",
    "helpers.report.notebook",
    "helpers.report.charts",
    "helpers.report.markup",
    "helpers.report.render",
    "helpers.figures.metrics",
)
REQUIRED = ("ipykernel.kernelapp",)
#: Set in the zygote's environment before its imports, so that no native thread exists
#: when it forks: OpenBLAS starts a thread pool and pyarrow's jemalloc a purging thread at
#: import time. (Kernels therefore run BLAS on one thread; on 2 cores, 2 kernels at once.)
ZYGOTE_ENV = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
#: Modules read some environment variables when they are imported (`helpers.paths` reads
#: KFWK_CACHE, ipykernel JPY_PARENT_PID), so a zygote serves only kernels whose environment
#: is the one it was started with, except for these (read at run time, or informative).
RUNTIME_ENV = frozenset({"JPY_PARENT_PID", "JPY_SESSION_NAME", "JPY_INTERRUPT_EVENT", "PYTEST_CURRENT_TEST"})
READY_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0
_BOOT = "import sys; from helpers.publish.kernels import _zygote_main; _zygote_main(sys.argv[1])"


class ZygoteUnavailable(RuntimeError):
    """The zygote could not start or could not fork a kernel."""


# --------------------------------------------------------------------------------------
# The zygote process: it runs with the kernel's interpreter, imports PRELOAD, then forks
# kernels on request.


def _zygote_main(sock_path: str) -> None:
    """Entry point of the zygote: import, warm up, then serve fork requests.

    Returns in the zygote when it shuts down; in a forked child it runs the kernel and
    returns when the kernel exits, so the interpreter then ends as `python -m
    ipykernel_launcher` would.
    """
    # `-c` put the zygote's working directory first on sys.path; ipykernel_launcher
    # removes it too, and IPython puts '' back before site-packages.
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    skipped = _preload()
    problems = _fork_hazards()
    if problems:
        _tell_parent({"error": "not fork-safe after imports: " + "; ".join(problems)})
        return
    import gc

    gc.freeze()  # keep the imported objects out of the collector: fewer pages copied on write
    server = _ZygoteServer(sock_path)
    _tell_parent({"ready": True, "pid": os.getpid(), "skipped": skipped})
    os.dup2(2, 1)  # the publisher stops reading the pipe: later output goes to the zygote's log
    job = server.serve()
    if job is not None:  # this is a forked child: become the kernel
        _run_kernel(job)


def _preload() -> list[str]:
    import importlib

    skipped = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:
            if name in REQUIRED:
                _tell_parent({"error": f"cannot import {name}: {exc!r}"})
                raise SystemExit(1) from exc
            skipped.append(f"{name}: {exc!r}")
            print(f"kefu zygote: not preloaded: {name}: {exc!r}", file=sys.stderr, flush=True)
    with contextlib.suppress(Exception):
        import altair as alt
        from altair.utils.schemapi import debug_mode

        from helpers.report import charts

        # Building one spec runs Altair's conversion code once, the way section kernels do:
        # without validating (charts._builder), so the schema stays unloaded here too.
        with debug_mode(False):
            chart = alt.Chart(alt.Data(values=[{"a": 1}])).mark_bar().encode(x="a:Q")
        charts.spec(chart)
    return skipped


def _fork_hazards() -> list[str]:
    """What would make fork() unsafe here: threads, a zmq context, an event loop."""
    problems = []
    if threading.active_count() != 1:
        problems.append(f"Python threads: {[t.name for t in threading.enumerate()]}")
    with contextlib.suppress(OSError):
        tasks = os.listdir("/proc/self/task")
        if len(tasks) != 1:
            names = []
            for tid in tasks:
                with contextlib.suppress(OSError):
                    names.append(Path(f"/proc/self/task/{tid}/comm").read_text().strip())
            problems.append(f"{len(tasks)} OS threads: {names}")
    zmq = sys.modules.get("zmq")
    if zmq is not None and getattr(zmq.Context, "_instance", None) is not None:
        problems.append("a zmq context exists")
    aio = sys.modules.get("asyncio")
    if aio is not None:
        policy = getattr(aio.events, "_event_loop_policy", None)  # read, not created, here
        if (
            aio.events._get_running_loop() is not None
            or getattr(getattr(policy, "_local", None), "_loop", None) is not None
        ):
            problems.append("an asyncio event loop exists")
    return problems


def _tell_parent(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class _Job:
    """A fork request, as the child receives it."""

    def __init__(self, args: list[str], cwd: str, env: dict[str, str], stdio: list[int]) -> None:
        self.args, self.cwd, self.env, self.stdio = args, cwd, env, stdio


class _ZygoteServer:
    """The zygote's loop: accept requests, fork, report each child's exit, reap."""

    def __init__(self, sock_path: str) -> None:
        self.pid = os.getpid()
        self.path = sock_path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(sock_path)
        self.listener.listen(64)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a Python handler, so the wakeup fd fires
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self.stopping = False
        self.children: dict[int, socket.socket | None] = {}  # pid -> the requester's connection
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.sel.register(sys.stdin, selectors.EVENT_READ, "parent")  # EOF: the publisher is gone

    def _on_sigterm(self, *_: Any) -> None:
        self.stopping = True

    def serve(self) -> _Job | None:
        try:
            while not self.stopping:
                for key, _ in self.sel.select(timeout=1.0):
                    if key.data == "accept":
                        job = self._accept()
                        if job is not None:
                            return job  # in the child
                    elif key.data == "wake":
                        with contextlib.suppress(BlockingIOError):
                            os.read(self.wake_r, 4096)
                    elif key.data == "parent":
                        if not os.read(sys.stdin.fileno(), 4096):
                            self.stopping = True
                    else:
                        self._client_readable(key.fileobj, key.data)
                self._reap()
            return None
        finally:
            if os.getpid() == self.pid:
                self._shutdown()

    def _accept(self) -> _Job | None:
        conn, _ = self.listener.accept()
        conn.settimeout(10)
        fds: list[int] = []
        try:
            header, fds, _flags, _addr = socket.recv_fds(conn, 4, 4)
            if len(header) != 4:
                raise OSError("truncated request")
            payload = _recv_exact(conn, struct.unpack("!I", header)[0])
            request = json.loads(payload)
            problems = _fork_hazards()
            if problems:
                raise OSError("not fork-safe: " + "; ".join(problems))
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            pid = os.fork()
        except Exception as exc:
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
            conn.close()
            return None
        if pid == 0:
            self._forget(conn)
            return _Job(request["args"], request["cwd"], request["env"], fds)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        try:
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            conn.setblocking(False)
            self.sel.register(conn, selectors.EVENT_READ, pid)
        except OSError:  # the requester is gone already
            self._orphan(pid)
        return None

    def _forget(self, conn: socket.socket) -> None:
        """In a new child: drop everything that belongs to the zygote."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.sel.close()
        self.listener.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        for other in self.children.values():
            if other is not None:
                other.close()
        self.children.clear()
        conn.close()

    def _client_readable(self, conn: Any, pid: int) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the requester closed its end while the kernel runs: stop the kernel
            self._orphan(pid)

    def _orphan(self, pid: int) -> None:
        conn = self.children.get(pid)
        if conn is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(conn)
            conn.close()
            self.children[pid] = None
        _signal_group(pid, signal.SIGTERM)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._report_exit(pid, os.waitstatus_to_exitcode(status))

    def _report_exit(self, pid: int, code: int) -> None:
        conn = self.children.pop(pid, None)
        if conn is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(conn)
        with contextlib.suppress(OSError):
            conn.setblocking(True)
            conn.settimeout(2)
            conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
        conn.close()

    def _shutdown(self) -> None:
        for pid in list(self.children):
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        for pid in list(self.children):
            _signal_group(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(pid, 0)
                self._report_exit(pid, os.waitstatus_to_exitcode(status))
        # The folder holds only the socket and this zygote's log: the publisher removes it
        # too, but not if it was killed.
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)


def _signal_group(pid: int, signum: int) -> None:
    """Signal a forked kernel's process group (it is the group's leader), else the kernel."""
    try:
        os.killpg(pid, signum)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _run_kernel(job: _Job) -> None:
    """In a forked child: become `python -m ipykernel_launcher <args>` in the request's cwd and env."""
    try:
        os.setsid()  # its own process group, as jupyter_client's launcher does (start_new_session)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        out, err = job.stdio if len(job.stdio) == 2 else (devnull, devnull)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in {devnull, *job.stdio} - {0, 1, 2}:
            os.close(fd)
        os.chdir(job.cwd)
        os.environ.clear()
        os.environ.update(job.env)
        # ipykernel's parent poller: exit if the zygote (this process's parent) dies.
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        if "numpy.random" in sys.modules:  # its global generator was seeded once, in the zygote
            sys.modules["numpy.random"].seed()
        import importlib.util

        launcher = importlib.util.find_spec("ipykernel_launcher")
        sys.argv = [launcher.origin if launcher and launcher.origin else "ipykernel_launcher", *job.args]
        from ipykernel import kernelapp
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(1)
    # parent_handle's default was read from the zygote's environment when ipykernel was imported.
    kernelapp.IPKernelApp.launch_instance(argv=job.args, parent_handle=os.getppid())


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = conn.recv(min(remaining, 1 << 16))
        if not chunk:
            raise OSError("connection closed mid-request")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------------------
# The publisher's side: one zygote per kernel interpreter, shared by every execution.


def _env_key(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in env.items() if k not in RUNTIME_ENV))


def _zygote_env(env: dict[str, str]) -> dict[str, str]:
    """The kernel's environment, plus what keeps the zygote free of native threads."""
    zygote_env = {**env, **ZYGOTE_ENV}
    if env.get("JE_ARROW_MALLOC_CONF"):  # keep the user's jemalloc settings
        zygote_env["JE_ARROW_MALLOC_CONF"] += "," + env["JE_ARROW_MALLOC_CONF"]
    return zygote_env


def _split_cmd(cmd: list[str]) -> tuple[tuple[str, ...], list[str]] | None:
    """`[python, *options, -m, ipykernel_launcher, *args]` -> ((python, *options), args)."""
    cmd = [os.path.expanduser(part) for part in cmd]
    for i in range(1, len(cmd) - 1):
        if cmd[i] == "-m":
            if cmd[i + 1] not in ("ipykernel_launcher", "ipykernel") or "-c" in cmd[1:i]:
                return None
            return tuple(cmd[:i]), cmd[i + 2 :]
    return None


def _running(pid: int) -> bool:
    """Whether a process that is not our child runs (a zombie waiting for init to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if os.path.isdir("/proc/self"):
            return False
        try:  # no /proc: a zombie counts as running
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


class _ForkedKernel:
    """The publisher's handle on one forked kernel: its PID and, later, its exit code."""

    def __init__(self, sock: socket.socket, pid: int, buffered: bytes) -> None:
        self.sock, self.pid, self._buf = sock, pid, buffered
        self.returncode: int | None = None
        self._zygote_gone = False
        sock.setblocking(False)
        self._parse()

    def poll(self) -> int | None:
        if self.returncode is None and not self._zygote_gone:
            while True:
                try:
                    data = self.sock.recv(4096)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    self._zygote_gone = True
                    break
                self._buf += data
            self._parse()
        if self.returncode is None and self._zygote_gone and not _running(self.pid):
            # No exit status will come: the kernel ended by itself (its parent poller saw the zygote go).
            self.returncode = 1
        return self.returncode

    def _parse(self) -> None:
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            message = json.loads(line)
            if "exit" in message:
                self.returncode = int(message["exit"])

    def close(self) -> None:
        self.sock.close()


class _Zygote:
    """A zygote process for one interpreter (argv[0] and options of a kernelspec)."""

    def __init__(self, interp: tuple[str, ...], env: dict[str, str]) -> None:
        self.interp = interp
        self.dir = Path(tempfile.mkdtemp(prefix="kefu-zygote-"))
        self.sock_path = str(self.dir / "zygote.sock")
        self.log_path = self.dir / "zygote.log"
        self.error: str | None = None
        self.ready = False
        self._lock = threading.Lock()
        try:
            with open(self.log_path, "wb") as log_file:
                self.proc = subprocess.Popen(
                    [*interp, "-c", _BOOT, self.sock_path],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log_file,
                    cwd=self.dir,
                    env=_zygote_env(env),
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until the zygote has imported everything; raise ZygoteUnavailable if it cannot."""
        with self._lock:
            if self.ready:
                return
            if self.error is None:
                self.error = self._read_ready(timeout)
                if self.error is None:
                    self.ready = True
                    return
            raise ZygoteUnavailable(self.error)

    def _read_ready(self, timeout: float) -> str | None:
        assert self.proc.stdout is not None
        fd, buf = self.proc.stdout.fileno(), b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return f"not ready after {timeout:.0f} s"
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait()
                    return f"exited with code {self.proc.returncode}: {self._last_log_line()}"
                buf += chunk
        self.proc.stdout.close()
        message = json.loads(buf.split(b"\n", 1)[0])
        if "error" in message:
            return str(message["error"])
        for skipped in message.get("skipped", []):
            log.info("kernel zygote did not preload %s", skipped)
        return None

    def _last_log_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
            if lines:
                return lines[-1]
        return "no message"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, args: list[str], cwd: str, env: dict[str, str], stdio: list[int]) -> _ForkedKernel:
        self.wait_ready()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(REQUEST_TIMEOUT)
        try:
            sock.connect(self.sock_path)
            payload = json.dumps({"args": args, "cwd": cwd, "env": env}).encode()
            socket.send_fds(sock, [struct.pack("!I", len(payload))], stdio)
            sock.sendall(payload)
            buf = b""
            while b"\n" not in buf:
                chunk = sock.recv(4096)
                if not chunk:
                    raise OSError("the zygote closed the connection")
                buf += chunk
        except OSError as exc:
            sock.close()
            raise ZygoteUnavailable(f"fork request failed: {exc}") from exc
        line, rest = buf.split(b"\n", 1)
        reply = json.loads(line)
        if "pid" not in reply:
            sock.close()
            raise ZygoteUnavailable(f"the zygote refused to fork: {reply.get('error')}")
        return _ForkedKernel(sock, int(reply["pid"]), rest)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the zygote's lifeline (it then stops its kernels and exits); kill it if it lingers."""
        if not self.ready and self.alive():
            self.proc.terminate()  # still importing (it serves no kernel yet)
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        with contextlib.suppress(OSError):
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


_lock = threading.Lock()
# One zygote per kernel interpreter and environment: in the publisher, exactly one.
_zygotes: dict[tuple, _Zygote] = {}
_warned: set[tuple[str, ...]] = set()
_enabled = True


def _zygote(interp: tuple[str, ...], env: dict[str, str]) -> _Zygote:
    key = (interp, _env_key(env))
    with _lock:
        zygote = _zygotes.get(key)
        if zygote is not None and zygote.ready and not zygote.alive():
            zygote.stop()  # it died after starting (killed, OOM): start another one
            zygote = None
        if zygote is None:
            try:
                zygote = _zygotes[key] = _Zygote(interp, env)
            except OSError as exc:
                raise ZygoteUnavailable(f"cannot start {interp[0]}: {exc}") from exc
        return zygote


def start(kernel_name: str = KERNEL) -> None:
    """Start the zygote for `kernel_name` now, without waiting for its imports."""
    from string import Template

    from jupyter_client.kernelspec import KernelSpecManager

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
        split = _split_cmd([*spec.argv])
        if split is None:
            return
        # The environment the kernel will get: what LocalProvisioner.pre_launch builds.
        env = dict(os.environ)
        env.update({k: Template(v).safe_substitute(env) for k, v in spec.env.items()})
        env.pop("PYTHONEXECUTABLE", None)
        _zygote(split[0], env)
    except Exception as exc:  # reported (once) when a kernel is launched
        log.debug("kernel zygote for %s not started: %s", kernel_name, exc)


def shutdown() -> None:
    """Stop every zygote of this process and the kernels forked from it (also run at exit)."""
    with _lock:
        zygotes = list(_zygotes.values())
        _zygotes.clear()
        _warned.clear()
    for zygote in zygotes:
        zygote.stop()


atexit.register(shutdown)


def zygote_pids() -> list[int]:
    """PIDs of the running zygotes (for tests and diagnostics)."""
    with _lock:
        return [z.pid for z in _zygotes.values() if z.alive()]


@contextlib.contextmanager
def zygote_session(kernel_name: str = KERNEL, *, enabled: bool = True) -> Iterator[None]:
    """Kernels started inside are forked from a zygote started on entry and stopped on exit.

    With `enabled=False` they start the usual way (worth it for one or two kernels: the
    zygote's imports cost more than one kernel's start)."""
    global _enabled
    previous = _enabled
    _enabled = enabled
    try:
        if enabled:
            start(kernel_name)
        yield
    finally:
        _enabled = previous
        if enabled:
            shutdown()


def _stdio_fds(kwargs: dict[str, Any]) -> list[int] | None:
    """The descriptors the kernel writes to: Popen's `stdout`/`stderr`, else this process's
    (as a Popen child inherits them); [] for /dev/null; None if only Popen can do it."""
    fds = []
    for name, default in (("stdout", 1), ("stderr", 2)):
        target = kwargs.get(name)
        if target is None:
            fd = default
        elif isinstance(target, int) and target >= 0:
            fd = target
        elif hasattr(target, "fileno"):
            fd = target.fileno()
        else:  # subprocess.PIPE, DEVNULL and the like
            return None
        try:
            os.fstat(fd)
        except OSError:
            return []  # closed: the kernel writes to /dev/null
        fds.append(fd)
    return fds


_LAUNCH_KWARGS = {"env", "cwd", "stdout", "stderr", "stdin", "independent", "extra_arguments", "kernel_id"}


def _fork_kernel(cmd: list[str], kwargs: dict[str, Any]) -> _ForkedKernel | None:
    """Fork `cmd` from the zygote, or None: start it the usual way."""
    split = _split_cmd(cmd)
    if (
        not _enabled
        or split is None
        or os.name != "posix"
        or kwargs.get("independent")
        or kwargs.get("stdin") is not None
        or set(kwargs) - _LAUNCH_KWARGS
    ):
        return None
    interp, args = split
    stdio = _stdio_fds(kwargs)
    env = dict(kwargs.get("env") or os.environ)
    if stdio is None:
        return None
    cwd = str(kwargs.get("cwd") or os.getcwd())
    if not os.path.isdir(cwd):
        return None  # Popen reports it
    try:
        return _zygote(interp, env).fork(args, cwd, env, stdio)
    except ZygoteUnavailable as exc:
        with _lock:
            first = interp not in _warned
            _warned.add(interp)
        if first:
            log.warning("kefu: no kernel zygote (%s); kernels start the usual way", exc)
        return None


# --------------------------------------------------------------------------------------
# jupyter_client and papermill glue.


class ForkingProvisioner(LocalProvisioner):
    """A LocalProvisioner whose kernels are forked from the zygote of their interpreter.

    `pre_launch` (connection file, ports, command) and `cleanup` are LocalProvisioner's;
    a kernel that cannot be forked is launched by LocalProvisioner with Popen.
    """

    _forked: _ForkedKernel | None = None

    @property
    def has_process(self) -> bool:
        return self._forked is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict:
        forked = _fork_kernel(cmd, kwargs)
        if forked is None:
            return await super().launch_kernel(cmd, **kwargs)
        self._forked = forked
        self.pid = self.pgid = forked.pid  # the child called setsid(): it leads its own group
        self.cwd = kwargs.get("cwd") or os.getcwd()
        return self.connection_info

    async def poll(self) -> int | None:
        if self._forked is None:
            return await super().poll()
        return self._forked.poll()

    async def wait(self) -> int | None:
        if self._forked is None:
            return await super().wait()
        while (ret := self._forked.poll()) is None:
            await asyncio.sleep(0.05)
        self._forked.close()
        self._forked = None
        return ret

    async def send_signal(self, signum: int) -> None:
        if self._forked is None:
            return await super().send_signal(signum)
        if self._forked.poll() is not None:
            return None  # exited: its PID may belong to someone else by now
        try:
            os.killpg(self._forked.pid, signum)
        except OSError:
            os.kill(self._forked.pid, signum)
        return None

    async def kill(self, restart: bool = False) -> None:
        if self._forked is None:
            return await super().kill(restart)
        with contextlib.suppress(ProcessLookupError):
            await self.send_signal(signal.SIGKILL)
        return None

    async def terminate(self, restart: bool = False) -> None:
        if self._forked is None:
            return await super().terminate(restart)
        with contextlib.suppress(ProcessLookupError):
            await self.send_signal(signal.SIGTERM)
        return None

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        if self._forked is not None and self._forked.poll() is not None:
            self._forked.close()
            self._forked = None


class KefuKernelClient(AsyncKernelClient):
    """jupyter_client's client, minus a fixed wait: after the kernel_info reply it drains
    IOPub until 0.2 s pass without a message, i.e. every kernel start waits 0.2 s for
    nothing (a sixth of a section's run). Drained for 0.02 s here: a status message that
    arrives later belongs to kernel_info, and nbclient ignores messages whose parent is
    not the cell it runs."""

    async def _kefu_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.time() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                pass
            else:
                if msg["msg_type"] == "kernel_info_reply":
                    try:  # IOPub is connected when it carries the reply's status
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.time() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0.02)
            except Empty:
                break

    wait_for_ready = _kefu_wait_for_ready


class KefuKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with ForkingProvisioner unless the kernelspec names one."""

    client_factory = Type(default_value=KefuKernelClient, klass=AsyncKernelClient)

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        # Unix sockets, not TCP ports: two kernels starting at once can pick the same free
        # TCP port (seen: "Address already in use" in a kernel's heartbeat thread).
        # Set once: a restart must keep the addresses its clients are connected to.
        if self.transport != "ipc":
            self.transport = "ipc"
            self.ip = str(_ipc_dir() / f"kernel-{uuid.uuid4().hex[:12]}")
        if self.provisioner is None and not self.kernel_spec.metadata.get("kernel_provisioner"):
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = ForkingProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)

    pre_start_kernel = _async_pre_start_kernel

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        # A killed kernel is gone within milliseconds; polling every 0.1 s made each
        # notebook wait ~0.1 s after its last cell.
        await super()._async_wait(pollinterval=min(pollinterval, 0.01))


_ipc_root: Path | None = None


def _ipc_dir() -> Path:
    """A private folder for the kernels' sockets, removed at exit."""
    global _ipc_root
    with _lock:
        if _ipc_root is None:
            _ipc_root = Path(tempfile.mkdtemp(prefix="kfwk-ipc-"))
            atexit.register(shutil.rmtree, _ipc_root, ignore_errors=True)
        return _ipc_root


def _make_engine() -> type:
    # papermill is imported here, not at the top: papermill.engines loads its entry points
    # (this module among them) while it is itself being imported, and the zygote's
    # interpreter has no papermill at all.
    from papermill.engines import NBClientEngine

    class KefuEngine(NBClientEngine):
        """papermill's nbclient engine, with kernels forked from the zygote (`--engine kefu`)."""

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            if kwargs.get("km") is None:
                kwargs.setdefault("kernel_manager_class", KefuKernelManager)
            # Every cell has run and its outputs are in by then: the kernel is killed rather
            # than asked to shut down, which spares ~0.2 s of waiting per notebook.
            kwargs.setdefault("shutdown_kernel", "immediate")
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    KefuEngine.__module__, KefuEngine.__qualname__ = __name__, "KefuEngine"
    return KefuEngine


def __getattr__(name: str) -> Any:
    if name == "KefuEngine":
        engine = globals()["KefuEngine"] = _make_engine()
        return engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
