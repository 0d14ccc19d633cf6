"""CLI: the export-side console commands (meshpose-export, -predict, -bench, -eval-real) and `meshpose`,
the one command that lists and runs every command of the project.
May import: every other layer of meshpose_export, meshpose_mobile; nothing imports it.
"""
