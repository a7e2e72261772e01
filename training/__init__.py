"""Trainers that turn images, videos or no data at all into checkpoints the stage plays.

Imports `models`, never `performer`.
"""
