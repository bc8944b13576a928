"""dsa_train: a small, readable trainer for DeepSeek-V3.2-architecture (DSA) models.

Table of contents
  config.py   ModelArgs: the Hugging Face config.json fields of a deepseek_v32 model
  rope.py     rotary frequencies (default and YaRN) and the two pair layouts (interleaved, half-split)
  model.py    the model: MLA with its lightning indexer, top-k sparse attention, MLP and DeepSeek MoE
  losses.py   the indexer's KL losses of the paper's two training steps
  recipe.py   the three phases (A dense pretraining, B indexer warm-up, C sparse training), checkpoints
  export.py   config.json + safetensors (f32, bf16, DeepSeek's fp8 block-scaled layout)
  recall.py   the needle-recall task of fixtures/recall (data generator, JSONL reader, scorer)

Written from shared/docs/dsa-spec.md; runs on CPU with Debian's python3-torch 1.13 and unchanged on a GPU.
"""
