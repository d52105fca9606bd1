"""Stage tool `vocode`: run the vocoder on given tokens and prompt, write every intermediate as .npy.

See docs/engine/vocoder.md. Token files hold mixed 0-based prompt tokens (int, 1-D): groups of 2 vq02 (0…1023)
then 3 vq06 (raw + 1024).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

OUTPUTS = """\
files written to --out (G = generated groups of 5 tokens, Gp = prompt groups):
  prompt_mel.npy           float32 (T_mel, 80)   24 kHz log-mel of the prompt, 50 Hz (T_mel = N24 // 480)
  campplus_fbank.npy       float32 (T_fb, 80)    CAM++ input: kaldi fbank at 16 kHz minus its time mean
                                                 (only with --prompt-wav)
  speaker_embedding.npy    float32 (192,)        CAM++ embedding
  speaker_projected.npy    float32 (80,)         spk_embed_affine_layer(normalize(bf16 embedding))
  flow_tokens.npy          int64   (3G, 2)       generated tokens as (vq02, vq06) flow pairs
  flow_prompt_tokens.npy   int64   (3Gp, 2)      prompt tokens as flow pairs
  prompt_feat_aligned.npy  float32 (6Gp, 80)     bf16-rounded prompt mel stretched to the token grid
  encoder_out.npy          float32 (6Gp+6G, 80)  flow encoder output after encoder_proj (the mu of the CFM)
  flow_cond.npy            float32 (80, 6Gp+6G)  the CFM's cond: aligned prompt mel, then zeros
  first_estimate.npy       float32 (2, 80, 6Gp+6G) DiT estimator output at Euler step 1 (conditional,
                                                 unconditional branch)
  mel.npy                  float32 (80, 6G)      generated mel (prompt part removed)
  f0.npy                   float32 (6G,)         HiFT f0 prediction in Hz
  hift_source.npy          float32 (2880G,)      HiFT harmonic source signal
  wav.npy                  float32 (2880G,)      output waveform, 24 kHz
  output.wav               the same waveform as 16-bit PCM WAV
  flow_noise.npy           float32 (1, 80, 6Gp+6G) the flow's starting noise x0 as used (fits --flow-noise)
  hift_noise.npz           HiFT's draws as used (fits --hift-noise), in draw order:
                             phase       float32 (1, 9)         uniform initial harmonic phases
                             sine_noise  float32 (1, 2880G, 9)  standard normal noise on the sines
                             extra_noise float32 (1, 2880G, 1)  upstream's discarded draw (no effect)

noise injection (compare two implementations on the same randomness):
  --flow-noise FILE.npy    float32 (1, 80, F) or (80, F), F >= 6Gp+6G: replaces the fixed noise buffer;
                           the flow starts from its first 6Gp+6G columns (upstream: rand_noise[:, :, :T])
  --hift-noise FILE.npz    keys phase, sine_noise[, extra_noise] (or arr_0, arr_1[, arr_2] in that order),
               or DIR      or a folder of phase.npy, sine_noise.npy[, extra_noise.npy]; shapes as above,
                           the batch axis may be left out. Replaces --seed. Upstream's names are accepted
                           too: rand_ini (= phase, SineGen2), sine_randn (= sine_noise: SineGen2's
                           randn_like(sine_waves) before scaling), source_randn (= extra_noise:
                           SourceModuleHnNSF2's randn_like(uv) before scaling)

prompt: --prompt-wav WAV (mixed to mono, peak-capped at 0.6, features computed here), or
  --prompt-features DIR|FILE.npz with ready-made features: a folder holding prompt_mel.npy (T_mel, 80) and
  speaker_embedding.npy (192,) (what this tool writes), or an .npz with those keys or speech_feat/embedding
  (PromptFeatures.to_dict, the prompt cache's names)
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "vocode",
        help="tokens + prompt audio → prompt features, flow mel, HiFT waveform (all as .npy)",
        description="Run the CosyVoice-300M-25Hz re-implementation and dump every stage.",
        epilog=OUTPUTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model-dir", required=True, type=Path,
                   help="CosyVoice-300M-25Hz folder (or the Step-Audio-EditX folder that contains it)")
    p.add_argument("--tokens", required=True, type=Path, help=".npy of mixed 0-based tokens to vocode")
    prompt = p.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt-wav", type=Path, help="prompt/reference audio (WAV, any rate)")
    prompt.add_argument("--prompt-features", type=Path, metavar="DIR|FILE.npz",
                        help="ready-made prompt features: prompt_mel.npy + speaker_embedding.npy, or an .npz")
    p.add_argument("--prompt-tokens", required=True, type=Path, help=".npy of the prompt's mixed 0-based tokens")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="seed of HiFT's source noise (default 0)")
    p.add_argument("--flow-noise", type=Path, metavar="FILE.npy",
                   help="inject the flow's starting noise buffer (1, 80, F) instead of the built-in one")
    p.add_argument("--hift-noise", type=Path, metavar="FILE.npz|DIR",
                   help="replay HiFT's random draws (phase, sine_noise[, extra_noise]) instead of --seed")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--dtype", default="fp32", help="flow dtype: fp32 | bf16")
    p.set_defaults(func=run)


def _load_prompt(path: Path) -> tuple[np.ndarray, int]:
    """Mono mean and peak cap 0.6 (docs/engine/audio.md#peak-cap)."""
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    wav = data.mean(axis=1)
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak > 0.6:
        wav = wav / peak * 0.6
    return wav.astype(np.float32), int(sr)


def load_prompt_features(path: Path):
    """PromptFeatures from a folder of prompt_mel.npy + speaker_embedding.npy or an .npz (either naming)."""
    from ..api import EngineError, Reason
    from ..vocoder import PromptFeatures

    names = {"speech_feat": ("prompt_mel", "speech_feat"), "embedding": ("speaker_embedding", "embedding")}
    found: dict[str, np.ndarray] = {}
    try:
        if path.is_dir():
            for key, options in names.items():
                hit = next((path / f"{o}.npy" for o in options if (path / f"{o}.npy").is_file()), None)
                if hit is not None:
                    found[key] = np.load(hit, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as data:
                for key, options in names.items():
                    hit = next((o for o in options if o in data.files), None)
                    if hit is not None:
                        found[key] = data[hit]
    except (OSError, ValueError) as exc:
        raise EngineError(Reason.BAD_INPUT, f"cannot read prompt features from {path}: {exc}",
                          "pass a folder written by this tool or an .npz") from exc
    missing = [names[k][0] for k in names if k not in found]
    if missing:
        raise EngineError(Reason.BAD_INPUT, f"prompt features in {path} lack {', '.join(missing)}",
                          "give prompt_mel (T_mel, 80) and speaker_embedding (192,)")
    if np.asarray(found["speech_feat"]).shape[-1] != 80 or np.asarray(found["embedding"]).size != 192:
        raise EngineError(Reason.BAD_INPUT, f"prompt features in {path} have shapes "
                          f"{np.shape(found['speech_feat'])} / {np.shape(found['embedding'])}",
                          "prompt_mel must be (T_mel, 80) and speaker_embedding (192,)")
    return PromptFeatures.from_dict(found)


def _load_tokens(path: Path) -> list[int]:
    arr = np.load(path, allow_pickle=False)
    return [int(v) for v in np.asarray(arr).reshape(-1)]


def run(args: argparse.Namespace) -> int:
    from ..api import EngineError

    try:
        return _vocode(args)
    except EngineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1


def _vocode(args: argparse.Namespace) -> int:
    import soundfile as sf

    from ..vocoder import Vocoder
    from ..vocoder.hift_noise import load_hift_noise

    model_dir = args.model_dir
    if not (model_dir / "cosyvoice.yaml").is_file() and (model_dir / "CosyVoice-300M-25Hz").is_dir():
        model_dir = model_dir / "CosyVoice-300M-25Hz"
    vocoder = Vocoder(model_dir, device=args.device, dtype=args.dtype)
    tokens, prompt_tokens = _load_tokens(args.tokens), _load_tokens(args.prompt_tokens)
    if args.flow_noise is not None:
        _inject_flow_noise(vocoder, args.flow_noise, tokens, prompt_tokens)
    hift_noise = load_hift_noise(args.hift_noise) if args.hift_noise is not None else None
    arrays: dict[str, np.ndarray] = {}
    if args.prompt_wav is not None:
        wav, sr = _load_prompt(args.prompt_wav)
        features = vocoder.prompt_features(wav, sr)
        arrays["campplus_fbank"] = vocoder.speaker_input(wav, sr)
    else:
        features = load_prompt_features(args.prompt_features)
    trace = vocoder.run(tokens, prompt_tokens, features, seed=args.seed, hift_noise=hift_noise)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    arrays = {
        "prompt_mel": features.speech_feat,
        **arrays,
        "speaker_embedding": features.embedding,
        "speaker_projected": trace.speaker_projected,
        "flow_cond": trace.flow_cond,
        "first_estimate": trace.first_estimate,
        "flow_tokens": trace.tokens,
        "flow_prompt_tokens": trace.prompt_tokens,
        "prompt_feat_aligned": trace.prompt_feat,
        "encoder_out": trace.encoder_out,
        "mel": trace.mel,
        "f0": trace.f0,
        "hift_source": trace.source,
        "wav": trace.wav,
        "flow_noise": trace.flow_noise[None],
    }
    arrays = {name: value for name, value in arrays.items() if value is not None}
    for name, value in arrays.items():
        np.save(out / f"{name}.npy", value)
    trace.hift_noise.save(out / "hift_noise.npz")
    sf.write(str(out / "output.wav"), trace.wav, vocoder.sample_rate, subtype="PCM_16")
    print(f"wrote {len(arrays) + 2} files to {out} ({trace.wav.size / vocoder.sample_rate:.2f} s of audio)")
    return 0


def _inject_flow_noise(vocoder, path: Path, tokens: list[int], prompt_tokens: list[int]) -> None:
    """Install the buffer after checking it covers this run (the vocoder's own check speaks of seconds)."""
    from ..api import EngineError, Reason
    from ..vocoder.flow import reshape_tokens

    try:
        noise = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EngineError(Reason.BAD_INPUT, f"cannot read flow noise {path}: {exc}", "pass a .npy file") from exc
    needed = 2 * (reshape_tokens(tokens).shape[0] + reshape_tokens(prompt_tokens).shape[0])
    if noise.ndim not in (2, 3) or noise.shape[-1] < needed:
        raise EngineError(Reason.BAD_INPUT, f"flow noise {path} has shape {noise.shape}; this run needs "
                          f"(1, 80, F) with F ≥ {needed}", "save a longer buffer, e.g. flow_noise.npy of a run "
                          "with the same tokens")
    vocoder.set_flow_noise(noise)
