"""Section kernels forked from a warm zygote: the papermill engine `kefu` and its provisioner.

Every test runs the `kefu-weikan` kernel as installed, and checks that its kernels really
are forked (their parent process is the zygote), so a silent fall-back to the usual
launch fails them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from papermill.engines import NBClientEngine, papermill_engines

from helpers.publish import kernels

KERNEL = "kefu-weikan"
QUIET = ["--IPKernelApp.log_level=CRITICAL"]
# What a cell prints to show where it runs: its PID and its parent's.
WHERE = "import os\nprint(os.getpid(), os.getppid())"


@pytest.fixture(autouse=True)
def no_zygote_left():
    """Each test starts without a zygote and leaves none behind."""
    kernels.shutdown()
    yield
    kernels.shutdown()


def notebook(path: Path, *sources: str, parameters: str | None = None) -> Path:
    cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})] if parameters else []
    cells += [nbformat.v4.new_code_cell(src) for src in sources]
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": KERNEL, "display_name": KERNEL, "language": "python"}},
    )
    nbformat.write(nb, path)
    return path


def execute(src: Path, out: Path, **kwargs) -> nbformat.NotebookNode:
    return pm.execute_notebook(
        str(src),
        str(out),
        kernel_name=KERNEL,
        engine_name="kefu",
        progress_bar=False,
        extra_arguments=QUIET,
        start_timeout=60,
        execution_timeout=120,
        **kwargs,
    )


def where(nb: nbformat.NotebookNode) -> tuple[int, int]:
    """(PID, parent PID) printed by the WHERE cell (papermill puts a cell before it on failure)."""
    cell = next(c for c in nb.cells if c.source == WHERE)
    pid, ppid = cell.outputs[0]["text"].split()
    return int(pid), int(ppid)


def gone(pid: int, timeout: float = 10.0) -> bool:
    """True once no process (not even a zombie) has this PID."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_engine_is_registered():
    engine = papermill_engines.get_engine("kefu")
    assert engine is kernels.KefuEngine
    assert issubclass(engine, NBClientEngine)


def test_each_notebook_gets_a_fresh_forked_kernel(tmp_path):
    first = notebook(tmp_path / "first.ipynb", WHERE, "secret = 42\nprint(secret)")
    second = notebook(tmp_path / "second.ipynb", WHERE, "print(secret)")

    nb1 = execute(first, tmp_path / "first-out.ipynb")
    assert nb1.cells[1].outputs[0]["text"] == "42\n"
    with pytest.raises(pm.PapermillExecutionError) as err:
        execute(second, tmp_path / "second-out.ipynb")
    assert err.value.ename == "NameError"  # `secret` of the first kernel is not in the second
    nb2 = nbformat.read(tmp_path / "second-out.ipynb", as_version=4)

    (pid1, parent1), (pid2, parent2) = where(nb1), where(nb2)
    zygotes = kernels.zygote_pids()
    assert len(zygotes) == 1
    assert parent1 == parent2 == zygotes[0]  # both forked from the one zygote ...
    assert len({pid1, pid2, os.getpid(), zygotes[0]}) == 4  # ... as processes of their own
    assert gone(pid1) and gone(pid2)  # and shut down when their notebook ended


def test_an_exception_names_its_cell(tmp_path):
    src = notebook(tmp_path / "fails.ipynb", "x = 1", "raise ValueError('no such figure')", "y = 2")
    out = tmp_path / "fails-out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as err:
        execute(src, out)
    assert (err.value.cell_index, err.value.ename, err.value.evalue) == (1, "ValueError", "no such figure")
    cells = {c.source: c for c in nbformat.read(out, as_version=4).cells}  # the executed copy is kept
    assert cells["raise ValueError('no such figure')"].outputs[0]["output_type"] == "error"
    assert cells["y = 2"].execution_count is None  # nothing ran after the failing cell


def test_parameters_cwd_and_environment_reach_the_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("KFWK_TEST_MARKER", "marked")
    src = notebook(
        tmp_path / "env.ipynb",
        "import os, numpy\n"
        "print(quarter, os.getcwd(), os.environ['KFWK_TEST_MARKER'], numpy.random.randint(1 << 30))",
        parameters='quarter = "2021Q4"',
    )
    work = tmp_path / "work"
    work.mkdir()
    lines = [
        execute(src, tmp_path / f"env-out{i}.ipynb", parameters={"quarter": "2022Q1"}, cwd=str(work))
        .cells[2]
        .outputs[0]["text"]
        .split()
        for i in range(2)
    ]
    assert [line[:3] for line in lines] == [["2022Q1", str(work), "marked"]] * 2
    assert lines[0][3] != lines[1][3]  # numpy's global generator is reseeded in each fork


def test_two_notebooks_at_once_from_threads(tmp_path):
    srcs = [notebook(tmp_path / f"t{i}.ipynb", WHERE, "import time\ntime.sleep(0.5)") for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        nbs = list(pool.map(lambda i: execute(srcs[i], tmp_path / f"t{i}-out.ipynb"), range(2)))
    (pid1, parent1), (pid2, parent2) = where(nbs[0]), where(nbs[1])
    assert pid1 != pid2
    assert parent1 == parent2 == kernels.zygote_pids()[0]


def test_papermill_command_line(tmp_path):
    src = notebook(
        tmp_path / "cli.ipynb",
        "import os\nprint(quarter, os.getppid(), open(f'/proc/{os.getppid()}/cmdline', 'rb').read())",
        parameters='quarter = "2021Q4"',
    )
    out = tmp_path / "cli-out.ipynb"
    papermill = Path(sys.executable).parent / "papermill"
    result = subprocess.run(
        [
            str(papermill),
            str(src),
            str(out),
            "-k",
            KERNEL,
            "--engine",
            "kefu",
            "-p",
            "quarter",
            "2022Q1",
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    quarter, zygote, cmdline = nbformat.read(out, as_version=4).cells[2].outputs[0]["text"].split(" ", 2)
    assert quarter == "2022Q1"
    assert "_zygote_main" in cmdline  # the kernel's parent was the zygote
    assert gone(int(zygote))  # which papermill stopped when it exited


def test_shutdown_stops_the_zygote_and_running_kernels():
    km = kernels.KefuKernelManager(kernel_name=KERNEL)
    asyncio.run(km.start_kernel(extra_arguments=QUIET))
    try:
        kernel = km.provisioner.pid
        zygotes = kernels.zygote_pids()
        assert len(zygotes) == 1
        assert Path(f"/proc/{kernel}/stat").read_text().split()[3] == str(zygotes[0])  # forked
        kernels.shutdown()
        assert kernels.zygote_pids() == []
        assert gone(zygotes[0]) and gone(kernel)
        assert asyncio.run(km.is_alive()) is False
    finally:
        asyncio.run(km.shutdown_kernel(now=True))


def test_interrupt_and_restart_a_forked_kernel():
    async def scenario() -> None:
        km = kernels.KefuKernelManager(kernel_name=KERNEL)
        await km.start_kernel(extra_arguments=QUIET)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            first = km.provisioner.pid
            msg_id = kc.execute("import time; time.sleep(60)")
            await asyncio.sleep(1)
            await km.interrupt_kernel()  # SIGINT to the kernel's process group
            reply = await kc.get_shell_msg(timeout=20)
            assert reply["parent_header"]["msg_id"] == msg_id
            assert reply["content"]["ename"] == "KeyboardInterrupt"

            await km.restart_kernel(now=True)  # kill, then launch again through the same provisioner
            await kc.wait_for_ready(timeout=60)
            second = km.provisioner.pid
            assert second != first and gone(first)
            assert Path(f"/proc/{second}/stat").read_text().split()[3] == str(kernels.zygote_pids()[0])
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    asyncio.run(scenario())


def test_without_a_zygote_kernels_start_the_usual_way(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(kernels, "_BOOT", "import sys; sys.exit('no zygote today')")
    src = notebook(tmp_path / "plain.ipynb", WHERE)
    with caplog.at_level(logging.WARNING, logger=kernels.__name__):
        nb = execute(src, tmp_path / "plain-out.ipynb")
        execute(src, tmp_path / "plain-out2.ipynb")
    assert where(nb)[1] == os.getpid()  # a child of this process, as papermill starts it
    warnings = [r.getMessage() for r in caplog.records if r.name == kernels.__name__]
    assert len(warnings) == 1 and "no zygote today" in warnings[0]  # one line, once


def test_zygote_session_can_leave_kernels_to_the_usual_launch(tmp_path):
    src = notebook(tmp_path / "plain.ipynb", WHERE)
    with kernels.zygote_session(enabled=False):
        nb = execute(src, tmp_path / "plain-out.ipynb")
        assert kernels.zygote_pids() == []
    assert where(nb)[1] == os.getpid()
    with kernels.zygote_session():
        zygotes = kernels.zygote_pids()
        nb = execute(src, tmp_path / "forked-out.ipynb")
    assert where(nb)[1] == zygotes[0]
    assert kernels.zygote_pids() == [] and gone(zygotes[0])


def test_the_zygote_loads_no_chart_schema():
    """The zygote's imports and warm-up validate no chart spec (section kernels never do:
    charts._builder), so the Vega-Lite schema is never loaded into it or its kernels."""
    code = (
        "import altair.utils.schemapi as s\n"
        "calls = []\n"
        "check = s.validate_jsonschema\n"
        "s.validate_jsonschema = lambda *a, **k: (calls.append(1), check(*a, **k))[1]\n"
        "from helpers.publish import kernels\n"
        "assert kernels._preload() == []\n"
        "print('validations', len(calls))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["validations", "0"]
