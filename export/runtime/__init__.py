"""Runtime: runs opened artifacts on photos and videos (predict, person detector, tracking,
video, overlay, frame geometry, the peer and real-photo evaluation).
May import: the core modules, targets/, meshpose_mobile.
"""
