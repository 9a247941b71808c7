"""Bad video input: every case raises VideoDecodeError with a clear reason; folders skip and report."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
from videogen import pattern_frames, write_video

from videobert.cli import main as cli_main
from videobert.errors import VideoDecodeError
from videobert.video import ClipSpec, iter_clips, iter_frames, probe, read_frames_at, scan_folder


def _audio_only(path: Path) -> None:
    """An AAC-in-MP4 file with no video stream."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            frame.pts = i * 1024
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    frames = pattern_frames(60, 32, 48)  # 3 s at 20 fps
    write_video(d / "good.mkv", frames, 20, codec="libx264")
    write_video(d / "good.mp4", frames, 20, codec="libx264")
    out = {"good_mkv": d / "good.mkv", "good_mp4": d / "good.mp4"}
    out["zero"] = d / "zero.mp4"
    out["zero"].write_bytes(b"")
    out["text"] = d / "notes.mp4"
    out["text"].write_text("this is a text file renamed to .mp4\n" * 50)
    out["audio"] = d / "audio.mp4"
    _audio_only(out["audio"])
    data = out["good_mkv"].read_bytes()
    out["trunc_mkv"] = d / "trunc.mkv"  # cut in the middle of the clusters: decodes partially
    out["trunc_mkv"].write_bytes(data[: len(data) // 2])
    data = out["good_mp4"].read_bytes()
    out["trunc_mp4"] = d / "trunc.mp4"  # the moov atom is at the end: unreadable
    out["trunc_mp4"].write_bytes(data[: len(data) // 2])
    out["header_only"] = d / "header.mkv"  # container header, no frames
    out["header_only"].write_bytes(out["good_mkv"].read_bytes()[:200])
    return out


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("zero", "zero-byte file"),
        ("text", "not a media file / invalid data"),
        ("audio", "no video stream (audio only)"),
        ("trunc_mp4", "not a media file / invalid data"),
    ],
)
def test_unreadable_files_raise_clear_errors(bad: dict[str, Path], name: str, reason: str) -> None:
    for call in (
        lambda: probe(bad[name]),
        lambda: list(iter_frames(bad[name])),
        lambda: list(iter_clips(bad[name], ClipSpec())),
        lambda: read_frames_at(bad[name], [0.0]),
    ):
        with pytest.raises(VideoDecodeError) as err:
            call()
        assert reason in err.value.reason
        assert err.value.path == str(bad[name])
        assert str(bad[name]) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="file not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(VideoDecodeError, match="directory"):
        list(iter_frames(tmp_path))


def test_header_only_file(bad: dict[str, Path]) -> None:
    with pytest.raises(VideoDecodeError) as err:
        list(iter_frames(bad["header_only"]))
    assert err.value.reason  # "no decodable video frames" or an invalid-data reason, never a raw av error


def test_truncated_file_yields_what_decodes(bad: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    full = list(iter_frames(bad["good_mkv"], fps=20))
    assert len(full) == 60
    with caplog.at_level(logging.WARNING, logger="videobert.video.decode"):
        part = list(iter_frames(bad["trunc_mkv"], fps=20))
    assert 0 < len(part) < 60
    assert "truncated: decoded" in caplog.text and "of 3.0 s" in caplog.text
    # what did decode is the start of the video, on the usual grid
    np.testing.assert_allclose([t for t, _ in part], np.arange(len(part)) / 20)
    np.testing.assert_array_equal(part[0][1], full[0][1])
    # strict mode turns it into an error
    with pytest.raises(VideoDecodeError, match="truncated: decoded"):
        list(iter_frames(bad["trunc_mkv"], fps=20, strict=True))
    with pytest.raises(VideoDecodeError, match="truncated"):
        list(iter_clips(bad["trunc_mkv"], ClipSpec(), strict=True))
    # probe reads the header (declared duration) and the first frame, so it succeeds
    assert probe(bad["trunc_mkv"]).duration == pytest.approx(3.0, abs=0.05)


def test_corrupted_bytes_never_leak_av_errors(bad: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = bytearray(bad["good_mkv"].read_bytes())
    for seed_pos in (len(data) // 5, len(data) // 2):
        data[seed_pos : seed_pos + 2000] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    p = tmp_path / "corrupt.mkv"
    p.write_bytes(bytes(data))
    try:
        frames = list(iter_frames(p, fps=20))
    except VideoDecodeError as exc:  # acceptable: a clear error
        assert exc.reason
    else:
        assert 0 < len(frames) <= 60
        assert all(f.shape == (32, 48, 3) for _, f in frames)


def test_folder_scan_skips_and_reports(bad: dict[str, Path]) -> None:
    folder = bad["good_mkv"].parent
    ok, skipped = scan_folder(folder)
    ok_names = sorted(Path(i.path).name for i in ok)
    assert {"good.mkv", "good.mp4", "trunc.mkv"} <= set(ok_names)
    reasons = {p.name: r for p, r in skipped}
    assert reasons["zero.mp4"] == "zero-byte file"
    assert reasons["audio.mp4"] == "no video stream (audio only)"
    assert "not a media file" in reasons["notes.mp4"]
    assert "trunc.mp4" in reasons


def test_probe_cli_exit_codes(bad: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    folder = bad["good_mkv"].parent
    with caplog.at_level(logging.INFO):
        assert cli_main(["probe", str(folder), "--clip-frames", "20"]) == 0
    text = caplog.text
    assert "zero\tSKIPPED\tzero-byte file" in text
    assert "audio\tSKIPPED\tno video stream (audio only)" in text
    # 3 s at 20 fps, 20-frame clips -> 3 clips
    assert "3.00 s\t20.000 fps\t48x32\trot 0\th264\t3 clips" in text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert cli_main(["probe", str(bad["zero"])]) == 1
        assert cli_main(["probe", str(bad["good_mkv"])]) == 0
        assert cli_main(["probe", str(bad["good_mkv"]), str(bad["text"])]) == 1
    assert "notes\tSKIPPED\tnot a media file" in caplog.text


def test_undecodable_packet_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """One corrupt frame in a lossless (intra-only) file: the others decode, the gap holds the frame before."""
    from videogen import frame_index_of

    frames = pattern_frames(30, 32, 48)
    p = tmp_path / "onebad.mkv"
    write_video(p, frames, 20, codec="ffv1", options={"g": "1"})  # intra-only: one bad frame stays one
    with av.open(str(p)) as c:
        packets = [(pkt.pts, pkt.pos, pkt.size) for pkt in c.demux(c.streams.video[0]) if pkt.size]
    _, pos, size = packets[10]
    data = bytearray(p.read_bytes())
    assert size > 100
    # garbage over the start of frame 10's payload: FFmpeg's ffv1 decoder rejects the packet
    data[pos + 4 : pos + 68] = np.random.default_rng(1).integers(0, 256, 64, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="videobert.video.decode"):
        out = list(iter_frames(p, fps=20))
    ids = [frame_index_of(f, 30) for _, f in out]
    assert len(out) == 30
    assert ids == list(range(10)) + [9] + list(range(11, 30))
    assert "skipped 1 undecodable packet" in caplog.text and "at 0.5 s" in caplog.text
    with pytest.raises(VideoDecodeError, match=r"decoding failed at 0\.5 s: invalid data"):
        list(iter_frames(p, fps=20, strict=True))


def test_damage_is_reported_recorded_and_probed(
    bad: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A truncated file that still decodes: the report says so, extract records it ``ok`` with
    ``warnings`` and the decoded duration, and ``probe`` shows it (on the file with decode=true, and
    on the work directory)."""
    from videobert.features.extract import extract
    from videobert.utils.manifest import Manifest
    from videobert.video import DecodeReport

    report = DecodeReport()
    n = len(list(iter_frames(bad["trunc_mkv"], fps=20, report=report)))
    assert report.declared == pytest.approx(3.0, abs=0.05) and report.decoded == pytest.approx(n / 20, abs=0.06)
    assert len(report.warnings) == 1 and report.warnings[0].startswith("truncated: decoded")
    clean = DecodeReport()
    list(iter_frames(bad["good_mkv"], fps=20, report=clean))
    assert clean.warnings == [] and clean.decoded == pytest.approx(3.0, abs=0.01)

    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("good_mkv", "trunc_mkv"):
        (videos / bad[name].name).write_bytes(bad[name].read_bytes())
    work = tmp_path / "work"
    spec = ClipSpec(fps=10, frames=5)
    extract(videos, work, backbone="classical", clips=spec, progress=False, num_workers=0)
    recs = Manifest(work).latest("extract/classical")
    assert recs["good"]["status"] == "ok" and "warnings" not in recs["good"]
    assert recs["good"]["decoded_duration"] == pytest.approx(3.0, abs=0.01)
    assert recs["trunc"]["status"] == "ok" and recs["trunc"]["warnings"][0].startswith("truncated: decoded")
    assert recs["trunc"]["decoded_duration"] < recs["trunc"]["duration"] - 0.5

    for argv, needle in ((["probe", str(work)], "trunc\t"), (["probe", str(videos), "decode=true"], "trunc\t")):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert cli_main(argv) == 0
        damaged = [r.getMessage() for r in caplog.records if "DAMAGED" in r.getMessage()]
        assert len(damaged) == 1 and damaged[0].startswith(needle) and "truncated: decoded" in damaged[0]
        assert "1 damaged" in caplog.text
