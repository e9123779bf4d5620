"""components/platform/cluster.py: pulumi_gcp.compute loads without a deprecation warning (fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import warnings
from components.platform.cluster import gcp_compute
print(gcp_compute().RouterNat.__name__, flush=True)
# Once loaded, even the silenced message reaches the program again: the silence was only for the import.
warnings.warn("gcp.compute.RouterStatus has been deprecated", DeprecationWarning)
"""


def test_loading_compute_warns_nothing_and_silences_nothing_afterwards():
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "RouterNat\n", done.stderr  # loaded under -W error: no warning while loading
    assert done.returncode == 1 and done.stderr.rstrip().endswith("DeprecationWarning: gcp.compute.RouterStatus has been deprecated")
