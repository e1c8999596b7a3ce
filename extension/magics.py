"""``%%model``, ``%sample`` and ``%trace``: write a stochastic function in a cell and see what it does.

``%%model weather`` turns the cell body into ``def weather(): <body>`` in the user's namespace (see
:mod:`ppl_kernel_jupyter.cell_function`), then samples it with live histograms (:mod:`ppl_kernel_jupyter.live_sampling`).
``%%model geometric(p, t=None)`` defines a function with arguments; it is sampled only when the
arguments are given (``--args "0.5"``). ``%sample`` samples an existing model or a call of one,
``%trace`` shows the call tree of one run (:mod:`ppl_kernel_jupyter.trace_tree`).

Every run's result is a :class:`ppl_kernel.infer.TracePosterior` (the type inference returns);
``-o NAME`` stores it in the namespace when the run ends, stopped or interrupted runs included.
Runs still going and the newest run are listed in ``ModelMagics.runs`` (reach it through
``get_ipython().magics_manager.registry["ModelMagics"]``); a finished run is kept only where the
user stores it. A background run keeps the definitions it started with
(:mod:`ppl_kernel_jupyter.model_snapshot`).

Example cells (after ``%load_ext ppl_kernel``)::

    %%model weather --samples 2000 --seed 0 -o weather_runs
    cloudy = pyro.sample("cloudy", dist.Bernoulli(0.3))
    ...
    return cloudy, temp

    %sample geometric(0.5) 5000 --seed 1
    %trace geometric(0.5)
"""

import ast
import inspect

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, kwds, magic_arguments
from IPython.display import display

from .cell_function import DefinitionError, compile_cell_function, parse_definition
from .live_sampling import LiveSampling
from .magic_line import executor_option, parse_magic_line, run_count, unquote
from .model_snapshot import snapshot_model
from .trace_tree import TraceTree, TraceTreeWidget
from .user_traceback import ModelSyntaxError, show_user_frames


# The options %%model and %sample share: one definition, so that both magics spell and explain them alike.
SAMPLING_OPTIONS = [
    argument("--seed", type=int, default=None, help="random seed for the runs (repeatable results)"),
    argument("--background", action="store_true",
             help="sample in a background thread, with a Stop button; the notebook stays usable"),
    argument("-o", "--output", default=None, help="store the runs (a TracePosterior) under this name"),
    argument("--prior", action="store_true",
             help="sample the prior: leave out the observations (by default a conditioned model shows its "
                  "posterior given them, by importance weighting)"),
    argument("--executor", default=None,
             help="run the samples in chunks on this executor, named in the notebook: a "
                  "concurrent.futures.Executor (pool = ProcessPoolExecutor()) or a Dask client"),
]


def sampling_options(func):
    """Add :data:`SAMPLING_OPTIONS` to a magic, in their listed order, where the decorator stands."""
    for option in reversed(SAMPLING_OPTIONS):  # decorators apply bottom-up
        func = option(func)
    return func

DEFAULT_SAMPLES = 1000


def _split_count(words, magic_name, usage):
    """``["geometric(0.5)", "300"]`` -> (``"geometric(0.5)"``, 300); no trailing number: (code, None)."""
    if len(words) >= 2:
        try:
            last = ast.literal_eval(words[-1])
        except (SyntaxError, ValueError):
            last = None
        if isinstance(last, (int, float)) and not isinstance(last, bool):
            try:
                return " ".join(words[:-1]), run_count(words[-1])
            except Exception as e:  # argparse.ArgumentTypeError: say it as a usage error
                raise UsageError(f"%{magic_name}: {e}.\n{usage}") from None
    return " ".join(words), None


def _required_parameters(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]


@magics_class
class ModelMagics(Magics):
    """The notebook layer's magics. ``runs``: the sampling runs still going, and the newest one."""

    def __init__(self, shell):
        super().__init__(shell)
        self.runs = []
        self.trees = []
        self.sliders = []  # the ModelSliders of --interact cells

    # ---- helpers ----------------------------------------------------------------------------------
    def _call_args(self, text, where):
        """Evaluate ``--args "0.5, t=1"`` in the user's namespace into (args, kwargs)."""
        if text is None:
            return None
        capture = lambda *a, **k: (a, k)  # noqa: E731
        try:
            return eval(f"__ppl_capture__({text})", self.shell.user_ns, {"__ppl_capture__": capture})
        except Exception as e:
            raise UsageError(
                f"{where}: the arguments --args {text!r} could not be evaluated ({type(e).__name__}: {e}). "
                "Write them as inside a call, e.g. --args \"0.5\" or --args \"torch.tensor([0.5]), t=0\"."
            ) from None

    def _resolve(self, expr, magic_name):
        """``weather`` -> (weather, (), {}); ``geometric(0.5, t=1)`` -> (geometric, (0.5,), {'t': 1})."""
        try:
            tree = ast.parse(expr.strip(), mode="eval")
        except SyntaxError as e:
            raise UsageError(
                f"%{magic_name}: '{expr}' is not a Python expression ({e.msg}); give a model (weather) or a "
                "call of one (geometric(0.5))."
            ) from None
        ns = self.shell.user_ns
        body = tree.body
        try:
            if isinstance(body, ast.Call) and not isinstance(body.func, (ast.Name, ast.Attribute)):
                # The callee is itself computed (make_normal_normal()(sigma)): making it may sample, so the
                # whole expression is the model, run (and traced) as one.
                fn = eval(compile(f"lambda: ({expr.strip()})", "<model>", "eval"), ns)
                fn.__name__ = fn.__qualname__ = expr.strip()
                fn.__code__ = fn.__code__.replace(co_name="run", co_qualname="run")  # the tree's root: run()
                args, kwargs = (), {}
                body = None
            elif isinstance(body, ast.Call):
                fn = eval(compile(ast.Expression(body.func), "<model>", "eval"), ns)
                capture = ast.Call(ast.Name("__ppl_capture__", ast.Load()), body.args, body.keywords)
                code = compile(ast.fix_missing_locations(ast.Expression(capture)), "<arguments>", "eval")
                args, kwargs = eval(code, ns, {"__ppl_capture__": lambda *a, **k: (a, k)})
            else:
                fn = eval(compile(tree, "<model>", "eval"), ns)
                args, kwargs = (), {}
        except Exception as e:
            raise UsageError(f"%{magic_name}: could not evaluate '{expr}' ({type(e).__name__}: {e}).") from None
        if not callable(fn):
            raise UsageError(
                f"%{magic_name}: '{expr}' is a {type(fn).__name__}, not a model; give a model (weather) or a "
                "call of one (geometric(0.5))."
            )
        if body is not None and not isinstance(body, ast.Call):
            missing = _required_parameters(fn)
            if missing:
                raise UsageError(
                    f"%{magic_name}: model '{expr}' needs arguments ({', '.join(missing)}); call it, e.g. "
                    f"%{magic_name} {expr}({', '.join('...' for _ in missing)})."
                )
        return fn, args, kwargs

    def _store(self, name):
        if not name:
            return None

        def store(posterior):
            self.shell.user_ns[name] = posterior

        return store

    def _sample(self, fn, args, kwargs, num_samples, seed, background, output, prior=False, executor=None):
        __tracebackhide__ = True  # IPython hides this frame in tracebacks
        if background:  # the run keeps the definitions of now, whatever the user redefines meanwhile
            fn = snapshot_model(fn, self.shell.user_ns)
        run = LiveSampling(fn, args, kwargs, num_samples=num_samples, seed=seed, on_done=self._store(output),
                           prior=prior, executor=executor)
        # Runs still going, and the newest: a finished run lives on only where the user stored it (-o).
        self.runs = [r for r in self.runs if r.status in ("pending", "running")] + [run]
        if background:
            run.start()
            return run
        try:
            run.run()
        except Exception as e:
            raise show_user_frames(self.shell, e) from None
        return run

    def _interact(self, fn, where, text, call, missing, opts):
        """``--interact "p=(0, 1, 0.05)"``: sliders for those arguments (see :mod:`ppl_kernel_jupyter.model_sliders`)."""
        from .model_sliders import interact

        try:
            sliders = eval(f"dict({text})", self.shell.user_ns)
        except Exception as e:
            raise UsageError(f"{where}: --interact {text!r} could not be evaluated ({type(e).__name__}: {e}); write the "
                             "sliders as keyword arguments, e.g. --interact \"p=(0, 1, 0.05), n=(1, 20)\".") from None
        if not sliders:
            raise UsageError(f"{where}: --interact names the arguments to slide, e.g. --interact \"p=(0, 1, 0.05)\".")
        args, kwargs = call if call is not None else ((), {})
        given = set(list(inspect.signature(fn).parameters)[:len(args)]) | set(kwargs) | set(sliders)
        unset = [p for p in missing if p not in given]
        if unset:
            raise UsageError(f"{where}: '{fn.__name__}' also needs {', '.join(unset)}: give them with --args "
                             f"(e.g. --args \"{', '.join(f'{p}=...' for p in unset)}\") or slide them with --interact.")
        num = DEFAULT_SAMPLES if opts.samples is None else opts.samples
        try:
            control = interact(fn, num_samples=num, seed=opts.seed, model_args=args, model_kwargs=kwargs,
                               background=opts.background, **sliders)
        except (TypeError, ValueError) as e:
            raise UsageError(f"{where}: {e}") from None
        self.sliders.append(control)
        return None

    def _show_tree(self, fn, args, kwargs, live=False):
        """One run's call tree: a static picture (it survives saving, whichever cell ran last), or with
        ``live`` the widget with its resample and show-more buttons (see :mod:`ppl_kernel_jupyter.trace_tree`)."""
        __tracebackhide__ = True
        try:
            tree = (TraceTreeWidget if live else TraceTree).for_model(fn, args, kwargs)
        except Exception as e:
            raise show_user_frames(self.shell, e) from None
        self.trees.append(tree)
        display(tree)
        return tree

    # ---- %%model ----------------------------------------------------------------------------------
    @no_var_expand  # the line is code: "$x" and "{x}" in it are Python, not IPython's substitutions
    @cell_magic
    @magic_arguments()
    @kwds(epilog="NAME or NAME(ARGS) names the function, e.g. weather or geometric(p, t=None); the options may "
                 "stand before or after it.")
    @argument("-n", "--samples", type=run_count, default=None,
              help=f"runs to sample and show (default {DEFAULT_SAMPLES} for a model without required "
                   "arguments or with --args; 0 defines only)")
    @argument("--args", default=None, help='arguments to sample with, as inside a call: --args "0.5, t=0"')
    @sampling_options
    @argument("--trace", action="store_true", help="also show the call tree of one run")
    @argument("--no-show", action="store_true", dest="no_show", help="define the function only")
    @argument("--interact", default=None,
              help='sliders for arguments, re-sampling as they move: --interact "p=(0, 1, 0.05)"')
    def model(self, line, cell):
        """Define a stochastic function from the cell body, then sample it with live histograms.

        The first line names the function (and its arguments); the body is its body: it may
        ``return``, call itself by name and use anything in the notebook. The function is an
        ordinary callable, usable with every ppl_kernel API (``poutine.trace(weather)``,
        ``Importance(weather, ...)``).

        Example::

            %%model geometric(p, t=None) --args "0.5" --samples 2000 -o runs
            t = 0 if t is None else t
            x = pyro.sample(f"x_{t}", dist.Bernoulli(p))
            return x if x.item() == 0 else x + geometric(p, t + 1)
        """
        __tracebackhide__ = True
        usage = self.model.parser.format_usage()
        parsed = parse_magic_line(self.model, line, "%%model")
        if parsed is None:
            return None
        opts, words = parsed
        try:
            name, signature = parse_definition(" ".join(words))
        except DefinitionError as e:
            raise UsageError(f"%%model: {e}\n{usage}") from None
        try:
            fn = compile_cell_function(self.shell, line, name, signature, cell)
        except SyntaxError as e:
            raise ModelSyntaxError(e, self.shell) from None
        if opts.no_show:
            return None
        where = f"%%model {name}"
        call = self._call_args(unquote(opts.args), where)
        missing = _required_parameters(fn)
        if opts.interact is not None:
            return self._interact(fn, where, unquote(opts.interact), call, missing, opts)
        if call is None and missing:
            if opts.samples or opts.trace:
                raise UsageError(
                    f"{where}: '{name}' takes arguments ({', '.join(missing)}), so it needs them to be sampled: "
                    f"add --args \"...\" (e.g. --args \"{', '.join('0.5' for _ in missing)}\"), or sample it later "
                    f"with %sample {name}(...)."
                )
            return None  # defined only, as a def with parameters would be
        args, kwargs = call if call is not None else ((), {})
        num = DEFAULT_SAMPLES if opts.samples is None else opts.samples
        if num < 0:
            raise UsageError(f"{where}: --samples must be 0 or more, got {num}.\n{usage}")
        if opts.trace:
            if opts.seed is not None:  # the tree repeats too (the sampling below seeds itself again)
                import ppl_kernel

                ppl_kernel.set_rng_seed(opts.seed)
            self._show_tree(fn, args, kwargs)
        executor = executor_option(opts.executor, self.shell.user_ns, where)
        if num > 0:
            self._sample(fn, args, kwargs, num, opts.seed, opts.background, unquote(opts.output), opts.prior,
                         executor)
        return None

    # ---- %sample ----------------------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @magic_arguments()
    @kwds(epilog="MODEL [N]: a model (weather) or a call of one (geometric(0.5)), then how many runs "
                 f"(default {DEFAULT_SAMPLES}); the options may stand before or after them.")
    @argument("-n", "--samples", type=run_count, default=None, help="runs to sample (the same as N)")
    @sampling_options
    def sample(self, line):
        """Sample a model N times (default 1000) with live histograms: ``%sample geometric(0.5) 2000``.

        Options go before or after the model: ``%sample weather 500 --seed 0 -o runs``. A model with
        observations (``obs=``, ``factor``, ``poutine.condition``) shows its posterior given them, each run
        weighted by its likelihood; ``--prior`` shows its prior. ``--executor pool`` runs the samples in
        chunks on an executor of the notebook (a ``ProcessPoolExecutor``, a Dask client); the panels fill in
        as chunks finish, and Stop cancels the chunks not yet started.
        """
        __tracebackhide__ = True
        usage = self.sample.parser.format_usage()
        parsed = parse_magic_line(self.sample, line, "%sample")
        if parsed is None:
            return None
        opts, words = parsed
        if not words:
            raise UsageError(f"%sample: which model? e.g. %sample weather 1000\n{usage}")
        expr, num = _split_count(words, "sample", usage)
        if num is not None and opts.samples is not None and num != opts.samples:
            raise UsageError(f"%sample: two numbers of runs ({num} and --samples {opts.samples}); give one.\n{usage}")
        num = num if num is not None else opts.samples if opts.samples is not None else DEFAULT_SAMPLES
        if num < 0:
            raise UsageError(f"%sample: the number of runs must be 0 or more, got {num}.\n{usage}")
        fn, args, kwargs = self._resolve(expr, "sample")
        executor = executor_option(opts.executor, self.shell.user_ns, "%sample")
        self._sample(fn, args, kwargs, num, opts.seed, opts.background, unquote(opts.output), opts.prior, executor)
        return None

    # ---- %trace -----------------------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @magic_arguments()
    @kwds(epilog="CALL: a call of a model (geometric(0.5)) or a model without arguments; the options may "
                 "stand before or after it.")
    @argument("--seed", type=int, default=None, help="random seed for the run (repeatable results)")
    @argument("--live", action="store_true",
              help="a widget with resample and show-more buttons (needs the kernel; a notebook saved while this "
                   "is the last cell run keeps the widget view, which a reopened notebook cannot draw)")
    def trace(self, line):
        """Show the call tree of one run, foldable: ``%trace geometric(0.5)`` (``--live``: with a resample button).

        The tree is static HTML, kept as it is in a saved notebook; run the cell again for another run.
        """
        __tracebackhide__ = True
        parsed = parse_magic_line(self.trace, line, "%trace")
        if parsed is None:
            return None
        opts, words = parsed
        if not words:
            raise UsageError(f"%trace: which call? e.g. %trace geometric(0.5)\n{self.trace.parser.format_usage()}")
        fn, args, kwargs = self._resolve(" ".join(words), "trace")
        if opts.seed is not None:
            import ppl_kernel

            ppl_kernel.set_rng_seed(opts.seed)
        self._show_tree(fn, args, kwargs, live=opts.live)
        return None
