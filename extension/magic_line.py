"""Reading a magic line: the user's code and the options, wherever the options stand.

A magic line mixes Python (``geometric(0.5)``, ``geometric(p, t=None)``, ``coin("a b")``) with
options (``--seed 1 -o runs``). :func:`line_words` splits the line at the spaces that lie outside
brackets and strings, so each piece of code stays whole and verbatim; :func:`parse_magic_line`
hands those words to the magic's own ``magic_arguments`` parser, partially (argparse's
``parse_known_args``, which is what IPython's ``partial=True`` does), and returns the options and the
code: options may come before, after or between the words of code, in every magic alike.

>>> line_words('coin("a  --seed 2") --seed 1 -o r')
['coin("a  --seed 2")', '--seed', '1', '-o', 'r']
>>> line_words("geometric(p, t=None)   --args '0.5, t=1'")
['geometric(p, t=None)', '--args', "'0.5, t=1'"]
"""

import argparse
import ast
import re

from IPython.core.error import UsageError

_OPTION = re.compile(r"--?[A-Za-z]")
_OPEN, _CLOSE = "([{", ")]}"


def line_words(line):
    """The line's words, split at spaces outside brackets and string literals, each verbatim."""
    words, start, depth, quote, i = [], None, 0, None, 0
    while i < len(line):
        ch = line[i]
        if quote is not None:  # inside a string literal: only its closing quote (or an escape) matters
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if ch.isspace() and depth == 0:
            if start is not None:
                words.append(line[start:i])
                start = None
            i += 1
            continue
        if start is None:
            start = i
        if ch in "\"'":
            quote = line[i:i + 3] if line[i:i + 3] in ('"""', "'''") else ch
            i += len(quote)
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        i += 1
    if start is not None:
        words.append(line[start:])
    return words


def unquote(text):
    """``"0.5, t=1"`` -> ``0.5, t=1``: an option's value given as a string literal, as the user quoted it."""
    if text is not None and len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        try:
            value = ast.literal_eval(text)
        except (SyntaxError, ValueError):
            return text[1:-1]
        return value if isinstance(value, str) else text
    return text


def run_count(text):
    """argparse ``type`` of a number of runs: a whole number (``1e6`` is refused with the way to write it)."""
    try:
        return int(text.replace("_", ""))
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the number of runs must be an integer, got '{text}'") from None
    hint = f"; write {int(number)}" if number.is_integer() and abs(number) < 1e15 else ""
    raise argparse.ArgumentTypeError(f"the number of runs must be an integer, got '{text}'{hint}")


def executor_option(text, namespace, where):
    """The executor an ``--executor NAME`` option names: ``NAME`` evaluated in the user's namespace.

    A Dask client (anything with ``get_executor()``) gives its executor; else the object itself must be a
    ``concurrent.futures.Executor`` (something with ``submit``), e.g. a ``ProcessPoolExecutor``. None when
    the option is not given. A name that is not defined, or not an executor, is a UsageError saying what
    to pass.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(1) as pool:
    ...     executor_option("pool", {"pool": pool}, "%sample") is pool
    True
    """
    if text is None:
        return None
    example = ("e.g. pool = concurrent.futures.ProcessPoolExecutor() then --executor pool, or a Dask client "
               "(client = distributed.Client(...)) then --executor client")
    try:
        value = eval(text, namespace)
    except Exception as e:
        raise UsageError(f"{where}: --executor {text} could not be evaluated ({type(e).__name__}: {e}); give the "
                         f"name of an executor defined in the notebook, {example}.") from None
    get_executor = getattr(value, "get_executor", None)
    if callable(get_executor):  # a Dask client: its submit returns Dask futures, its executor standard ones
        value = get_executor()
    if not callable(getattr(value, "submit", None)):
        raise UsageError(f"{where}: --executor {text} is of type {type(value).__name__}, not an executor; give a "
                         f"concurrent.futures.Executor or a Dask client, {example}.")
    return value


def parse_magic_line(magic, line, usage_name):
    """``(options, code_words)`` of ``line`` for ``magic`` (a method decorated with ``magic_arguments``).

    Returns None after printing the help for ``-h``/``--help``. A bad option raises UsageError with
    the magic's usage.
    """
    words = line_words(line)
    if "-h" in words or "--help" in words:
        print(magic.__doc__)  # the docstring with the options, as magic_arguments formats it
        return None
    usage = magic.parser.format_usage()
    try:
        options, rest = magic.parser.parse_known_args(words)
    except UsageError as e:
        raise UsageError(f"{usage_name}: {e}\n{usage}") from None
    unknown = next((i for i, w in enumerate(rest) if _OPTION.match(w)), None)
    if unknown is not None:
        raise UsageError(f"{usage_name}: unrecognized arguments: {' '.join(rest[unknown:])}\n{usage}")
    return options, rest
