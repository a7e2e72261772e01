"""The real-time application: show file, sources, control, latent, engine, display, recording.

Imports `models`, never `training`. The process's thread budget is set here, before torch
loads: OpenMP workers that spin-wait fight the GL, camera and face threads for the cores.
"""

import os

# Must be set before libgomp initialises (i.e. before torch is imported): idle OpenMP
# workers then sleep instead of spinning, so they do not starve the render loop's threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KMP_BLOCKTIME", "0")
