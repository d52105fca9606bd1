"""The streaming SAN-M encoder run layer by layer over all chunks at once (same result as the chunk loop).

Why this is possible: in `SanmEncoder.forward_chunk` (tokenizer/sanm.py, engine-spec §3.5) a call's input rows
are known in advance (the overlap is taken from the post-position-code *input*, not from layer outputs), and a
layer's attention cache for call i holds only that same layer's k/v rows of calls i-look_back .. i-1 (their
first `frames` rows). So layer l can be computed for every call in one batched pass once layer l-1 is done.
That turns 50 x n_calls small matrix products (weights re-read from memory every call) into 50 large ones.
Results equal the chunk loop up to float rounding (masked softmax over a padded key set).

Only calls with exactly `frames` new rows are batched (every non-final call of the streaming front end has
that many); the caller runs the final call through the ordinary `forward_chunk` with the state returned here.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from stepaudio_engine.tokenizer.sanm import ChunkConfig, SanmEncoder, StreamState, position_code


@torch.no_grad()
def encode_uniform_calls(encoder: SanmEncoder, feats: torch.Tensor, chunk: ChunkConfig,
                         check: Optional[Callable[[], None]] = None) -> tuple[torch.Tensor, StreamState]:
    """feats (B, frames, input) for B consecutive calls from the start -> outputs (B, overlap + frames, D) and the
    StreamState the chunk loop would hold after them. `check` runs between layers (cancellation)."""
    if chunk.left != 0:
        raise ValueError("batched encoding assumes chunk_size[0] == 0")
    n_calls, frames, width = feats.shape
    overlap, look_back = chunk.overlap, chunk.look_back
    device = feats.device
    x = feats * math.sqrt(encoder.cfg.output_size) + \
        position_code(0, n_calls * frames, width).to(device).reshape(n_calls, frames, width)
    stream = torch.cat((feats.new_zeros(overlap, width), x.reshape(n_calls * frames, width)))
    rows = torch.arange(n_calls, device=device)[:, None] * frames + torch.arange(overlap + frames, device=device)
    h = stream[rows]                                              # (B, overlap + frames, input): each call's input
    # keys of call i: the first `frames` rows of calls i-look_back .. i-1 (missing ones masked), then its own rows
    call = torch.arange(n_calls, device=device)[:, None]
    slot = torch.arange(look_back, device=device)[None]
    earlier = call + slot                      # index into [look_back zero pads] + calls
    present = slot >= look_back - call         # slot j of call i holds call i - look_back + j, if that exists
    mask = torch.cat((present.repeat_interleave(frames, 1),
                      torch.ones(n_calls, overlap + frames, dtype=torch.bool, device=device)), 1)[:, None, None, :]
    layers = list(encoder.encoders0) + list(encoder.encoders)
    kv_tail = []
    for layer in layers:
        if check is not None:
            check()
        h, cache = _layer(layer, h, earlier, mask, frames, look_back)
        kv_tail.append(cache)
    state = StreamState(start_idx=n_calls * frames, overlap=stream[-overlap:][None], kv=kv_tail)
    return encoder.after_norm(h), state


def _layer(layer, h: torch.Tensor, earlier: torch.Tensor, mask: torch.Tensor, frames: int, look_back: int):
    attn = layer.self_attn
    n_calls = h.shape[0]
    q, k, v = torch.split(attn.linear_q_k_v(layer.norm1(h)), attn.heads * attn.d_k, dim=-1)
    q_h, k_h, v_h = attn._split_heads(q), attn._split_heads(k), attn._split_heads(v)   # (B, H, T, d_k)

    def with_history(z: torch.Tensor) -> torch.Tensor:
        kept = torch.cat((z.new_zeros(look_back, z.shape[1], frames, z.shape[3]), z[:, :, :frames]))
        past = kept[earlier].permute(0, 2, 1, 3, 4).reshape(n_calls, attn.heads, look_back * frames, attn.d_k)
        return torch.cat((past, z), dim=2)

    keys, values = with_history(k_h), with_history(v_h)
    scores = torch.matmul(q_h * attn.d_k ** (-0.5), keys.transpose(-2, -1)).masked_fill(~mask, float("-inf"))
    out = torch.matmul(torch.softmax(scores, dim=-1), values)
    out = out.transpose(1, 2).reshape(n_calls, -1, attn.heads * attn.d_k)
    memory = attn.fsmn_block(torch.nn.functional.pad(v.transpose(1, 2), attn.pad)).transpose(1, 2) + v
    out = attn.linear_out(out) + memory
    h = h + out if layer.residual else out
    h = h + layer.feed_forward(layer.norm2(h))
    # what the chunk loop's cache holds after the last call: the newest look_back x frames cached rows
    cache_k = k_h[-look_back:, :, :frames].permute(1, 0, 2, 3).reshape(1, attn.heads, -1, attn.d_k)
    cache_v = v_h[-look_back:, :, :frames].permute(1, 0, 2, 3).reshape(1, attn.heads, -1, attn.d_k)
    return h, (cache_k, cache_v)
