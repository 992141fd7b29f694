"""SynthHead: an offline synthetic talking-head world driven by PIRenderer motion coefficients.

`SynthHead(identity, size).render(coeffs)` turns a (73,) coefficient vector
[exp 64 | angle 3 | trans 3 | crop 3] into an RGB image whose content is exactly determined by it;
`random_motion` and `talking_clip` make coefficient sequences (and speech-like audio);
`pirender synth` writes them as an official-layout LMDB. See docs/synthhead.md.
"""

from pirender.synth.audio import TalkingClip, talking_clip
from pirender.synth.expression import EXPRESSION_CONTROLS, neutral_coeffs, with_controls
from pirender.synth.head import PRIMITIVES, SynthHead, render
from pirender.synth.identity import Identity
from pirender.synth.motion import random_motion

__all__ = [
    "EXPRESSION_CONTROLS",
    "PRIMITIVES",
    "Identity",
    "SynthHead",
    "TalkingClip",
    "neutral_coeffs",
    "random_motion",
    "render",
    "talking_clip",
    "with_controls",
]
