"""The notebook layer installs as ``ppl_kernel_jupyter``: a user's own folder named ``extension`` cannot
shadow it (nor be shadowed by it)."""

import subprocess
import sys
import textwrap


def test_a_user_folder_named_extension_does_not_shadow_the_notebook_layer(tmp_path):
    user_pkg = tmp_path / "extension"
    user_pkg.mkdir()
    (user_pkg / "__init__.py").write_text("USERS_OWN = True\n")
    script = textwrap.dedent("""\
        from IPython.testing.globalipapp import get_ipython
        ip = get_ipython()
        ip.run_line_magic("load_ext", "ppl_kernel")
        import extension, ppl_kernel_jupyter
        assert extension.USERS_OWN, "the user's package was replaced"
        assert "model" in ip.magics_manager.magics["cell"], "the %%model magic was not registered"
        print("ok", ppl_kernel_jupyter.__name__)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ok ppl_kernel_jupyter" in done.stdout


def test_what_users_call_directly_has_one_documented_import():
    from ppl_kernel_jupyter import LiveProgress, LossCurve  # noqa: F401  (the README's import)
