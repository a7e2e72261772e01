"""The training studio: datasets, losses, the shared training loop, metrics, latent analysis
and export to stage checkpoints. Imports `models`, never `performer`; run as `python -m training`
(or `stage train | export | analyze`, which hand over to it).
"""
