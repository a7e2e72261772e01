"""Generators and their checkpoint format. Imports torch only: no files of the show, no GL, no OSC.

`models.registry` maps a checkpoint's `kind` to its network and Config; `models.checkpoint`
saves and loads self-describing checkpoints.
"""
