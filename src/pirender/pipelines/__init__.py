"""Inference pipelines: what the CLI commands and the UI run. They never import training code.

    reenact.py  ReenactPipeline, reenact()   motion imitation (source + driving video/motion -> video)
    edit.py     EditPipeline, edit()         pose/expression editing (image, sweep video, grid)
    speak.py    SpeakPipeline, speak()       audio-driven (source + speech -> K sampled videos)
    dub.py      DubPipeline, dub(), edit_video()   edit / dub an existing video, frame by frame

Building blocks, each usable on its own (the UI composes these, it does not subclass pipelines):

    base.py             RendererPipeline: the loaded renderer every pipeline holds, from_pretrained
    source.py           source portrait loading/cropping, source coefficients, driving motions
    motion_transfer.py  absolute (official cross-id crop-scale normalisation) and relative transfer
    edits.py            edit recipes, named expression presets (pirender/presets/*.json), sweeps
    video_edits.py      a video's edit recipe: keyframed offsets, coefficient groups, held groups
    video_edit.py       VideoEditPipeline: track, extract, render each frame from itself, paste back
    render.py           coefficients -> frames through the RenderEngine, streamed in chunks
    output.py           RenderedVideo (lazy, streaming), panel layouts, checked atomic outputs
    models.py           default models, RenderEngine/extractor/audio-model loading and caching

`pirender.reenact`, `pirender.edit`, `pirender.speak`, `pirender.edit_video` and `pirender.dub` are
the functions of those modules,
imported on first use. Nothing heavy is imported here.
"""
