"""Write golden/ (or check it with --check): the same as `python -m meshpose_export.golden`, kept
because every golden file names this command as its generator."""

from __future__ import annotations

from meshpose_export.golden.__main__ import main

if __name__ == "__main__":
    main()
