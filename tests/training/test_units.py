"""EMA, LR schedule, checkpoints, data pairs and metrics: fast unit tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pirender import PIRenderer, RendererConfig
from pirender.data.lmdb_schema import VoxLMDB
from pirender.data.pairs import PairDataset, StepBatchSampler, identity_of
from pirender.eval import metrics
from pirender.motion.coeffs import EXP, motion_windows
from pirender.training import checkpoint as ckpt
from pirender.training.config import OptimConfig
from pirender.training.ema import ema_decay, make_ema, update_ema
from pirender.training.stages import Stage, build_optimizer_and_scheduler, set_trainable


def test_ema_update_and_half_life() -> None:
    assert abs(ema_decay(312.5) - 0.99778439) < 1e-8
    assert abs(ema_decay(10) ** 10 - 0.5) < 1e-12
    model = torch.nn.Linear(3, 2)
    ema = make_ema(model)
    before = ema.weight.clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    update_ema(ema, model, decay=0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before + 0.1 * model.weight)
    assert not ema.weight.requires_grad


def _lrs(optim: OptimConfig, stage: Stage, steps: int) -> list[float]:
    opt, sched = build_optimizer_and_scheduler([torch.nn.Parameter(torch.zeros(1))], stage, optim)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_schedule_follows_the_optimizer_in_use() -> None:
    optim = OptimConfig(lr=1.0, lr_decay_every=5, lr_decay_gamma=0.5)
    assert _lrs(optim, Stage("warp", 0), 6) == [1, 1, 1, 1, 1, 0.5]
    # full stage from global step 3: decay at global step 5 = stage step 2, then 10 = stage step 7
    assert _lrs(optim, Stage("full", 3), 8) == [1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25]
    quirk = OptimConfig(lr=1.0, lr_decay_every=5, lr_decay_gamma=0.5, official_scheduler_quirk=True)
    assert _lrs(quirk, Stage("full", 3), 8) == [1.0] * 8  # the official stranded scheduler


def test_trainable_sets_per_stage() -> None:
    model = PIRenderer(RendererConfig.tiny())
    warp = set_trainable(model, Stage("warp", 0))
    assert {id(p) for p in warp} == {id(p) for n in ("mapping_net", "warping_net")
                                     for p in getattr(model, n).parameters()}  # fmt: skip
    full = set_trainable(model, Stage("full", 2))
    dead = model.num_parameters() - model.num_parameters(live_only=True)
    assert sum(p.numel() for p in full) == model.num_parameters() - dead


def test_checkpoints_are_atomic_and_pruned(tmp_path: Path) -> None:
    base = {"stage": "warp", "config": "{}", "generator": {}, "ema": {}, "optimizer": {}, "scheduler": {},
            "rng": ckpt.rng_state(), "backbone": "l1"}  # fmt: skip
    for step in (1, 2, 3):
        ckpt.save_training_state(tmp_path, {**base, "step": step}, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_000000002", "step_000000003"]  # no temporary leftovers
    assert ckpt.load_training_state(tmp_path)["step"] == 3


def test_pairs_are_a_function_of_the_key(synth_lmdb: Path) -> None:
    data = PairDataset(str(synth_lmdb), size=64)
    assert data.draw((0, 0, 5, 1)) == PairDataset(str(synth_lmdb), size=64).draw((0, 0, 5, 1))
    assert len({data.draw((0, 0, 5, k)) for k in range(8)}) > 1
    assert data.draw((0, 0, 5, 1)) != data.draw((0, 1, 5, 1))  # ranks see different pairs
    item = data[(0, 0, 5, 1)]
    sv, sf, tv, tf = data.draw((0, 0, 5, 1))
    assert sv == tv  # same video by default
    db = VoxLMDB(synth_lmdb, size=64)
    expected = motion_windows(db.motion(tv), np.array([tf]))[0]
    assert torch.equal(item["target_coeffs"], torch.from_numpy(expected))
    assert item["source_image"].shape == (3, 64, 64) and item["source_image"].abs().max() <= 1
    cross = PairDataset(str(synth_lmdb), size=64, cross_video_prob=1.0)
    for k in range(5):
        sv, _, tv, _ = cross.draw((0, 0, 0, k))
        assert sv != tv and identity_of(sv) == identity_of(tv)
    plain = [data.draw((0, 0, 0, k)) for k in range(40)]
    assert sum(abs(tf - sf) > 3 for _, sf, _, tf in plain) > 10  # independent frames: mostly far apart
    near = PairDataset(str(synth_lmdb), size=64, near_pair_prob=1.0, near_pair_max_gap=3)
    near_pairs = [near.draw((0, 0, 0, k)) for k in range(40)]
    for (_, _, pv, pf), (sv, sf, tv, tf) in zip(plain, near_pairs, strict=True):
        assert (tv, tf) == (pv, pf) and sv == tv and abs(sf - tf) <= 3  # same target, source near it
    half = PairDataset(str(synth_lmdb), size=64, near_pair_prob=0.5, near_pair_max_gap=0)
    same = sum(sf == tf for _, sf, _, tf in (half.draw((0, 0, 0, k)) for k in range(200)))
    assert 70 < same < 130
    # Expression pairs: the same target, the source the candidate of its video farthest in expression.
    expressive = PairDataset(
        str(synth_lmdb), size=64, expression_pair_prob=1.0, expression_pair_candidates=10
    )
    pairs = [expressive.draw((0, 0, 0, k)) for k in range(40)]

    def change(pair: tuple[str, int, str, int]) -> float:
        sv, sf, tv, tf = pair
        return float(np.abs(db.motion(sv)[sf, EXP] - db.motion(tv)[tf, EXP]).sum())

    for (_, _, pv, pf), (sv, _, tv, tf) in zip(plain, pairs, strict=True):
        assert (tv, tf) == (pv, pf) and sv == tv
    assert np.mean([change(p) for p in pairs]) > 1.5 * np.mean([change(p) for p in plain])
    sampler = StepBatchSampler(batch_size=2, seed=7, rank=1, start_step=3, end_step=5)
    assert list(sampler) == [[(7, 1, 3, 0), (7, 1, 3, 1)], [(7, 1, 4, 0), (7, 1, 4, 1)]]


def test_edit_pairs_are_photo_and_video_edits_rendered_by_synthhead(synth_lmdb: Path, tmp_path: Path) -> None:
    from pirender.data.lmdb_schema import VoxLMDBWriter
    from pirender.errors import InputError
    from pirender.motion.coeffs import to_lmdb_rows
    from pirender.synth import EXPRESSION_CONTROLS, SynthHead
    from pirender.synth.motion import MOUTH_CONTROLS, random_edit, random_track_edit

    plain = PairDataset(str(synth_lmdb), size=64)
    edits = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0)
    keys = [(0, 0, 3, k) for k in range(24)]
    assert all(plain.edit(k) is None for k in keys)
    assert [edits.draw(k) for k in keys] == [plain.draw(k) for k in keys]  # its own RNG stream
    controls = list(EXPRESSION_CONTROLS.values())
    others = [i for i in range(73) if i not in controls]
    kinds, changed = [], []
    for key in keys[:12]:
        video, source, target = edits.edit(key)
        _, _, target_video, target_frame = plain.draw(key)
        motion = VoxLMDB(synth_lmdb, size=64).motion(target_video)
        assert video == target_video and source.shape == target.shape == (73, 27)
        assert torch.equal(source[others], target[others])  # pose, framing, unnamed slots: unchanged
        assert np.allclose(source[64:, 13].numpy(), motion[target_frame, 64:])  # the frame's pose and crop
        still = torch.equal(target, target[:, :1].expand(73, 27))
        kinds.append(still)
        if still:  # a photo edit: one to three controls moved a lot, constant windows
            moved = (target[controls, 13] - source[controls, 13]).abs()
            assert 1 <= (moved > 0).sum() <= 3 and moved.max() >= 0.4
            assert torch.equal(source, source[:, :1].expand(73, 27))
        else:  # a video edit: the frame's real window, some tracks another video's
            assert torch.equal(source, torch.from_numpy(motion_windows(motion, np.array([target_frame]))[0]))
            changed.append(not torch.equal(source, target))
        item = edits[key]
        head = SynthHead(int(video[5:10]), 64)
        for side, window in (("source", source), ("target", target)):
            expected = (
                torch.from_numpy(head.render(window[:, 13].numpy())).permute(2, 0, 1).float() / 127.5 - 1
            )
            assert torch.allclose(item[f"{side}_image"], expected)
            assert torch.equal(item[f"{side}_coeffs"], window)
    assert any(kinds) and not all(kinds)  # both kinds
    assert sum(changed) > len(changed) / 2  # (a donor's track may equal the clip's: both at rest)
    half = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=0.5)
    assert 70 < sum(half.edit((0, 0, 0, k)) is not None for k in range(200)) < 130
    rng = np.random.default_rng(0)
    opened = [random_edit(rng, np.zeros(73, np.float32)) for _ in range(200)]
    jaw = EXPRESSION_CONTROLS["jaw_open"]
    assert 0.3 < np.mean([t[jaw] > s[jaw] for s, t in opened]) < 0.6  # jaw_open in a third of edits or more
    clip, donor = (
        np.zeros((10, 73), np.float32),
        np.tile(np.linspace(0.1, 1, 7, dtype=np.float32)[:, None], 73),
    )
    dubs = [random_track_edit(rng, clip, donor) for _ in range(40)]
    mouth = [EXPRESSION_CONTROLS[n] for n in MOUTH_CONTROLS]
    assert sum(bool(np.all(d[:, mouth] > 0)) for d in dubs) > 10  # the mouth tracks, as a dub replaces
    assert all(np.all(d[:, 64:] == 0) and 1 <= int((d[0] != 0).sum()) <= 3 for d in dubs)
    assert all(set(np.round(d[:, d[0] != 0][:, 0], 4)) <= set(np.round(donor[:, 0], 4)) for d in dubs)
    # Edit pairs need SynthHead's renderer: another LMDB is a one-line error.
    with VoxLMDBWriter(tmp_path / "vox", size=64) as writer:
        rows = to_lmdb_rows(np.zeros((2, 73), np.float32))
        writer.add_video("id00001#abc#0#1", np.zeros((2, 64, 64, 3), np.uint8), rows, split="train")
    with pytest.raises(InputError, match="pirender synth"):
        PairDataset(str(tmp_path / "vox"), size=64, edit_pair_prob=0.5)


def test_pose_edit_pairs_damp_or_turn_the_head_and_keep_the_rest(synth_lmdb: Path) -> None:
    from pirender.synth import SynthHead
    from pirender.synth.motion import random_pose_edit

    poses = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0, edit_pose_share=1.0)
    plain = PairDataset(str(synth_lmdb), size=64)
    damped = turned = 0
    for key in [(0, 0, 5, k) for k in range(10)]:
        video, source, target = poses.edit(key)
        _, _, target_video, target_frame = plain.draw(key)
        motion = VoxLMDB(synth_lmdb, size=64).motion(target_video)
        assert video == target_video
        assert torch.equal(source, torch.from_numpy(motion_windows(motion, np.array([target_frame]))[0]))
        assert torch.equal(source[:64], target[:64]) and torch.equal(source[70:], target[70:])
        delta = (target[64:70] - source[64:70]).numpy()
        offset = np.abs(delta[:3]).max(axis=1)
        if np.count_nonzero(offset > 1e-6) == 1 and np.allclose(delta[3:], 0):  # one angle turned
            row = int(np.argmax(offset))
            assert np.allclose(delta[row], delta[row, 0], atol=1e-6)  # by a constant
            assert np.deg2rad(1) - 1e-5 <= abs(delta[row, 0]) <= np.deg2rad(8) + 1e-5
            turned += 1
        else:  # damped towards the clip's mean: smaller excursions, every frame
            mean = motion[:, 64:70].mean(0)[:, None]
            spread = np.abs(target[64:70].numpy() - mean), np.abs(source[64:70].numpy() - mean)
            assert np.all(spread[0] <= spread[1] * 0.75 + 1e-5)
            damped += 1
        item = poses[key]
        head = SynthHead(int(video[5:10]), 64)
        truth = torch.from_numpy(head.render(target[:, 13].numpy())).permute(2, 0, 1).float() / 127.5 - 1
        assert torch.allclose(item["target_image"], truth)
    assert damped and turned
    # a share of 0.5 mixes them with the expression edits; 0 leaves the expression edits as they were
    half = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0, edit_pose_share=0.5)
    pose_only = [torch.equal(s[:64], t[:64]) and not torch.equal(s, t) for _, s, t in
                 (half.edit((0, 0, 1, k)) for k in range(40))]  # fmt: skip
    assert 10 < sum(pose_only) < 30
    clip = np.zeros((6, 73), np.float32)
    assert np.all(random_pose_edit(np.random.default_rng(1), clip)[:, :64] == 0)


def test_focused_edit_pairs_move_only_the_named_controls(synth_lmdb: Path) -> None:
    from pirender.synth import EXPRESSION_CONTROLS
    from pirender.synth.motion import random_edit

    focus = ("smile", "blink_left", "squint")
    slots = [EXPRESSION_CONTROLS[n] for n in focus]
    others = [i for n, i in EXPRESSION_CONTROLS.items() if n not in focus]
    focused = PairDataset(
        str(synth_lmdb), size=64, edit_pair_prob=1.0, edit_focus=focus, edit_focus_share=1.0
    )
    moved_any = set()
    for key in [(0, 0, 7, k) for k in range(24)]:
        _, source, target = focused.edit(key)
        assert torch.equal(source[others], target[others]) and torch.equal(source[12:], target[12:])
        moved = {focus[j] for j, slot in enumerate(slots) if not torch.equal(source[slot], target[slot])}
        moved_any |= moved
    assert moved_any == set(focus)  # each named control is drawn
    rng = np.random.default_rng(3)
    for _ in range(50):  # a still edit: one or two of them, far, and no jaw added
        s, t = random_edit(rng, np.zeros(73, np.float32), ("smile",))
        assert np.flatnonzero(s != t).tolist() == [EXPRESSION_CONTROLS["smile"]] and t[1] >= 0.6
    # a share of 0.5 mixes them with the usual edits; a share of 0 draws exactly as without the option
    half = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0, edit_focus=focus, edit_focus_share=0.5)
    outside = [
        not torch.equal(s[others], t[others]) for _, s, t in (half.edit((0, 0, 2, k)) for k in range(40))
    ]
    assert 3 < sum(outside) < 30
    off = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0, edit_focus=focus, edit_focus_share=0.0)
    plain = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0)
    for key in [(0, 1, 3, k) for k in range(10)]:
        a, b = off.edit(key), plain.edit(key)
        assert a[0] == b[0] and torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])


def test_neutral_still_edits_start_from_the_neutral_frontal_face(synth_lmdb: Path) -> None:
    from pirender.synth import neutral_coeffs

    neutral = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0, edit_neutral_share=1.0)
    plain = PairDataset(str(synth_lmdb), size=64, edit_pair_prob=1.0)
    stills = 0
    for key in [(0, 2, 5, k) for k in range(30)]:
        _, source, target = neutral.edit(key)
        if torch.equal(source[:, 0], source[:, -1]):  # a still edit: constant windows
            stills += 1
            assert torch.equal(
                source[12:, 0], torch.from_numpy(neutral_coeffs()[12:])
            )  # frontal, neutral framing
            assert not torch.equal(source, target)
        else:  # video edits are as without the option
            a = plain.edit(key)
            assert torch.equal(a[1], source) and torch.equal(a[2], target)
    assert 5 < stills < 25
    item = neutral[(0, 2, 5, 0)]
    assert item["source_image"].shape == (3, 64, 64)


def test_metrics() -> None:
    torch.manual_seed(0)
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(metrics.ssim(a, a), torch.ones(2))
    assert torch.all(metrics.psnr(a, a) >= 99)
    b = (a + 0.2).clamp(-1, 1)
    mse = ((a.clamp(-1, 1) + 1) / 2 - (b + 1) / 2).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(metrics.psnr(a, b), 10 * torch.log10(1 / mse))
    torch.testing.assert_close(metrics.l1(a, b), ((a - b).abs() / 2).flatten(1).mean(1))
    noisy = (a + 0.5 * torch.randn_like(a)).clamp(-1, 1)
    assert torch.all(metrics.ssim(a, noisy) < metrics.ssim(a, b))
