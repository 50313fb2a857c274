"""``predict`` works on every encoder ``evaluate`` accepts, the synthetic world included (issue 13)."""

from __future__ import annotations

import json

from cotclip.cli import main
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, predict
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world


def test_predict_on_a_synthetic_world_by_row(run_dir, broken_system, tmp_path, capsys):
    npz = tmp_path / "c.npz"
    assert main(["export", str(run_dir), "--format", "npz", "--out", str(npz)]) == 0
    capsys.readouterr()
    world = load_world("pokemon-like")
    expected = predict(
        broken_system, ImageSet(world.image_embeddings[[0, 17, 143]], [""] * 3, PromptEmbedder(SyntheticEncoder(world)))
    )
    system_file = tmp_path / "system.json"
    system_file.write_text(broken_system.to_json())
    for args in (
        ["--compiled", str(npz)],
        ["--system", str(run_dir)],
        ["--system", str(system_file), "--model", "synthetic:pokemon-like"],
    ):
        assert main(["predict", *args, "0", "17", "synthetic:pokemon-like#143", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [row["label"] for row in rows] == [broken_system.classes[i] for i in expected]
    assert main(["predict", "--compiled", str(npz), "--adaptive", "--stop", "margin", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] in broken_system.classes


def test_predict_names_the_fix_for_synthetic_mistakes(run_dir, tmp_path, capsys):
    npz = tmp_path / "c.npz"
    assert main(["export", str(run_dir), "--format", "npz", "--out", str(npz)]) == 0
    capsys.readouterr()
    assert main(["predict", "--compiled", str(npz), "card.png"]) == 2
    assert "name its images by row, 0..143" in capsys.readouterr().err
    assert main(["predict", "--system", "ready:fruits", "--model", "synthetic", "x.png"]) == 2
    err = capsys.readouterr().err
    assert "--model synthetic:<preset|world.yaml>" in err and "--data" not in err
