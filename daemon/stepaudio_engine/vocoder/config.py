"""Vocoder configuration: dataclasses plus a safe reader for the released HyperPyYAML `cosyvoice.yaml`.

#vocoder-folder, docs/engine/vocoder.md#yaml-values) is HyperPyYAML: tags such as `!new:pkg.Class`, `!name:pkg.func`
The released file (docs/engine/models.md
and `!ref <key>` make `hyperpyyaml.load_hyperpyyaml` import modules and instantiate classes while loading.
We never do that. `read_hyperpyyaml` parses the file with a `yaml.SafeLoader` subclass in which every `!...`
tag becomes a plain `Tagged(tag, value)` record; nothing is imported, called or executed. The values we need
are then copied into our own dataclasses (`VocoderConfig.from_yaml_data`), and the loader checks them against
the checkpoint shapes anyway (contract.py).
"""
from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..api import EngineError, Reason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tagged:
    """A HyperPyYAML tagged node kept as data: tag is e.g. '!new:os.system', value is its mapping/list/scalar."""

    tag: str
    value: Any

    @property
    def kind(self) -> str:
        """'new', 'name', 'ref', 'apply', ... (the part between '!' and ':')."""
        return self.tag[1:].split(":", 1)[0]

    @property
    def target(self) -> str:
        """The dotted name after the colon ('' if none); never imported."""
        return self.tag.split(":", 1)[1] if ":" in self.tag else ""


class _InertLoader(yaml.SafeLoader):
    """SafeLoader that turns any `!tag` node into a Tagged record instead of failing or executing."""


def _construct_tagged(loader: _InertLoader, tag_suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return Tagged("!" + tag_suffix, value)


_InertLoader.add_multi_constructor("!", _construct_tagged)

_REF = re.compile(r"^\s*<([A-Za-z0-9_.\[\]-]+)>\s*$")


def _lookup(root: dict, dotted: str) -> Any:
    node: Any = root
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _resolve_refs(node: Any, root: dict, depth: int = 0) -> Any:
    """Replace `!ref <key>` / `!copy <key>` pointing at plain values; keep anything else (expressions) as Tagged."""
    if depth > 50:
        return node
    if isinstance(node, Tagged):
        if node.kind in ("ref", "copy") and isinstance(node.value, str):
            match = _REF.match(node.value)
            if match:
                try:
                    return _resolve_refs(_lookup(root, match.group(1)), root, depth + 1)
                except KeyError:
                    return node
            return node
        return Tagged(node.tag, _resolve_refs(node.value, root, depth + 1))
    if isinstance(node, dict):
        return {k: _resolve_refs(v, root, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_refs(v, root, depth + 1) for v in node]
    return node


def read_hyperpyyaml(text: str) -> dict:
    """Parse HyperPyYAML text into plain data (dicts, lists, scalars, Tagged); executes nothing."""
    data = yaml.load(text, Loader=_InertLoader)  # noqa: S506 - _InertLoader is a SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError("top level is not a mapping")
    return _resolve_refs(data, data)


def _plain(node: Any) -> Any:
    """Strip Tagged wrappers: a tagged mapping becomes its mapping (the class name is ignored)."""
    if isinstance(node, Tagged):
        return _plain(node.value)
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


@dataclass
class MelConfig:
    """Prompt mel settings, yaml `mel_conf` (docs/engine/vocoder.md#yaml-values, docs/engine/vocoder.md#prompt-mel)."""

    num_mels: int = 80
    n_fft: int = 1920
    hop_size: int = 480
    win_size: int = 1920
    sampling_rate: int = 24000
    fmin: float = 0.0
    fmax: float = 8000.0


@dataclass
class EncoderConfig:
    """UpsampleConformerEncoderV2 (docs/engine/vocoder.md#yaml-values, docs/engine/vocoder.md#flow)."""

    input_size: int = 512
    output_size: int = 512
    pre_lookahead_len: int = 3
    num_blocks: int = 6
    num_up_blocks: int = 4
    up_stride: int = 2
    up_scale_factor: int = 2
    attention_heads: int = 8
    linear_units: int = 2048
    key_bias: bool = True


@dataclass
class DiTConfig:
    """DiT estimator (docs/engine/vocoder.md#dit-estimator)."""

    in_channels: int = 320
    out_channels: int = 80
    mlp_ratio: float = 4.0
    depth: int = 16
    num_heads: int = 8
    head_dim: int = 64
    hidden_size: int = 512


@dataclass
class CFMConfig:
    """Euler solver settings (docs/engine/vocoder.md#flow-matching-solver); noise_frames is the fixed noise buffer
    length (600 s @ 50 Hz)."""

    n_timesteps: int = 10
    inference_cfg_rate: float = 0.7
    t_scheduler: str = "cosine"
    noise_frames: int = 30000
    noise_seed: int = 0


@dataclass
class FlowConfig:
    """CausalMaskedDiffWithXvec (docs/engine/vocoder.md#yaml-values, docs/engine/vocoder.md#flow)."""

    input_size: int = 512
    output_size: int = 80
    spk_embed_dim: int = 192
    vocab_size: int = 5121
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    estimator: DiTConfig = field(default_factory=DiTConfig)
    cfm: CFMConfig = field(default_factory=CFMConfig)


@dataclass
class HiftConfig:
    """HiFTGenerator (docs/engine/vocoder.md#yaml-values, docs/engine/vocoder.md#hift)."""

    in_channels: int = 80
    base_channels: int = 512
    nb_harmonics: int = 8
    sampling_rate: int = 24000
    nsf_alpha: float = 0.1
    nsf_sigma: float = 0.003
    nsf_voiced_threshold: float = 10.0
    upsample_rates: list[int] = field(default_factory=lambda: [8, 5, 3])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 11, 7])
    istft_n_fft: int = 16
    istft_hop: int = 4
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5]] * 3)
    source_resblock_kernel_sizes: list[int] = field(default_factory=lambda: [7, 7, 11])
    source_resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5]] * 3)
    lrelu_slope: float = 0.1
    audio_limit: float = 0.99
    f0_cond_channels: int = 512

    @property
    def samples_per_frame(self) -> int:
        """Waveform samples per mel frame: prod(upsample_rates) * istft hop (480 for the release)."""
        n = self.istft_hop
        for r in self.upsample_rates:
            n *= r
        return n


@dataclass
class VocoderConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    hift: HiftConfig = field(default_factory=HiftConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_yaml_data(cls, data: dict) -> "VocoderConfig":
        """Build from `read_hyperpyyaml` output; missing keys keep the released defaults."""
        plain = _plain(data)
        mel = _pick(MelConfig, plain.get("mel_conf", {}))
        flow_d = plain.get("flow", {}) or {}
        enc = _pick(EncoderConfig, flow_d.get("encoder", {}))
        dec = flow_d.get("decoder", {}) or {}
        dit = _pick(DiTConfig, dec.get("estimator", {}))
        cfm_params = dec.get("cfm_params", {}) or {}
        # upstream's CausalConditionalCFM takes inference_cfg_rate directly; CosyVoice-style files nest it in
        # cfm_params (the reconstructed VLLMO copy, docs/engine/vocoder.md#yaml-values); accept both, the direct key
        # wins
        direct = {k: v for k, v in dec.items() if k in CFMConfig.__dataclass_fields__}
        cfm = _pick(CFMConfig, {**cfm_params, **direct})
        flow = _pick(FlowConfig, flow_d, encoder=enc, estimator=dit, cfm=cfm)
        hift_d = dict(plain.get("hift", {}) or {})
        istft = hift_d.pop("istft_params", {}) or {}
        f0 = hift_d.pop("f0_predictor", {}) or {}
        extra = {}
        if "n_fft" in istft:
            extra["istft_n_fft"] = int(istft["n_fft"])
        if "hop_len" in istft:
            extra["istft_hop"] = int(istft["hop_len"])
        if "cond_channels" in f0:
            extra["f0_cond_channels"] = int(f0["cond_channels"])
        hift = _pick(HiftConfig, hift_d, **extra)
        return cls(mel=mel, flow=flow, hift=hift)


def _pick(kind: type, values: dict, **overrides: Any) -> Any:
    """Instantiate dataclass `kind` from the keys of `values` it knows, coercing to the default's type."""
    defaults = kind()
    kwargs: dict[str, Any] = {}
    for name in kind.__dataclass_fields__:
        if name in overrides:
            kwargs[name] = overrides[name]
        elif isinstance(values, dict) and name in values:
            default = getattr(defaults, name)
            value = values[name]
            if isinstance(default, bool):
                kwargs[name] = bool(value)
            elif isinstance(default, (int, float)) and not isinstance(value, (list, dict)):
                kwargs[name] = type(default)(value)
            else:
                kwargs[name] = value
    return kind(**kwargs)


def load_config(cosyvoice_dir: Path) -> VocoderConfig:
    """Read `cosyvoice.yaml` from the vocoder folder safely; EngineError if absent or unreadable."""
    path = Path(cosyvoice_dir) / "cosyvoice.yaml"
    if not path.is_file():
        raise EngineError(
            Reason.MODEL_MISSING,
            f"vocoder config not found: {path}",
            "download the Step-Audio-EditX model again; its CosyVoice-300M-25Hz/ folder must hold cosyvoice.yaml",
        )
    try:
        data = read_hyperpyyaml(path.read_text(encoding="utf-8"))
        return VocoderConfig.from_yaml_data(data)
    except (yaml.YAMLError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise EngineError(
            Reason.MODEL_CORRUPT,
            f"cannot read vocoder config {path}: {exc}",
            "the file is damaged; download the model again",
        ) from exc


def render_yaml(cfg: VocoderConfig, class_prefix: str = "stepvocoder.cosyvoice2") -> str:
    """Write a HyperPyYAML-style file in the released layout (tags are inert text for our reader)."""
    f, e, d, c, h = cfg.flow, cfg.flow.encoder, cfg.flow.estimator, cfg.flow.cfm, cfg.hift
    m = cfg.mel
    return f"""# cosyvoice.yaml written by stepaudio_engine.tiny.vocoder (tiny random model; output is noise)
mel_conf:
    num_mels: {m.num_mels}
    n_fft: {m.n_fft}
    hop_size: {m.hop_size}
    win_size: {m.win_size}
    sampling_rate: {m.sampling_rate}
    fmin: {m.fmin:g}
    fmax: {m.fmax:g}

flow: !new:{class_prefix}.flow.flow.CausalMaskedDiffWithXvec
    input_size: {f.input_size}
    output_size: {f.output_size}
    spk_embed_dim: {f.spk_embed_dim}
    output_type: 'mel'
    vocab_size: {f.vocab_size}
    input_embedding: !new:{class_prefix}.embedding.dual_codebook.DualCodebookEmbedding
        vocab_size: {f.vocab_size}
        input_size: {f.input_size}
    encoder: !new:{class_prefix}.transformer.upsample_encoder_v2.UpsampleConformerEncoderV2
        input_size: {e.input_size}
        output_size: {e.output_size}
        input_layer: 'linear'
        pre_lookahead_len: {e.pre_lookahead_len}
        num_blocks: {e.num_blocks}
        num_up_blocks: {e.num_up_blocks}
        up_stride: {e.up_stride}
        up_scale_factor: {e.up_scale_factor}
        attention_heads: {e.attention_heads}
        pos_enc_layer_type: 'rel_pos_espnet'
        selfattention_layer_type: 'rel_selfattn'
        key_bias: {str(e.key_bias).lower()}
        linear_units: {e.linear_units}
        dropout_rate: 0.1
        positional_dropout_rate: 0.1
        attention_dropout_rate: 0.1
        normalize_before: True
    decoder: !new:{class_prefix}.flow.flow_matching.CausalConditionalCFM
        in_channels: {f.output_size}
        n_spks: 1
        spk_emb_dim: {f.output_size}
        cfm_params: !new:types.SimpleNamespace
            sigma_min: 1.0e-06
            solver: euler
            t_scheduler: {c.t_scheduler}
            training_cfg_rate: 0.2
            inference_cfg_rate: {c.inference_cfg_rate}
            reg_loss_type: l1
        estimator: !new:{class_prefix}.flow.decoder_dit.DiT
            in_channels: {d.in_channels}
            out_channels: {d.out_channels}
            mlp_ratio: {d.mlp_ratio}
            depth: {d.depth}
            num_heads: {d.num_heads}
            head_dim: {d.head_dim}
            hidden_size: {d.hidden_size}

hift: !new:{class_prefix}.hifigan.generator.HiFTGenerator
    in_channels: {h.in_channels}
    base_channels: {h.base_channels}
    nb_harmonics: {h.nb_harmonics}
    sampling_rate: {h.sampling_rate}
    nsf_alpha: {h.nsf_alpha}
    nsf_sigma: {h.nsf_sigma}
    nsf_voiced_threshold: {h.nsf_voiced_threshold:g}
    upsample_rates: {list(h.upsample_rates)}
    upsample_kernel_sizes: {list(h.upsample_kernel_sizes)}
    istft_params:
        n_fft: {h.istft_n_fft}
        hop_len: {h.istft_hop}
    resblock_kernel_sizes: {list(h.resblock_kernel_sizes)}
    resblock_dilation_sizes: {[list(x) for x in h.resblock_dilation_sizes]}
    source_resblock_kernel_sizes: {list(h.source_resblock_kernel_sizes)}
    source_resblock_dilation_sizes: {[list(x) for x in h.source_resblock_dilation_sizes]}
    lrelu_slope: {h.lrelu_slope}
    audio_limit: {h.audio_limit}
    f0_predictor: !new:{class_prefix}.hifigan.f0_predictor.ConvRNNF0Predictor
        num_class: 1
        in_channels: {h.in_channels}
        cond_channels: {h.f0_cond_channels}
"""
