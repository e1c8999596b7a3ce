"""``%load_ext ppl_kernel.compat`` in a real IPython shell: the notebook layer, and ``import pyro`` is ppl_kernel."""

from ppl_kernel import compat
from tests.extension.conftest import cell


def test_load_ext_compat_makes_import_pyro_ppl_kernel(shell):
    try:
        cell(shell, "%load_ext ppl_kernel.compat")
        cell(shell, "import pyro, ppl_kernel\nfrom pyro.infer import MCMC, NUTS\nsame = pyro is ppl_kernel")
        assert shell.user_ns["same"] is True
        assert shell.user_ns["NUTS"] is shell.user_ns["ppl_kernel"].infer.NUTS
        assert "ModelMagics" in shell.magics_manager.registry  # the notebook layer is loaded too
    finally:
        compat.undo_as_pyro()
        shell.run_cell("del pyro", store_history=False)
