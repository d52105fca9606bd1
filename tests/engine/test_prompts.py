"""Prompt ids and the text tokenizer, checked against ids produced by upstream's own prompt code.

The GOLDEN ids were produced once by a harness that ran upstream's `_build_audio_edit_instruction`,
`_encode_audio_edit_prompt` and `_encode_audio_edit_clone_prompt` (stepfun-ai/Step-Audio-EditX aacb90a tts.py,
config/prompts.py) with transformers 4.53.3 `AutoTokenizer` on the released tokenizer.model and
tokenizer_config.json in /work/shared/reference/step-audio-editx (no add_bos_token there -> BOS per segment).
Audio tokens: raw vq02 [1, 2, 3, 4, 1023, 0] and vq06 [10..15, 4095, 0, 7] interleaved 2:3.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.llm.prompts import (EDIT_TYPE_DESCRIPTIONS, EDIT_TYPES, PromptBuilder, audio_token_string,
                                          edit_instruction, speaker_id_for, validate_edit)
from stepaudio_engine.llm.text_tokenizer import TextTokenizer

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "step-audio-editx"
if not REFERENCE.is_dir():
    REFERENCE = Path("/work/shared/reference/step-audio-editx")
needs_reference = pytest.mark.skipif(not (REFERENCE / "tokenizer.model").is_file(),
                                     reason=f"released tokenizer files not found at {REFERENCE}")

TRANSCRIPT = "  Hello world, this is my voice. "
PARA_TEXT = "Hello [Laughter] world, this is [Sigh] my voice."

GOLDEN = {
    'audio': [1, 2, 1034, 1035, 1036, 3, 4, 1037, 1038, 1039, 1023, 0, 5119, 1024, 1031],
    'clone': [1, 4, 1, 2323, 78, 19091, 15665, 424, 336, 2308, 324, 1150, 17929, 327, 1332, 332, 12559, 353,
        324, 24363, 2048, 78, 78, 432, 27908, 339, 2568, 422, 78, 27908, 598, 352, 23643, 339, 329, 328, 331,
        338, 342, 340, 344, 345, 341, 333, 18378, 1688, 78, 27908, 324, 23005, 2765, 352, 324, 78, 7521, 379,
        348, 932, 19312, 3161, 324, 7456, 8436, 18867, 330, 78, 27908, 15665, 8056, 332, 352, 324, 78, 65537,
        65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78,
        432, 27908, 339, 955, 422, 78, 3, 4, 1, 4623, 78, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 3, 4,
        1, 15886, 78],
    'clone_space': [1, 4, 1, 2323, 78, 19091, 15665, 424, 336, 2308, 324, 1150, 17929, 327, 1332, 332, 12559,
        353, 324, 24363, 2048, 78, 78, 432, 27908, 339, 2568, 422, 78, 27908, 598, 352, 23643, 339, 509, 20460,
        28645, 28645, 78, 27908, 324, 23005, 2765, 352, 324, 78, 877, 766, 37168, 422, 7142, 8653, 2765, 78,
        27908, 15665, 8056, 332, 352, 324, 78, 65537, 65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574,
        66575, 66559, 65536, 70655, 66560, 66567, 78, 432, 27908, 339, 955, 422, 78, 3, 4, 1, 4623, 78, 8025,
        5849, 324, 353, 983, 3, 4, 1, 15886, 78],
    'edit:emotion:happy': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394, 2446,
        35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358, 13311,
        765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324, 32918,
        327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794, 563,
        46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78, 794,
        324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364, 4814,
        353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353, 417, 456,
        2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 12065, 336, 2308, 15665, 992, 29799, 326, 392, 2765, 19892,
        358, 336, 15665, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 78, 78, 65537, 65538,
        66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78, 3, 4, 1,
        15886, 78],
    'edit:emotion:remove': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394,
        2446, 35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358,
        13311, 765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324,
        32918, 327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794,
        563, 46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78,
        794, 324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364,
        4814, 353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353,
        417, 456, 2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 21032, 1371, 474, 14484, 350, 336, 2308, 15665,
        353, 336, 7591, 2765, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 78, 78, 65537,
        65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78,
        3, 4, 1, 15886, 78],
    'edit:style:whisper': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394, 2446,
        35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358, 13311,
        765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324, 32918,
        327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794, 563,
        46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78, 794,
        324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364, 4814,
        353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353, 417, 456,
        2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 12065, 336, 2308, 15665, 992, 560, 13287, 1554, 2048, 326,
        392, 2765, 19892, 358, 336, 15665, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 78, 78,
        65537, 65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560,
        66567, 78, 3, 4, 1, 15886, 78],
    'edit:style:remove': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394, 2446,
        35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358, 13311,
        765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324, 32918,
        327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794, 563,
        46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78, 794,
        324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364, 4814,
        353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353, 417, 456,
        2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 21032, 1371, 324, 24363, 27372, 350, 336, 2308, 15665, 353,
        336, 7591, 2765, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 78, 78, 65537, 65538,
        66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78, 3, 4, 1,
        15886, 78],
    'edit:style:act_coy': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394, 2446,
        35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358, 13311,
        765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324, 32918,
        327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794, 563,
        46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78, 794,
        324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364, 4814,
        353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353, 417, 456,
        2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 12065, 336, 2308, 15665, 992, 7527, 339, 1292, 415, 2048,
        326, 392, 2765, 19892, 358, 336, 15665, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326,
        78, 78, 65537, 65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655,
        66560, 66567, 78, 3, 4, 1, 15886, 78],
    'edit:speed:more faster': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394,
        2446, 35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358,
        13311, 765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324,
        32918, 327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794,
        563, 46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78,
        794, 324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364,
        4814, 353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353,
        417, 456, 2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 12065, 336, 2308, 15665, 992, 992, 34169, 326,
        392, 2765, 19892, 358, 336, 15665, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 78, 78,
        65537, 65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560,
        66567, 78, 3, 4, 1, 15886, 78],
    'edit:speed:slower': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394, 2446,
        35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358, 13311,
        765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324, 32918,
        327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794, 563,
        46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78, 794,
        324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364, 4814,
        353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353, 417, 456,
        2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 12065, 336, 2308, 15665, 992, 18563, 406, 326, 392, 2765,
        19892, 358, 336, 15665, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 78, 78, 65537,
        65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78,
        3, 4, 1, 15886, 78],
    'edit:paralinguistic:': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394,
        2446, 35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358,
        13311, 765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324,
        32918, 327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794,
        563, 46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78,
        794, 324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364,
        4814, 353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353,
        417, 456, 2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 6808, 1439, 1725, 337, 31076, 467, 36716, 358,
        2068, 336, 15665, 992, 6364, 327, 336, 562, 2765, 379, 324, 352, 324, 20574, 877, 766, 37168, 422,
        2844, 327, 473, 379, 877, 34597, 456, 422, 2288, 12083, 326, 78, 324, 392, 2765, 19892, 358, 336,
        15665, 379, 352, 324, 20574, 2844, 327, 473, 379, 2288, 12083, 326, 78, 78, 65537, 65538, 66570, 66571,
        66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78, 3, 4, 1, 15886, 78],
    'edit:denoise:': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394, 2446,
        35226, 327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358, 13311,
        765, 8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324, 32918,
        327, 1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794, 563,
        46874, 412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78, 794,
        324, 11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364, 4814,
        353, 504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353, 417, 456,
        2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 21032, 1371, 656, 4260, 439, 336, 2720, 15665, 1720, 1456,
        7712, 412, 336, 12083, 2712, 33035, 326, 324, 34105, 427, 336, 19113, 12043, 12836, 53911, 424, 30992,
        476, 18198, 1693, 327, 353, 48742, 732, 656, 4260, 439, 336, 15665, 326, 78, 78, 65537, 65538, 66570,
        66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78, 3, 4, 1, 15886,
        78],
    'edit:vad:': [1, 4, 1, 2323, 78, 4566, 348, 15135, 324, 16064, 411, 15665, 43794, 353, 8394, 2446, 35226,
        327, 770, 324, 15027, 350, 10281, 412, 3199, 32157, 353, 47371, 39881, 22115, 6000, 358, 13311, 765,
        8897, 326, 9630, 49709, 324, 574, 332, 348, 10255, 3739, 346, 417, 456, 2275, 850, 324, 32918, 327,
        1988, 769, 549, 11209, 358, 352, 78, 794, 779, 14484, 467, 1121, 456, 2275, 850, 78, 794, 563, 46874,
        412, 324, 4008, 324, 21320, 78, 794, 13908, 337, 2170, 410, 5842, 324, 39453, 6000, 78, 794, 324,
        11248, 18809, 412, 674, 324, 7035, 412, 78, 19770, 352, 2537, 883, 8708, 32157, 350, 6364, 4814, 353,
        504, 4995, 358, 31257, 558, 10281, 353, 19798, 336, 1472, 33907, 15665, 15340, 332, 353, 417, 456,
        2275, 6000, 326, 78, 3, 4, 1, 4623, 78, 1, 21032, 1371, 34802, 15114, 332, 439, 336, 2720, 15665, 1720,
        1456, 7712, 412, 336, 12083, 2712, 33035, 326, 324, 34105, 427, 336, 19113, 12043, 12836, 53911, 424,
        30992, 476, 18198, 1693, 327, 353, 48742, 732, 55208, 439, 336, 15665, 326, 78, 78, 65537, 65538,
        66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78, 3, 4, 1,
        15886, 78],
}


@pytest.fixture(scope="module")
def builder() -> PromptBuilder:
    return PromptBuilder(REFERENCE)


@needs_reference
def test_clone_prompt_ids_match_upstream(builder: PromptBuilder) -> None:
    audio = GOLDEN["audio"]
    got = builder.clone_prompt("It is a sunny day 今天天气很好。", audio, "Hello world, this is my voice.",
                               "clone_0123456789abcdef")
    assert got == GOLDEN["clone"]
    got = builder.clone_prompt(" [Laughter] tagged text", audio, " leading space  and two", "clone_ffffffffffffffff")
    assert got == GOLDEN["clone_space"]


@needs_reference
@pytest.mark.parametrize("key", [k for k in GOLDEN if k.startswith("edit:")])
def test_edit_prompt_ids_match_upstream(builder: PromptBuilder, key: str) -> None:
    _, edit_type, info = key.split(":")
    text = PARA_TEXT if edit_type == "paralinguistic" else ""
    assert builder.edit_prompt(TRANSCRIPT, GOLDEN["audio"], edit_type, info, text) == GOLDEN[key]


@needs_reference
def test_audio_string_and_id_forms_give_the_same_prompt(builder: PromptBuilder) -> None:
    as_string = audio_token_string(GOLDEN["audio"])
    assert as_string.startswith("<audio_1><audio_2><audio_1034>")
    assert builder.edit_prompt(TRANSCRIPT, as_string, "emotion", "happy") == GOLDEN["edit:emotion:happy"]


@needs_reference
@pytest.mark.parametrize("text, ids", [
    ("human\n", [1, 4623, 78]),
    ("assistant\n", [1, 15886, 78]),
    ("\n", [1, 324, 78]),
    ("\nHello world", [1, 324, 78, 20574, 2844]),
    ("<audio_1><audio_1034>\n", [1, 65537, 66570, 78]),        # no ▁ before a leading special piece
    ("Make the following audio", [1, 12065, 336, 2308, 15665]),  # ▁Make (engine-spec §6.4)
    (" leading", [1, 8025]),                                    # no second ▁ when the text starts with a space
    ("x  y   z    w", [1, 2812, 324, 641, 324, 324, 657, 426, 560]),
    ("a<|EOT|>b", [1, 348, 3, 500]),                            # control pieces written in text match
    ("<audio_5> x", [1, 65541, 2812]),
    ("\U0001F47C" + " " * 17 + "\uc548\ub155", [1, 324, 65535, 324, 390, 25211, 64420]),   # tie in a space run
    ("", [1]),
])
def test_text_tokenizer_matches_transformers_fast(text: str, ids: list[int]) -> None:
    # expected ids measured with transformers 4.53.3 LlamaTokenizerFast on the released files
    assert TextTokenizer(REFERENCE).encode(text) == ids


@needs_reference
def test_released_tokenizer_layout() -> None:
    tok = TextTokenizer(REFERENCE)
    assert tok.vocab_size == 74752 and tok.add_bos
    assert [tok.piece(i) for i in (0, 1, 2, 3, 4, 78, 324)] == ["<unk>", "<s>", "</s>", "<|EOT|>", "<|BOT|>",
                                                               "<0x0A>", "\u2581"]
    assert tok.piece_id("<audio_0>") == 65536 and tok.piece_id("<audio_5119>") == 70655


def test_instruction_strings() -> None:
    assert edit_instruction("speed", "more faster", " hi ") == \
        "Make the following audio more more faster. The text corresponding to the audio is: hi\n"
    assert edit_instruction("emotion", "remove", "hi") == \
        "Remove any emotion in the following audio and the reference text is: hi\n"
    assert edit_instruction("style", "whisper", "hi") == \
        "Make the following audio more whisper style. The text corresponding to the audio is: hi\n"
    assert edit_instruction("paralinguistic", "", "hi", "hi [Sigh]") == \
        "Add some non-verbal sounds to make the audio more natural, the new text is : hi [Sigh]\n" \
        "  The text corresponding to the audio is: hi\n"
    assert edit_instruction("vad", "", "ignored").endswith("eliminate all silence from the audio.\n")
    assert "ignored" not in edit_instruction("denoise", "", "ignored")


def test_edit_types_and_validation() -> None:
    assert set(EDIT_TYPES) == set(EDIT_TYPE_DESCRIPTIONS) == {"emotion", "style", "speed", "paralinguistic",
                                                              "denoise", "vad"}
    assert len(EDIT_TYPES["emotion"]) == 15 and len(EDIT_TYPES["style"]) == 33 and len(EDIT_TYPES["speed"]) == 4
    validate_edit("style", "act_coy")
    validate_edit("denoise", "")
    with pytest.raises(EngineError) as err:
        validate_edit("emotoin", "happy")
    assert err.value.reason is Reason.BAD_INPUT and "did you mean 'emotion'" in err.value.hint
    with pytest.raises(EngineError) as err:
        validate_edit("style", "whisperr")
    assert "did you mean 'whisper'" in err.value.hint
    with pytest.raises(EngineError) as err:
        validate_edit("emotion", "")
    assert err.value.reason is Reason.BAD_INPUT
    with pytest.raises(EngineError):
        validate_edit("vad", "loud")


def test_speaker_id_hashes_text_and_first_and_last_1000_samples() -> None:
    rng = np.random.default_rng(0)
    stereo = rng.standard_normal((2, 3000)).astype(np.float32)
    flat = stereo.reshape(-1)
    want = hashlib.sha256("hi there".encode() + np.concatenate([flat[:1000], flat[-1000:]]).tobytes()).hexdigest()
    assert speaker_id_for("hi there", stereo) == "clone_" + want[:16]
    short = rng.standard_normal(1500).astype(np.float32)
    assert speaker_id_for("", short) == "clone_" + hashlib.sha256(short.tobytes()).hexdigest()[:16]
    assert speaker_id_for("x", b"\x00\x01") == "clone_" + hashlib.sha256(b"x\x00\x01").hexdigest()[:16]


def test_paralinguistic_needs_a_target_text(tmp_path: Path) -> None:
    from stepaudio_engine.tiny.llm import tiny_tokenizer_proto

    (tmp_path / "tokenizer.model").write_bytes(tiny_tokenizer_proto().SerializeToString())
    with pytest.raises(EngineError) as err:
        PromptBuilder(tmp_path).edit_prompt("hi", [1, 2, 1030, 1031, 1032], "paralinguistic", "", "")
    assert err.value.reason is Reason.BAD_INPUT


def test_missing_tokenizer_is_model_missing(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        PromptBuilder(tmp_path)
    assert err.value.reason is Reason.MODEL_MISSING and "tokenizer.model" in err.value.message


def test_tiny_tokenizer_has_the_released_id_layout(tmp_path: Path) -> None:
    from stepaudio_engine.tiny.llm import tiny_tokenizer_proto

    (tmp_path / "tokenizer.model").write_bytes(tiny_tokenizer_proto().SerializeToString())
    tok = TextTokenizer(tmp_path)
    assert tok.vocab_size == 74752
    assert [tok.piece(i) for i in (0, 1, 2, 3, 4, 78, 324)] == ["<unk>", "<s>", "</s>", "<|EOT|>", "<|BOT|>",
                                                               "<0x0A>", "\u2581"]
    assert tok.encode("<audio_0><audio_5119>\n") == [1, 65536, 70655, 78]
    assert tok.encode("human\n")[-1] == 78
    assert tok.decode(tok.encode("hello world, 你好")[1:]) == "hello world, 你好"
