"""Model access: loading (the embedded Gemma, any Hugging Face causal LM, tiny test models),
the one architecture map, hooks, subject and target tokens, partial forward passes, the
vocabulary projection, the one generation path, teacher-forced scoring and devices/dtypes.

The bottom layer of :mod:`rome`: it imports no other sub-package (folders and files come
from its caller).
"""
