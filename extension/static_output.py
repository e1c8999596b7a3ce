"""One output that is both the live widget and its static picture.

JupyterLab draws the richest part of a display (the widget); a saved notebook without a kernel,
nbconvert and GitHub fall back to the PNG; a terminal prints the text summary. So a widget is
shown once, and what is kept for later is in the same output.
"""


def widget_bundle(widget, static):
    """``static`` (a mimebundle of image/png and text/plain) plus ``widget``'s view."""
    view = widget._repr_mimebundle_()
    view = view[0] if isinstance(view, tuple) else view
    bundle = dict(static)
    bundle.update({k: v for k, v in view.items() if k != "text/plain"})
    return bundle
