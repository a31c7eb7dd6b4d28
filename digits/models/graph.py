"""A network's shape, layer by layer: what Visualize draws (each layer's output shape and
parameters, and the graph of how data flows between them)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerSummary:
    name: str
    kind: str
    output_shape: list[int]
    parameters: int


def summarize(model: nn.Module, channels: int, height: int, width: int) -> list[LayerSummary]:
    """Each leaf layer's output shape (for one image) and parameter count: what Visualize draws."""
    rows: list[LayerSummary] = []
    hooks = []
    for name, module in model.named_modules():
        if name and not list(module.children()):

            def record(mod, _inputs, output, name=name):
                shape = list(output.shape[1:]) if isinstance(output, torch.Tensor) else []
                count = sum(p.numel() for p in mod.parameters(recurse=False))
                rows.append(LayerSummary(name, type(mod).__name__, shape, count))

            hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, channels, height, width))
    finally:
        for hook in hooks:
            hook.remove()
    return rows


def layer_graph(model: nn.Module, channels: int, height: int, width: int) -> dict:
    """Nodes (each layer, its output shape and parameters) and edges, for Visualize to draw.

    torch.fx traces the real data flow (a ResNet's shortcuts included); code it cannot trace
    is drawn as the chain of its layers in the order they run.
    """
    try:
        return _traced_graph(model, channels, height, width)
    except Exception:
        rows = summarize(model, channels, height, width)
        first = {
            "id": "input",
            "label": "input",
            "kind": "Input",
            "output_shape": [channels, height, width],
            "parameters": 0,
        }
        nodes = [first] + [
            {
                "id": r.name,
                "label": r.name,
                "kind": r.kind,
                "output_shape": r.output_shape,
                "parameters": r.parameters,
            }
            for r in rows
        ]
        edges = [[a["id"], b["id"]] for a, b in zip(nodes, nodes[1:], strict=False)]
        return {"nodes": nodes, "edges": edges}


def _traced_graph(model: nn.Module, channels: int, height: int, width: int) -> dict:
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    traced = symbolic_trace(model.eval())
    ShapeProp(traced).propagate(torch.zeros(1, channels, height, width))
    modules = dict(traced.named_modules())
    nodes, edges = [], []
    for node in traced.graph.nodes:
        meta = node.meta.get("tensor_meta")
        shape = list(meta.shape[1:]) if meta is not None and hasattr(meta, "shape") else []
        if node.op == "call_module":
            module = modules[node.target]
            kind, label = type(module).__name__, node.target
            count = sum(p.numel() for p in module.parameters(recurse=False))
        else:
            kind = {"placeholder": "Input", "output": "Output"}.get(
                node.op, getattr(node.target, "__name__", str(node.target))
            )
            label, count = node.name, 0
        nodes.append(
            {
                "id": node.name,
                "label": label,
                "kind": kind,
                "output_shape": shape,
                "parameters": count,
            }
        )
        edges += [[source.name, node.name] for source in node.all_input_nodes]
    return {"nodes": nodes, "edges": edges}
