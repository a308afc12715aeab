import pytest

from counterfact.errors import DataError
from counterfact.templates import check_template, fill, load_template_resources, pattern_to_template, relation_templates


@pytest.mark.parametrize("pattern, expected", [
    ("The native language of [X] is [Y] .", "The native language of {} is"),
    ("The mother tongue of [X] is [Y].", "The mother tongue of {} is"),
    ("[X]'s occupation is [Y]", "{}'s occupation is"),
    ("the occupation of [X] is [Y].", "The occupation of {} is"),
    ("[X],  a subclass of [Y].", "{}, a subclass of"),
    ("[X], a product of [Y],", "{}, a product of"),
    ("[Y] is [X]'s native language.", None),          # object first
    ("[X] is a [Y] by profession.", None),            # object in the middle
    ("[X] is a [Y]-born person.", None),
    ("[X]'s profession is an [Y].", None),            # article would need to agree with the object
    ("[X] is [Y] citizen.", None),
    ("[Y] player [X]", None),
    ("[X] is [X] and [Y]", None),
])
def test_pattern_to_template(pattern, expected):
    assert pattern_to_template(pattern) == expected


def test_relation_templates_merge_and_dedupe():
    res = {"P1": {"rewrites": ["{} speaks", "In {}, people speak"], "generation": ["{} likes", "{} likes"]}}
    t = relation_templates("P1", ["[X] speaks [Y] .", "[Y] is spoken by [X]."], res)
    assert t.templates == ("{} speaks", "In {}, people speak")
    assert t.from_pararel == ("{} speaks",)
    assert t.generation == ("{} likes",)


def test_check_template_rejects_bad_placeholders():
    with pytest.raises(DataError):
        check_template("no placeholder", "x")
    with pytest.raises(DataError):
        check_template("{} and {}", "x")
    with pytest.raises(DataError):
        check_template("{} is {0}", "x")


def test_packaged_resources_are_valid_for_default_relations():
    from counterfact.config import default_relations

    res = load_template_resources()
    rels = default_relations()
    assert len(rels) == 33 and "P641" not in rels
    for rel in rels:
        assert rel in res and len(res[rel]["generation"]) >= 3, rel


def test_fill_keeps_braces_in_subject():
    assert fill("The language of {} is", "A{b}") == "The language of A{b} is"
