"""Tracebacks that show the user's lines only.

When a model raises, the frames between the magic and the user's cell are ours (the sampler,
ppl_kernel's handlers, torch): they say nothing about the user's mistake. :func:`user_frames_only`
rebuilds the traceback chain keeping only frames of the user's code (cells and their own modules),
so IPython prints ``Cell In[5], line 4, in weather()`` and the line, as for a plain function.

>>> def boom():
...     return 1 / 0
>>> try:
...     boom()
... except ZeroDivisionError as e:
...     tb = user_frames_only(e.__traceback__)
>>> tb.tb_frame.f_code.co_name in ("<module>", "boom")
True
"""

import os
import types


from ppl_kernel.runtime import INTERNAL_FOLDERS

_HIDDEN_DIRS = INTERNAL_FOLDERS + (os.path.dirname(os.path.abspath(__file__)) + os.sep,)


def is_internal(filename):
    """True for frames of ppl_kernel, torch and this extension."""
    return os.path.abspath(filename).startswith(_HIDDEN_DIRS) if not filename.startswith("<") else False


def user_frames_only(tb):
    """A new traceback chain with only the user's frames (the original if none would be left)."""
    kept = []
    node = tb
    while node is not None:
        if not is_internal(node.tb_frame.f_code.co_filename):
            kept.append(node)
        node = node.tb_next
    if not kept:
        return tb
    chain = None
    for node in reversed(kept):
        chain = types.TracebackType(chain, node.tb_frame, node.tb_lasti, node.tb_lineno)
    return chain


def show_user_frames(shell, error):
    """Make IPython print ``error`` with the user's frames only (its type is unchanged).

    IPython renders an exception through its ``_render_traceback_`` method when it has one (the
    hook ipyparallel uses for remote errors); we give the instance one, made by IPython's own
    traceback formatter from the user's frames. Returns the error, to be raised again.
    """
    tb = user_frames_only(error.__traceback__)
    try:
        stb = shell.InteractiveTB.structured_traceback(type(error), error, tb, tb_offset=0)
        error._render_traceback_ = lambda: stb
    except Exception:  # an exception type without a __dict__, or a formatter failure: plain traceback
        pass
    return error.with_traceback(tb)


class ModelSyntaxError(Exception):
    """A syntax error in a ``%%model`` cell body, shown as IPython shows one in a plain cell.

    IPython prints every ``SyntaxError`` raised while code runs with the whole call stack; this
    carries the SyntaxError (placed on the cell's line) and prints only the cell line and the caret.
    """

    def __init__(self, syntax_error, shell):
        super().__init__(f"{syntax_error.msg} (line {syntax_error.lineno} of the cell)")
        self.syntax_error = syntax_error
        self.msg, self.lineno, self.offset = syntax_error.msg, syntax_error.lineno, syntax_error.offset
        self.filename, self.text = syntax_error.filename, syntax_error.text
        self._stb = shell.SyntaxTB.structured_traceback(SyntaxError, syntax_error, [])

    def _render_traceback_(self):
        return self._stb
