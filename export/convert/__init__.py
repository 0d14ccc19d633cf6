"""Convert: the export pipeline (checkpoint -> every target -> parity -> artifact + sidecar)
and the one parity function.
May import: the core modules, targets/, runtime/ (the video defaults a sidecar carries), meshpose_mobile.
"""
