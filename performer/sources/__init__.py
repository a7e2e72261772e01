"""Input sources: keyboard now; camera, face and OSC threads publish snapshots and cues."""
