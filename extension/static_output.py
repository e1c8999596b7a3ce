"""What an output becomes when its run ends, and what a saved notebook keeps: a static picture, not a live view.

A widget view needs its model in a running kernel: JupyterLab 4 and Notebook 7 (default settings: widget
state is not saved) show "Error displaying widget: model not found" for it in a reopened notebook, and
they rank the widget above every other part of the output, so a picture beside it is never shown.

Two mechanisms, one rule ("a saved notebook shows the static picture"):

- a live view whose run ends is replaced in its output by the static bundle alone (:func:`widget_bundle`:
  Vega-Lite, PNG, text; see :mod:`ppl_kernel_jupyter.histogram_figure`), which every front end draws with
  no kernel: JupyterLab, Notebook 7, nbconvert, GitHub, a terminal;
- a view that stays live while the kernel runs (``interact``'s sliders) is displayed with a static
  picture beside the widget and marked (:func:`live_with_static`); the Jupyter server extension this
  package ships (:func:`_load_jupyter_server_extension`, enabled by installing the package: a file in
  ``etc/jupyter/jupyter_server_config.d``) registers :func:`drop_live_views` as a pre-save hook, which
  removes the widget view from marked outputs in the file written to disk. The open notebook keeps its
  live sliders; the saved file, reopened or converted, shows the picture.

(ipywidgets' own answer, saving the widget state into the notebook, is a per-user JupyterLab setting that
is off by default, stores every widget's state, and brings back sliders that move nothing without a
kernel; the hook needs no setting and leaves the file with what a reader can use.)

This module imports only the standard library: the Jupyter server imports it at start.
"""

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# An output's metadata under this key says: when saved, keep only the static parts of the bundle.
MARKER = "ppl_kernel_jupyter"
STATIC_WHEN_SAVED = {MARKER: {"saved": "static"}}


def widget_bundle(widget, static):
    """The bundle that replaces ``widget``'s live view once its run has ended: ``static`` alone.

    ``widget`` is accepted so that callers say which live view the picture replaces; its state is
    already in ``static``.
    """
    del widget
    return dict(static)


def live_with_static(widget, static):
    """``(data, metadata)`` to display ``widget`` live with ``static`` (a mimebundle) beside it, marked so
    that a saved notebook keeps ``static`` alone (:func:`drop_live_views`).

    >>> import ipywidgets
    >>> data, metadata = live_with_static(ipywidgets.IntSlider(), {"text/html": "<b>x = 0</b>"})
    >>> sorted(data), metadata
    (['application/vnd.jupyter.widget-view+json', 'text/html', 'text/plain'], {'ppl_kernel_jupyter': {'saved': 'static'}})
    """
    bundle = widget._repr_mimebundle_()
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    data.update(static)
    return data, dict(STATIC_WHEN_SAVED)


def drop_live_views(model, **_kwargs):
    """A Jupyter ContentsManager pre-save hook: in a notebook about to be written, each output marked by
    :func:`live_with_static` loses its widget view (it keeps its static parts). Other outputs are left
    as they are. Returns the number of views dropped.

    >>> nb = {"cells": [{"cell_type": "code", "outputs": [
    ...     {"output_type": "display_data", "metadata": dict(STATIC_WHEN_SAVED),
    ...      "data": {WIDGET_VIEW: {"model_id": "1"}, "text/html": "<b>p = 0.5</b>", "text/plain": "p = 0.5"}}]}]}
    >>> drop_live_views({"type": "notebook", "content": nb})
    1
    >>> sorted(nb["cells"][0]["outputs"][0]["data"])
    ['text/html', 'text/plain']
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return 0
    dropped = 0
    for cell in model["content"].get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data, metadata = output.get("data"), output.get("metadata") or {}
            if not isinstance(data, dict) or WIDGET_VIEW not in data or MARKER not in metadata:
                continue
            if any(kind not in (WIDGET_VIEW, "text/plain") for kind in data):  # a picture stays
                del data[WIDGET_VIEW]
                dropped += 1
    return dropped


def _load_jupyter_server_extension(serverapp):
    """Register :func:`drop_live_views` with the server's contents manager (Jupyter Server 2)."""
    serverapp.contents_manager.register_pre_save_hook(drop_live_views)
    serverapp.log.info("ppl_kernel_jupyter: saved notebooks keep static pictures of live views")
