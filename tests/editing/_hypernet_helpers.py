"""Tiny training edits for the KE / MEND tests."""
from rome.editing.hypernet_data import HypernetExample

TINY_EXAMPLES = [
    HypernetExample("The capital of France is", "Rome", ["France's capital city is"], ["The sky is"]),
    HypernetExample("Michael Jordan plays", "soccer", [], ["Water is"]),
    HypernetExample("The mother tongue of Danielle is", "English", [], ["My dog is"]),
    HypernetExample("Japan is located in", "Europe", [], ["Trees are"]),
]


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs)
