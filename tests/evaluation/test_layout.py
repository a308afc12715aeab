"""Results layout: one method slug per method, whatever name a caller uses."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rome.results.layout import (
    StaleResultError,
    case_file,
    common_case_ids,
    display_name,
    is_unedited,
    method_dir,
    method_slug,
)


@pytest.mark.parametrize("name, slug", [
    ("FT+L", "ft-l"), ("ft+l", "ft-l"), ("ft-l", "ft-l"), ("ft_l", "ft-l"), ("FTL", "ft-l"),
    ("AttnEdit", "attn"), ("attn", "attn"), ("ROME", "rome"), ("KE-CF", "ke-cf"), ("mend_zsre", "mend-zsre"),
    ("unedited", "none"), ("pre", "none"), ("My Method/2", "my_method_2"),
])
def test_method_slug(name, slug):
    assert method_slug(name) == slug


def test_display_names_round_trip():
    assert display_name("ft-l") == "FT+L" and display_name("attn") == "AttnEdit"
    assert display_name("mend-zsre") == "MEND-zsRE" and display_name("memit") == "MEMIT"
    assert display_name("r-rome") == "r-ROME" and display_name("my-method") == "my-method"
    assert is_unedited("Unedited") and not is_unedited("rome")


def test_folders_and_common_case_ids(tmp_path):
    for method, ids in (("ft-l", [1, 2, 3]), ("rome", [2, 3, 4])):
        for i in ids:
            f = case_file(tmp_path, method, i)
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("{}")
        (tmp_path / method / "manifest.json").write_text(json.dumps({"case_ids": ids}))
    assert method_dir(tmp_path, "FT+L") == tmp_path / "ft-l"
    assert common_case_ids(tmp_path, ["FT+L", "ROME"], 5) == [2, 3]
    with pytest.raises(StaleResultError, match="kn/manifest.json: no run manifest"):
        common_case_ids(tmp_path, ["FT+L", "KN"], 5)


def test_render_does_not_import_torch():
    code = ("import sys, rome.results.layout, rome.render.tables, rome.render.text_figures, rome.render.style; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
