"""Turn a ``%%model`` cell into a real Python function.

The magic line ``%%model geometric(p, t=None)`` becomes the ``def`` line and the cell body becomes
the function's body, unindented as the user wrote it: we parse the body as a module (the parser
accepts a top-level ``return``; only the compiler rejects it) and graft its statements into a
``FunctionDef`` built from the signature. Line numbers are shifted by one, so line ``k`` of the
function is line ``k`` of the cell and column offsets are untouched. The code is compiled under a
file name registered with IPython's compiler and cached in ``linecache`` with the cell's own text,
so syntax errors and tracebacks read ``Cell In[5], line 3`` with the line the user typed.

The function's globals are the user's namespace: it may call anything defined there, and call
itself by name (recursion), exactly as a ``def`` typed in a cell would.

>>> from ppl_kernel_jupyter.cell_function import parse_definition
>>> parse_definition("geometric(p, t=None)")
('geometric', 'p, t=None')
"""

import ast
import keyword
import re
import sys
import textwrap

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class DefinitionError(ValueError):
    """The magic line does not name a function; the message says what is wrong and how to write it."""


def parse_definition(text):
    """Split ``NAME`` or ``NAME(ARGS)`` into ``(name, args_text)``; raise DefinitionError if malformed."""
    text = text.strip()
    m = _NAME.match(text)
    if not m:
        raise DefinitionError(
            f"'{text}' does not start with a function name; write e.g. %%model weather or "
            "%%model geometric(p, t=None)"
        )
    name = m.group(0)
    if keyword.iskeyword(name):
        raise DefinitionError(f"'{name}' is a Python keyword and cannot name a model; choose another name")
    rest = text[m.end():].strip()
    if not rest:
        return name, ""
    if rest.startswith("(") and rest.count("(") != rest.count(")"):
        raise DefinitionError(
            f"unbalanced parentheses in '{text}'; close the argument list, e.g. %%model {name}(p, t=None)"
        )
    if not (rest.startswith("(") and rest.endswith(")")):
        raise DefinitionError(
            f"after the name '{name}' expected its arguments in parentheses, got '{rest}'; "
            f"write e.g. %%model {name}(p, t=None)"
        )
    args = rest[1:-1]
    try:
        ast.parse(f"def {name}({args}): pass")
    except SyntaxError as e:
        raise DefinitionError(
            f"the arguments '({args})' of '{name}' are not a valid Python signature ({e.msg}); "
            f"write them as in a def line, e.g. %%model {name}(p, t=None)"
        ) from None
    return name, args


_INDENT = "    "


def model_source(name, args, body):
    """The function as a reader would write it: ``def name(args):`` and the indented body."""
    return f"def {name}({args}):\n" + textwrap.indent(body.rstrip("\n") or "pass", _INDENT) + "\n"


def _indent_columns(tree, width):
    for node in ast.walk(tree):
        if getattr(node, "col_offset", None) is not None:
            node.col_offset += width
        if getattr(node, "end_col_offset", None) is not None:
            node.end_col_offset += width


def compile_cell_function(shell, magic_line, name, args, body):
    """Define ``name`` in the user's namespace from a cell body and return the function.

    ``shell`` is the running InteractiveShell; ``magic_line`` is the cell's first line (without
    ``%%``), kept so the cached text is what the user sees. Raises SyntaxError pointing at the cell.
    """
    cell_text = f"%%model {magic_line}\n{body}"
    number = _running_cell_number(shell)
    # Tracebacks show the function as a reader would write it (the def line, then the body indented), line
    # for line with the cell: a traceback formatter that parses the source (IPython 9's) needs Python there.
    source = model_source(name, args, body)
    filename = shell.compile.cache(source, number, raw_code=cell_text)
    try:
        body_tree = ast.parse(body, filename=filename) if body.strip() else ast.Module([ast.Pass()], [])
    except SyntaxError as e:
        raise _at_cell_line(e, filename, cell_text, 1) from None
    ast.increment_lineno(body_tree, 1)  # body line 1 is cell line 2
    _indent_columns(body_tree, len(_INDENT))  # columns as in the shown source, for the marks under a failing call
    header = ast.parse(f"def {name}({args}): pass").body[0]
    header.body = body_tree.body or [ast.Pass(lineno=2, col_offset=0, end_lineno=2, end_col_offset=0)]
    header.end_lineno = max(getattr(header.body[-1], "end_lineno", None) or 2, 2)
    module = ast.Module(body=[header], type_ignores=[])
    try:
        code = compile(module, filename, "exec", shell.compile.flags, dont_inherit=True)
    except SyntaxError as e:  # e.g. 'yield' makes it a generator, 'nonlocal' has no binding
        raise _at_cell_line(e, filename, cell_text, 0) from None
    namespace = shell.user_ns
    exec(code, namespace)
    fn = namespace[name]
    fn.__ppl_source__ = source
    fn.__ppl_cell__ = filename
    return fn


def _running_cell_number(shell):
    """The number of the cell being run (``In[n]``), read from the code that called the magic.

    ``shell.execution_count`` is not it everywhere: IPython 9 counts the cell before running it, so
    it already holds the next cell's number.
    """
    numbers = getattr(shell.compile, "_filename_map", {})
    frame = sys._getframe(1)
    while frame is not None:
        number = numbers.get(frame.f_code.co_filename)
        if number is not None:
            return number
        frame = frame.f_back
    return getattr(shell, "execution_count", 0)


def _at_cell_line(error, filename, cell_text, shift):
    """The same SyntaxError placed on the cell's own line: ``shift`` is 1 for errors in body coordinates."""
    lineno = error.lineno + shift if error.lineno is not None else None
    end_lineno = error.end_lineno + shift if getattr(error, "end_lineno", None) is not None else lineno
    lines = cell_text.splitlines()
    text = lines[lineno - 1] + "\n" if lineno is not None and 0 < lineno <= len(lines) else error.text
    return SyntaxError(error.msg, (filename, lineno, error.offset, text, end_lineno, error.end_offset))
