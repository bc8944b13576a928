#!/usr/bin/env python3
"""Smoke test of the whole recipe on a toy model, and the fidelity link to the engine.

  /usr/bin/python3 tools/train/smoke.py --out DIR [--steps 3] [--dtype f32]

Runs phases A, B and C for a few steps each on recall data, exports the model (config.json +
model.safetensors), and writes DIR/golden.safetensors: the trainer's own logits for fixed ids with sparse
attention (`logits_sparse` f32 [S, V]) and dense attention (`logits_dense`), its top-k selections
(`topk_indices` i32 [layers, S, K], ascending, -1 padded, as `dsa forward` writes them), and the margin between
the k-th and (k+1)-th index score of each row (`topk_margin` f32 [layers, S]; rows with a near-tie may legitimately
select differently). tests/trainer-fidelity.test.ts checks that the engine reproduces them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dsa_train.config import ModelArgs  # noqa: E402
from dsa_train.export import export_checkpoint, rounded_state, write_safetensors  # noqa: E402
from dsa_train.golden import golden  # noqa: E402
from dsa_train.model import DeepseekV32  # noqa: E402
from dsa_train.recall import VOCAB, make_batch, make_sequence  # noqa: E402
from dsa_train.recipe import Phase, Trainer  # noqa: E402

TOY = ModelArgs(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=2,
    q_lora_rank=32,
    kv_lora_rank=32,
    qk_nope_head_dim=16,
    qk_rope_head_dim=8,
    v_head_dim=16,
    first_k_dense_replace=1,
    n_routed_experts=4,
    n_shared_experts=1,
    num_experts_per_tok=2,
    n_group=2,
    topk_group=1,
    moe_intermediate_size=32,
    routed_scaling_factor=1.5,
    index_n_heads=2,
    index_head_dim=32,
    index_topk=8,
    max_position_embeddings=256,
    rope_theta=10000.0,
    rope_scaling={
        "type": "yarn",
        "factor": 4.0,
        "original_max_position_embeddings": 64,
        "beta_fast": 32,
        "beta_slow": 1,
        "mscale": 1.0,
        "mscale_all_dim": 1.0,
    },
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "fp8"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.time()
    log = []
    model = DeepseekV32(TOY)
    trainer = Trainer(model, os.path.join(args.out, "run"), seed=0, log=log.append, save_every_s=1e9)
    data = lambda rng, progress: make_batch(rng, 4, 32, (4, 8), 4)  # noqa: E731
    trainer.run(Phase("A", "A", args.steps, 3e-3, data, warmup=1))
    trainer.run(Phase("B", "B", args.steps, 0.0, data, indexer_lr=1e-3, warmup=1))
    trainer.run(Phase("C", "C", args.steps, 1e-4, data, indexer_lr=3e-4, warmup=1))
    export_checkpoint(model, TOY, args.out, args.dtype)
    # Goldens on the weights as exported (rounded to the file's dtype), so the engine must match exactly.
    model.load_state_dict(rounded_state(model.state_dict(), args.dtype))
    seq = make_sequence(np.random.default_rng(5), 40, 6, 4)
    ids = torch.tensor([seq.ids], dtype=torch.long)
    write_safetensors(os.path.join(args.out, "golden.safetensors"), golden(model, ids), {"producer": "tools/train/smoke.py"})
    phases = sorted({r["phase"] for r in log})
    print(json.dumps({"phases": phases, "records": len(log), "seconds": round(time.time() - started, 1), "out": args.out}))


if __name__ == "__main__":
    main()
