#!/usr/bin/python3
"""An independent implementation of the reference AdaIN forward pass, for parity tests.

Written from ../shared/docs/adain-reference.md in the style of the public pytorch-AdaIN port
(nn.Sequential networks, the port's own AdaIN and CORAL), sharing no code with the server.
It reads the user's original weight files (legacy torch.save format) and raw images:

    adain_reference.py --encoder vgg_normalised.pth --decoder decoder.pth \
        --content c.rgb:W:H --style s.rgb:W:H [--style s2.rgb:W:H --weights 0.3,0.7] \
        [--alpha 0.5] [--preserve-color] --out out.rgb

A raw image is interleaved 8-bit RGB rows (W*H*3 bytes). The output is raw too, at the
reference's own size (a multiple of 8), written with its width and height on stdout as "W H".
"""
import argparse
import sys

import numpy as np
import torch
import torch.nn as nn


def make_encoder():
    return nn.Sequential(
        nn.Conv2d(3, 3, (1, 1)),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(3, 64, (3, 3)), nn.ReLU(),  # relu1-1
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 64, (3, 3)), nn.ReLU(),
        nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 128, (3, 3)), nn.ReLU(),  # relu2-1
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 128, (3, 3)), nn.ReLU(),
        nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 256, (3, 3)), nn.ReLU(),  # relu3-1
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 512, (3, 3)), nn.ReLU(),  # relu4-1
    )


def make_decoder():
    return nn.Sequential(
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(512, 256, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 128, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 128, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 64, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 64, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 3, (3, 3)),
    )


def calc_mean_std(feat, eps=1e-5):
    n, c = feat.shape[:2]
    var = feat.view(n, c, -1).var(dim=2) + eps
    return feat.view(n, c, -1).mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)


def adaptive_instance_normalization(content_feat, style_feat):
    style_mean, style_std = calc_mean_std(style_feat)
    content_mean, content_std = calc_mean_std(content_feat)
    normalized = (content_feat - content_mean) / content_std
    return normalized * style_std + style_mean


def _mat_sqrt(x):
    u, d, v = torch.svd(x)
    return torch.mm(torch.mm(u, d.pow(0.5).diag()), v.t())


def coral(source, target):
    """The port's colour transfer: source (style) takes the colour statistics of target."""
    def flat_mean_std(feat):
        flat = feat.view(3, -1)
        return flat, flat.mean(dim=-1, keepdim=True), flat.std(dim=-1, keepdim=True)

    source_f, source_mean, source_std = flat_mean_std(source)
    source_norm = (source_f - source_mean) / source_std
    source_cov = torch.mm(source_norm, source_norm.t()) + torch.eye(3)
    target_f, target_mean, target_std = flat_mean_std(target)
    target_norm = (target_f - target_mean) / target_std
    target_cov = torch.mm(target_norm, target_norm.t()) + torch.eye(3)
    source_norm_transfer = torch.mm(_mat_sqrt(target_cov), torch.mm(torch.inverse(_mat_sqrt(source_cov)), source_norm))
    source_transfer = source_norm_transfer * target_std + target_mean
    return source_transfer.view(source.size())


def style_transfer(vgg, decoder, content, styles, weights, alpha):
    content_f = vgg(content)
    if len(styles) == 1:
        feat = adaptive_instance_normalization(content_f, vgg(styles[0]))
    else:
        feat = sum(w * adaptive_instance_normalization(content_f, vgg(s)) for w, s in zip(weights, styles))
    feat = feat * alpha + content_f * (1 - alpha)
    return decoder(feat)


def read_raw(spec):
    path, w, h = spec.rsplit(":", 2)
    w, h = int(w), int(h)
    data = np.fromfile(path, dtype=np.uint8)
    if data.size != w * h * 3:
        sys.exit(f"error: {path} holds {data.size} bytes, not {w}x{h}x3")
    return torch.from_numpy(data.reshape(h, w, 3).copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", required=True)
    p.add_argument("--decoder", required=True)
    p.add_argument("--content", required=True)
    p.add_argument("--style", action="append", required=True)
    p.add_argument("--weights", default="")
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--preserve-color", action="store_true")
    p.add_argument("--out", required=True)
    a = p.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    vgg, decoder = make_encoder(), make_decoder()
    vgg_state = torch.load(a.encoder, map_location="cpu")
    vgg_state = {k: v for k, v in vgg_state.items() if int(k.split(".")[0]) < len(vgg)}
    vgg.load_state_dict(vgg_state)
    decoder.load_state_dict(torch.load(a.decoder, map_location="cpu"))
    vgg.eval()
    decoder.eval()

    content = read_raw(a.content)
    styles = [read_raw(s) for s in a.style]
    weights = [float(w) for w in a.weights.split(",")] if a.weights else [1.0 / len(styles)] * len(styles)
    total = sum(weights)
    weights = [w / total for w in weights]
    if a.preserve_color:
        styles = [coral(s[0], content[0]).unsqueeze(0) for s in styles]
    with torch.no_grad():
        out = style_transfer(vgg, decoder, content, styles, weights, a.alpha)
    img = (out[0].clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    img.tofile(a.out)
    print(img.shape[1], img.shape[0])


if __name__ == "__main__":
    main()
