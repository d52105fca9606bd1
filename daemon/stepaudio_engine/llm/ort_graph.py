"""Our ONNX graphs of a step1 decode/prefill step, built with the `onnx` helper API from the checkpoint.

Two graphs (docs/engine/llm.md "CPU fast path"):
- `layers.onnx`: hidden (L, H) fp32 after the embedding, the ALiBi bias (G, L·R, T) and each layer's past keys and
  values (P, G, D) -> the final-norm hidden states (L, H) and each layer's new keys and values (L, G, D).
  Every decoder Linear is a `MatMulNBits` (q/k/v stacked into one, gate/up into one); norms, attention and
  SwiGLU are plain fp32 ops. T = P + L; R = heads per KV group; query head h meets group h // R (docs/engine/llm.md).
- `head.onnx`: final hidden rows (M, H) -> logits (M, V) through a `MatMulNBits` head.

Weights go to one external-data file (`weights.bin`) as they are produced, 4 KiB aligned (so onnxruntime can
map them), so no whole-model protobuf or copy is ever held in memory.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .config import Step1Config
from .nbits import NBitsWeight

GRAPH_VERSION = 1        # bump when the graphs change: cached folders of another version are rebuilt
OPSET = 17               # ReduceMean takes `axes` as an attribute up to 17
DATA_FILE = "weights.bin"
_ALIGN = 4096
_INLINE_BYTES = 1024     # small constants stay inside the .onnx file

# names of the per-layer dense tensors in the checkpoint
LAYER_LINEARS = {"qkv": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"), "o": ("self_attn.o_proj",),
                 "gate_up": ("mlp.gate_proj", "mlp.up_proj"), "down": ("mlp.down_proj",)}


class GraphWriter:
    """Collects nodes and initializers of one graph; big initializers are appended to the shared data file."""

    def __init__(self, data: BinaryIO) -> None:
        self.data = data
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, array: np.ndarray, hint: str = "c") -> str:
        name = self.name(hint)
        array = np.ascontiguousarray(array)
        if array.nbytes <= _INLINE_BYTES:
            self.initializers.append(numpy_helper.from_array(array, name))
            return name
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        offset = self.data.seek(0, 2)
        pad = -offset % _ALIGN
        if pad:
            self.data.write(b"\0" * pad)
            offset += pad
        self.data.write(memoryview(array).cast("B"))
        for key, value in (("location", DATA_FILE), ("offset", str(offset)), ("length", str(array.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        tensor.data_location = TensorProto.EXTERNAL
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, inputs: list[str], hint: str = "", outputs: int = 1, domain: str = "",
           **attrs) -> str | list[str]:
        names = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, domain=domain or None, **attrs))
        return names[0] if outputs == 1 else names

    def ints(self, values: list[int]) -> str:
        return self.const(np.array(values, dtype=np.int64), "shape")

    def matmul_nbits(self, x: str, w: NBitsWeight, accuracy_level: int) -> str:
        packed = self.const(w.packed, "B")
        scales = self.const(w.scales, "scales")
        return self.op("MatMulNBits", [x, packed, scales], "mm", domain="com.microsoft", K=w.k, N=w.n,
                       bits=w.bits, block_size=w.block, accuracy_level=accuracy_level)

    def rms_norm(self, x: str, weight: np.ndarray, eps: float) -> str:
        """x * 1/sqrt(mean(x²) + eps) * weight, all fp32 (as model.RMSNorm for fp32 activations)."""
        mean = self.op("ReduceMean", [self.op("Mul", [x, x])], axes=[-1], keepdims=1)
        inv = self.op("Reciprocal", [self.op("Sqrt", [self.op("Add", [mean, self.const(np.float32(eps))])])])
        return self.op("Mul", [self.op("Mul", [x, inv]), self.const(weight.astype(np.float32), "norm")])

    def model(self, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
              name: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.initializers)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                       helper.make_opsetid("com.microsoft", 1)],
                                 producer_name="stepaudio_engine")


def _fp32(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def build_layers_graph(config: Step1Config, layers: Iterator[dict[str, object]], norm: np.ndarray,
                       accuracy_level: int, data: BinaryIO) -> onnx.ModelProto:
    """The layers graph. `layers` yields, per layer in order, {"input_layernorm": ndarray,
    "post_attention_layernorm": ndarray, "qkv"/"o"/"gate_up"/"down": NBitsWeight}."""
    g = GraphWriter(data)
    hidden, kv, groups, head_dim = config.hidden_size, config.kv_dim, config.num_attention_groups, config.head_dim
    per_group = config.num_attention_heads // groups
    eps = config.rms_norm_eps
    inputs = [_fp32("hidden", ["L", hidden]), _fp32("bias", [groups, "LR", "T"])]
    outputs: list[onnx.ValueInfoProto] = []
    scale = g.const(np.float32(1.0 / math.sqrt(head_dim)))
    split_qkv = g.ints([hidden, kv, kv])
    kv_shape, q_shape = g.ints([-1, groups, head_dim]), g.ints([-1, groups, per_group, head_dim])
    folded, unfolded = g.ints([groups, -1, head_dim]), g.ints([groups, -1, per_group, head_dim])
    flat = g.ints([-1, hidden])
    split_ffn = g.ints([config.intermediate_size, config.intermediate_size])
    x = "hidden"
    for i, layer in enumerate(layers):
        for kind in ("k", "v"):
            inputs.append(_fp32(f"past_{kind}_{i}", ["P", groups, head_dim]))
            outputs.append(_fp32(f"new_{kind}_{i}", ["L", groups, head_dim]))
        xn = g.rms_norm(x, layer["input_layernorm"], eps)
        q, k, v = g.op("Split", [g.matmul_nbits(xn, layer["qkv"], accuracy_level), split_qkv], outputs=3, axis=-1)
        g.nodes.append(helper.make_node("Reshape", [k, kv_shape], [f"new_k_{i}"]))
        g.nodes.append(helper.make_node("Reshape", [v, kv_shape], [f"new_v_{i}"]))
        keys = g.op("Transpose", [g.op("Concat", [f"past_k_{i}", f"new_k_{i}"], axis=0)], perm=[1, 2, 0])
        values = g.op("Transpose", [g.op("Concat", [f"past_v_{i}", f"new_v_{i}"], axis=0)], perm=[1, 0, 2])
        # query rows of a group: (G, L·R, D), position-major, as the bias rows are laid out
        queries = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [q, q_shape])], perm=[1, 0, 2, 3]), folded])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [queries, keys]), scale]), "bias"])
        attended = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), values])
        merged = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [attended, unfolded])], perm=[1, 0, 2, 3]), flat])
        h = g.op("Add", [x, g.matmul_nbits(merged, layer["o"], accuracy_level)])
        hn = g.rms_norm(h, layer["post_attention_layernorm"], eps)
        gate, up = g.op("Split", [g.matmul_nbits(hn, layer["gate_up"], accuracy_level), split_ffn],
                        outputs=2, axis=-1)
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        x = g.op("Add", [h, g.matmul_nbits(act, layer["down"], accuracy_level)])
    out = g.rms_norm(x, norm, eps)
    g.nodes.append(helper.make_node("Identity", [out], ["out"]))
    return g.model(inputs, [_fp32("out", ["L", hidden])] + outputs, "step1_layers")


def build_head_graph(config: Step1Config, head: NBitsWeight, accuracy_level: int, data: BinaryIO) -> onnx.ModelProto:
    g = GraphWriter(data)
    logits = g.matmul_nbits("h", head, accuracy_level)
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    return g.model([_fp32("h", ["M", config.hidden_size])], [_fp32("logits", ["M", config.vocab_size])],
                   "step1_head")


def save(model: onnx.ModelProto, path: Path) -> None:
    """Write the graph (its big initializers already live in the data file next to it)."""
    path.write_bytes(model.SerializeToString())
