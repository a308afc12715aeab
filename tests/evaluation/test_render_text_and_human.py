"""Text figures and the human-evaluation kit, from cached result files only."""
from __future__ import annotations

import csv
import json

import pytest

from atomicio import atomic_write_json
from counterfact.errors import BadInputError
from rome.render.human_eval import render_fig26
from rome.render.human_eval_kit import export_kit, tally_ratings
from rome.render.text_figures import render_generations, render_record

TAGS = {"none": "x", "ROME": "y", "FT+L": "z", "unedited": "x"}


@pytest.fixture
def eval_dir(tmp_path, make_record):
    d = tmp_path / "eval"
    for m in ("none", "ROME", "FT+L"):
        tag = TAGS[m]
        for cid in (0, 1):
            rec = make_record(cid)
            folder = {"FT+L": "ft-l"}.get(m, m.lower())   # registry key spelling
            atomic_write_json(d / folder / f"case_{cid}.json", {
                "case_id": cid, "method": m, "model": "tiny", "requested_rewrite": rec["requested_rewrite"],
                "cache_key": {"digest": f"key-{folder}"},
                "pre": {}, "post": {"text": [f"text of {tag} for {cid} (a)", f"text of {tag} for {cid} (b)"]}})
        atomic_write_json(d / folder / "manifest.json", {"case_ids": [0, 1], "cache_key": {"digest": f"key-{folder}"}})
    return d


def test_records_come_from_each_run_manifest_not_from_files_present(eval_dir, tmp_path):
    """A result file left from another run (not in the manifest, or under another key) is
    never picked or shown."""
    from rome.results.layout import StaleResultError, common_case_ids

    assert common_case_ids(eval_dir, ["none", "ROME", "FT+L"], 5) == [0, 1]
    for folder in ("none", "rome", "ft-l"):    # record 7: files of an earlier run in every folder
        atomic_write_json(eval_dir / folder / "case_7.json", {"case_id": 7, "cache_key": {"digest": "old"}})
    assert common_case_ids(eval_dir, ["none", "ROME", "FT+L"], 5) == [0, 1]
    atomic_write_json(eval_dir / "rome" / "manifest.json", {"case_ids": [1, 0], "cache_key": {"digest": "key-rome"}})
    assert common_case_ids(eval_dir, ["ROME", "none"], 5) == [1, 0]   # the first method's run order
    doc = json.loads((eval_dir / "rome" / "case_1.json").read_text())
    doc["cache_key"] = {"digest": "made-under-other-settings"}
    atomic_write_json(eval_dir / "rome" / "case_1.json", doc)
    with pytest.raises(StaleResultError, match=r"rome/case_1.json: made under other settings"):
        render_generations(eval_dir, ["none", "ROME"], [1], tmp_path / "y", "y")
    with pytest.raises(StaleResultError, match=r"rome/case_1.json"):
        export_kit(eval_dir, [1], tmp_path / "kit-stale", seed=1, methods=["none", "rome"])
    (eval_dir / "ft-l" / "manifest.json").unlink()
    with pytest.raises(StaleResultError, match=r"ft-l/manifest.json: no run manifest"):
        common_case_ids(eval_dir, ["none", "FT+L"], 5)


def test_generation_figure(eval_dir, tmp_path):
    paths = render_generations(eval_dir, ["none", "ROME", "FT+L"], [0, 1], tmp_path / "fig/fig06", "Fig 6")
    assert sorted(p.suffix for p in paths) == [".md", ".pdf", ".png"]
    md = paths[0].read_text()
    assert "text of y for 1 (a)" in md and "(b)" not in md and "**tiny**" in md
    assert "The mother tongue of Danielle Darrieux is English" in md
    with pytest.raises(FileNotFoundError) as missing:
        render_generations(eval_dir, ["KE"], [0], tmp_path / "x", "x")
    # a result never made is the user's input (exit 2 on the command line), as for render-sequential
    assert isinstance(missing.value, BadInputError)


def test_record_figures(tmp_path, make_record):
    cf = tmp_path / "cf.json"
    cf.write_text(json.dumps([make_record(5)]))
    md = render_record(cf, 5, "counterfact", tmp_path / "fig21")[0].read_text()
    assert "Léon Blum" in md and "target_new: English" in md
    zs = tmp_path / "zsre.json"
    zs.write_text(json.dumps([{"subject": "S", "src": "When was S founded?", "answers": ["1998"], "rephrase": "S founded when?",
                               "loc": "nq question: who", "loc_ans": "me", "pred": "", "alt": "", "cond": ""}]))
    md = render_record(zs, 0, "zsre", tmp_path / "fig22")[0].read_text()
    assert "S founded when?" in md and "1998" in md


def test_kit_is_anonymised_and_key_recovers(eval_dir, tmp_path):
    kit = tmp_path / "kit"
    export_kit(eval_dir, [0, 1], kit, seed=1)
    sheets = (kit / "sheets.csv").read_text()
    assert "ROME" not in sheets and "FT+L" not in sheets and "none" not in sheets and "unedited" not in sheets
    key = list(csv.DictReader(open(kit / "answer_key.csv")))
    assert len(key) == 6 and {k["method"] for k in key} == {"ROME", "FT+L", "unedited"}
    assert "$N_SAMPLES$" not in (kit / "instructions.html").read_text()
    assert (kit / "ratings_template.csv").read_text().strip() == "item_id,rater_id,most_consistent,most_fluent"
    # the key maps each label to the right text
    rows = list(csv.DictReader(open(kit / "sheets.csv")))
    for k in key:
        row = next(r for r in rows if r["item_id"] == k["item_id"])
        assert row[f"sample_{k['label']}"].startswith("text of " + TAGS[k["method"]])
    # same seed, same kit
    export_kit(eval_dir, [0, 1], tmp_path / "kit2", seed=1)
    assert (tmp_path / "kit2" / "answer_key.csv").read_text() == (kit / "answer_key.csv").read_text()
    # tally real ratings
    rome_label = {k["item_id"]: k["label"] for k in key if k["method"] == "ROME"}
    ratings = tmp_path / "ratings.csv"
    with open(ratings, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "rater_id", "most_consistent", "most_fluent"])
        for item, lab in rome_label.items():
            w.writerow([item, "r1", lab, ""])
    t = tally_ratings(ratings, kit / "answer_key.csv")
    assert t == {"ratings": 2, "consistency": {"ROME": 2}, "fluency": {}}
    assert len(render_fig26(t, tmp_path / "fig26")) == 2
    assert len(render_fig26(None, tmp_path / "fig26_none")) == 2


def test_fig26_gives_editors_outside_the_palette_their_own_colours(tmp_path, monkeypatch):
    """Editors after the paper (or a user's own) get distinct colours, not one shared grey;
    the paper's editors keep theirs and 'unedited' takes the unedited model's."""
    from matplotlib.colors import to_hex

    import rome.render.human_eval as he
    from rome.render.style import METHOD_COLOURS

    drawn = {}

    def keep(fig, stem):
        drawn["fig"] = fig
        return [tmp_path / "x.png"]

    monkeypatch.setattr(he, "save_figure", keep)
    tally = {"ratings": 4, "consistency": {"ROME": 1, "mine-a": 1, "mine-b": 1, "unedited": 1}, "fluency": {}}
    render_fig26(tally, tmp_path / "fig26")
    bars = drawn["fig"].axes[0].patches
    colours = {lab.get_text(): to_hex(b.get_facecolor())
               for lab, b in zip(drawn["fig"].axes[0].get_xticklabels(), bars)}
    assert colours["ROME"] == METHOD_COLOURS["ROME"]
    assert colours["unedited"] == METHOD_COLOURS["none"]
    assert colours["mine-a"] != colours["mine-b"]
    assert {colours["mine-a"], colours["mine-b"]}.isdisjoint(METHOD_COLOURS.values())
