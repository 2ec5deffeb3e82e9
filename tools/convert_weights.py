#!/usr/bin/python3
"""Re-saves AdaIN weight files so that LibTorch's C++ API can read them.

The files users download (`vgg_normalised.pth`, `decoder.pth` of pytorch-AdaIN) are pickled
OrderedDicts in torch.save's legacy (pre-1.6) format, which LibTorch cannot read. This writes
the same tensors as a plain dict in the zip format, which `torch::pickle_load` reads:

    tools/convert_weights.py vgg_normalised.pth decoder.pth --out-dir models/adain-vgg19

Encoder keys after 29 (the layers past relu4_1, present in the full VGG19 file) are dropped.
With --half the tensors are stored as float16 (half the size; the server computes in float32).
"""
import argparse
import os
import sys

import torch

ENCODER_LAST_KEY = 29  # relu4_1's convolution is module 28; its weight and bias are "28.*"


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report any unreadable file the same way
        sys.exit(f"error: {path}: cannot be read as a torch.save file: {e}")
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        sys.exit(f"error: {path}: holds a {type(obj).__name__}, not a dict of tensors")
    return obj


def convert(path, out_path, is_encoder, half):
    state = load_state_dict(path)
    out = {}
    for key, value in state.items():
        if not torch.is_tensor(value):
            sys.exit(f"error: {path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        index = int(key.split(".")[0]) if key.split(".")[0].isdigit() else None
        if is_encoder and index is not None and index > ENCODER_LAST_KEY:
            continue
        value = value.detach().contiguous()
        out[key] = value.half() if half else value.float()
    # Write then rename, so that a reader (or a concurrent conversion) never sees half a file.
    tmp_path = f"{out_path}.tmp.{os.getpid()}"
    torch.save(out, tmp_path)
    os.replace(tmp_path, out_path)
    print(f"wrote {out_path} ({len(out)} tensors)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("encoder", help="vgg_normalised.pth (full or truncated)")
    parser.add_argument("decoder", help="decoder.pth")
    parser.add_argument("--out-dir", required=True, help="folder for encoder.pt and decoder.pt")
    parser.add_argument("--half", action="store_true", help="store float16 tensors")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    convert(args.encoder, os.path.join(args.out_dir, "encoder.pt"), True, args.half)
    convert(args.decoder, os.path.join(args.out_dir, "decoder.pt"), False, args.half)


if __name__ == "__main__":
    main()
