"""How a number reads wherever we print one: trace text, histogram labels, summaries.

One rule, so that a value reads alike in a trace, on a histogram's axis and in a posterior's summary.
"""

import math


def format_number(x, decimal_point=False):
    """Short text for a number: a whole number without decimals (``3``; ``3.0`` with ``decimal_point``, which
    tells a float from an int, as a trace does), any other to 4 significant digits; ``inf`` and ``nan`` as
    Python writes them; a string unchanged.

    >>> format_number(3.0), format_number(3.0, decimal_point=True), format_number(7), format_number(2 / 3)
    ('3', '3.0', '7', '0.6667')
    >>> format_number(float("-inf")), format_number(1.5e12), format_number(True), format_number("sunny")
    ('-inf', '1.5e+12', 'True', 'sunny')
    """
    if isinstance(x, str):
        return x
    if isinstance(x, int):  # bool included: True, not 1
        return str(x)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == int(x) and abs(x) < 1e9:
        return f"{x:.1f}" if decimal_point else str(int(x))
    return f"{x:.4g}"
