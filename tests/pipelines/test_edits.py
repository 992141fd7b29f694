"""Edit recipes: degrees -> radians in the right slot, absolute vs relative, presets, sweeps."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pirender.errors import InputError
from pirender.motion.coeffs import ANGLE, CROP, EXP, TRANS
from pirender.pipelines import edits
from pirender.synth.expression import EXPRESSION_CONTROLS

from .conftest import make_coeffs


def test_pose_edits_are_degrees_in_deep3d_slots() -> None:
    source = make_coeffs(1, 0)[0]
    out = edits.build_edit(yaw=20, pitch=-10, roll=5, tz=0.45).apply(source)
    # angle[0] = pitch (about x), angle[1] = yaw (about y), angle[2] = roll (about z), radians
    np.testing.assert_allclose(out[ANGLE], np.radians([-10, 20, 5]), rtol=1e-6)
    assert out[TRANS.start + 2] == pytest.approx(0.45)
    np.testing.assert_array_equal(out[TRANS.start : TRANS.start + 2], source[TRANS.start : TRANS.start + 2])
    np.testing.assert_array_equal(out[EXP], source[EXP])
    np.testing.assert_array_equal(out[CROP], source[CROP])


def test_relative_pose_adds_to_source() -> None:
    source = make_coeffs(1, 1)[0]
    out = edits.build_edit(yaw=20, relative=True).apply(source)
    assert out[ANGLE.start + 1] == pytest.approx(source[ANGLE.start + 1] + math.radians(20), abs=1e-6)
    assert out[ANGLE.start] == source[ANGLE.start]


def test_identity_edit_is_identity() -> None:
    source = make_coeffs(1, 2)[0]
    edit = edits.build_edit()
    assert edit.is_identity()
    np.testing.assert_array_equal(edit.apply(source), source)


def test_expression_assignments_and_named_controls() -> None:
    source = make_coeffs(1, 3)[0]
    out = edits.build_edit(exp=["5=0.8", "smile=1"]).apply(source)
    assert out[5] == pytest.approx(0.8)
    assert out[EXPRESSION_CONTROLS["smile"]] == 1.0
    assert edits.build_edit(exp={"jaw_open": 0.5}).apply(source)[EXPRESSION_CONTROLS["jaw_open"]] == 0.5
    for bad in (["64=1"], ["nope=1"], ["5"], ["5=abc"], ["5=nan"]):
        with pytest.raises(InputError):
            edits.build_edit(exp=bad)


def test_builtin_presets_match_synthhead_controls() -> None:
    names = edits.list_presets()
    for control, slot in EXPRESSION_CONTROLS.items():
        if control == "mouth_shift":
            continue
        preset = edits.load_preset(control)
        assert preset.space == "synthhead"
        expected = np.zeros(64, np.float32)
        expected[slot] = 1.0
        np.testing.assert_array_equal(preset.exp, expected)
    assert edits.load_preset("mouth_shift_left").exp[EXPRESSION_CONTROLS["mouth_shift"]] == 1.0
    assert edits.load_preset("mouth_shift_right").exp[EXPRESSION_CONTROLS["mouth_shift"]] == -1.0
    assert not edits.load_preset("neutral").exp.any()
    for name in names:  # every shipped file parses
        assert edits.load_preset(name).exp.shape == (64,)


def test_preset_replaces_expression_and_blends() -> None:
    source = make_coeffs(1, 4)[0]
    smile = edits.load_preset("smile")
    np.testing.assert_array_equal(edits.build_edit(preset="smile").apply(source)[EXP], smile.exp)
    half = edits.build_edit(preset="smile", preset_strength=0.5).apply(source)[EXP]
    np.testing.assert_allclose(half, 0.5 * source[EXP] + 0.5 * smile.exp, rtol=1e-6)


def test_save_preset_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(edits.PRESET_DIR_ENV, str(tmp_path / "user"))
    exp = make_coeffs(1, 5)[0, EXP]
    path = edits.save_preset(edits.Preset("mine", exp, "test", "deep3d"), "mine")
    assert path == tmp_path / "user" / "mine.json"
    loaded = edits.load_preset("mine")
    np.testing.assert_allclose(loaded.exp, exp, atol=1e-6)
    assert loaded.space == "deep3d" and "mine" in edits.list_presets()
    np.savez(tmp_path / "p.npz", exp=exp)
    np.testing.assert_array_equal(edits.load_preset(tmp_path / "p.npz").exp, exp)
    (tmp_path / "bad.json").write_text(json.dumps({"exp": [1.0] * 3}))
    with pytest.raises(InputError, match="64 values"):
        edits.load_preset(tmp_path / "bad.json")
    with pytest.raises(InputError, match="unknown preset"):
        edits.load_preset("no_such_preset")


def test_sweeps_parse_and_expand() -> None:
    base = edits.build_edit(pitch=5)
    sweep = edits.parse_sweep("yaw:-20:20:5")
    assert sweep.values == (-20.0, -10.0, 0.0, 10.0, 20.0)
    steps = sweep.edits(base)
    assert [e.yaw for e in steps] == list(sweep.values) and all(e.pitch == 5 for e in steps)
    assert len(edits.parse_sweep("smile:0:1")) == edits.DEFAULT_SWEEP_STEPS
    slot_sweep = edits.parse_sweep("exp.7:0:1:3").edits(base)
    assert [e.exp for e in slot_sweep] == [((7, 0.0),), ((7, 0.5),), ((7, 1.0),)]
    listed = edits.parse_sweep("preset:smile,frown")
    assert [e.preset.name for e in listed.edits(base)] == ["smile", "frown"]
    blend = edits.parse_sweep("preset.surprise:0:1:2").edits(base)
    assert [e.preset_strength for e in blend] == [0.0, 1.0]
    for bad in ("yaw", "yaw:1", "yaw:a:b", "yaw:0:1:0", "bogus:0:1", "preset:nope", "yaw:0:inf"):
        with pytest.raises(InputError):
            edits.parse_sweep(bad)
