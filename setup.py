"""What pyproject.toml cannot say: the folder ``extension/`` installs as ``ppl_kernel_jupyter``, and the
install enables its Jupyter server extension.

A top-level package named ``extension`` would be shadowed by any user folder of that name (and shadow
it in turn), so the notebook layer gets a name that cannot collide; the folder keeps its short name.
The server extension (the save hook of :mod:`ppl_kernel_jupyter.static_output`) is enabled by a file in
``<prefix>/etc/jupyter/jupyter_server_config.d``, as Jupyter's own packages do.
"""

from setuptools import find_packages, setup
from setuptools.dist import Distribution


class _Distribution(Distribution):
    """setuptools' editable build (``pip install -e``) installs data files only when the distribution answers
    ``has_data()``, a name its Distribution lacks (it has ``has_data_files``): without this, the README's
    editable install would not enable the server extension."""

    def has_data(self):
        return self.has_data_files()


setup(
    distclass=_Distribution,
    packages=find_packages(include=["ppl_kernel", "ppl_kernel.*"]) + ["ppl_kernel_jupyter"],
    package_dir={"ppl_kernel_jupyter": "extension"},
    package_data={"ppl_kernel_jupyter": ["static/*"]},
    data_files=[("etc/jupyter/jupyter_server_config.d", ["jupyter-config/jupyter_server_config.d/ppl_kernel_jupyter.json"])],
)
