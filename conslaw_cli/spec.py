"""YAML text -> validated architecture spec, every node with its source position.

The file is composed with PyYAML's safe loader into a node tree (which keeps line and column
marks) and validated node by node, so that every message can say ``file:line:col``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConslawError, did_you_mean

ACTIVATIONS = ("relu", "leaky_relu", "abs", "identity", "tanh", "sigmoid", "gelu", "silu")
BARE_LAYERS = ACTIVATIONS + ("flatten",)
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
    "attention": {"heads": ("size", 1), "head_dim": ("size", ...), "name": ("name", None)},
    "softmax_head": {"classes": ("size", ...), "name": ("name", None)},
    "residual": {"layers": ("layers", ...), "name": ("name", None)},
}
LAYER_KINDS = tuple(sorted(set(BARE_LAYERS) | set(LAYER_OPTIONS)))
INPUT_FORMS = {
    frozenset({"channels", "length"}): "signal",
    frozenset({"channels", "height", "width"}): "image",
    frozenset({"tokens", "dim"}): "tokens",
}
TOP_KEYS = ("name", "description", "input", "layers")
SIZE_HINT = "sizes are whole numbers >= 1, e.g. 'out: 4'"


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
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_node, f"keys of {what} must be plain words")
            if key in out:
                raise self.error(key_node, f"duplicate key '{key}' in {what}", "keep one of them")
            out[key] = (key_node, value_node)
        return out

    def check_keys(self, entries: dict, allowed, what: str) -> None:
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}"
                raise self.error(key_node, f"unknown key '{key}' in {what}", hint)

    def scalar(self, node, what: str):
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"{what} must be a single value, not a list or mapping")
        return self.constructor.construct_object(node, deep=True)

    def size(self, node, what: str) -> int:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, f"{what} must be a positive integer, got {node.value!r}", SIZE_HINT)
        if value <= 0:
            raise self.error(node, f"{what} must be positive, got {value}", SIZE_HINT)
        return value

    def option(self, kind: str, node, what: str):
        if kind == "size":
            return self.size(node, what)
        if kind == "size_or_pair":
            if isinstance(node, yaml.SequenceNode):
                if len(node.value) != 2:
                    raise self.error(node, f"{what} must be an integer or a pair [a, b]", "e.g. kernel_size: [3, 3]")
                return tuple(self.size(item, what) for item in node.value)
            return self.size(node, what)
        value = self.scalar(node, what)
        if kind == "bool" and not isinstance(value, bool):
            raise self.error(node, f"{what} must be true or false, got {node.value!r}", "write bias: true")
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise self.error(node, f"{what} must be a number, got {node.value!r}", "e.g. slope: 0.01")
        if kind == "padding" and value not in ("circular", "valid"):
            raise self.error(node, f"{what} must be 'circular' or 'valid', got {node.value!r}",
                             did_you_mean(value, ("circular", "valid")) or "circular keeps the size, valid shrinks it")
        if kind == "name" and (not isinstance(value, str) or not value.isidentifier()):
            raise self.error(node, f"{what} must be an identifier (letters, digits, _), got {node.value!r}",
                             "e.g. name: hidden_1")
        return value

    def input_spec(self, node) -> InputSpec:
        if isinstance(node, yaml.ScalarNode):
            return InputSpec("vector", {"features": self.size(node, "input")}, self.pos(node))
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

    def layer(self, node) -> LayerSpec:
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
            raise self.error(node, f"unknown layer kind '{kind}'",
                             did_you_mean(kind, LAYER_KINDS) or f"known kinds: {', '.join(LAYER_KINDS)}")
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
                body = self.layers(value_node, f"body of {kind}")
            else:
                options[option] = self.option(kind_of_value, value_node, f"{kind}.{option}")
        return LayerSpec(kind, options, self.pos(node), body)


def load_spec(path: str | Path) -> ArchSpec:
    """Read and validate an architecture file; raise ConslawError with a position on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConslawError(f"cannot read file: {exc.strerror if isinstance(exc, OSError) else exc}",
                           str(path)) from None
    return parse_spec(text, str(path), default_name=path.stem)


def parse_spec(text: str, file: str = "<input>", default_name: str = "architecture") -> ArchSpec:
    """Validate YAML text (see the README's YAML reference)."""
    validator = _Validator(file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConslawError(f"YAML syntax error: {exc.problem or exc.context}", file, line, col,
                           "check indentation and that every '{' and '[' is closed") from None
    except yaml.YAMLError as exc:
        raise ConslawError(f"YAML error: {exc}", file) from None
    if root is None:
        raise ConslawError("the file is empty", file, hint="start with 'input:' and 'layers:'")
    top = validator.mapping(root, "the file")
    validator.check_keys(top, TOP_KEYS, "the file")
    for required in ("input", "layers"):
        if required not in top:
            raise validator.error(root, f"missing '{required}'", "see the YAML reference in README.md")
    name = default_name
    if "name" in top:
        name = str(validator.scalar(top["name"][1], "name"))
    description = ""
    if "description" in top:
        value = validator.scalar(top["description"][1], "description")
        description = "" if value is None else str(value)
    return ArchSpec(name, description, validator.input_spec(top["input"][1]),
                    validator.layers(top["layers"][1], "layers"), file)
