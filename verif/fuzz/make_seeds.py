#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of the fuzz targets into seeds/<target>/ (Python 3 standard library
only; run from anywhere). Crash inputs found later are added beside them by hand, named
`crash-<what>`, and stay."""
import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
S = HERE / "seeds"


def put(target, name, data):
    d = S / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def safetensors(tensors, meta=None):
    """tensors: name -> (dtype, shape, bytes)."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


LLAMA_8B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 128,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": False,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "use_cache": True, "vocab_size": 128256,
}
TINY = {
    "architectures": ["LlamaForCausalLM"], "hidden_act": "silu", "hidden_size": 8,
    "intermediate_size": 16, "max_position_embeddings": 64, "model_type": "llama",
    "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 1,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "vocab_size": 16,
}


def configs():
    put("config", "llama-3.1-8b.json", json.dumps(LLAMA_8B, indent=2))
    put("config", "tiny.json", json.dumps(TINY, indent=2))
    smol = ROOT / "build/smollm2-hf/config.json"
    src = smol if smol.exists() else None
    if src:
        put("config", "smollm2-135m.json", src.read_bytes())
    for f in sorted((ROOT / "golden-model/tests/fixtures/hf").glob("*/config.json")):
        put("config", f"fixture-{f.parent.name}.json", f.read_bytes())
    v5 = dict(TINY)
    v5.pop("rope_theta")
    v5["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0}
    put("config", "rope-parameters.json", json.dumps(v5))


def checkpoints():
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
    bf16 = struct.pack("<4H", 0x3F80, 0xC000, 0x3F00, 0x4040)
    put("safetensors", "f32.safetensors", safetensors({"w": ("F32", [2, 2], f32)}))
    put("safetensors", "mixed.safetensors", safetensors(
        {"a": ("BF16", [4], bf16), "b": ("F16", [2], struct.pack("<2H", 0x3C00, 0xC000)),
         "c": ("F32", [], struct.pack("<f", 7.0))}, meta={"format": "pt"}))
    put("safetensors", "i8.safetensors", safetensors({"q": ("I8", [3], b"\x01\xff\x02")}))
    put("safetensors", "empty.safetensors", safetensors({}))
    idx = {"metadata": {"total_size": 16}, "weight_map": {
        "a.weight": "model-00001-of-00002.safetensors",
        "b.weight": "model-00002-of-00002.safetensors"}}
    put("checkpoint_index", "two-shards.json", json.dumps(idx, indent=2))
    put("checkpoint_index", "one-shard.json",
        json.dumps({"weight_map": {"a.weight": "model-00001-of-00002.safetensors"}}))
    put("checkpoint_index", "outside.json",
        json.dumps({"weight_map": {"a.weight": "../model-00001-of-00002.safetensors"}}))


def tokenizers():
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    vocab = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    for i, ch in enumerate("Hello,wörld12345 \u0120\u010aĠ"):
        vocab.setdefault(ch, len(vocab))
    for m in ["He", "ll", "Hell", "Hello"]:
        vocab.setdefault(m, len(vocab))
    bpe = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for t, i in list(vocab.items())[:3]],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": ["H e", "l l", "He ll", "Hell o"]},
    }
    put("tokenizer", "bpe-byte-level.json", json.dumps(bpe))
    cfg = {"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"},
           "chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                            "{{ m['content'] }}<|im_end|>\n{% endfor %}"}
    put("tokenizer", "bpe-with-config.json", json.dumps(bpe).encode() + b"\0" + json.dumps(cfg).encode())
    wl = {"version": "1.0", "added_tokens": [], "normalizer": {"type": "Lowercase"},
          "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
          "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1, ",": 2},
                    "unk_token": "[UNK]"}}
    put("tokenizer", "word-level.json", json.dumps(wl))
    uni = {"version": "1.0", "added_tokens": [], "normalizer": None,
           "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                             "split": True},
           "post_processor": None,
           "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                       "split": True},
           "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": True,
                     "vocab": [["<unk>", 0.0], ["\u2581Hello", -1.0], ["H", -3.0], ["e", -3.0],
                               ["<0x41>", -5.0]]}}
    put("tokenizer", "unigram.json", json.dumps(uni))
    wp = {"version": "1.0", "added_tokens": [], "normalizer": {"type": "BertNormalizer"},
          "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": None,
          "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
          "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                    "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "hel": 1, "##lo": 2}}}
    put("tokenizer", "word-piece.json", json.dumps(wp))


def words(ws):
    return b"".join(struct.pack("<I", w & 0xFFFFFFFF) for w in ws)


def hdr(*fields):
    h = list(fields) + [0] * (8 - len(fields))
    return h


def descriptors():
    # First byte picks the configuration (index into ChipConfig::names(): tiny first).
    nop, fence, perf = hdr(0), hdr(5), hdr(6)
    matvec = hdr(1, 0, 1, 2, 0, 0, 0)
    vread = hdr(4, 0, 4)
    vload = hdr(3, 0, 1) + [0x04030201, 0xFFFEFDFC]  # tiny: one chunk of 8 int8
    wload = hdr(2, 0, 0, 0, 1) + list(range(8))  # tiny: one word of 4 x 8 int8
    for name, ws in [("nop", nop), ("matvec", matvec), ("vbuf-read", vread),
                     ("vbuf-load", vload), ("weight-load", wload), ("fence", fence),
                     ("bad-opcode", hdr(0x77)), ("short", vload[:9]), ("long", vread + [0])]:
        put("descriptor", name, b"\x00" + words(ws))
    prog = vload + wload + matvec + vread + fence + perf
    put("program", "token", b"\x00" + words(prog))
    put("program", "empty", b"\x00")
    put("program", "truncated", b"\x00" + words(prog[:-3]))
    # Round-trip records: nine words each (header, fill word).
    recs = [w for h in (matvec, hdr(3, 0, 2), hdr(2, 0, 1, 0, 3), vread) for w in h + [0x5A5A5A5A]]
    put("program", "records", b"\x00" + words(recs))


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def frames():
    def req(seq, cmd, p):
        body = bytes([seq, cmd]) + struct.pack("<H", len(p)) + p
        return b"\xa5" + body + struct.pack("<H", crc16(body))

    def resp(seq, cmd, st, p):
        body = bytes([seq, cmd | 0x80, st]) + struct.pack("<H", len(p)) + p
        return b"\x5a" + body + struct.pack("<H", crc16(body))

    hello = b"TSRA" + bytes([1, 8]) + struct.pack("<IHH", 25_000_000, 1024, 25)
    put("uart_frame", "hello-request", req(0, 0, b""))
    put("uart_frame", "hello-response", resp(0, 0, 0, hello))
    put("uart_frame", "hello-payload", hello)
    put("uart_frame", "reg-write", req(3, 2, struct.pack("<HI", 0x10, 0xDEADBEEF)))
    put("uart_frame", "reg-read-response", resp(4, 1, 0, struct.pack("<I", 0x7E55E7A0)))
    put("uart_frame", "slverr", resp(5, 1, 1, b""))
    put("uart_frame", "stream-send", req(6, 3, b"\x01\xe8\x03\x00\x00" + bytes(range(16))))
    bad = bytearray(req(7, 5, b"\x10\x00\x00\x00"))
    bad[-1] ^= 1
    put("uart_frame", "bad-crc", bytes(bad))

    # uart_link: the board's answer to each request, as records (length byte, bytes).
    def script(*answers):
        return b"".join(bytes([len(a)]) + a for a in answers)

    ok_hello = resp(0, 0, 0, hello)
    put("uart_link", "session", script(
        ok_hello, resp(1, 1, 0, struct.pack("<I", 0x7E55E7A0)), resp(2, 2, 0, b""),
        resp(3, 3, 0, b""), resp(4, 4, 0, bytes(16)), resp(5, 5, 0, b"\x01")))
    damaged = bytearray(ok_hello)
    damaged[-2] ^= 0x40
    put("uart_link", "retry", script(bytes(damaged), b"\x00\xff" + ok_hello,
                                      resp(1, 1, 2, b""), resp(1, 1, 0, b"\x01\x02\x03\x04")))
    put("uart_link", "stale", script(ok_hello, resp(0, 0, 0, hello) + resp(1, 1, 0, bytes(4))))
    put("uart_link", "silent", b"")


def chat_templates():
    smol = ROOT / "build/smollm2-hf/tokenizer_config.json"
    if smol.exists():
        put("chat_template", "smollm2.jinja", json.loads(smol.read_text())["chat_template"])
    put("chat_template", "im-start.jinja",
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    put("chat_template", "llama3.jinja",
        "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role']"
        " + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{%- endif %}")
    put("chat_template", "raise.jinja",
        "{% if messages[0]['role'] != 'user' %}{{ raise_exception('roles must alternate') }}"
        "{% endif %}{{ messages | length }} {{ 'x' * 3 }} {{ range(3) | list }}"
        "{{ messages[1]['content'].strip().upper() }}")


def chip_configs():
    put("chip_config", "configs.toml", (ROOT / "rtl/top/configs.toml").read_bytes())
    put("chip_config", "one.toml", "[t]\nGridRows = 1\nGridCols = 2\nLanes = 4\nKWidth = 8\n"
        "WeightWords = 16\nActWords = 4\nAbufWords = 8\nRbufWords = 8\nStreamWidth = 32\n"
        "VmemWords = 64\nDmemWords = 256\nProgInstrs = 16\nContext = 8\nHeadDimMax = 8\n")


def transports():
    for i, s in enumerate([
        "/dev/ttyUSB0", "/dev/ttyUSB0,baud=3000000", "/dev/pts/3,baud=115200,tries=2,margin-ms=50",
        "/tmp/pty,board-hz=2e4,max-payload=64", "/dev/ttyACM0,margin-ms=1e300", "x,tries=1_0",
        ",baud=1", "/dev/ttyUSB0,baud", "/dev/ttyUSB0,speed=9600", "/dev/ttyUSB0,baud=NaN",
    ]):
        put("transport", f"spec-{i}", s)


if __name__ == "__main__":
    configs()
    checkpoints()
    tokenizers()
    descriptors()
    frames()
    chip_configs()
    chat_templates()
    transports()
