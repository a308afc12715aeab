"""Disjoint zsRE train/eval parts of one zsRE file (Snakemake script of rule zsre_split).

MEND's zsRE training records have no stable public URL. When the configuration gives no
local copy (paths.zsre_train), the workflow holds out a seeded share of the downloaded zsRE
evaluation file for hyper-network training (KE-zsRE, MEND-zsRE) and evaluates on the rest:
the two parts share no record. Records keep their order within each part.
"""

import json
import random
import sys

from atomicio import atomic_write_json
from rome.results.provenance import write_provenance

sm = snakemake  # noqa: F821 - provided by Snakemake's script directive
source = sm.input[0]
try:
    with open(source, encoding="utf-8") as fh:
        records = json.load(fh)
except (OSError, json.JSONDecodeError) as err:
    sys.exit(f"zsre_split: {source}: cannot read a JSON list of zsRE records ({err})")
if not isinstance(records, list) or len(records) < 2:
    sys.exit(f"zsre_split: {source}: expected a JSON list of at least 2 zsRE records")
fraction = float(sm.params.fraction)
n_train = max(1, min(len(records) - 1, round(len(records) * fraction)))
order = list(range(len(records)))
random.Random(int(sm.params.seed)).shuffle(order)
train_ids = set(order[:n_train])
train = [r for i, r in enumerate(records) if i in train_ids]
held_out = [r for i, r in enumerate(records) if i not in train_ids]
atomic_write_json(sm.output.train, train)
atomic_write_json(sm.output.eval, held_out)
with open(sm.log[0], "w", encoding="utf-8") as log:
    log.write(f"{source}: {len(records)} records -> train {len(train)}, eval {len(held_out)} "
              f"(fraction {fraction}, seed {sm.params.seed})\n")
write_provenance(sm.params.prov_dir, sm.rule, [source], list(sm.output), json.loads(sm.params.prov))
