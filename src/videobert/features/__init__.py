"""videobert.features: clip features from a registered backbone (see ``registry`` and ``extract``).

Public API (imported lazily, so ``import videobert.features`` stays light)::

    extract(videos, work, backbone="s3d", weights=None, random_weights=False, batch_size=8,
            shard=None, device=None, num_workers=2, ...) -> summary dict
    import_features(sources, work, name, step=1.0, window=1.0, offset=0.0, times=None, key=None,
                    videos=None, ids="stem", progress=True) -> summary dict
    load_features(work, backbone, video_id) -> (float16 (n_clips, D), float64 (n_clips, 2))
    build_backbone(name, weights=None, random_weights=False, device=None, ...) -> Backbone
    available_backbones() -> list[str];  get_spec(name) -> BackboneSpec
"""

from __future__ import annotations

from videobert.utils.lazy import lazy_attributes

_EXPORTS = {
    "extract": "videobert.features.extract",
    "load_features": "videobert.features.extract",
    "ExtractConfig": "videobert.features.extract",
    "import_features": "videobert.features.importer",
    "ImportConfig": "videobert.features.importer",
    "build_backbone": "videobert.features.registry",
    "available_backbones": "videobert.features.registry",
    "get_spec": "videobert.features.registry",
    "Backbone": "videobert.features.registry",
    "BackboneSpec": "videobert.features.registry",
    "WeightsError": "videobert.features.registry",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
