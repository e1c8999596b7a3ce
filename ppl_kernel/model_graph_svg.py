"""A :class:`~ppl_kernel.model_graph.ModelGraph` drawn as a self-contained SVG, laid out by hand.

Layers top to bottom: a node sits one layer below the lowest of its parents. Nodes that share the
same plates form one column block, so that each plate is one rectangle holding exactly its nodes;
nested plates are nested blocks. This needs no Graphviz and suits tutorial-sized models; the
graph's ``.source`` (DOT) is there for larger ones. The picture has its own light background so that
it reads in JupyterLab's dark theme too.
"""

import math
from html import escape

FONT = 13  # px; the name of a node
SMALL = 11  # px; plate labels, run counts, the legend
CHAR = 0.6  # average glyph width of a sans-serif font, in units of the font size
NODE_HEIGHT = 38
LAYER_GAP = 56
NODE_GAP = 24
PLATE_PAD = 12
MARGIN = 16
INK = "#1f2328"
SHADE = "#c8ccd1"
MUTED = "#57606a"


def graph_svg(graph):
    """The SVG document of ``graph`` (a string starting with ``<svg``)."""
    if not graph.nodes:
        return _empty(graph)
    layers = _layers(graph)
    boxes = {name: _node_size(graph, node) for name, node in graph.nodes.items()}
    blocks = {}
    for name, node in graph.nodes.items():
        blocks.setdefault(tuple(plate for plate, _ in node.plates), []).append(name)
    keys = sorted(blocks)
    depth = max(len(key) for key in keys)
    layer_height = NODE_HEIGHT + LAYER_GAP + (2 * PLATE_PAD + SMALL + 6) * depth
    position = {}
    x = MARGIN + PLATE_PAD * depth
    previous = None
    for key in keys:
        if previous is not None:
            x += NODE_GAP + PLATE_PAD * (len(key) + len(previous) - 2 * _common(key, previous))
        rows = {}
        for name in blocks[key]:
            rows.setdefault(layers[name], []).append(name)
        width = max(sum(boxes[n][0] for n in row) + NODE_GAP * (len(row) - 1) for row in rows.values())
        for layer, row in rows.items():
            row_width = sum(boxes[n][0] for n in row) + NODE_GAP * (len(row) - 1)
            left = x + (width - row_width) / 2
            for name in row:
                w = boxes[name][0]
                position[name] = (left + w / 2, MARGIN + PLATE_PAD * depth + layer * layer_height + NODE_HEIGHT / 2)
                left += w + NODE_GAP
        x += width
        previous = key
    plates = _plate_rectangles(graph, blocks, position, boxes)
    legend = _legend(graph)
    width = max([x + PLATE_PAD * depth + MARGIN] + [r[0] + r[2] + MARGIN for r in plates.values()])
    height = max(MARGIN + y + NODE_HEIGHT / 2 for _, y in position.values()) + PLATE_PAD * depth + 10
    height = max([height] + [r[1] + r[3] + MARGIN for r in plates.values()])
    legend_top = height
    height += (SMALL + 8) * len(legend) + (MARGIN / 2 if legend else 0)
    width = max(width, MARGIN * 2 + max((len(line) * CHAR * SMALL + 40 for line in legend), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" role="img" '
        f'aria-label="graph of model {escape(graph.model)}">',
        f"<title>graph of model {escape(graph.model)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker>'
        '<marker id="arrow-control" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{MUTED}"/></marker>'
        # a site observed in some runs only: shaded on its left half
        f'<linearGradient id="half-shade"><stop offset="50%" stop-color="{SHADE}"/>'
        '<stop offset="50%" stop-color="#ffffff"/></linearGradient></defs>',
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" rx="6" fill="#ffffff"/>',
    ]
    for name, (px, py, pw, ph) in plates.items():
        size = graph.plates[name]
        parts.append(f'<rect class="plate" x="{px:.1f}" y="{py:.1f}" width="{pw:.1f}" height="{ph:.1f}" rx="4" '
                     f'fill="none" stroke="{INK}" stroke-width="1"/>')
        parts.append(f'<text class="plate-label" x="{px + pw - 6:.1f}" y="{py + ph - 5:.1f}" font-size="{SMALL}" text-anchor="end" '
                     f'fill="{INK}">{escape(name)} ({size})</text>')
    for (parent, child), kind in graph.edges.items():
        parts.append(_edge(position[parent], boxes[parent], graph.nodes[parent].kind,
                           position[child], boxes[child], graph.nodes[child].kind, kind,
                           layers[child] - layers[parent]))
    for name, node in graph.nodes.items():
        parts.append(_node(graph, node, position[name], boxes[name]))
    for i, line in enumerate(legend):
        parts.append(f'<text x="{MARGIN}" y="{legend_top + (SMALL + 8) * i + SMALL:.1f}" font-size="{SMALL}" '
                     f'fill="{MUTED}">{escape(line)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _layers(graph):
    """Each node's layer: one below its lowest parent (parents appear before their children in a run)."""
    order = list(graph.nodes)
    rank = {name: i for i, name in enumerate(order)}
    layers = {}
    for name in order:
        above = [layers[p] for p in graph.parents(name) if rank[p] < rank[name]]
        layers[name] = (1 + max(above) if above else 0) + graph.leaf_stagger.get(name, 0)
    return layers


def _node_size(graph, node):
    lines = [graph.label(node)] + ([_runs_note(graph, node)] if graph.sometimes(node.name) else [])
    width = max(len(lines[0]) * CHAR * FONT, max(len(line) for line in lines) * CHAR * SMALL) + 28
    return max(width, 56), NODE_HEIGHT


def _runs_note(graph, node):
    return f"in {node.runs} of {graph.runs} runs"


def _common(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _plate_rectangles(graph, blocks, position, boxes):
    """Each plate's rectangle ``(x, y, width, height)``: around its nodes, padded once per plate inside it."""
    rectangles = {}
    names = {plate for key in blocks for plate in key}
    for plate in names:
        inside = [(key, members) for key, members in blocks.items() if plate in key]
        level = inside[0][0].index(plate)
        deeper = max(len(key) for key, _ in inside) - level - 1
        pad = PLATE_PAD * (deeper + 1)
        members = [name for _, group in inside for name in group]
        left = min(position[n][0] - boxes[n][0] / 2 for n in members) - pad
        right = max(position[n][0] + boxes[n][0] / 2 for n in members) + pad
        top = min(position[n][1] - boxes[n][1] / 2 for n in members) - pad
        bottom = max(position[n][1] + boxes[n][1] / 2 for n in members) + pad + (SMALL + 6) * (deeper + 1)
        rectangles[plate] = (left, top, right - left, bottom - top)
    return dict(sorted(rectangles.items(), key=lambda item: -item[1][2] * item[1][3]))


def _node(graph, node, center, size):
    x, y = center
    w, h = size
    fill = "#ffffff"
    if node.kind == "observed":
        fill = SHADE if node.observed else "url(#half-shade)"
    dash = ' stroke-dasharray="5,3"' if graph.sometimes(node.name) else ""
    attributes = f'fill="{fill}" stroke="{INK}" stroke-width="1.3"{dash}'
    if node.kind in ("deterministic", "return", "param"):
        shape = f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" rx="3" {attributes}/>'
    else:
        shape = f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" {attributes}/>'
    label = escape(graph.label(node))
    if graph.sometimes(node.name):
        text = (f'<text x="{x:.1f}" y="{y - 2:.1f}" font-size="{FONT}" text-anchor="middle" fill="{INK}">{label}</text>'
                f'<text x="{x:.1f}" y="{y + SMALL:.1f}" font-size="{SMALL - 1}" text-anchor="middle" '
                f'fill="{MUTED}">{escape(_runs_note(graph, node))}</text>')
    else:
        text = f'<text x="{x:.1f}" y="{y + FONT * 0.35:.1f}" font-size="{FONT}" text-anchor="middle" fill="{INK}">{label}</text>'
    return f'<g class="node {node.kind}" data-name="{escape(node.name)}">{shape}{text}</g>'


def _edge(start, start_size, start_kind, end, end_size, end_kind, kind, span):
    """An arrow from parent to child; one that skips layers bends sideways (more for longer skips), so that
    it does not run over the nodes and arrows between."""
    (x0, y0), (x1, y1) = start, end
    bend = 0.0 if span <= 1 else 34.0 * (span - 1) * (1 if x1 >= x0 else -1)
    cx, cy = (x0 + x1) / 2 + bend, (y0 + y1) / 2
    a = _border(start_size, start_kind, cx - x0, cy - y0)
    b = _border(end_size, end_kind, cx - x1, cy - y1)
    sx, sy = x0 + a * (cx - x0), y0 + a * (cy - y0)
    ex, ey = x1 + b * (cx - x1), y1 + b * (cy - y1)
    colour = MUTED if kind == "control" else INK
    dash = ' stroke-dasharray="4,3"' if kind == "control" else ""
    marker = "arrow-control" if kind == "control" else "arrow"
    return (f'<path class="edge {kind}" d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" fill="none" '
            f'stroke="{colour}" stroke-width="1.3"{dash} marker-end="url(#{marker})"/>')


def _border(size, kind, dx, dy):
    """The fraction of the way along (dx, dy) from a node's centre at which its outline lies."""
    rx, ry = size[0] / 2, size[1] / 2
    if dx == 0 and dy == 0:
        return 0.0
    if kind in ("deterministic", "return", "param"):
        return min(rx / abs(dx) if dx else math.inf, ry / abs(dy) if dy else math.inf)
    return 1 / math.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)


def _legend(graph):
    lines = []
    kinds = {node.kind for node in graph.nodes.values()}
    if "observed" in kinds:
        lines.append("shaded: observed (data)")
    if any(node.kind == "observed" and not node.observed for node in graph.nodes.values()):
        lines.append("half shaded: observed in only some calls")
    if kinds & {"deterministic", "return"}:
        lines.append("rectangle: a computed value (deterministic, return)")
    if any(graph.sometimes(name) for name in graph.nodes):
        lines.append(f"dashed outline: in only some of {graph.runs} runs")
    if "control" in graph.edges.values():
        lines.append("dashed arrow: read in Python (an if, .item()) before")
    return lines


def _empty(graph):
    message = escape(f"model {graph.model} has no sample sites")
    width = len(message) * CHAR * FONT + 2 * MARGIN
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="48" font-family="sans-serif">'
            f'<rect width="100%" height="100%" rx="6" fill="#ffffff"/>'
            f'<text x="{MARGIN}" y="29" font-size="{FONT}" fill="{INK}">{message}</text></svg>')
