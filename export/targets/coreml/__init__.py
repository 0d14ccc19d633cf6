"""The CoreML target: tools (quiet coremltools) < mil (reference MIL interpreter) < contract,
ane (static checks, Neural Engine report) < target.
May import: the core modules, targets.base, meshpose_mobile.
"""
