#!/usr/bin/python3
"""PyTorch baselines for the GPU benchmark, written from ../shared/docs/adain-reference.md
with the networks of adain_reference.py:

  naive: float32, batch 1, content and style both encoded per request, host tensors in and out
         (what a user gets from the reference script);
  tuned: float16, channels_last, cuDNN benchmark, style statistics cached, device tensors,
         batch 32 (a careful user's eager PyTorch).

    baseline_pytorch.py --model-dir DIR --sizes 256,512,1024 --json out.json
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from adain_reference import adaptive_instance_normalization, calc_mean_std, make_decoder, make_encoder  # noqa: E402


def load(model_dir, device):
    vgg, decoder = make_encoder(), make_decoder()
    enc = {k: v.float() for k, v in torch.load(os.path.join(model_dir, "encoder.pt")).items()}
    vgg.load_state_dict({k: v for k, v in enc.items() if int(k.split(".")[0]) < len(vgg)})
    decoder.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(model_dir, "decoder.pt")).items()})
    return vgg.eval().to(device), decoder.eval().to(device)


def timed(fn, seconds):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        if n >= 5 and time.perf_counter() - start >= seconds:
            break
    torch.cuda.synchronize()
    return n, time.perf_counter() - start


def naive(vgg, decoder, size, seconds):
    content = torch.rand(1, 3, size, size)
    style = torch.rand(1, 3, size, size)

    def request():
        with torch.no_grad():
            c, s = content.cuda(), style.cuda()
            out = decoder(adaptive_instance_normalization(vgg(c), vgg(s)))
            return out.clamp(0, 1).cpu()

    n, elapsed = timed(request, seconds)
    return elapsed / n * 1000.0  # ms per request


def tuned(vgg, decoder, size, batch, seconds):
    vgg = vgg.half().to(memory_format=torch.channels_last)
    decoder = decoder.half().to(memory_format=torch.channels_last)
    content = torch.rand(batch, 3, size, size, device="cuda").half().to(memory_format=torch.channels_last)
    with torch.no_grad():
        style_mean, style_std = calc_mean_std(vgg(torch.rand(1, 3, size, size, device="cuda").half().to(memory_format=torch.channels_last)))

    def step():
        with torch.no_grad():
            f = vgg(content)
            mean, std = calc_mean_std(f)
            t = (f - mean) / std * style_std + style_mean
            return decoder(t).clamp(0, 1)

    try:
        n, elapsed = timed(step, seconds)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return None
    return n * batch / elapsed  # images per second


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--sizes", default="256,512,1024")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--json", default="")
    a = p.parse_args()
    torch.backends.cudnn.benchmark = True
    results = []
    for size in [int(s) for s in a.sizes.split(",")]:
        vgg, decoder = load(a.model_dir, "cuda")
        ms = naive(vgg, decoder, size, a.seconds)
        batch = 32 if size <= 512 else 8
        rate = tuned(vgg, decoder, size, batch, a.seconds)
        print(f"size {size}: naive {ms:.2f} ms/request ({1000 / ms:.1f} req/s); tuned batch {batch}: {rate} images/s", flush=True)
        results.append({"size": size, "naive_ms": ms, "naive_per_second": 1000 / ms, "tuned_batch": batch,
                        "tuned_images_per_second": rate})
        del vgg, decoder
        torch.cuda.empty_cache()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
