"""The one thing pyproject.toml cannot say: the folder ``extension/`` installs as ``ppl_kernel_jupyter``.

A top-level package named ``extension`` would be shadowed by any user folder of that name (and shadow
it in turn), so the notebook layer gets a name that cannot collide; the folder keeps its short name.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["ppl_kernel", "ppl_kernel.*"]) + ["ppl_kernel_jupyter"],
    package_dir={"ppl_kernel_jupyter": "extension"},
    package_data={"ppl_kernel_jupyter": ["static/*"]},
)
