"""videobert.video: decode videos with PyAV onto a constant frame-rate grid and cut them into clips."""

from videobert.video.clips import Clip, ClipSpec, clip_starts, clip_times, iter_clips
from videobert.video.decode import (
    VIDEO_EXTENSIONS,
    DecodeReport,
    VideoInfo,
    index_videos,
    iter_frames,
    list_videos,
    n_grid_frames,
    probe,
    read_frames_at,
    scan_folder,
    target_size,
    video_id_for,
)

__all__ = [
    "VIDEO_EXTENSIONS",
    "Clip",
    "ClipSpec",
    "DecodeReport",
    "VideoInfo",
    "clip_starts",
    "clip_times",
    "index_videos",
    "iter_clips",
    "iter_frames",
    "list_videos",
    "n_grid_frames",
    "probe",
    "read_frames_at",
    "scan_folder",
    "target_size",
    "video_id_for",
]
