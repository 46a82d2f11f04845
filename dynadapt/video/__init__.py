"""Videos of the episodes an agent plays: filming envs (:mod:`.camera`), the annotated frames
(:mod:`.frames`) and MP4/GIF files (:mod:`.encode`). Run directories are filmed by
:mod:`dynadapt.runs.videos` (``dynadapt video``, the runs' ``video_every``)."""

from dynadapt.video.camera import Camera, Change, Clip, Filmed
from dynadapt.video.encode import encode, read_video, write_video
from dynadapt.video.frames import clip_frames, side_by_side

__all__ = [
    "Camera",
    "Change",
    "Clip",
    "Filmed",
    "clip_frames",
    "encode",
    "read_video",
    "side_by_side",
    "write_video",
]
