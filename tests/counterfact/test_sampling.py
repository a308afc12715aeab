from collections import Counter

import numpy as np

from counterfact.sampling import sample_counterfactual, sample_subject_template_pairs


def test_frequency_weighted_target_never_true():
    rng = np.random.default_rng(0)
    objects, counts = ["A", "B", "C", "D"], [50, 100, 300, 600]
    n = 20000
    draws = Counter(sample_counterfactual(objects, counts, "A", rng) for _ in range(n))
    assert "A" not in draws
    for obj, p in (("B", 0.1), ("C", 0.3), ("D", 0.6)):
        # 5 standard errors
        assert abs(draws[obj] / n - p) < 5 * (p * (1 - p) / n) ** 0.5, (obj, draws)


def test_no_alternative_object():
    rng = np.random.default_rng(0)
    assert sample_counterfactual(["A"], [3], "A", rng) is None
    assert sample_counterfactual(["A", "B"], [3, 1], {"A", "B"}, rng) is None


def test_pairs_prefer_distinct_subjects_and_fill_with_templates():
    rng = np.random.default_rng(0)
    pairs = sample_subject_template_pairs([f"s{i}" for i in range(20)], ["t1", "t2"], 10, rng)
    assert len(pairs) == 10 and len({s for s, _ in pairs}) == 10
    pairs = sample_subject_template_pairs(["x", "y"], [f"t{i}" for i in range(6)], 10, rng)
    assert len(pairs) == 10 == len(set(pairs)) and {s for s, _ in pairs} == {"x", "y"}
    assert len(sample_subject_template_pairs(["x"], ["t1", "t2"], 10, rng)) == 2
