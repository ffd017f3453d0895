#!/usr/bin/python3
"""Golden values for the GEN score (Liu, Lochman, Zach, "GEN: Pushing the Limits of
Softmax-Based Out-of-Distribution Detection", CVPR 2023), from the reference code.

The score is OpenOOD v1.5's GENPostprocessor.generalized_entropy (the same formula as the
authors' benchmark.py), run here on float64 logits so that the fixture holds the formula's
value rather than float32 rounding:

    probs = softmax(logits); probs_sorted = sort(probs)[:, -M:]
    gen = -sum(probs_sorted**gamma * (1 - probs_sorted)**gamma)      gamma = 0.1, M = 100

Writes tests/fixtures/gen_scores.json: {"gamma", "M", "cases": [{"logits": [...], "gen": x}]}.
Needs Debian's python3-torch; run with /usr/bin/python3 from the project root.
"""
import json

import torch


def generalized_entropy(softmax_id_val, gamma=0.1, M=100):  # OpenOOD v1.5, verbatim logic
    probs = softmax_id_val
    probs_sorted = torch.sort(probs, dim=1)[0][:, -M:]
    scores = torch.sum(probs_sorted**gamma * (1 - probs_sorted)**gamma, dim=1)
    return -scores


def main():
    g = torch.Generator().manual_seed(11)
    cases = []
    for k, scale in [(2, 1.0), (2, 4.0), (3, 0.0), (5, 2.0), (10, 3.0), (10, 8.0), (100, 2.0),
                     (101, 2.0), (150, 3.0), (1000, 4.0)]:
        for _ in range(3):
            logits = (torch.randn(1, k, generator=g, dtype=torch.float64) * scale)
            # Round to float32, as a model's logits are: oodscore reads float32 logits.
            logits = logits.float().double()
            gen = generalized_entropy(torch.softmax(logits, dim=1))[0].item()
            cases.append({"logits": logits[0].tolist(), "gen": gen})
    with open("tests/fixtures/gen_scores.json", "w") as f:
        json.dump({"gamma": 0.1, "M": 100, "source": "OpenOOD v1.5 GENPostprocessor, float64",
                   "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases written to tests/fixtures/gen_scores.json")


if __name__ == "__main__":
    main()
