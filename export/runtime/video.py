"""Video in and out: a clip (decoded by PyAV, FFmpeg inside the wheel) or a folder of frames in,
an H.264 MP4 out.

Reading never stops at a damaged frame: a packet the decoder rejects, or an image file in a folder
that does not open, is skipped and counted (`FrameSource.skipped`), and the frames around it keep
their own timestamps, so the tracker and the One-Euro filter see the true time step. A file that
does not open as a video, or one that holds no decodable frame, is a one-line `PredictError`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from meshpose_mobile.errors import MeshPoseError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts")
DEFAULT_FPS = 30.0  # a folder of frames has no clock of its own


class VideoError(MeshPoseError):
    """A video or frame folder that cannot be read, or an output that cannot be written."""


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True, eq=False)
class Frame:
    index: int  # position among the frames of the source, skipped ones included
    time: float  # seconds from the first frame
    image: np.ndarray  # (H, W, 3) uint8 RGB
    name: str = ""  # file name, for a folder of frames


@dataclass(eq=False)
class FrameSource:
    """Iterate to get `Frame`s; `skipped` lists (index or name, reason) of frames that did not decode."""

    path: Path
    fps: float
    total: int | None  # frames the container announces (None: unknown)
    width: int = 0
    height: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    _files: list[Path] | None = None

    def __iter__(self) -> Iterator[Frame]:
        if self._files is not None:
            yield from self._iter_folder()
        else:
            yield from self._iter_video()

    def _iter_folder(self) -> Iterator[Frame]:
        from meshpose_export.runtime.predict import PredictError, load_image

        assert self._files is not None
        for i, p in enumerate(self._files):
            try:
                img = load_image(p)
            except PredictError as err:
                self.skipped.append((p.name, str(err)))
                continue
            yield Frame(i, i / self.fps, img, p.name)

    def _iter_video(self) -> Iterator[Frame]:
        import av

        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as err:
            raise VideoError(f"cannot read video {self.path} ({_why(err)}); pass an MP4/MOV/AVI/MKV file") from None
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            base = stream.time_base or Fraction(1, 1)
            t0: float | None = None
            index = 0
            packets = container.demux(stream)
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.FFmpegError as err:  # a damaged container chunk: skip it, keep reading
                    self.skipped.append((f"packet after frame {index}", _why(err)))
                    continue
                try:
                    frames = packet.decode()
                except av.FFmpegError as err:
                    when = f" at {float(packet.pts * base) - (t0 or 0.0):.3f} s" if packet.pts is not None else ""
                    self.skipped.append((f"frame {index}{when}", _why(err)))
                    index += 1
                    continue
                for fr in frames:
                    if fr.pts is not None:
                        t = float(fr.pts * base)
                    else:
                        t = index / self.fps
                    if t0 is None:
                        t0 = t
                    if getattr(fr, "corrupt", False):
                        self.skipped.append((f"frame {index}", "the decoder flagged it corrupt"))
                        index += 1
                        continue
                    yield Frame(index, t - t0, fr.to_ndarray(format="rgb24"), "")
                    index += 1


def _why(err: BaseException) -> str:
    return " ".join(str(err).split())[:120] or type(err).__name__


def open_frames(path: str | Path, fps: float | None = None) -> FrameSource:
    """A video file or a folder of frames (images sorted by name; `fps`, default 30, sets their clock)."""
    from meshpose_export.runtime.predict import IMAGE_SUFFIXES

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise VideoError(f"folder {path} holds no frames ({', '.join(IMAGE_SUFFIXES)}); pass a video or a folder")
        return FrameSource(path, float(fps or DEFAULT_FPS), len(files), _files=files)
    if not path.is_file():
        raise VideoError(f"video not found: {path}; pass a video file or a folder of frames")
    if path.stat().st_size == 0:
        raise VideoError(f"video {path} is empty (0 bytes); pass a complete video file")
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path} has no video stream; pass a video file")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            total = int(stream.frames) or None
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    except av.FFmpegError as err:
        raise VideoError(f"cannot read video {path} ({_why(err)}); pass an MP4/MOV/AVI/MKV file") from None
    video_fps = float(fps or (float(rate) if rate else DEFAULT_FPS))
    return FrameSource(path, video_fps, total, width, height)


class VideoWriter:
    """H.264 (yuv420p) MP4 written to a temp file beside `path`, renamed on `close()`; `abort()` (or
    an exception inside a `with` block) removes it, so no half-written video is ever left."""

    def __init__(self, path: str | Path, fps: float, crf: int = 23) -> None:
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".tmp.mp4")
        os.close(fd)
        self.tmp = Path(tmp)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.crf = crf
        self._container = av.open(str(self.tmp), mode="w")
        self._stream = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        import av

        img = np.ascontiguousarray(image, dtype=np.uint8)
        # yuv420p needs even sides: pad one row / column by repeating the edge.
        h, w = img.shape[:2]
        if h % 2 or w % 2:
            img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self._stream is None:
            self._stream = self._container.add_stream("libx264", rate=self.fps)
            self._stream.width, self._stream.height = img.shape[1], img.shape[0]
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # closing a half-written file may fail; it is deleted either way
            pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(frames: list[np.ndarray] | Iterator[np.ndarray], path: str | Path, fps: float) -> Path:
    with VideoWriter(path, fps) as w:
        for f in frames:
            w.write(f)
    return Path(path)
