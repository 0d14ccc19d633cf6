"""CLI: the export-side console commands (meshpose-export, -predict, -bench, -eval-real).
May import: every other layer of meshpose_export, meshpose_mobile; nothing imports it.
"""
