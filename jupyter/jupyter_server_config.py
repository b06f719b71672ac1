# The project's own Jupyter configuration, read when JUPYTER_CONFIG_DIR points here
# (`make lab` does; tests/test_lab.py too). Nothing is read from or written to ~:
# the lab recipe puts runtime files, the analyst's own settings and workspaces
# under <KFWK_CACHE>/jupyter/. See docs/decisions.md, "JupyterLab for analysts".
import asyncio
import json
import subprocess
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

KERNEL = "kefu-weikan"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

c = get_config()  # noqa: F821 - provided by traitlets when it runs this file

# Open on the section notebooks; new notebooks and consoles get the project kernel,
# and it is the only kernel offered (the .venv's plain python3 lacks the kernel's packages).
c.ServerApp.root_dir = str(ROOT / "notebooks")
c.MultiKernelManager.default_kernel_name = KERNEL
c.KernelSpecManager.allowed_kernelspecs = {KERNEL}

# House look for KPI cards, tables and full-width charts (custom/custom.css here).
c.LabApp.custom_css = True
# Project defaults for lab settings (lab/settings/overrides.json here): no news
# pop-up, no update check, no autosave. The analyst's own changes are user settings.
c.LabApp.app_settings_dir = str(HERE / "lab" / "settings")

# No request leaves the machine: no news feed, no update check, and an extension
# manager that never asks PyPI (the environment is pinned by requirements*.txt).
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
# No language-server discovery: none is installed, and looking runs `npm prefix -g`,
# which writes a log under ~/.npm.
c.LanguageServerManager.autodetect = False


class KefuContentsManager(AsyncLargeFileManager):
    """Hands out the section notebooks with the project kernel's own `language_info`.

    When a kernel starts, JupyterLab writes the kernel's `language_info` (Python's full
    version included) into the notebook and, if that changes anything, marks the
    notebook modified: every notebook looked edited the moment it was opened. The
    committed notebooks cannot carry the version (it is whatever `python3` 3.11.x made
    .venv-kernel), so the notebook is handed to the browser already holding what the
    kernel will report. The file on disk is not touched; a save writes what JupyterLab
    would have written anyway.
    """

    _language_info: dict | None = None

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        nb = model.get("content") if model.get("type") == "notebook" else None
        if nb and nb.get("metadata", {}).get("kernelspec", {}).get("name") == KERNEL:
            info = await self._kernel_language_info()
            if info and nb["metadata"].get("language_info", {}).get("name") == info.get("name"):
                nb["metadata"]["language_info"] = info
        return model

    async def _kernel_language_info(self) -> dict | None:
        """What the project kernel reports in its kernel_info reply (asked once, ~0.5 s)."""
        if KefuContentsManager._language_info is None:
            python = self.parent.kernel_spec_manager.get_kernel_spec(KERNEL).argv[0]
            code = (
                "import json; from ipykernel.ipkernel import IPythonKernel as K; "
                "print(json.dumps(K.language_info))"
            )
            run = await asyncio.to_thread(
                subprocess.run, [python, "-c", code], capture_output=True, text=True, timeout=60
            )
            KefuContentsManager._language_info = json.loads(run.stdout) if run.returncode == 0 else {}
        return KefuContentsManager._language_info


c.ServerApp.contents_manager_class = KefuContentsManager
