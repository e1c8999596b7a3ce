"""What an output becomes when its run ends: the static picture, without the live widget.

A widget view needs its model in a running kernel: JupyterLab 4 (default settings: widget state is
not saved) shows "Error displaying widget: model not found" for it in a reopened notebook, and it
ranks the widget above every other part of the output, so a PNG beside it is never shown. So a live
widget is displayed while its run goes, and when the run ends its output is updated to the static
bundle alone (Vega-Lite, PNG, text; see :mod:`ppl_kernel_jupyter.histogram_figure`), which every
front end draws with no kernel: JupyterLab, Notebook 7, nbconvert, GitHub, a terminal.
"""


def widget_bundle(widget, static):
    """The bundle that replaces ``widget``'s live view once its run has ended: ``static`` alone.

    ``widget`` is accepted so that callers say which live view the picture replaces; its state is
    already in ``static``.
    """
    del widget
    return dict(static)
