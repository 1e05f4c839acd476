"""Recalculate a workbook with LibreOffice (headless), for tests that check what Excel users will see.

`recalculate(path)` converts the workbook with soffice into a fresh copy in
which every formula has been computed; read it with
`openpyxl.load_workbook(copy, data_only=True)`. Each call uses its own
LibreOffice profile, so parallel test runs never fight over one profile's lock.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

# Always recalculate OOXML on load: the tests compare LibreOffice's own results with the cached values
# the workbook carries, so those must never be what is read back.
_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


def require_libreoffice() -> str:
    if SOFFICE is None:
        pytest.skip("LibreOffice (soffice) is not installed; apt-get install libreoffice-calc-nogui")
    return SOFFICE


def recalculate(path: Path | str, timeout: float = 180) -> Path:
    """A recalculated copy of the workbook at `path` (next to it, named *.recalc.xlsx)."""
    soffice = require_libreoffice()
    source = Path(path).resolve()
    work = Path(tempfile.mkdtemp(prefix="roi-lo-"))
    try:
        profile = work / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_REGISTRY)
        outdir = work / "out"
        # a unique input name: soffice names its output after the input
        staged = work / f"in-{uuid.uuid4().hex[:8]}.xlsx"
        shutil.copyfile(source, staged)
        command = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                   "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(staged)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        produced = outdir / staged.name
        if result.returncode != 0 or not produced.exists():
            raise RuntimeError(f"LibreOffice could not convert {source}: {result.stdout} {result.stderr}")
        target = source.with_name(source.stem + ".recalc.xlsx")
        shutil.copyfile(produced, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
