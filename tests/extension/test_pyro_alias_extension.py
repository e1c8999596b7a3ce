"""``%load_ext ppl_kernel.compat`` in a real IPython shell: the notebook layer, and ``import pyro`` is ppl_kernel."""

from ppl_kernel import compat
from tests.extension.conftest import cell


def test_load_ext_compat_makes_import_pyro_ppl_kernel(shell):
    before = shell.user_ns.get("pyro")  # the shared shell's `pyro` (ppl_kernel, put there by %load_ext)
    try:
        cell(shell, "%load_ext ppl_kernel.compat")
        cell(shell, "import pyro, ppl_kernel\nfrom pyro.infer import MCMC, NUTS\nsame = pyro is ppl_kernel")
        assert shell.user_ns["same"] is True
        assert shell.user_ns["NUTS"] is shell.user_ns["ppl_kernel"].infer.NUTS
        assert "ModelMagics" in shell.magics_manager.registry  # the notebook layer is loaded too
    finally:
        compat.undo_as_pyro()
        if before is None:
            shell.run_cell("del pyro", store_history=False)
        else:  # the tests after this one use the shell's `pyro` as it was
            shell.user_ns["pyro"] = before
