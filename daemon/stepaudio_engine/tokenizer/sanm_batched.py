"""The streaming SAN-M encoder run layer by layer over many calls at once (same result as the chunk loop).

Used by vq02 (chunk [0, 4, 5]) and the Paraformer ASR (chunk [0, 10, 5]); written first for the ASR
(docs/engine/asr.md), moved here so both share it.

#vq02-encoder-chunk-forward) a call's input rows
Why this is possible: in `SanmEncoder.forward_chunk` (tokenizer/sanm.py, docs/engine/tokenizer.md
are known in advance (the overlap is taken from the post-position-code *input*, not from layer outputs), and a
layer's attention cache for call i holds only that same layer's k/v rows of the calls before it (their first
`frames` rows, newest look_back x frames kept). So layer l can be computed for every call in one batched pass
once layer l-1 is done. That turns 50 x n_calls small matrix products (all weights re-read from memory every
call) into 50 large ones. Results equal the chunk loop up to float rounding (masked softmax over a padded key set).

Only calls with exactly `frames` new rows can be batched (every non-final call of the streaming front end has
that many); `encode_calls` runs any other call through the ordinary `forward_chunk`, continuing the same state.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from stepaudio_engine.tokenizer.sanm import ChunkConfig, SanmEncoder, StreamState, position_code

MAX_BATCH_CALLS = 128   # bounds activation memory on long audio (128 x 240 ms ~ 31 s per pass for vq02)


@torch.no_grad()
def encode_uniform_calls(encoder: SanmEncoder, feats: torch.Tensor, chunk: ChunkConfig,
                         check: Optional[Callable[[], None]] = None,
                         state: Optional[StreamState] = None) -> tuple[torch.Tensor, StreamState]:
    """feats (B, frames, input) for B consecutive calls -> outputs (B, overlap + frames, D) and the StreamState the
    chunk loop would hold after them. `state` continues from earlier calls (None: the start of the utterance).
    `check` runs between layers (cancellation)."""
    if chunk.left != 0:
        raise ValueError("batched encoding assumes chunk_size[0] == 0")
    if state is None:
        state = encoder.new_state(chunk)
    n_calls, frames, width = feats.shape
    overlap = chunk.overlap
    device = feats.device
    x = feats * math.sqrt(encoder.cfg.output_size) + \
        position_code(state.start_idx, n_calls * frames, width).to(device).reshape(n_calls, frames, width)
    stream = torch.cat((state.overlap[0].to(x.dtype), x.reshape(n_calls * frames, width)))
    rows = torch.arange(n_calls, device=device)[:, None] * frames + torch.arange(overlap + frames, device=device)
    h = stream[rows]                                              # (B, overlap + frames, input): each call's input
    cached = {0 if kv is None else kv[0].shape[2] for kv in state.kv}
    if len(cached) != 1:
        raise ValueError(f"inconsistent per-layer cache lengths {sorted(cached)}")
    history = _History(cached.pop(), n_calls, frames, chunk.cache_frames, overlap, device)
    layers = list(encoder.encoders0) + list(encoder.encoders)
    kv_out = []
    for layer, kv in zip(layers, state.kv):
        if check is not None:
            check()
        h, cache = _layer(layer, h, kv, history)
        kv_out.append(cache)
    new_state = StreamState(start_idx=state.start_idx + n_calls * frames, overlap=stream[-overlap:][None],
                            kv=kv_out)
    return encoder.after_norm(h), new_state


class _History:
    """Where each call's cached keys come from. Per layer, the rows any call may see form one sequence: the
    incoming cache (`cached` rows) then the first `frames` rows of every batched call. Call i sees the `window`
    rows ending just before its own new rows; positions before the sequence start are zero pads, masked."""

    def __init__(self, cached: int, n_calls: int, frames: int, window: int, overlap: int,
                 device: torch.device) -> None:
        self.frames, self.window = frames, window
        # index into [window zero pads] + sequence; call i's window ends at cached + i * frames (exclusive)
        self.index = (cached + frames * torch.arange(n_calls, device=device)[:, None]
                      + torch.arange(window, device=device)[None])                       # (B, window)
        present = self.index >= window
        own = torch.ones(n_calls, overlap + frames, dtype=torch.bool, device=device)
        self.mask = torch.cat((present, own), dim=1)[:, None, None, :]                  # (B, 1, 1, keys)

    def keys(self, cache: Optional[torch.Tensor], z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cache (1, H, cached, d_k) or None; z (B, H, overlap + frames, d_k) -> (keys, cache after the last call)."""
        n_calls, heads, _, d_k = z.shape
        # the chunk loop caches a call's first `frames` rows (all but its last `overlap`), tokenizer/sanm.py
        kept = z[:, :, :self.frames].permute(1, 0, 2, 3).reshape(heads, n_calls * self.frames, d_k)
        parts = [z.new_zeros(heads, self.window, d_k)] + ([cache[0]] if cache is not None else []) + [kept]
        sequence = torch.cat(parts, dim=1)                                # (H, window + cached + B * frames, d_k)
        past = sequence[:, self.index].permute(1, 0, 2, 3)                # (B, H, window, d_k)
        real = sequence.shape[1] - self.window                            # rows that are not pads
        tail = sequence[None, :, -min(self.window, real):] if self.window > 0 else sequence[None, :, :0]
        return torch.cat((past, z), dim=2), tail


def _layer(layer, h: torch.Tensor, kv: Optional[tuple[torch.Tensor, torch.Tensor]], history: _History):
    attn = layer.self_attn
    n_calls = h.shape[0]
    q, k, v = torch.split(attn.linear_q_k_v(layer.norm1(h)), attn.heads * attn.d_k, dim=-1)
    q_h, k_h, v_h = attn._split_heads(q), attn._split_heads(k), attn._split_heads(v)   # (B, H, T, d_k)
    keys, cache_k = history.keys(None if kv is None else kv[0], k_h)
    values, cache_v = history.keys(None if kv is None else kv[1], v_h)
    scores = torch.matmul(q_h * attn.d_k ** (-0.5), keys.transpose(-2, -1)).masked_fill(~history.mask,
                                                                                      float("-inf"))
    out = torch.matmul(torch.softmax(scores, dim=-1), values)
    out = out.transpose(1, 2).reshape(n_calls, -1, attn.heads * attn.d_k)
    memory = attn.fsmn_block(torch.nn.functional.pad(v.transpose(1, 2), attn.pad)).transpose(1, 2) + v
    out = attn.linear_out(out) + memory
    h = h + out if layer.residual else out
    h = h + layer.feed_forward(layer.norm2(h))
    return h, (cache_k, cache_v)


@torch.no_grad()
def encode_calls(encoder: SanmEncoder, calls: list[torch.Tensor], chunk: ChunkConfig,
                 check: Optional[Callable[[], None]] = None,
                 max_batch: int = MAX_BATCH_CALLS) -> list[torch.Tensor]:
    """Encode consecutive calls from the start of an utterance, each feats (T_i, input) -> (1, overlap + T_i, D).

    Runs of calls with exactly `chunk.frames` rows go through `encode_uniform_calls` (at most `max_batch` at once);
    any other call (e.g. the final one) goes through `forward_chunk`. `check` runs between layers and calls."""
    state = encoder.new_state(chunk)
    out: list[torch.Tensor] = []
    i = 0
    while i < len(calls):
        run = 0
        while i + run < len(calls) and run < max_batch and calls[i + run].shape[0] == chunk.frames:
            run += 1
        if run > 0 and chunk.left == 0:
            batch, state = encode_uniform_calls(encoder, torch.stack(calls[i:i + run]), chunk, check, state)
            out.extend(batch[j:j + 1] for j in range(run))
            i += run
            continue
        if check is not None:
            check()
        out.append(encoder.forward_chunk(calls[i][None], state, chunk))
        i += 1
    return out
