"""YAML text -> validated architecture spec, every node with its source position.

The file is composed with PyYAML's safe loader into a node tree (which keeps line and column
marks) and validated node by node, so that every message can say ``file:line:col``.

Limits, checked before the work they bound: regular files of at most MAX_FILE_BYTES, YAML
nesting of at most MAX_YAML_DEPTH levels, no YAML tags, at most MAX_LAYERS layers counted after
alias expansion (a small file of aliases can stand for billions of layers), residual blocks
nested at most MAX_RESIDUAL_DEPTH deep, names of at most MAX_NAME_LENGTH characters.
"""

from __future__ import annotations

import codecs
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConslawError, did_you_mean

ACTIVATIONS = ("relu", "leaky_relu", "abs", "identity", "tanh", "sigmoid", "gelu", "silu")
BARE_LAYERS = ACTIVATIONS + ("flatten", "global_avg_pool", "transpose")
LAYER_OPTIONS: dict[str, dict[str, tuple]] = {
    # kind -> option -> (type, default); a default of ... means required
    "linear": {"out": ("size", ...), "bias": ("bool", False), "name": ("name", None)},
    "conv": {
        "out_channels": ("size", ...),
        "kernel_size": ("size_or_pair", ...),
        "stride": ("size_or_pair", 1),
        "padding": ("padding", "circular"),
        "bias": ("bool", False),
        "name": ("name", None),
    },
    "leaky_relu": {"slope": ("number", 0.01)},
    "relu": {"power": ("exponent", 1)},
    "power": {"p": ("exponent", ...)},
    "attention": {"heads": ("size", 1), "head_dim": ("size", ...), "causal": ("bool", False), "name": ("name", None)},
    "softmax_head": {"classes": ("size", ...), "name": ("name", None)},
    "avg_pool": {"kernel_size": ("size_or_pair", ...), "stride": ("size_or_pair", None), "name": ("name", None)},
    "max_pool": {"kernel_size": ("size_or_pair", ...), "stride": ("size_or_pair", None), "name": ("name", None)},
    "global_avg_pool": {"name": ("name", None)},
    "transpose": {"name": ("name", None)},
    "dropout": {"rate": ("probability", 0.5), "name": ("name", None)},
    "patches": {"size": ("size", ...), "name": ("name", None)},
    "layer_norm": {"affine": ("bool", True), "bias": ("bool", True), "name": ("name", None)},
    "rms_norm": {"affine": ("bool", True), "name": ("name", None)},
    "glu": {"out": ("size", ...), "gate": ("gate", "sigmoid"), "bias": ("bool", False), "name": ("name", None)},
    "residual": {"layers": ("layers", ...), "shortcut": ("shortcut", "identity"), "name": ("name", None)},
}
SHORTCUTS = ("identity", "conv", "linear")  # what the skip of a residual block computes
GATES = ("sigmoid", "silu", "gelu", "relu", "none")  # a glu's gate activation (none: the bilinear unit)
LAYER_KINDS = tuple(sorted(set(BARE_LAYERS) | set(LAYER_OPTIONS)))
SUPPORTED_ACTIVATIONS = ACTIVATIONS + ("power",)
SUPPORTED_IN_FAMILY = {"activation": SUPPORTED_ACTIVATIONS, "normalization layer": ("layer_norm", "rms_norm")}
MAX_POWER = 8  # exponents of power activations: the exact passes square integers p times per layer
INPUT_FORMS = {
    frozenset({"channels", "length"}): "signal",
    frozenset({"channels", "height", "width"}): "image",
    frozenset({"tokens", "dim"}): "tokens",
}
TOP_KEYS = ("name", "description", "input", "layers")
SIZE_HINT = "sizes are whole numbers >= 1, e.g. 'out: 4'"
# Unknown kinds are answered by meaning before spelling: a synonym names the kind conslaw uses,
# and a known layer it cannot express yet is said to be one (spelling alone would suggest
# 'relu' for 'prelu' and 'silu' for 'selu').
KIND_SYNONYMS = {
    "dense": "linear", "fc": "linear", "fully_connected": "linear", "affine": "linear",
    "conv1d": "conv", "conv2d": "conv", "convolution": "conv",
    "square": "power: {p: 2}", "squared_relu": "relu: {power: 2}", "relu2": "relu: {power: 2}",
    "relu_squared": "relu: {power: 2}", "swish": "silu", "logistic": "sigmoid", "lrelu": "leaky_relu",
    "linear_activation": "identity",
    "mha": "attention", "multi_head_attention": "attention", "multihead_attention": "attention",
    "self_attention": "attention",
    "skip": "residual", "shortcut": "residual", "residual_block": "residual", "resblock": "residual",
    "reshape": "flatten", "classifier": "softmax_head", "cross_entropy": "softmax_head",
    "maxpool": "max_pool", "max_pool1d": "max_pool", "max_pool2d": "max_pool", "maxpool2d": "max_pool",
    "avgpool": "avg_pool", "average_pool": "avg_pool", "avg_pool1d": "avg_pool", "avg_pool2d": "avg_pool",
    "avgpool2d": "avg_pool", "adaptive_avg_pool": "global_avg_pool",
    "adaptive_avg_pool2d": "global_avg_pool", "adaptive_avg_pool1d": "global_avg_pool", "global_average_pool": "global_avg_pool",
    "mean_pool": "global_avg_pool", "patch_embedding": "patches", "patchify": "patches",
    "permute": "transpose", "swap_tokens": "transpose",
    "swiglu": "glu: {gate: silu}", "geglu": "glu: {gate: gelu}", "reglu": "glu: {gate: relu}",
    "bilinear": "glu: {gate: none}", "gated_linear_unit": "glu", "gated_mlp": "glu",
}
KINDS_NOT_SUPPORTED_YET = {
    "activation": ("prelu", "selu", "elu", "celu", "mish", "softplus", "softsign", "hardtanh", "relu6",
                   "hard_swish", "hard_sigmoid"),
    "normalization layer": ("batch_norm", "group_norm", "instance_norm"),
    "embedding layer": ("embedding", "positional_encoding"),
    "layer": ("lstm", "gru", "rnn", "conv_transpose", "deconv", "upsample"),
}
# PyTorch's names for options (the name of a layer's keyword argument) -> conslaw's
KEY_SYNONYMS = {
    ("dropout", "p"): "rate", ("attention", "num_heads"): "heads", ("attention", "is_causal"): "causal",
    ("max_pool", "kernel"): "kernel_size", ("avg_pool", "kernel"): "kernel_size", ("conv", "kernel"): "kernel_size",
    ("linear", "out_features"): "out", ("patches", "patch_size"): "size", ("power", "exponent"): "p",
    ("relu", "p"): "power", ("relu", "exponent"): "power", ("layer_norm", "elementwise_affine"): "affine",
    ("rms_norm", "elementwise_affine"): "affine", ("glu", "activation"): "gate", ("glu", "hidden"): "out",
}
# options that belong to another kind -> the hint that names it
KEY_HINTS = {("relu", "slope"): "a slope below zero is 'leaky_relu: {slope: 0.01}'",
             ("relu", "beta"): "a trainable slope is not supported yet; 'leaky_relu: {slope: 0.01}' has a fixed one"}
SOFTMAX_HINT = ("there is no softmax layer: softmax_head is a linear classifier followed by softmax and the "
                "cross-entropy loss, written as the last layer, e.g. '- softmax_head: {classes: 10}'")

MAX_FILE_BYTES = 1 << 20
MAX_YAML_DEPTH = 100
MAX_LAYERS = 5_000
MAX_RESIDUAL_DEPTH = 30
MAX_NAME_LENGTH = 200


def _kind_key(kind: str) -> str:
    """A kind as compared by meaning: case, '_', '-' and spaces ignored ('LayerNorm' = 'layer_norm')."""
    return "".join(ch for ch in kind.lower() if ch not in "_- ")


def unknown_kind_hint(kind: str) -> str:
    """The hint for a layer kind conslaw does not know: by meaning first, then by spelling."""
    key = _kind_key(kind)
    if key == "softmax":
        return SOFTMAX_HINT
    if known := next((k for k in LAYER_KINDS if _kind_key(k) == key), None):
        return f"kinds are written in lower case with underscores: '{known}'"
    if synonym := next((v for k, v in KIND_SYNONYMS.items() if _kind_key(k) == key), None):
        return f"conslaw calls this layer '{synonym}'"
    for family, kinds in KINDS_NOT_SUPPORTED_YET.items():
        if any(_kind_key(k) == key for k in kinds):
            nearest = SUPPORTED_IN_FAMILY.get(family)
            supported = f"; the {family}s it supports: {', '.join(nearest)}" if nearest else ""
            return f"a known {family} that conslaw does not support yet{supported}"
    return did_you_mean(kind, LAYER_KINDS) or f"known kinds: {', '.join(LAYER_KINDS)}"


@dataclass(frozen=True)
class Pos:
    """A 1-based source position."""

    line: int
    col: int


@dataclass
class InputSpec:
    """The input: ``vector`` (features), ``signal`` (channels, length), ``image``, ``tokens``."""

    kind: str
    sizes: dict[str, int]
    pos: Pos


@dataclass
class LayerSpec:
    """One layer as written: its kind, validated options, and the body of a residual block."""

    kind: str
    options: dict
    pos: Pos
    body: list["LayerSpec"] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.options.get("name")


@dataclass
class ArchSpec:
    """A whole architecture file."""

    name: str
    description: str
    input: InputSpec
    layers: list[LayerSpec]
    file: str


class _Validator:
    """Walks the composed YAML node tree; every error carries the offending node's position."""

    def __init__(self, file: str):
        self.file = file
        self.constructor = yaml.SafeLoader("")  # turns scalar nodes into typed values
        self.layer_count = 0  # layers validated so far, aliases expanded
        self.residual_depth = 0

    def error(self, node, message: str, hint: str | None = None) -> ConslawError:
        pos = self.pos(node)
        return ConslawError(message, self.file, pos.line, pos.col, hint)

    @staticmethod
    def pos(node) -> Pos:
        return Pos(node.start_mark.line + 1, node.start_mark.column + 1)

    def mapping(self, node, what: str) -> dict[str, tuple]:
        """A mapping node as {key: (key_node, value_node)}, rejecting duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value pairs)",
                             "see the YAML reference in README.md")
        out: dict[str, tuple] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_node, f"keys of {what} must be plain words",
                                 "a key is a single word followed by ':', e.g. 'out: 3'")
            key = key_node.value
            if key in out:
                raise self.error(key_node, f"duplicate key {_shown(key)} in {what}", "keep one of them")
            out[key] = (key_node, value_node)
        return out

    def network_name(self, node) -> str:
        """The `name:` of the file: any text of at most MAX_NAME_LENGTH characters."""
        value = self.scalar(node, "name")
        if value is None or value == "":
            raise self.error(node, "name is empty", "write a name, e.g. name: my_net, or leave the line out "
                                                    "to use the file name")
        if len(str(value)) > MAX_NAME_LENGTH:
            raise self.error(node, f"name is {len(str(value)):,} characters long (limit {MAX_NAME_LENGTH})",
                             "choose a shorter name; the description can be long")
        return str(value)

    def check_keys(self, entries: dict, allowed, what: str) -> None:
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                synonym = KEY_SYNONYMS.get((what, key))
                hint = (f"conslaw calls this option '{synonym}'" if synonym else KEY_HINTS.get((what, key)) or
                        did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}")
                raise self.error(key_node, f"unknown key {_shown(key)} in {what}", hint)

    def scalar(self, node, what: str):
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"{what} must be a single value, not a list or mapping")
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:  # e.g. a date like 2020-13-45
            raise self.error(node, f"{what}: cannot read the value {_shown(node.value)} ({exc})",
                             "put it in quotes to make it text") from None

    def size(self, node, what: str) -> int:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, f"{what} must be a positive integer, got {_shown(node.value)}", SIZE_HINT)
        if value <= 0:
            raise self.error(node, f"{what} must be positive, got {value}", SIZE_HINT)
        return value

    def option(self, kind: str, node, what: str):
        if kind == "size":
            return self.size(node, what)
        if kind == "exponent":
            value = self.size(node, what)
            if value > MAX_POWER:
                raise self.error(node, f"{what} is {value}; conslaw takes exponents up to {MAX_POWER}",
                                 "squared ReLU (power: 2) and cubes are the usual ones")
            return value
        if kind == "size_or_pair":
            if isinstance(node, yaml.SequenceNode):
                if len(node.value) != 2:
                    raise self.error(node, f"{what} must be an integer or a pair [a, b]", "e.g. kernel_size: [3, 3]")
                return tuple(self.size(item, what) for item in node.value)
            return self.size(node, what)
        value = self.scalar(node, what)
        if kind == "bool" and not isinstance(value, bool):
            raise self.error(node, f"{what} must be true or false, got {_shown(node.value)}",
                             f"write {what.split('.')[-1]}: true")
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise self.error(node, f"{what} must be a number, got {_shown(node.value)}", "e.g. slope: 0.01")
        if kind == "number" and isinstance(value, float) and not math.isfinite(value):
            raise self.error(node, f"{what} must be a finite number, got {_shown(node.value)}",
                             "slope 0 is relu, 1 the identity, -1 abs; e.g. slope: 0.01")
        if kind == "probability" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 <= value < 1):
            raise self.error(node, f"{what} must be a number in [0, 1), got {_shown(node.value)}",
                             "the probability of dropping a unit, e.g. rate: 0.1")
        if kind == "padding" and value not in ("circular", "valid"):
            raise self.error(node, f"{what} must be 'circular' or 'valid', got {_shown(node.value)}",
                             did_you_mean(value, ("circular", "valid")) or "circular keeps the size, valid shrinks it")
        if kind == "shortcut" and value not in SHORTCUTS:
            raise self.error(node, f"{what} must be one of {', '.join(SHORTCUTS)}, got {_shown(node.value)}",
                             did_you_mean(str(value), SHORTCUTS) or "identity adds x itself; conv (1×1, strided) "
                             "and linear project x to the body's output shape")
        if kind == "gate" and value not in GATES:
            raise self.error(node, f"{what} must be one of {', '.join(GATES)}, got {_shown(node.value)}",
                             did_you_mean(str(value), GATES) or "sigmoid is PyTorch's GLU, silu SwiGLU, gelu GEGLU, "
                             "relu ReGLU, none the bilinear unit")
        if kind == "name":
            self.check_layer_name(node, value, what)
        return value

    def check_layer_name(self, node, value, what: str) -> None:
        if not isinstance(value, str) or not value.isidentifier():
            raise self.error(node, f"{what} must be an identifier (letters, digits, _), got {_shown(node.value)}",
                             "e.g. name: hidden_1")
        if len(value) > MAX_NAME_LENGTH:
            raise self.error(node, f"{what} is {len(value):,} characters long (limit {MAX_NAME_LENGTH})",
                             "choose a shorter name")
        if value in LAYER_KINDS:
            raise self.error(node, f"{what} '{value}' is a layer kind; unnamed {value} layers are called that",
                             f"choose another name, e.g. name: {value}_1")

    def input_spec(self, node) -> InputSpec:
        if isinstance(node, yaml.ScalarNode):
            return InputSpec("vector", {"features": self.size(node, "input")}, self.pos(node))
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, "input must be a number of features or a mapping of sizes, not a list",
                             "e.g. input: 8, or input: {channels: 1, length: 8}")
        entries = self.mapping(node, "input")
        form = INPUT_FORMS.get(frozenset(entries))
        if form is None:
            raise self.error(node, f"input has keys {sorted(entries)}; expected a number of features or one of "
                             "{channels, length}, {channels, height, width}, {tokens, dim}",
                             "e.g. input: {channels: 2, length: 8}")
        sizes = {key: self.size(value, f"input.{key}") for key, (_, value) in entries.items()}
        return InputSpec(form, sizes, self.pos(node))

    def layers(self, node, what: str) -> list[LayerSpec]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what} must be a list of layers (lines starting with '- ')",
                             "write each layer on its own line as '  - relu'")
        if not node.value:
            raise self.error(node, f"{what} is empty", "list at least one layer, e.g. '- linear: {out: 3}'")
        return [self.layer(item) for item in node.value]

    def count_layer(self, node) -> None:
        """Refuse more than MAX_LAYERS layers, counting every use of an alias (before the work)."""
        self.layer_count += 1
        if self.layer_count > MAX_LAYERS:
            raise self.error(node, f"more than {MAX_LAYERS:,} layers (counting each use of a YAML alias)",
                             "is an alias (*name) repeated inside itself or many times over?")

    def residual_body(self, node, kind: str) -> list[LayerSpec]:
        """The layers of a residual block, nested at most MAX_RESIDUAL_DEPTH deep."""
        self.residual_depth += 1
        if self.residual_depth > MAX_RESIDUAL_DEPTH:
            raise self.error(node, f"residual blocks nested more than {MAX_RESIDUAL_DEPTH} deep",
                             "is an alias (*name) used inside its own definition?")
        try:
            return self.layers(node, f"body of {kind}")
        finally:
            self.residual_depth -= 1

    def layer(self, node) -> LayerSpec:
        self.count_layer(node)
        if isinstance(node, yaml.ScalarNode):
            kind, body_node = node.value, None
        else:
            entries = self.mapping(node, "a layer")
            if len(entries) != 1:
                raise self.error(node, "a layer is one kind with its options, e.g. '- linear: {out: 3}'",
                                 "is an indentation or a '- ' missing?")
            kind, (key_node, body_node) = next(iter(entries.items()))
            node = key_node
        if kind not in LAYER_KINDS:
            raise self.error(node, f"unknown layer kind {_shown(kind)}", unknown_kind_hint(kind))
        schema = LAYER_OPTIONS.get(kind, {})
        if body_node is None or (isinstance(body_node, yaml.ScalarNode) and body_node.value == ""):
            entries = {}
        elif kind == "residual" and isinstance(body_node, yaml.SequenceNode):
            entries = {"layers": (body_node, body_node)}
        elif kind in BARE_LAYERS and kind not in LAYER_OPTIONS:
            raise self.error(body_node, f"'{kind}' takes no options", f"write it as a bare word: '- {kind}'")
        else:
            entries = self.mapping(body_node, f"options of {kind}")
        self.check_keys(entries, tuple(schema), f"{kind}")
        options, body = {}, []
        for option, (kind_of_value, default) in schema.items():
            if option not in entries:
                if default is ...:
                    raise self.error(node, f"{kind} needs '{option}'", f"see the YAML reference for {kind}")
                options[option] = default
                continue
            _, value_node = entries[option]
            if kind_of_value == "layers":
                body = self.residual_body(value_node, kind)
            else:
                options[option] = self.option(kind_of_value, value_node, f"{kind}.{option}")
        return LayerSpec(kind, options, self.pos(node), body)


def _shown(text: str) -> str:
    """A value quoted for a message, shortened: a 1 MB name must not make a 1 MB message."""
    text = str(text)
    return repr(text if len(text) <= 60 else text[:60] + "…")


def load_spec(path: str | Path) -> ArchSpec:
    """Read and validate an architecture file; raise ConslawError with a position on any problem."""
    path = Path(path)
    return parse_spec(read_architecture_text(path), str(path), default_name=path.stem)


def read_architecture_text(path: str | Path) -> str:
    """The text of an architecture file, read under the file limits (a regular file of at most
    MAX_FILE_BYTES, UTF-8); raises ConslawError located at the file otherwise."""
    return _decode(_read_regular_file(Path(path)), str(path))


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES. Opened without blocking and checked
    before reading, so /dev/zero, a FIFO without writer or a directory is refused at once."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ConslawError(f"cannot read file: {exc.strerror}", str(path), hint="check the path") from None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise ConslawError("cannot read file: not a regular file", str(path),
                               hint="give an architecture YAML file (not a directory, device or pipe)")
        with os.fdopen(handle, "rb", closefd=False) as file:
            data = file.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(handle)
    if len(data) > MAX_FILE_BYTES:
        raise ConslawError(f"the file is larger than {MAX_FILE_BYTES:,} bytes", str(path),
                           hint="architecture files are short: is this the right file?")
    return data


def _decode(data: bytes, file: str) -> str:
    """UTF-8 text (a BOM is dropped); UTF-16 and undecodable bytes get a located message."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConslawError("the file is UTF-16 encoded", file,
                           hint="save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 in.yaml > out.yaml")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line, col = before.count(b"\n") + 1, len(before) - (before.rfind(b"\n") + 1) + 1
        raise ConslawError(f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded", file,
                           line, col, "save the file as UTF-8") from None


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe composer with two refusals before any work: YAML tags (!foo, !!python/name…)
    and nesting deeper than MAX_YAML_DEPTH (the composer recurses once per level)."""

    def __init__(self, text: str, file: str):
        super().__init__(text)
        self.file = file
        self.depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise self.refusal(event, f"YAML tags are not supported: '{tag.replace('tag:yaml.org,2002:', '!!')}'",
                               "remove the tag; sizes, names and flags need none")
        if self.depth >= MAX_YAML_DEPTH:
            raise self.refusal(event, f"nesting deeper than {MAX_YAML_DEPTH} levels", "is a bracket not closed?")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def refusal(self, event, message: str, hint: str) -> ConslawError:
        return ConslawError(message, self.file, event.start_mark.line + 1, event.start_mark.column + 1, hint)


def _compose(text: str, file: str):
    """The YAML node tree of `text` (None for an empty file), syntax errors located."""
    loader = None
    try:
        loader = _StrictLoader(text, file)  # PyYAML checks the characters here
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConslawError(f"YAML syntax error: {exc.problem or exc.context}", file, line, col,
                           "check indentation and that every '{' and '[' is closed") from None
    except yaml.reader.ReaderError as exc:  # a control character, e.g. NUL
        before = text[:exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise ConslawError(f"character {chr(exc.character)!r} is not allowed in YAML", file, line, col,
                           "remove it; NUL bytes often mean a UTF-16 or binary file") from None
    except yaml.YAMLError as exc:
        raise ConslawError(f"YAML error: {exc}", file) from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_spec(text: str, file: str = "<input>", default_name: str = "architecture") -> ArchSpec:
    """Validate YAML text (see the README's YAML reference)."""
    validator = _Validator(file)
    root = _compose(text, file)
    if root is None:
        raise ConslawError("the file is empty", file, hint="start with 'input:' and 'layers:'")
    top = validator.mapping(root, "the file")
    validator.check_keys(top, TOP_KEYS, "the file")
    for required in ("input", "layers"):
        if required not in top:
            raise validator.error(root, f"missing '{required}'", "see the YAML reference in README.md")
    name = validator.network_name(top["name"][1]) if "name" in top else default_name
    description = ""
    if "description" in top:
        value = validator.scalar(top["description"][1], "description")
        description = "" if value is None else str(value)
    return ArchSpec(name, description, validator.input_spec(top["input"][1]),
                    validator.layers(top["layers"][1], "layers"), file)
